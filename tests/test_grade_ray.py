"""`evalwheel grade --executor ray` on a real local Ray cluster: shards read their own byte ranges and write
their own parts; a worker killed mid-shard is retried with nothing lost or duplicated; a refused file writes
nothing; the workers' spans reach a real OTLP/HTTP receiver in the driver's trace."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
pq = pytest.importorskip("pyarrow.parquet")

from typer.testing import CliRunner  # noqa: E402

from evalwheel.cli import app  # noqa: E402
from evalwheel.grade import LocalGrader, RayGrader, grade_logs  # noqa: E402
from evalwheel.grade.sinks import ParquetSink  # noqa: E402
from evalwheel.monitor.config import MonitorConfig  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

pytestmark = pytest.mark.slow

FIDELITY = MonitorConfig.model_validate(
    {"session_graders": [{"name": "studymode.fidelity", "gate_scores": ["pedagogical_fidelity"],
                          "config": {"studymode": {"dimensions": {"execute_code": False}}}}]}
)  # fmt: skip


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield
    ray.shutdown()


def _sessions(tmp: Path, n: int) -> Path:
    from bench_scale import synth_sessions

    path = tmp / "sessions.jsonl"
    synth_sessions(path, n)
    with path.open("a") as fh:  # a repeated id and a bad row at the end
        turns = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "What have you tried?"}]
        fh.write(json.dumps({"session_id": "syn-0000003", "domain": "math", "prompt": "p", "trajectory": turns}) + "\n")
        fh.write("{broken\n")
    return path


async def _grade(logs: Path, out: Path, runner: LocalGrader | RayGrader, **kw: object) -> list[dict[str, object]]:
    sink = ParquetSink(out)
    try:
        outcome = await grade_logs(logs, FIDELITY, [sink], executor=runner, skip_invalid=True, **kw)  # type: ignore[arg-type]
    finally:
        sink.close("finished")
    assert len(outcome.invalid) == 2
    assert outcome.invalid[0].endswith("duplicate id 'syn-0000003' (first on line 4)")
    return pq.read_table(out).to_pylist()


async def test_worker_killed_mid_shard_is_retried_without_loss_or_duplicates(cluster: None, tmp_path: Path) -> None:
    logs = _sessions(tmp_path, 600)
    local = await _grade(logs, tmp_path / "local.parquet", LocalGrader())
    parts = tmp_path / "parts"
    killed: list[int] = []

    async def killer() -> None:
        """SIGKILL the first worker seen writing a part (its temporary file names its pid)."""
        while not killed:
            for tmp in parts.glob(".part-*.tmp") if parts.exists() else []:
                pid = int(tmp.name.rsplit(".", 2)[1])
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                break
            await asyncio.sleep(0.005)

    watch = asyncio.create_task(killer())
    runner = RayGrader(shard_bytes=200_000)  # ~6 shards of ~100 sessions
    try:
        sharded = await _grade(logs, tmp_path / "ray.parquet", runner, chunk_size=10, parts_dir=parts)
    finally:
        watch.cancel()
    assert killed, "no worker was caught mid-shard"
    assert len(sharded) == 600 and len({r["id"] for r in sharded}) == 600
    assert sharded == local  # same rows, same order, same scores
    assert not parts.exists()  # parts are removed after the merge


def test_refused_file_on_ray_reports_rows_and_writes_nothing(cluster: None, tmp_path: Path) -> None:
    from test_grade_logs import write_logs

    logs, cfg = write_logs(tmp_path, bad=True)
    out = tmp_path / "graded.jsonl"
    res = CliRunner().invoke(
        app, ["grade", str(logs), "--graders", str(cfg), "--out", str(out), "--executor", "ray", "--shard-mb", "0.001"]
    )
    assert res.exit_code == 2, res.output
    text = " ".join(res.output.split())
    assert "3 invalid rows" in text and "line 4: not JSON" in text and "line 38: duplicate id 'r5'" in text
    assert not out.exists()  # nothing written, not even an empty file
    assert not (tmp_path / "graded.jsonl.parts").exists()


async def test_ray_workers_export_shard_and_batch_spans_to_otlp(cluster: None, tmp_path: Path) -> None:
    from evalwheel.tracing import shutdown
    from test_tracing_otlp import OTLPReceiver

    logs = _sessions(tmp_path, 120)
    async with OTLPReceiver() as receiver:
        try:
            await _grade(logs, tmp_path / "ray.parquet", RayGrader(shard_bytes=100_000), chunk_size=25,
                         otel_endpoint=receiver.url)  # fmt: skip
        finally:
            await asyncio.to_thread(shutdown)  # flush the driver's span while the receiver keeps serving
        for _ in range(100):  # workers flush at the end of each shard; give the last POST a moment
            if any(s["name"].startswith("evalwheel.grade ") for s in receiver.spans):
                break
            await asyncio.sleep(0.05)
    spans = receiver.spans
    (root,) = [s for s in spans if s["name"] == "evalwheel.grade sessions.jsonl"]
    shards = [s for s in spans if s["name"].startswith("evalwheel.grade.shard ")]
    batches = [s for s in spans if s["name"] == "evalwheel.grade.batch"]
    assert len(shards) >= 3 and {s["parent"] for s in shards} == {root["span_id"]}
    assert {s["trace_id"] for s in spans} == {root["trace_id"]}
    assert all(s["attrs"]["evalwheel.worker.pid"] != os.getpid() for s in shards)  # exported by the workers
    assert {b["parent"] for b in batches} <= {s["span_id"] for s in shards}
    assert sum(b["attrs"]["evalwheel.grade.rows"] for b in batches) == 122  # every row, bad ones included
    assert sum(s["attrs"]["evalwheel.grade.graded"] for s in shards) == 121  # the duplicate is dropped later
    assert root["attrs"]["evalwheel.grade.graded"] == 120 and root["attrs"]["evalwheel.grade.invalid"] == 2


def test_parquet_logs_on_ray_to_store_and_parquet_match_local(cluster: None, tmp_path: Path, store_url: str) -> None:
    """A Parquet file (several row groups, one bad row) graded on Ray with --skip-invalid into the store
    (SQLite and PostgreSQL) and a Parquet file: the same rows and statuses as the local engine."""
    import pyarrow as pa
    import yaml

    from evalwheel.store import Store
    from test_grade_logs import CONFIG, event

    rows = [event(i, "Which step comes next?" if i % 2 else "The answer is 4.") for i in range(60)]
    rows[17] = {"request_id": "bad", "app": "tutor", "input": None, "timestamp": 1.0, "output": "x"}
    logs = tmp_path / "logs.parquet"
    pq.write_table(pa.Table.from_pylist(rows), logs, row_group_size=8)
    cfg = tmp_path / "graders.yaml"
    cfg.write_text(yaml.safe_dump({"graders": CONFIG["graders"]}))
    got = {}
    for executor in ("local", "ray"):
        out = tmp_path / f"{executor}.parquet"
        args = ["grade", str(logs), "--graders", str(cfg), "--out", str(out), "--store", store_url, "--json"]
        runs_before = len(Store(store_url).list_runs())
        refused = CliRunner().invoke(app, [*args, "--executor", executor])
        assert refused.exit_code == 2 and "line 18: " in " ".join(refused.output.split()), refused.output
        assert len(Store(store_url).list_runs()) == runs_before  # a refused file reaches no sink
        res = CliRunner().invoke(app, [*args, "--executor", executor, "--skip-invalid"])
        assert res.exit_code == 0, res.output
        payload = json.loads(res.stdout)
        assert payload["graded"] == 59 and payload["invalid"] == 1
        table = sorted(pq.read_table(out).to_pylist(), key=lambda r: r["line"])
        stored = {r.sample_id: r.status for r in Store(store_url).iter_results(payload["run_id"], with_output=False)}
        assert stored == {r["id"]: r["status"] for r in table} and len(stored) == 59
        got[executor] = [(r["line"], r["id"], r["status"]) for r in table]
    assert got["ray"] == got["local"]
    assert sum(status == "passed" for _, _, status in got["ray"]) == 29
