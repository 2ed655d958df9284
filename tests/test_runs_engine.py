"""The run engine: results stored as they complete, resume after kill -9, error isolation, gates, exit codes."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evalwheel.cli import app
from evalwheel.runs.dataset_source import prepare_dataset
from evalwheel.runs.engine import execute, plan_run
from evalwheel.runs.spec import SpecError, load_spec, spec_from_dict
from evalwheel.store import Store

runner = CliRunner()

SOLVER = """
import asyncio, os
from evalwheel.types import Output

async def answer(sample, ctx):
    delay = float(ctx.config.get("delay", 0))
    with open(ctx.config["log"], "a") as fh:
        fh.write(sample.id + "\\n")
        fh.flush()
        os.fsync(fh.fileno())
    await asyncio.sleep(delay)
    if sample.metadata.get("explode"):
        raise RuntimeError("boom in the user's app")
    if sample.metadata.get("wrong") or sample.id in ctx.config.get("broken", []):
        return "nope"
    return sample.reference
"""


def write_project(
    tmp: Path, n: int = 8, *, delay: float = 0.0, gates: dict | None = None, broken: tuple[str, ...] = ()
) -> Path:
    lines = []
    for i in range(n):
        meta: dict[str, object] = {}
        if i == 1:
            meta["wrong"] = True
        part = "golden" if i == 0 else "distribution"
        lines.append(
            json.dumps({"id": f"s{i:03d}", "partition": part, "input": f"q{i}", "reference": f"a{i}", "metadata": meta})
        )
    (tmp / "data.jsonl").write_text("\n".join(lines) + "\n")
    (tmp / "app.py").write_text(SOLVER)
    spec = {
        "name": "engine-test",
        "dataset": "data.jsonl",
        "solver": {
            "type": "python",
            "function": "app.py:answer",
            "options": {"delay": delay, "log": str(tmp / "calls.log"), "broken": list(broken)},
        },
        "graders": [{"name": "exact"}],
        "gates": gates
        if gates is not None
        else {"golden": {"min_pass_rate": 1.0}, "distribution": {"min_pass_rate": 0.5}},
        "concurrency": 2,
        "store": "runs.sqlite",
    }
    import yaml

    (tmp / "spec.yaml").write_text(yaml.safe_dump(spec))
    return tmp / "spec.yaml"


async def run_spec(spec_path: Path, store_url: str | None = None, **kw: object):
    spec = load_spec(spec_path)
    plan = plan_run(spec)
    ds = prepare_dataset(spec.dataset_path)
    store = Store(store_url or spec.resolve("runs.sqlite"))
    try:
        return await execute(plan, ds, store, **kw), store  # type: ignore[arg-type]
    finally:
        await plan.aclose()


async def test_every_sample_stored_with_status(tmp_path: Path, store_url: str) -> None:
    spec_path = write_project(tmp_path)
    outcome, store = await run_spec(spec_path, store_url)
    results = {r.sample_id: r for r in store.iter_results(outcome.run.run_id)}
    assert len(results) == 8
    assert results["s001"].status == "failed"
    assert results["s000"].status == "passed"
    assert outcome.counts == {"passed": 7, "failed": 1}
    assert outcome.run.status == "finished"


async def test_error_is_isolated_and_counted(tmp_path: Path) -> None:
    spec_path = write_project(tmp_path)
    data = (tmp_path / "data.jsonl").read_text().splitlines()
    row = json.loads(data[3])
    row["metadata"]["explode"] = True
    data[3] = json.dumps(row)
    (tmp_path / "data.jsonl").write_text("\n".join(data) + "\n")
    outcome, store = await run_spec(spec_path)
    results = {r.sample_id: r for r in store.iter_results(outcome.run.run_id)}
    assert results["s003"].status == "error"
    assert "boom in the user's app" in (results["s003"].error or "")
    assert outcome.counts["passed"] == 6  # the others still ran


async def test_retry_errors_reruns_only_errored(tmp_path: Path, store_url: str) -> None:
    spec_path = write_project(tmp_path)
    bug = tmp_path / "bug"  # the app is broken for the sample ids in this file (the module is imported once)
    condition = f"if sample.id in (open({str(bug)!r}).read().split() if os.path.exists({str(bug)!r}) else [])"
    (tmp_path / "app.py").write_text(SOLVER.replace('if sample.metadata.get("explode")', condition))
    bug.write_text("s003")
    outcome, store = await run_spec(spec_path, store_url)
    run_id = outcome.run.run_id
    bug.unlink()  # the app is fixed (spec and dataset unchanged)
    (tmp_path / "calls.log").write_text("")
    again, store = await run_spec(spec_path, store_url, resume=run_id, retry_errors=True)
    assert again.executed == 1 and again.skipped == 7
    assert (tmp_path / "calls.log").read_text().split() == ["s003"]
    statuses = Counter(r.status for r in store.iter_results(run_id))
    assert statuses == {"passed": 7, "failed": 1}


async def test_unscored_is_not_failed(tmp_path: Path) -> None:
    spec_path = write_project(tmp_path)
    # regex grader with a reference-free config passes/fails; a json_schema grader on non-JSON text fails.
    # Use a grader that returns passed=None: semantic_similarity without a reference is unscored.
    lines = [json.loads(x) for x in (tmp_path / "data.jsonl").read_text().splitlines()]
    for row in lines:
        row.pop("reference")
        row["metadata"]["wrong"] = False
    (tmp_path / "data.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    (tmp_path / "app.py").write_text(SOLVER.replace("return sample.reference", 'return "text"'))
    outcome, _ = await run_spec(spec_path)
    assert outcome.counts == {"unscored": 8}


def test_spec_errors_name_the_field(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as exc:
        spec_from_dict(
            {"name": "x", "dataset": "d.jsonl", "solver": {"type": "recorded"}, "graders": []}, source="s.yaml"
        )
    text = str(exc.value)
    assert "s.yaml: solver" in text and "needs path" in text
    assert "s.yaml: graders" in text


def test_cli_exit_codes(tmp_path: Path) -> None:
    spec_path = write_project(tmp_path)
    ok = runner.invoke(app, ["run", str(spec_path), "--no-progress", "--json"])
    assert ok.exit_code == 0, ok.output
    payload = json.loads(ok.output)
    assert payload["summary"]["overall"]["passed"] == 7
    # golden sample made wrong -> the golden gate fails -> exit 1
    (tmp_path / "f").mkdir()
    failing = write_project(tmp_path / "f")
    rows = [json.loads(x) for x in (failing.parent / "data.jsonl").read_text().splitlines()]
    rows[0]["metadata"]["wrong"] = True
    (failing.parent / "data.jsonl").write_text("\n".join(json.dumps(x) for x in rows) + "\n")
    gate = runner.invoke(
        app,
        [
            "run",
            str(failing),
            "--no-progress",
            "--junit",
            str(tmp_path / "j.xml"),
            "--markdown",
            str(tmp_path / "s.md"),
        ],
    )
    assert gate.exit_code == 1, gate.output
    assert "golden" in (tmp_path / "s.md").read_text()
    assert "<testsuite" in (tmp_path / "j.xml").read_text()
    # broken spec -> exit 2 naming the field
    (tmp_path / "bad.yaml").write_text("name: x\ndataset: data.jsonl\nsolver: {type: nope}\ngraders: [{name: exact}]\n")
    bad = runner.invoke(app, ["run", str(tmp_path / "bad.yaml"), "--no-progress"])
    assert bad.exit_code == 2 and "solver.type" in bad.output
    # unknown grader -> exit 2
    (tmp_path / "bad2.yaml").write_text(
        "name: x\ndataset: data.jsonl\nsolver: {type: recorded, path: r.jsonl}\ngraders: [{name: nope}]\n"
    )
    (tmp_path / "r.jsonl").write_text("")
    bad2 = runner.invoke(app, ["run", str(tmp_path / "bad2.yaml"), "--no-progress"])
    assert bad2.exit_code == 2 and "unknown grader 'nope'" in bad2.output


def test_too_many_errors_exit_3(tmp_path: Path) -> None:
    spec_path = write_project(tmp_path)
    (tmp_path / "app.py").write_text(SOLVER.replace('if sample.metadata.get("explode")', "if True"))
    res = runner.invoke(app, ["run", str(spec_path), "--no-progress"])
    assert res.exit_code == 3, res.output


def test_golden_lock_fails_the_run(tmp_path: Path) -> None:
    spec_path = write_project(tmp_path)
    assert runner.invoke(app, ["dataset", "lock", str(tmp_path / "data.jsonl")]).exit_code == 0
    rows = [json.loads(x) for x in (tmp_path / "data.jsonl").read_text().splitlines()]
    rows[0]["reference"] = "changed"
    (tmp_path / "data.jsonl").write_text("\n".join(json.dumps(x) for x in rows) + "\n")
    res = runner.invoke(app, ["run", str(spec_path), "--no-progress"])
    assert res.exit_code == 2
    assert "s000" in res.output and "evalwheel dataset lock" in res.output


def test_regression_gate_against_latest_baseline(tmp_path: Path) -> None:
    spec_path = write_project(tmp_path, gates={"regression": {"max_drop": 0.0}})  # the old name still works
    assert runner.invoke(app, ["run", str(spec_path), "--no-progress"]).exit_code == 0
    write_project(tmp_path, gates={"baseline": {"max_drop": 0.0}}, broken=("s005",))  # the app regressed
    res = runner.invoke(app, ["run", str(spec_path), "--no-progress", "--json"])
    assert res.exit_code == 1, res.output
    gates = json.loads(res.output)["gates"]["gates"]
    regression = next(g for g in gates if g["name"] == "baseline")  # the gate vs a baseline run
    assert "s005" in regression["failing_samples"]


def test_dry_run_estimates_without_running(tmp_path: Path) -> None:
    spec_path = write_project(tmp_path)
    res = runner.invoke(app, ["run", str(spec_path), "--dry-run", "--json"])
    assert res.exit_code == 0, res.output
    est = json.loads(res.output)
    assert est["units"] == 8
    assert not (tmp_path / "calls.log").exists()


def test_resume_after_kill_minus_9(tmp_path: Path) -> None:
    """A real subprocess killed mid-run loses nothing and never re-runs a finished sample."""
    n = 60
    spec_path = write_project(tmp_path, n=n, delay=0.3)
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "evalwheel.cli", "run", str(spec_path), "--no-progress"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    db = tmp_path / "runs.sqlite"
    deadline = time.time() + 120
    done_before = 0
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
        try:
            with sqlite3.connect(db, timeout=1) as conn:
                done_before = conn.execute("SELECT COUNT(*) FROM results").fetchone()[0]
        except sqlite3.Error:
            continue
        if done_before >= 8:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 8 <= done_before < n, f"the run should be killed part-way (saw {done_before} results)"
    store = Store(db)
    run = store.list_runs()[0]
    assert run.status == "running"  # killed: never marked finished
    finished_at_kill = {r.sample_id for r in store.iter_results(run.run_id)}
    calls_before = Counter((tmp_path / "calls.log").read_text().split())
    res = runner.invoke(app, ["run", str(spec_path), "--no-progress", "--resume", run.run_id])
    assert res.exit_code == 0, res.output
    results = list(store.iter_results(run.run_id))
    assert len(results) == n and len({r.sample_id for r in results}) == n
    calls = Counter((tmp_path / "calls.log").read_text().split())
    for sid in finished_at_kill:
        assert calls[sid] == calls_before[sid] == 1, f"{sid} was finished before the kill but called again"
    assert store.get_run(run.run_id).status == "finished"


def test_prompt_template_placeholders_checked_before_running(tmp_path: Path) -> None:
    base = {"name": "x", "dataset": "d.jsonl", "graders": [{"name": "exact"}]}
    with pytest.raises(SpecError) as exc:
        spec_from_dict(
            {**base, "solver": {"type": "prompt", "model": "local", "template": "Q: {question}"}}, source="s.yaml"
        )
    assert "s.yaml: solver" in str(exc.value) and "unknown placeholder {question}" in str(exc.value)
    ok = spec_from_dict(
        {**base, "solver": {"type": "prompt", "model": "local", "template": "{input} {metadata[k]} {{x}}"}}
    )
    assert ok.solver.template is not None


def test_a_small_dataset_is_held_after_its_scan_and_a_large_one_streamed(tmp_path: Path, monkeypatch) -> None:
    """A file up to HOLD_MAX_BYTES keeps the scan's validated samples (no second read, validation and hashing
    per run); a larger one is read again while the run executes. Both yield the same samples and hashes."""
    import evalwheel.runs.dataset_source as source
    from evalwheel.datasets.samples import scan_dataset

    path = tmp_path / "d.jsonl"
    path.write_text("".join(f'{{"id": "s{i}", "input": "q{i}", "partition": "golden"}}\n' for i in range(5)))
    want = [(f"s{i}", scan_dataset(path).sample_hashes[f"s{i}"]) for i in range(5)]
    held = prepare_dataset(path)
    monkeypatch.setattr(source, "HOLD_MAX_BYTES", 10)
    streamed = prepare_dataset(path)
    assert [(s.id, h) for s, h in held.iter_samples()] == want
    assert [(s.id, h) for s, h in streamed.iter_samples()] == want
    path.write_text('{"id": "other", "input": "changed"}\n')  # changed after the scan: only the streamed one sees it
    assert [s.id for s, _ in held.iter_samples()] == [f"s{i}" for i in range(5)]
    assert [s.id for s, _ in streamed.iter_samples()] == ["other"]
    assert held.count == streamed.count == 5 and held.version_hash == streamed.version_hash
    assert isinstance(held.summary, source.Dataset) and not isinstance(streamed.summary, source.Dataset)
    monkeypatch.setattr(source, "HOLD_MAX_BYTES", 2 * 1024 * 1024)
    (tmp_path / "s.json").write_text('{"session_id": "x", "domain": "math", "trajectory": []}')
    path.write_text('{"id": "f", "input_file": "s.json"}\n')  # sessions of any size: streamed, never held
    assert not source._holdable(path) and source._holdable(tmp_path / "s.json")
