"""`evalwheel compare` on stored runs: paired verdicts, JSON, markdown, and the cost model from labels."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from evalwheel.cli import app
from evalwheel.store import Store
from evalwheel.types import RunInfo, SampleResult

runner = CliRunner()


def make_run(store: Store, run_id: str, passes: list[bool], dataset: str | None = None, spec: str = "s") -> None:
    store.create_run(
        RunInfo(run_id=run_id, spec_name=spec, status="finished", metadata={"dataset": dataset} if dataset else {})
    )
    store.add_results(
        [
            SampleResult(
                run_id=run_id,
                sample_id=f"x{i:03d}",
                partition="distribution",
                status="passed" if p else "failed",
                value=1.0 if p else 0.0,
            )
            for i, p in enumerate(passes)
        ]
    )


def test_compare_detects_paired_regression(tmp_path: Path) -> None:
    store = Store(tmp_path / "r.sqlite")
    a = [True] * 90 + [False] * 10
    b = [True] * 60 + [False] * 40  # 30 samples went from pass to fail
    make_run(store, "A", a)
    make_run(store, "B", b)
    res = runner.invoke(
        app,
        ["compare", "A", "B", "--store", str(tmp_path / "r.sqlite"), "--json", "--markdown", str(tmp_path / "c.md")],
    )
    assert res.exit_code == 1, res.output  # a regression stops CI, like a failed gate
    data = json.loads(res.output)
    assert data["paired"] is True
    assert data["verdict"] == "regression"
    assert data["pass_fail"]["discordant"]["a_only"] == 30
    assert data["pass_fail"]["test"]["name"].lower().startswith("mcnemar")
    assert "regression" in (tmp_path / "c.md").read_text()


def test_compare_identical_runs_no_change_and_small_n(tmp_path: Path) -> None:
    store = Store(tmp_path / "r.sqlite")
    make_run(store, "A", [True, False] * 30)
    make_run(store, "B", [True, False] * 30)
    make_run(store, "C", [True, False, True])
    make_run(store, "D", [False, False, True])
    url = str(tmp_path / "r.sqlite")
    same = json.loads(runner.invoke(app, ["compare", "A", "B", "--store", url, "--json"]).output)
    assert same["verdict"] == "no_change"
    small = json.loads(runner.invoke(app, ["compare", "C", "D", "--store", url, "--json"]).output)
    assert small["verdict"] == "insufficient_data"


def test_compare_unknown_run_is_bad_input(tmp_path: Path) -> None:
    Store(tmp_path / "r.sqlite")  # an existing store without these runs (a missing store file is its own error)
    res = runner.invoke(app, ["compare", "nope", "nada", "--store", str(tmp_path / "r.sqlite")])
    assert res.exit_code == 2
    assert "no run 'nope'" in res.output


def test_compare_cost_model_uses_human_labels(tmp_path: Path) -> None:
    data = tmp_path / "d.jsonl"
    rows = [
        {"id": f"x{i:03d}", "partition": "distribution", "input": "q", "metadata": {"human_label": i < 50}}
        for i in range(100)
    ]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    store = Store(tmp_path / "r.sqlite")
    make_run(store, "A", [i < 50 for i in range(100)], str(data))  # agrees with the humans
    make_run(store, "B", [True] * 100, str(data))  # passes everything: 50 false positives
    res = runner.invoke(
        app,
        [
            "compare",
            "A",
            "B",
            "--store",
            str(tmp_path / "r.sqlite"),
            "--json",
            "--cost-model",
            "support_desk",
            "--sessions",
            "1000",
        ],
    )
    cost = json.loads(res.output)["cost"]
    assert cost["a"]["rates"]["fp_rate"] == 0.0
    assert cost["b"]["rates"]["fp_rate"] == 0.5
    # support_desk: $20 per false positive, $0.03 per session -> 1000 * (0.5 * 20 + 0.03)
    assert abs(cost["b"]["cost"]["total"] - 10030.0) < 1e-6


def test_compare_resolves_spec_at_latest(tmp_path: Path) -> None:
    store = Store(tmp_path / "r.sqlite")
    make_run(store, "old", [True] * 30, spec="base-spec")
    make_run(store, "cand", [True] * 30, spec="candidate-spec")
    res = runner.invoke(
        app, ["compare", "base-spec@latest", "candidate-spec@latest", "--store", str(tmp_path / "r.sqlite"), "--json"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["verdict"] == "no_change"
    missing = runner.invoke(app, ["compare", "nope@latest", "cand", "--store", str(tmp_path / "r.sqlite")])
    assert missing.exit_code == 2 and "no finished run of spec 'nope'" in missing.output


def test_compare_exit_codes_and_unrelated_runs(tmp_path: Path) -> None:
    store = Store(tmp_path / "r.sqlite")
    make_run(store, "A", [True] * 60 + [False] * 40)
    make_run(store, "B", [True] * 95 + [False] * 5)  # improvement: exit 0
    store.create_run(RunInfo(run_id="U", spec_name="other [human]", status="finished"))
    store.add_results(
        [SampleResult(run_id="U", sample_id=f"u{i}", partition="golden", status="passed") for i in range(50)]
    )
    url = str(tmp_path / "r.sqlite")
    better = runner.invoke(app, ["compare", "A", "B", "--store", url])
    assert better.exit_code == 0 and "improvement" in better.output
    worse = runner.invoke(app, ["compare", "B", "A", "--store", url])
    assert worse.exit_code == 1 and "do not deploy" in worse.output
    unrelated = runner.invoke(app, ["compare", "A", "U", "--store", url])
    assert unrelated.exit_code == 2
    assert "share no sample ids" in unrelated.output and "deploy" not in unrelated.output
    assert "(other [human])" in unrelated.output  # user text is escaped, not eaten as rich markup
