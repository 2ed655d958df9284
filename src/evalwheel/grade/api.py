"""`grade_logs`: stream a logged file through the graders (no solver) into sinks, locally or on Ray."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from evalwheel.grade.batch import Graded, LocalGrader, RayGrader, Row, chunks
from evalwheel.grade.logs import LogsError, raw_rows, row_id, validate_file

if TYPE_CHECKING:
    from evalwheel.grade.sinks import Sink
    from evalwheel.monitor.config import MonitorConfig


@dataclass
class GradeOutcome:
    counts: Counter[str] = field(default_factory=Counter)
    invalid: list[str] = field(default_factory=list)  # every skipped row, "line N: field: cause"
    graded: int = 0
    wall_s: float = 0.0


def _deduplicated(path: Path, report: Callable[[str], None]) -> Iterator[Row]:
    """Rows in file order; a repeated request/session id is reported and dropped (it would be graded twice)."""
    seen: dict[str, int] = {}
    for n, raw in raw_rows(path):
        key = row_id(raw)
        if key is not None:
            if key in seen:
                report(f"line {n}: duplicate id {key!r} (first on line {seen[key]})")
                continue
            seen[key] = n
        yield n, raw


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

    if not skip_invalid:
        _, problems = validate_file(logs)
        if problems:
            shown = "\n  ".join(problems[:50])
            more = " (stopped after 50; fix these first)" if len(problems) > 50 else ""
            raise LogsError(f"{logs}: {len(problems)} invalid rows{more}; --skip-invalid grades the rest:\n  {shown}")
    started = time.perf_counter()
    runner = executor or LocalGrader()
    async for graded in runner.run(config, judges, chunks(_deduplicated(logs, invalid), chunk_size)):
        good = []
        for g in graded:
            if g.status == "invalid":
                invalid(str(g.error))
            else:
                good.append(g)
                outcome.counts[g.status] += 1
        for sink in sinks:
            sink.write(good)
        outcome.graded += len(good)
        if on_chunk is not None:
            on_chunk(good)
    outcome.wall_s = round(time.perf_counter() - started, 3)
    return outcome
