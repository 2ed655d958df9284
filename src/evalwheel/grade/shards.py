"""Sharded batch grading on Ray: each task reads its own byte range (JSONL) or row groups (Parquet) and writes
its own Parquet part; the driver only plans ranges, merges the parts and reports.

Why: with chunks sent from the driver, the driver alone read, decoded and pickled every row and received every
graded row back, so it capped the cluster (about 20,000-40,000 sessions/s from JSON decoding alone) and every
row crossed the object store twice. Here a task's input is four numbers and its output is a file on a shared
path, so nothing but counts, ids and bad-row messages travel back.

Exactly once: a part is written to a temporary name and renamed when the shard is done, so a task that Ray
runs again (its worker died) replaces the part instead of adding rows; the driver reads only the parts of
shards that returned. Repeated ids are found by the driver from the ids each shard returns (first occurrence
wins, as in the streaming path) and those rows are dropped while the parts are merged.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from evalwheel.basemodel import EvalwheelModel
from evalwheel.grade.batch import Graded, Row, chunks, grade_chunk
from evalwheel.grade.logs import LogsError, check_input, decode_line, parquet_dicts

if TYPE_CHECKING:
    import pyarrow as pa

    from evalwheel.grade.tracing import TraceLink
    from evalwheel.monitor.config import MonitorConfig

SHARD_BYTES = 8 << 20  # ~3,000 synthetic sessions of ~2.4 KB: seconds of work per task, small retries (RayGrader)


class Shard(EvalwheelModel):
    """One task's input: a byte range of a JSONL file starting at `first_line`, or Parquet row groups."""

    index: int
    path: str
    start: int = 0  # JSONL: byte offsets [start, end), both at line starts
    end: int = 0
    first_line: int = 1  # JSONL: the 1-based line number at `start`; Parquet: the row number of the first row
    row_groups: list[int] = Field(default_factory=list)


class ShardResult(EvalwheelModel):
    """What a task sends back: no graded rows, only what the driver needs to merge and report."""

    index: int
    part: str | None  # the Parquet part holding the graded rows (None: nothing graded)
    ids: list[str | None]  # per graded row, in part order (duplicate detection)
    lines: list[int]
    invalid: list[tuple[int, str]]  # (line, "line N: field: cause")
    pid: int = 0  # the worker process, and what the shard cost it (for the benchmark and the trace)
    cpu_s: float = 0.0
    peak_rss_mb: float = 0.0


def plan_shards(path: Path, shard_bytes: int = SHARD_BYTES) -> list[Shard]:
    """Shards of about `shard_bytes` (JSONL, aligned to line starts) or row groups (Parquet).

    The JSONL plan reads the file once to count newlines (bytes.count, memory speed), so every shard knows
    the line number it starts at and errors name the file's own line numbers."""
    check_input(path)
    if path.suffix.lower() == ".parquet":
        return _parquet_shards(path, shard_bytes)
    if path.suffix.lower() not in (".jsonl", ".ndjson", ".json"):
        raise LogsError(f"{path}: expected a .jsonl or .parquet file of logged events or sessions")
    size = path.stat().st_size
    shards: list[Shard] = []
    start, line = 0, 1
    with path.open("rb") as fh:
        while start < size:
            fh.seek(min(start + shard_bytes, size))
            fh.readline()  # to the start of the next line
            end = min(fh.tell(), size)
            fh.seek(start)
            newlines, left = 0, end - start
            while left:
                block = fh.read(min(left, 1 << 24))
                newlines += block.count(b"\n")
                left -= len(block)
            shards.append(Shard(index=len(shards), path=str(path), start=start, end=end, first_line=line))
            start, line = end, line + newlines
    return shards


def _parquet_shards(path: Path, shard_bytes: int) -> list[Shard]:
    try:
        import pyarrow.parquet as pq

        meta = pq.ParquetFile(path).metadata
    except ImportError:  # pragma: no cover - depends on the environment
        raise LogsError(f"{path}: reading Parquet needs pyarrow: pip install 'evalwheel[parquet]'") from None
    except Exception as exc:  # pyarrow raises ArrowInvalid / OSError for non-Parquet data
        raise LogsError(f"{path}: not a readable Parquet file: {exc}") from None
    shards: list[Shard] = []
    groups: list[int] = []
    size, first, row = 0, 1, 1
    for g in range(meta.num_row_groups):
        rg = meta.row_group(g)
        groups.append(g)
        size += rg.total_byte_size
        row += rg.num_rows
        if size >= shard_bytes or g == meta.num_row_groups - 1:
            shards.append(Shard(index=len(shards), path=str(path), first_line=first, row_groups=groups))
            groups, size, first = [], 0, row
    return shards


