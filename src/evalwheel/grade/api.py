"""`grade_logs`: stream a logged file through the graders (no solver) into sinks, locally or on Ray."""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from evalwheel.grade.batch import Graded, LocalGrader, RayGrader, chunks
from evalwheel.grade.logs import LogsError, raw_rows, validate_file

if TYPE_CHECKING:
    from evalwheel.grade.shards import ShardResult
    from evalwheel.grade.tracing import TraceLink

if TYPE_CHECKING:
    from evalwheel.grade.sinks import Sink
    from evalwheel.monitor.config import MonitorConfig


@dataclass
class GradeOutcome:
    counts: Counter[str] = field(default_factory=Counter)
    invalid: list[str] = field(default_factory=list)  # every skipped row, "line N: field: cause"
    graded: int = 0
    wall_s: float = 0.0
    # Ray only: per worker pid, {"shards", "cpu_s" (process CPU spent grading), "peak_rss_mb"}
    workers: dict[int, dict[str, float]] = field(default_factory=dict)


async def grade_logs(
    logs: Path,
    config: MonitorConfig,
    sinks: Sequence[Sink],
    *,
    executor: LocalGrader | RayGrader | None = None,
    skip_invalid: bool = False,
    chunk_size: int = 256,
    judges: bool = True,
    on_invalid: Callable[[str], None] | None = None,
    on_chunk: Callable[[Sequence[Graded]], None] | None = None,
    parts_dir: Path | None = None,
    otel_endpoint: str | None = None,
) -> GradeOutcome:
    """Grade every row of `logs`; invalid rows refuse the file (LogsError listing them) unless `skip_invalid`.

    Without `skip_invalid` the file is validated first (one cheap pass) so that nothing is graded or written
    from a file that will be refused; with it there is one pass and each bad row is reported as it is met."""
    if not config.graders and not config.session_graders:
        raise LogsError("--graders: the config has neither `graders` (events) nor `session_graders` (sessions)")
    outcome = GradeOutcome()

    def invalid(message: str) -> None:
        outcome.invalid.append(message)
        if on_invalid is not None:
            on_invalid(message)

    if isinstance(executor, RayGrader):
        from evalwheel.grade.tracing import grade_span

        with grade_span(str(logs), otel_endpoint) as (span, link):
            await _grade_sharded(logs, config, sinks, executor, outcome, invalid, skip_invalid=skip_invalid,
                                 chunk_size=chunk_size, judges=judges, on_chunk=on_chunk, parts_dir=parts_dir,
                                 link=link)  # fmt: skip
            if span is not None:
                span.set_attribute("evalwheel.grade.graded", outcome.graded)
                span.set_attribute("evalwheel.grade.invalid", len(outcome.invalid))
        return outcome
    if not skip_invalid:
        _, problems = validate_file(logs)
        if problems:
            raise _refuse(logs, problems)
    started = time.perf_counter()
    runner = executor or LocalGrader()
    # a repeated id among *valid* rows is dropped (first one wins), as validate_file and the Ray merge count them:
    # a row repeating an invalid row's id is graded
    seen: dict[str, int] = {}
    async for graded in runner.run(config, judges, chunks(raw_rows(logs), chunk_size)):
        good = []
        for g in graded:
            if g.status == "invalid":
                invalid(str(g.error))
            elif g.id is not None and g.id in seen:
                invalid(f"line {g.line}: duplicate id {g.id!r} (first on line {seen[g.id]})")
            else:
                if g.id is not None:
                    seen[g.id] = g.line
                good.append(g)
                outcome.counts[g.status] += 1
        for sink in sinks:
            sink.write(good)
        outcome.graded += len(good)
        if on_chunk is not None:
            on_chunk(good)
    outcome.wall_s = round(time.perf_counter() - started, 3)
    return outcome


