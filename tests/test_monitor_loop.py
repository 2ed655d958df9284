"""The whole loop, offline: traffic -> sample -> grade -> window -> drift alert -> failures -> regression set
-> the offline gate fails the broken prompt version and passes the fixed one."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evalwheel.monitor.queue import MonitorStore
from test_monitor_helpers import ROOT, monitor_server

pytestmark = pytest.mark.slow  # MiniLM clustering and a few CLI processes: ~1 min on 2 cores


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "evalwheel.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=600
    )


def test_production_failures_become_a_regression_gate(tmp_path: Path) -> None:
    work = tmp_path / "support"
    shutil.copytree(ROOT / "examples" / "support", work)
    store = str(work / "loop.sqlite")

    before = cli("run", "traffic-spec-v2.yaml", "--store", store, "--baseline", "none", "--no-progress", cwd=work)
    assert before.returncode == 0, before.stderr  # the offline dataset never exercises the broken rule

    with monitor_server(store, "--config", "monitor.yaml", cwd=work) as (url, _):
        traffic = subprocess.run(
            [sys.executable, "traffic.py", "--endpoint", url, "--events", "900", "--break-at", "450"],
            cwd=work,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert traffic.returncode == 0, traffic.stderr
        summary = json.loads(traffic.stdout)
        assert summary["sdk"]["sent"] == 900 and summary["versions"] == {"v1": 450, "v2": 450}
        st = MonitorStore(store)
        deadline = time.monotonic() + 120
        while (c := st.counts())["pending"] + c["leased"] > 0:
            assert time.monotonic() < deadline, c
            time.sleep(0.5)

    alerts = cli("monitor", "alerts", "--store", store, "--config", "monitor.yaml", "--evaluate", "--json", cwd=work)
    assert alerts.returncode == 0, alerts.stderr
    fired = json.loads(alerts.stdout)
    drift = [a for a in fired if a["rule"] == "quality-drift"]
    assert drift and drift[0]["severity"] == "critical"
    assert drift[0]["payload"]["metric"] == "pass_rate:constraints"

    windows = json.loads(
        cli("monitor", "windows", "--store", store, "--config", "monitor.yaml", "--json", cwd=work).stdout
    )
    rates = [w["window"]["pass_rate"]["estimate"] for w in windows if w["window"]["graded"] >= 20]
    assert rates[0] > 0.95 and rates[-1] < 0.85

    failures = json.loads(
        cli("monitor", "failures", "--store", store, "--dataset", "dataset.jsonl", "--json", cwd=work).stdout
    )
    broken = [
        f for f in failures if f["prompt_version"] == "v2" and "constraints.professional_closing" in f["failed_scores"]
    ]
    assert len(broken) > 0.8 * len([f for f in failures if f["prompt_version"] == "v2"])  # the rest: too-short answers
    assert len({f["cluster"] for f in failures}) < len(failures)  # similar failures are grouped

    golden = cli(
        "monitor",
        "promote",
        broken[0]["request_id"],
        "--store",
        store,
        "--dataset",
        "dataset.jsonl",
        "--partition",
        "golden",
        "--root-cause",
        "x",
        cwd=work,
    )
    assert golden.returncode == 2 and "never written to the golden set" in golden.stderr

    root_cause = "prompt v2 empathy rule: urgent customers get internal jargon and no sign-off"
    promoted = cli(
        "monitor",
        "promote",
        "--representatives",
        "--store",
        store,
        "--dataset",
        "dataset.jsonl",
        "--root-cause",
        root_cause,
        "--json",
        cwd=work,
    )
    assert promoted.returncode == 0, promoted.stderr
    report = json.loads(promoted.stdout)
    assert report["partition"] == "regression" and len(report["promoted"]) >= 5
    rows = [json.loads(line) for line in (work / "dataset.jsonl").read_text().splitlines()]
    added = [r for r in rows if r["id"] in report["sample_ids"]]
    assert all(r["partition"] == "regression" for r in added)
    assert added[0]["metadata"]["monitor"]["root_cause"] == root_cause
    assert added[0]["metadata"]["monitor"]["verdicts"]
    assert cli("dataset", "validate", "dataset.jsonl", "--require-lock", cwd=work).returncode == 0  # golden lock intact

    fixed = cli("run", "traffic-spec-v1.yaml", "--store", store, "--baseline", "latest", "--no-progress", cwd=work)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    broken_run = cli("run", "traffic-spec-v2.yaml", "--store", store, "--baseline", "latest", "--no-progress", cwd=work)
    assert broken_run.returncode == 1, broken_run.stdout + broken_run.stderr  # the regression gate catches v2 now
    again = cli("run", "traffic-spec-v1.yaml", "--store", store, "--baseline", "latest", "--no-progress", cwd=work)
    assert again.returncode == 0, again.stdout + again.stderr