def shard_rows(shard: Shard) -> Iterator[Row]:
    """(line, parsed JSON or NotJSON) for every non-blank row of the shard, numbered as in the whole file."""
    if shard.row_groups:
        import pyarrow.parquet as pq

        n = shard.first_line
        for row in parquet_dicts(pq.ParquetFile(shard.path).read_row_groups(shard.row_groups)):
            yield n, row
            n += 1
        return
    with open(shard.path, "rb") as fh:
        fh.seek(shard.start)
        pos, n = shard.start, shard.first_line
        while pos < shard.end:
            raw = fh.readline()
            if not raw:
                break
            pos += len(raw)
            if raw.strip():
                yield n, decode_line(raw)
            n += 1


def graded_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema(
        [
            ("line", pa.int64()),
            ("id", pa.string()),
            ("kind", pa.string()),
            ("status", pa.string()),
            ("value", pa.float64()),
            ("scores", pa.string()),  # JSON text: its shape differs per grader
            ("error", pa.string()),
        ]
    )


def graded_table(rows: list[Graded]) -> pa.Table:
    """Graded rows as an Arrow table in `graded_schema()`."""
    import pyarrow as pa

    columns: dict[str, list[Any]] = {
        "line": [r.line for r in rows],
        "id": [r.id for r in rows],
        "kind": [r.kind for r in rows],
        "status": [r.status for r in rows],
        "value": [r.value for r in rows],
        "scores": [json.dumps(r.scores) for r in rows],
        "error": [r.error for r in rows],
    }
    return pa.table(columns, schema=graded_schema())


def table_rows(table: pa.Table) -> list[Graded]:
    """The inverse of `graded_table` (for sinks that take Graded rows: JSONL, the store)."""
    return [Graded(**{**r, "scores": json.loads(r["scores"])}) for r in table.to_pylist()]


def grade_shard(
    config: MonitorConfig,
    judges: bool,
    shard: Shard,
    parts: str,
    chunk: int,
    concurrency: int,
    link: TraceLink | None = None,
) -> ShardResult:
    """The Ray task body: grade one shard chunk by chunk into `parts/part-NNNNNN.parquet` (atomic rename)."""
    import time

    import pyarrow.parquet as pq

    from evalwheel.grade.tracing import shard_span

    final = Path(parts) / f"part-{shard.index:06d}.parquet"
    tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
    ids: list[str | None] = []
    lines: list[int] = []
    invalid: list[tuple[int, str]] = []
    writer = None
    cpu = time.process_time()
    with shard_span(shard, link) as span:
        try:
            for part in chunks(shard_rows(shard), chunk):
                started = time.perf_counter()
                graded = grade_chunk(config, judges, part, concurrency)
                good = []
                for g in graded:
                    if g.status == "invalid":
                        invalid.append((g.line, str(g.error)))
                    else:
                        good.append(g)
                        ids.append(g.id)
                        lines.append(g.line)
                span.chunk(len(part), good, time.perf_counter() - started)
                if good:
                    if writer is None:
                        writer = pq.ParquetWriter(tmp, graded_schema())
                    writer.write_table(graded_table(good))
        finally:
            if writer is not None:
                writer.close()
        span.done(len(ids), len(invalid))
    cost = {"pid": os.getpid(), "cpu_s": round(time.process_time() - cpu, 3), "peak_rss_mb": peak_rss_mb()}
    if writer is None:
        return ShardResult(index=shard.index, part=None, ids=[], lines=[], invalid=invalid, **cost)
    os.replace(tmp, final)
    return ShardResult(index=shard.index, part=str(final), ids=ids, lines=lines, invalid=invalid, **cost)


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM), in MB; 0 where /proc is not available."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0
