"""`evalwheel grade`: logged events and sessions graded with no solver, to Parquet/JSONL and the store."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from evalwheel.cli import app
from evalwheel.store import Store

runner = CliRunner()
SESSIONS = Path(__file__).resolve().parents[1] / "examples" / "studymode" / "sessions"

CONFIG = {
    "graders": [{"name": "regex", "config": {"pattern": r"\?"}}],
    "session_graders": [{"name": "studymode.fidelity", "gate_scores": ["pedagogical_fidelity"]}],
}


def event(i: int, output: str | None = "Which step comes next?") -> dict[str, object]:
    row: dict[str, object] = {"request_id": f"r{i}", "app": "tutor", "input": f"question {i}", "timestamp": 1.0}
    if output is not None:
        row["output"] = output
    return row


def write_logs(tmp: Path, *, bad: bool = False) -> tuple[Path, Path]:
    rows: list[str] = []
    for i in range(30):
        rows.append(json.dumps(event(i, "Which step comes next?" if i % 2 else "The answer is 4.")))
    rows.append(json.dumps(event(30, None)))  # the app errored: nothing to grade
    for path in sorted(SESSIONS.glob("*.json"))[:4]:
        rows.append(json.dumps(json.loads(path.read_text())))
    if bad:
        rows.insert(3, "{not json")
        rows.insert(7, json.dumps({"request_id": "x", "app": "tutor"}))  # no input
        rows.append(json.dumps(event(5)))  # duplicate id
    logs = tmp / "logs.jsonl"
    logs.write_text("\n".join(rows) + "\n")
    cfg = tmp / "graders.yaml"
    cfg.write_text(yaml.safe_dump(CONFIG))
    return logs, cfg


def test_grade_jsonl_to_parquet_and_store(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    logs, cfg = write_logs(tmp_path)
    db = tmp_path / "runs.sqlite"
    out = tmp_path / "graded.parquet"
    res = runner.invoke(
        app,
        ["grade", str(logs), "--graders", str(cfg), "--out", str(out), "--store", str(db), "--json", "--chunk", "7"],
    )
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert payload["graded"] == 35 and payload["invalid"] == 0
    table = pq.read_table(out).to_pylist()
    by_id = {r["id"]: r for r in table}
    assert len(by_id) == 35
    assert by_id["r1"]["status"] == "passed" and by_id["r2"]["status"] == "failed"
    assert by_id["r30"]["status"] == "unscored"
    sessions = [r for r in table if r["kind"] == "session"]
    assert len(sessions) == 4 and all(r["status"] in ("passed", "failed") for r in sessions)
    assert any(s["name"] == "pedagogical_fidelity" for s in json.loads(sessions[0]["scores"]))
    stored = list(Store(db).iter_results(payload["run_id"], with_output=False))
    assert Counter(r.status for r in stored) == Counter(r["status"] for r in table)
    assert Store(db).get_run(payload["run_id"]).status == "finished"


def test_bad_lines_are_reported_with_numbers(tmp_path: Path) -> None:
    logs, cfg = write_logs(tmp_path, bad=True)
    out = tmp_path / "graded.jsonl"
    out.write_text("an earlier output\n")
    db = tmp_path / "runs.sqlite"
    res = runner.invoke(app, ["grade", str(logs), "--graders", str(cfg), "--out", str(out), "--store", str(db)])
    assert res.exit_code == 2
    assert out.read_text() == "an earlier output\n"  # a refused file replaces no output...
    assert Store(db).list_runs() == []  # ...leaves no empty run in the store and no temporary file
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert "3 invalid rows" in res.output
    assert "line 4: not JSON" in res.output
    assert "line 8: row: Value error, an event needs `input`" in res.output
    assert "line 38: duplicate id 'r5' (first on line 7)" in res.output
    res = runner.invoke(app, ["grade", str(logs), "--graders", str(cfg), "--out", str(out), "--skip-invalid", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["graded"] == 35 and json.loads(res.stdout)["invalid"] == 3
    assert "line 4: not JSON" in res.stderr
    assert len(out.read_text().splitlines()) == 35


def test_parquet_input_and_bad_arguments(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    cfg = tmp_path / "graders.yaml"
    cfg.write_text(yaml.safe_dump({"graders": CONFIG["graders"]}))
    logs = tmp_path / "logs.parquet"
    pq.write_table(pa.Table.from_pylist([event(i) for i in range(10)]), logs)
    out = tmp_path / "o.jsonl"
    res = runner.invoke(app, ["grade", str(logs), "--graders", str(cfg), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert {json.loads(line)["status"] for line in out.read_text().splitlines()} == {"passed"}
    for args, message in [
        (["--out", str(tmp_path / "o.csv")], "expected a .parquet or .jsonl"),
        ([], "say where results go"),
        (["--out", str(out), "--executor", "spark"], "choose one of local, ray"),
    ]:
        res = runner.invoke(app, ["grade", str(logs), "--graders", str(cfg), *args])
        assert res.exit_code == 2 and message in res.output, res.output
    res = runner.invoke(app, ["grade", str(tmp_path / "none.jsonl"), "--graders", str(cfg), "--out", str(out)])
    assert res.exit_code == 2 and "file not found" in res.output
    empty = tmp_path / "empty.yaml"
    empty.write_text("sampler: {}\n")
    res = runner.invoke(app, ["grade", str(logs), "--graders", str(empty), "--out", str(out)])
    assert res.exit_code == 2 and "neither `graders`" in res.output


def test_unreachable_ray_cluster_is_bad_input_before_anything_is_written(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    logs, cfg = write_logs(tmp_path)
    out = tmp_path / "o.jsonl"
    res = runner.invoke(
        app, ["grade", str(logs), "--graders", str(cfg), "--executor", "ray", "--address", "auto", "--out", str(out)]
    )
    assert res.exit_code == 2 and "cannot connect to the Ray cluster" in res.output
    assert not out.exists()


def test_a_failure_after_rows_were_written_keeps_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only a file refused before any row is dropped: an executor failing mid-file (a Ray worker lost past its
    retries, a store giving up) exits 2 but keeps what was written, in the output file and the store."""
    import evalwheel.grade.api as grade_api
    from evalwheel.grade.batch import Graded
    from evalwheel.runs.executors import ExecutorError

    async def fails_after_one_chunk(logs: Path, config: object, sinks: list, **_: object) -> None:
        for sink in sinks:
            sink.write([Graded(line=1, id="r1", kind="event", status="passed", value=1.0)])
        raise ExecutorError("a worker died past its retries")

    monkeypatch.setattr(grade_api, "grade_logs", fails_after_one_chunk)
    logs, cfg = write_logs(tmp_path)
    out, db = tmp_path / "graded.jsonl", tmp_path / "runs.sqlite"
    res = runner.invoke(app, ["grade", str(logs), "--graders", str(cfg), "--out", str(out), "--store", str(db)])
    assert res.exit_code == 2 and "rows written so far are kept" in res.output
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["r1"]
    (run,) = Store(db).list_runs()
    assert run.status == "interrupted" and Store(db).count_results(run.run_id) == 1


