"""Hostile-user audit of `evalwheel grade` (local and `--executor ray`): each test failed before its fix.

None of these start Ray: the cases that reach the Ray path stub `connect` (and the shard runner) on the
driver, because what they check happens on the driver before or after the tasks.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from evalwheel.cli import app
from evalwheel.store import Store

runner = CliRunner()
SRC = Path(__file__).resolve().parents[1] / "src"
CONFIG = {"graders": [{"name": "regex", "config": {"pattern": r"\?"}}]}


def event_line(i: int) -> str:
    row = {"request_id": f"r{i}", "app": "tutor", "input": f"q{i}", "output": "Which step?", "timestamp": 1.0}
    return json.dumps(row) + "\n"


def logs_and_config(tmp: Path, n: int = 10) -> tuple[Path, Path]:
    logs = tmp / "logs.jsonl"
    logs.write_text("".join(event_line(i) for i in range(n)))
    cfg = tmp / "graders.yaml"
    cfg.write_text(yaml.safe_dump(CONFIG))
    return logs, cfg


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def no_ray(monkeypatch: pytest.MonkeyPatch) -> None:
    """`--executor ray` without a cluster: the driver-side checks run, no task is ever submitted."""
    import evalwheel.runs.executors.ray as ray_executor

    monkeypatch.setattr(ray_executor, "connect", lambda address: None)


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_ctrl_c_mid_grade_keeps_the_earlier_out_and_leaves_no_partial_file(tmp_path: Path, suffix: str) -> None:
    """Defect: SIGINT during a local grade renamed the partial output over --out (a prefix of the rows, the
    earlier output lost), silently, exit 130. Now the earlier --out is untouched and the error says so."""
    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
    logs, cfg = logs_and_config(tmp_path, n=0)
    with logs.open("w") as fh:  # seconds of grading on 2 cores: the signal lands mid-file
        fh.writelines(event_line(i) for i in range(100_000))
    out = tmp_path / f"graded{suffix}"
    out.write_bytes(b"an earlier output\n")
    partial = tmp_path / f".{out.name}.partial"
    env = {**os.environ, "PYTHONPATH": str(SRC), "EVALWHEEL_EVENT_LOOP": ""}
    proc = subprocess.Popen(
        [sys.executable, "-m", "evalwheel.cli", "grade", str(logs), "--graders", str(cfg), "--out", str(out)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # a background job ignores SIGINT
    )
    deadline = time.monotonic() + 60
    while not (partial.exists() and partial.stat().st_size > 4096):  # rows are being written (past a header)
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert out.read_bytes() == b"an earlier output\n"
    assert hidden(tmp_path) == []
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr.decode()
    assert "interrupted" in stderr.decode() and str(out.name) in stderr.decode()


def test_ctrl_c_after_rows_reached_the_store_keeps_them_as_an_interrupted_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store keeps what it committed (an `interrupted` run, as any stopped run); --out is not replaced."""
    import evalwheel.grade.api as grade_api
    from evalwheel.grade.batch import Graded

    async def interrupted_after_one_chunk(logs: Path, config: object, sinks: list, **_: object) -> None:
        for sink in sinks:
            sink.write([Graded(line=1, id="r1", kind="event", status="passed", value=1.0)])
        raise KeyboardInterrupt

    monkeypatch.setattr(grade_api, "grade_logs", interrupted_after_one_chunk)
    logs, cfg = logs_and_config(tmp_path)
    out, db = tmp_path / "graded.jsonl", tmp_path / "runs.sqlite"
    out.write_text("an earlier output\n")
    res = runner.invoke(app, ["grade", str(logs), "--graders", str(cfg), "--out", str(out), "--store", str(db)])
    assert res.exit_code == 130, res.output
    assert out.read_text() == "an earlier output\n" and hidden(tmp_path) == []
    (run,) = Store(db).list_runs()
    assert run.status == "interrupted" and Store(db).count_results(run.run_id) == 1


