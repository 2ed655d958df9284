"""Grading logged rows in chunks, with no solver: locally (asyncio) or as Ray tasks (one chunk per task).

A chunk is a pure function of (grader config, rows) -> graded rows, so a Ray task whose worker died is simply
run again and its rows arrive once: only the driver writes output. Each process binds the graders once (the
deterministic tier's compiled patterns, the encoder's ONNX session) and reuses them for every chunk it gets,
which is what "batched per worker" means here: the encoder tier's model is loaded once per worker, not per row.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from evalwheel.grade.logs import Kind, LogsError, parse

if TYPE_CHECKING:
    from evalwheel.monitor.config import MonitorConfig

Row = tuple[int, Any]  # (line, parsed JSON or logs.NotJSON)


class Graded(BaseModel):
    """One graded row (what `--out` and `--store` record); `invalid` rows carry the reason in `error`."""

    line: int
    id: str | None = None
    kind: Kind | None = None
    status: str
    value: float | None = None
    scores: list[dict[str, Any]] = Field(default_factory=list)
    error: str | None = None


_BOUND: dict[str, Any] = {}  # per process: config key -> (event graders, session graders, loop)


def _bound(config: MonitorConfig, judges: bool) -> tuple[Any, Any, asyncio.AbstractEventLoop]:
    import evalwheel.graders  # noqa: F401  (registers the built-in graders)
    from evalwheel.monitor.worker import bind_graders

    key = f"{config.model_dump_json()}|{config.base_dir}|{judges}"
    if key not in _BOUND:
        events, _ = bind_graders(config, judges=judges)
        sessions, _ = bind_graders(config, judges=judges, sessions=True)
        _BOUND[key] = (events, sessions, asyncio.new_event_loop())
    found: tuple[Any, Any, asyncio.AbstractEventLoop] = _BOUND[key]
    return found


async def grade_rows(config: MonitorConfig, judges: bool, rows: Iterable[Row], concurrency: int) -> list[Graded]:
    """Grade one chunk, `concurrency` rows at once; never raises for a row (bad rows come back `invalid`)."""
    from evalwheel.runs.grading import GraderFailure, fold, grade

    events, sessions, _ = _bound(config, judges)
    gate = asyncio.Semaphore(concurrency)

    async def one(line: int, raw: Any) -> Graded:
        try:
            item = parse(line, raw)
        except LogsError as exc:
            return Graded(line=line, status="invalid", error=str(exc))
        graders = sessions if item.kind == "session" else events
        base: dict[str, Any] = {"line": line, "id": item.id, "kind": item.kind}
        if not graders:
            return Graded(**base, status="unscored", error=f"no {'session_' if item.kind == 'session' else ''}graders")
        if item.kind == "event" and item.output.text is None:
            return Graded(**base, status="unscored", error=item.output.error or "no output")
        async with gate:
            try:
                scores, gating = await grade(item.sample, item.output, graders)
            except GraderFailure as exc:
                return Graded(**base, status="error", error=str(exc))
        status, value = fold(gating)
        dumped = [s.model_dump(mode="json", exclude_defaults=True) for s in scores]
        return Graded(**base, status=status, value=value, scores=dumped)

    return list(await asyncio.gather(*(one(n, raw) for n, raw in rows)))


def grade_chunk(config: MonitorConfig, judges: bool, rows: list[Row], concurrency: int) -> list[Graded]:
    """The Ray task body: grade a chunk on this worker's own event loop (kept across tasks)."""
    _, _, loop = _bound(config, judges)
    graded: list[Graded] = loop.run_until_complete(grade_rows(config, judges, rows, concurrency))
    return graded


def chunks(rows: Iterator[Row], size: int) -> Iterator[list[Row]]:
    chunk: list[Row] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass
class LocalGrader:
    """Chunks graded in this process, one at a time (rows within a chunk concurrently)."""

    concurrency: int = 16

    async def run(self, config: MonitorConfig, judges: bool, parts: Iterator[list[Row]]) -> AsyncIterator[list[Graded]]:
        for part in parts:
            yield await grade_rows(config, judges, part, self.concurrency)


@dataclass
class RayGrader:
    """Chunks as Ray tasks, `2 x cluster CPUs` in flight; chunk results yielded as they complete."""

    address: str | None = None
    concurrency: int = 16  # rows in flight per task (graders that call a judge model use it)
    max_retries: int = 3

    async def run(self, config: MonitorConfig, judges: bool, parts: Iterator[list[Row]]) -> AsyncIterator[list[Graded]]:
        from evalwheel.runs.executors.ray import RayShardError, connect

        ray = connect(self.address)
        slots = max(1, int(ray.cluster_resources().get("CPU", 1)))
        task = ray.remote(num_cpus=1, max_retries=self.max_retries, retry_exceptions=False)(grade_chunk)
        config_ref = ray.put(config)
        pending: set[asyncio.Future[Any]] = set()
        more = True
        try:
            while True:
                while more and len(pending) < 2 * slots:
                    part = next(parts, None)
                    if part is None:
                        more = False
                        break
                    ref = task.remote(config_ref, judges, part, self.concurrency)
                    pending.add(asyncio.wrap_future(ref.future()))
                if not pending:
                    return
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for fut in done:
                    try:
                        graded = fut.result()
                    except Exception as exc:
                        raise RayShardError(
                            f"a Ray grading chunk failed after {self.max_retries} retries: {exc}"
                        ) from exc
                    yield graded
        finally:
            for fut in pending:
                fut.cancel()
