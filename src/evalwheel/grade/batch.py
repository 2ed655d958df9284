"""Grading logged rows in chunks, with no solver: locally (asyncio) or as Ray tasks (one shard per task).

A chunk is a pure function of (grader config, rows) -> graded rows. Each process binds the graders once (the
deterministic tier's compiled patterns, the encoder's ONNX session) and reuses them for every chunk it gets,
and graders with a batch form (the response graders' embedder / encoder tiers) grade a whole chunk in one
call: that is "batched per worker". On Ray, a task grades a whole shard (evalwheel.grade.shards).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from pydantic import Field, TypeAdapter

from evalwheel import eventloop
from evalwheel.basemodel import EvalwheelModel
from evalwheel.grade.logs import Item, Kind, LogsError, parse

if TYPE_CHECKING:
    from evalwheel.grade.shards import Shard, ShardResult
    from evalwheel.grade.tracing import TraceLink
    from evalwheel.graders.registry import GraderContext
    from evalwheel.monitor.config import MonitorConfig
    from evalwheel.runs.grading import BoundGrader
    from evalwheel.types import Output, Sample, Score

Row = tuple[int, Any]  # (line, parsed JSON or logs.NotJSON)


class Graded(EvalwheelModel):
    """One graded row (what `--out` and `--store` record); `invalid` rows carry the reason in `error`."""

    line: int
    id: str | None = None
    kind: Kind | None = None
    status: str
    value: float | None = None
    scores: list[dict[str, Any]] = Field(default_factory=list)
    error: str | None = None


@functools.cache
def _scores_adapter() -> TypeAdapter[list[Score]]:
    from evalwheel.types import Score

    return TypeAdapter(list[Score])


_BOUND: dict[str, Any] = {}  # per process: config key -> (event graders, session graders, loop)


def _bound(config: MonitorConfig, judges: bool) -> tuple[Any, Any, asyncio.AbstractEventLoop]:
    import evalwheel.graders  # noqa: F401  (registers the built-in graders)
    from evalwheel.monitor.worker import bind_graders

    key = f"{config.model_dump_json()}|{config.base_dir}|{judges}"
    if key not in _BOUND:
        events, _ = bind_graders(config, judges=judges)
        sessions, _ = bind_graders(config, judges=judges, sessions=True)
        _BOUND[key] = (events, sessions, eventloop.new_event_loop())
    found: tuple[Any, Any, asyncio.AbstractEventLoop] = _BOUND[key]
    return found


def _batched(graders: Sequence[BoundGrader], items: Sequence[Item]) -> Iterator[tuple[int, BoundGrader]]:
    """(position, grader) for every grader with a `batch` form that has rows to grade in this chunk."""
    if not items:
        return
    for k, g in enumerate(graders):
        if getattr(g.fn, "batch", None) is not None:
            yield k, g


async def _precompute(graders: Sequence[BoundGrader], items: Sequence[Item]) -> list[BoundGrader]:
    """The chunk's graders, each batch-capable one replaced by a lookup into one batched call over the chunk.

    A batch call that raises leaves that grader per-row, so a bad row still fails alone (as `error`)."""
    out = list(graders)
    for k, g in _batched(graders, items):
        try:
            scores = await g.fn.batch([i.sample for i in items], [i.output for i in items], g.ctx)  # type: ignore[attr-defined]
        except Exception:  # fall back to per-row grading, which isolates the failing row
            continue
        found = {id(i.sample): score for i, score in zip(items, scores, strict=True)}

        async def lookup(sample: Sample, output: Output, ctx: GraderContext, found: dict[int, Any] = found) -> Any:
            return found[id(sample)]

        out[k] = replace(g, fn=lookup)
    return out


async def grade_rows(
    config: MonitorConfig, judges: bool, rows: Iterable[Row], concurrency: int, *, batched: bool = True
) -> list[Graded]:
    """Grade one chunk, `concurrency` rows at once; never raises for a row (bad rows come back `invalid`).

    With `batched`, graders that have a batch form (the response graders' embedder/encoder tiers) grade the
    whole chunk in one call; the Scores are the same as per-row calls (tests/test_grade_batched.py)."""
    from evalwheel.runs.grading import GraderFailure, fold, grade

    events, sessions, _ = _bound(config, judges)
    parsed: list[Item | Graded] = []
    for line, raw in rows:
        try:
            parsed.append(parse(line, raw))
        except LogsError as exc:
            parsed.append(Graded(line=line, status="invalid", error=str(exc)))
    if batched:
        gradable = [i for i in parsed if isinstance(i, Item) and (i.kind == "session" or i.output.text is not None)]
        events = await _precompute(events, [i for i in gradable if i.kind == "event"])
        sessions = await _precompute(sessions, [i for i in gradable if i.kind == "session"])
    gate = asyncio.Semaphore(concurrency)

    async def one(item: Item | Graded) -> Graded:
        if isinstance(item, Graded):
            return item
        graders = sessions if item.kind == "session" else events
        base: dict[str, Any] = {"line": item.line, "id": item.id, "kind": item.kind}
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
        dumped = _scores_adapter().dump_python(scores, mode="json", exclude_defaults=True)  # 3x faster than per Score
        return Graded(**base, status=status, value=value, scores=dumped)

    return list(await asyncio.gather(*(one(i) for i in parsed)))


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
    """Shards as Ray tasks: each reads its own byte range / row groups and writes its own Parquet part
    (evalwheel.grade.shards); results are yielded as shards complete."""

    address: str | None = None
    concurrency: int = 16  # rows in flight per task (graders that call a judge model use it)
    max_retries: int = 3
    shard_bytes: int = 8 << 20  # JSONL bytes (or Parquet row-group bytes) per task

    async def grade_shards(
        self,
        config: MonitorConfig,
        judges: bool,
        shards: Sequence[Shard],
        parts: str,
        chunk: int,
        link: TraceLink | None = None,
    ) -> AsyncIterator[ShardResult]:
        from evalwheel.grade.shards import grade_shard
        from evalwheel.runs.executors.ray import RayShardError, connect

        ray = connect(self.address)
        task = ray.remote(num_cpus=1, max_retries=self.max_retries, retry_exceptions=False)(grade_shard)
        config_ref = ray.put(config)
        pending = {
            asyncio.wrap_future(task.remote(config_ref, judges, s, parts, chunk, self.concurrency, link).future())
            for s in shards
        }  # Ray queues them; each task's input is a few numbers, so submitting all at once costs nothing
        try:
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for fut in done:
                    try:
                        result: ShardResult = fut.result()
                    except Exception as exc:
                        raise RayShardError(
                            f"a Ray grading shard failed after {self.max_retries} retries: {exc}"
                        ) from exc
                    yield result
        finally:
            for fut in pending:
                fut.cancel()