def test_ray_shards_failing_before_any_row_was_written_leave_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defect: a Ray shard failing past its retries (workers OOM-killed, the cluster gone) stops grading before
    the merge, yet the CLI said "rows written so far are kept", renamed an empty file over --out and created
    an empty `interrupted` run. Nothing had been written: now the earlier --out is kept and no run exists."""
    from evalwheel.grade.batch import RayGrader
    from evalwheel.runs.executors.ray import RayShardError

    async def dies(self: object, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        raise RayShardError("a Ray grading shard failed after 3 retries: worker died")
        yield  # an async generator, like the real one

    no_ray(monkeypatch)
    monkeypatch.setattr(RayGrader, "grade_shards", dies)
    logs, cfg = logs_and_config(tmp_path)
    out, db = tmp_path / "graded.jsonl", tmp_path / "runs.sqlite"
    out.write_text("an earlier output\n")
    args = ["grade", str(logs), "--graders", str(cfg), "--out", str(out), "--store", str(db), "--executor", "ray"]
    res = runner.invoke(app, args)
    assert res.exit_code == 3, res.output
    assert "worker died" in res.output and "rows written so far are kept" not in res.output
    assert out.read_text() == "an earlier output\n"
    assert Store(db).list_runs() == []
    assert hidden(tmp_path) == [] and not (tmp_path / "graded.jsonl.parts").exists()


def test_ray_parts_folder_blocked_by_a_file_is_bad_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Defect: `--out x.jsonl --executor ray` with a file named x.jsonl.parts in the way was a FileExistsError
    traceback (exit 1) that also renamed an empty file over --out."""
    no_ray(monkeypatch)
    logs, cfg = logs_and_config(tmp_path)
    out = tmp_path / "graded.jsonl"
    out.write_text("an earlier output\n")
    (tmp_path / "graded.jsonl.parts").write_text("someone's file\n")
    res = runner.invoke(app, ["grade", str(logs), "--graders", str(cfg), "--out", str(out), "--executor", "ray"])
    assert res.exit_code == 2, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
    assert "graded.jsonl.parts" in res.output and "a file" in res.output
    assert out.read_text() == "an earlier output\n"
    assert (tmp_path / "graded.jsonl.parts").read_text() == "someone's file\n"
    assert hidden(tmp_path) == []


@pytest.mark.parametrize("executor", ["local", "ray"])
def test_a_directory_as_input_is_named_as_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, executor: str) -> None:
    """Defect: a folder given as LOGS was reported as "file not found"."""
    no_ray(monkeypatch)
    _, cfg = logs_and_config(tmp_path)
    folder = tmp_path / "logs.jsonl"
    folder.unlink()
    folder.mkdir()
    out = tmp_path / "o.jsonl"
    res = runner.invoke(app, ["grade", str(folder), "--graders", str(cfg), "--out", str(out), "--executor", executor])
    assert res.exit_code == 2, res.output
    assert "logs.jsonl: not a file (a directory)" in res.output
    assert not out.exists() and hidden(tmp_path) == []


@pytest.mark.parametrize("value", ["inf", "1e308"])
def test_an_infinite_shard_size_is_refused_not_a_traceback(tmp_path: Path, value: str) -> None:
    """Defect: `--shard-mb inf` (or any value past 2**1023 bytes) was an OverflowError traceback."""
    logs, cfg = logs_and_config(tmp_path)
    out = tmp_path / "o.jsonl"
    args = ["grade", str(logs), "--graders", str(cfg), "--out", str(out), "--executor", "ray", "--shard-mb", value]
    res = runner.invoke(app, args)
    assert res.exit_code == 2, res.output
    assert isinstance(res.exception, SystemExit) and "--shard-mb" in res.output
    assert not out.exists()