def test_judge_timeout_from_the_config_and_from_timeout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`judge_timeout_s` in the graders YAML bounds every judge request of `grade` and the monitor's worker;
    `grade --timeout S` overrides it. Checked on the judge clients bind_graders builds."""
    import evalwheel.grade.api as grade_api
    from evalwheel.models.http import OpenAIModel
    from evalwheel.monitor.config import load_monitor_config
    from evalwheel.monitor.worker import bind_graders

    cfg = tmp_path / "judged.yaml"
    judge = {"name": "judge.rubric", "config": {"judge_model": "http://127.0.0.1:9/v1#j", "criterion": "Kind?"}}
    cfg.write_text(yaml.safe_dump({"graders": [judge], "judge_timeout_s": 2.5}))
    _, models = bind_graders(load_monitor_config(cfg))
    assert len(models) == 1
    inner = getattr(models[0], "inner", models[0])  # the response cache wraps the HTTP client
    assert isinstance(inner, OpenAIModel) and inner.timeouts.total_s == 2.5

    seen: list[float | None] = []

    async def capture(logs: Path, config: object, *a: object, **kw: object) -> object:
        seen.append(getattr(config, "judge_timeout_s", None))
        raise grade_api.LogsError("stop here")

    logs, _ = write_logs(tmp_path)
    monkeypatch.setattr(grade_api, "grade_logs", capture)
    args = ["grade", str(logs), "--graders", str(cfg), "--out", str(tmp_path / "o.jsonl"), "--timeout", "0.5"]
    res = runner.invoke(app, args)
    assert res.exit_code == 2 and seen == [0.5], res.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"graders": [judge], "judge_timeout_s": 0}))
    res = runner.invoke(app, ["grade", str(logs), "--graders", str(bad), "--out", str(tmp_path / "o2.jsonl")])
    assert res.exit_code == 2 and "judge_timeout_s" in res.output