def _refuse(logs: Path, problems: list[str]) -> LogsError:
    shown = "\n  ".join(problems[:50])
    # the local pre-pass stops at 51 problems (validate_file), so past 50 no exact count is claimed on either path
    count = (
        "over 50 invalid rows (the first 50 are listed; fix these first)"
        if len(problems) > 50
        else f"{len(problems)} invalid rows"
    )
    return LogsError(f"{logs}: {count}; --skip-invalid grades the rest:\n  {shown}")


def _duplicates(results: Sequence[ShardResult]) -> tuple[dict[int, set[int]], list[tuple[int, str]]]:
    """Lines to drop per shard (a repeated id: the first occurrence in the file wins) and their messages."""
    seen: dict[str, int] = {}
    drop: dict[int, set[int]] = {}
    messages: list[tuple[int, str]] = []
    for r in results:
        for key, line in zip(r.ids, r.lines, strict=True):
            if key is None:
                continue
            if key in seen:
                drop.setdefault(r.index, set()).add(line)
                messages.append((line, f"line {line}: duplicate id {key!r} (first on line {seen[key]})"))
            else:
                seen[key] = line
    return drop, messages


async def _grade_sharded(
    logs: Path,
    config: MonitorConfig,
    sinks: Sequence[Sink],
    runner: RayGrader,
    outcome: GradeOutcome,
    invalid: Callable[[str], None],
    *,
    skip_invalid: bool,
    chunk_size: int,
    judges: bool,
    on_chunk: Callable[[Sequence[Graded]], None] | None,
    parts_dir: Path | None,
    link: TraceLink | None,
) -> None:
    """Shards graded on Ray into Parquet parts, then merged into the sinks in file order.

    A refused file (bad rows without `skip_invalid`) is graded but nothing reaches a sink; the strict
    pre-pass is not run here because on a cluster it would be the one serial pass over the whole file."""
    import shutil
    import tempfile

    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from evalwheel.fileio import make_dir
    from evalwheel.grade.shards import plan_shards, table_rows

    started = time.perf_counter()
    shards = plan_shards(logs, runner.shard_bytes)
    made = parts_dir is None
    parts = Path(tempfile.mkdtemp(prefix="evalwheel-grade-")) if parts_dir is None else parts_dir
    make_dir(parts, what="--out's parts folder")  # a file in the way is exit 2 before any task runs
    try:
        results = [r async for r in runner.grade_shards(config, judges, shards, str(parts), chunk_size, link)]
        results.sort(key=lambda r: r.index)
        for r in results:
            w = outcome.workers.setdefault(r.pid, {"shards": 0, "cpu_s": 0.0, "peak_rss_mb": 0.0})
            w["shards"] += 1
            w["cpu_s"] = round(w["cpu_s"] + r.cpu_s, 3)
            w["peak_rss_mb"] = max(w["peak_rss_mb"], r.peak_rss_mb)
        drop, repeated = _duplicates(results)
        problems = sorted([m for r in results for m in r.invalid] + repeated)
        if problems and not skip_invalid:
            raise _refuse(logs, [m for _, m in problems])
        for _, message in problems:
            invalid(message)
        for r in results:
            if r.part is None:
                continue
            table = pq.read_table(r.part)
            if r.index in drop:
                table = table.filter(pc.invert(pc.is_in(table["line"], value_set=pa_array(drop[r.index]))))
            rows = None
            for sink in sinks:
                if hasattr(sink, "write_table"):
                    sink.write_table(table)
                else:
                    rows = rows if rows is not None else table_rows(table)
                    sink.write(rows)
            outcome.graded += table.num_rows
            outcome.counts.update(table["status"].to_pylist())
            if on_chunk is not None:
                on_chunk(rows if rows is not None else table_rows(table))
    finally:
        if made:
            shutil.rmtree(parts, ignore_errors=True)
        else:
            for pattern in ("part-*.parquet", ".part-*.tmp"):  # a killed worker leaves its temporary part
                for leftover in parts.glob(pattern):
                    leftover.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                parts.rmdir()
    outcome.wall_s = round(time.perf_counter() - started, 3)


def pa_array(values: set[int]) -> object:
    import pyarrow as pa

    return pa.array(sorted(values), type=pa.int64())