def test_a_row_repeating_the_id_of_an_invalid_row_is_graded_as_the_refusal_promised(tmp_path: Path) -> None:
    """Defect: locally, --skip-invalid dropped a valid row as a "duplicate" of an earlier *invalid* row with the
    same id (a request logged without input, then logged again correctly). The refusal without --skip-invalid
    listed only the invalid row and said "--skip-invalid grades the rest", and `--executor ray` graded the
    valid row; the local run skipped it (and reported line 2 before line 1). Duplicates are now counted among
    valid rows only, as the strict check and the Ray path count them."""
    _, cfg = logs_and_config(tmp_path)
    logs = tmp_path / "retried.jsonl"
    logs.write_text(json.dumps({"request_id": "r5", "app": "tutor"}) + "\n" + event_line(5) + event_line(6))
    out = tmp_path / "o.jsonl"
    refused = runner.invoke(app, ["grade", str(logs), "--graders", str(cfg), "--out", str(out)])
    assert refused.exit_code == 2 and "1 invalid rows" in refused.output
    res = runner.invoke(app, ["grade", str(logs), "--graders", str(cfg), "--out", str(out), "--skip-invalid", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["invalid"] == 1 and json.loads(res.stdout)["graded"] == 2
    assert [json.loads(line)["line"] for line in out.read_text().splitlines()] == [2, 3]
    assert "duplicate" not in res.stderr


def test_a_real_duplicate_is_still_dropped_locally_first_one_wins(tmp_path: Path) -> None:
    _, cfg = logs_and_config(tmp_path)
    logs = tmp_path / "dups.jsonl"
    logs.write_text(event_line(1) + event_line(2) + event_line(1))
    out = tmp_path / "o.jsonl"
    res = runner.invoke(app, ["grade", str(logs), "--graders", str(cfg), "--out", str(out), "--skip-invalid", "--json"])
    assert res.exit_code == 0, res.output
    assert [json.loads(line)["line"] for line in out.read_text().splitlines()] == [1, 2]
    assert "line 3: duplicate id 'r1' (first on line 1)" in res.stderr


@pytest.mark.slow
def test_a_retried_id_is_graded_alike_locally_and_on_ray(tmp_path: Path) -> None:
    """The executors agree on the file above (the local path used to drop the valid retry). Starts Ray."""
    ray = pytest.importorskip("ray")
    _, cfg = logs_and_config(tmp_path)
    logs = tmp_path / "retried.jsonl"
    bad = json.dumps({"request_id": "r5", "app": "tutor"}) + "\n"
    logs.write_text(bad + event_line(5) + event_line(6) + event_line(6) + event_line(7))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        rows = {}
        for executor in ("local", "ray"):
            out = tmp_path / f"{executor}.jsonl"
            args = ["grade", str(logs), "--graders", str(cfg), "--out", str(out), "--skip-invalid", "--json"]
            res = runner.invoke(app, [*args, "--executor", executor, "--shard-mb", "0.001"])
            assert res.exit_code == 0, res.output
            assert json.loads(res.stdout)["invalid"] == 2, res.output  # line 1 invalid, line 4 repeats line 3
            rows[executor] = out.read_text().splitlines()
    finally:
        ray.shutdown()
    assert [json.loads(line)["line"] for line in rows["local"]] == [2, 3, 5]
    assert rows["ray"] == rows["local"]


def test_a_file_of_only_bad_rows_stops_at_50_problems(tmp_path: Path) -> None:
    """Defect: the strict pre-pass checked its 50-problem limit only after a *valid* row, so a CSV or a gzip
    named .jsonl (every row bad) was read to the end with every message kept in memory (1,000,000 rows: 176 MB,
    5 s) and then refused as "1000000 invalid rows (stopped after 50 ...)", which it had not."""
    from evalwheel.grade.logs import validate_file

    _, cfg = logs_and_config(tmp_path)
    logs = tmp_path / "export.jsonl"
    logs.write_text("".join(f"a,b,{i}\n" for i in range(5000)))
    valid, problems = validate_file(logs)
    assert valid == 0 and len(problems) == 51  # stopped: one past the limit says "more"
    res = runner.invoke(app, ["grade", str(logs), "--graders", str(cfg), "--out", str(tmp_path / "o.jsonl")])
    assert res.exit_code == 2
    assert "over 50 invalid rows" in res.output and "5000" not in res.output
    assert "line 50: not JSON" in res.output and "line 51:" not in res.output


def test_a_disk_full_when_out_is_closed_is_not_a_success(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Defect: an --out that failed as it was finished (disk full while the Parquet footer or the last JSONL
    buffer is written) printed a warning, then "graded N rows ... rows: graded.parquet", exit 0, with --out
    never written and its temporary file left behind. Now: exit 3 naming --out, the earlier file kept."""
    pq = pytest.importorskip("pyarrow.parquet")

    def full(self: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pq.ParquetWriter, "close", full)
    logs, cfg = logs_and_config(tmp_path)
    out = tmp_path / "graded.parquet"
    out.write_text("an earlier output\n")
    res = runner.invoke(app, ["grade", str(logs), "--graders", str(cfg), "--out", str(out), "--json"])
    assert res.exit_code == 3, res.output
    assert isinstance(res.exception, SystemExit)
    assert "No space left on device" in res.output and "graded.parquet" in res.output
    assert out.read_text() == "an earlier output\n"
    assert hidden(tmp_path) == []
