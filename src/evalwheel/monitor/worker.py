"""The grading worker: lease sampled events, grade them with the registered graders, store the results.

Graders are bound from the monitor config exactly as a run binds a spec's graders, and the verdict is folded
with the run engine's rules (`runs.grading`): a failed gating score fails the event, an unscored one leaves it
unscored (never a silent fail). A grader that raises is retried on a later claim up to `max_attempts`, then
stored as `error`; one bad event never stops the batch. Alert rules that look at single events run on each
batch's results before the worker claims the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import evalwheel.graders  # noqa: F401  (registers the built-in graders)
from evalwheel.graders.registry import GraderContext, get_grader
from evalwheel.models.base import Model
from evalwheel.monitor.config import ConfigError, MonitorConfig
from evalwheel.monitor.events import assemble_sessions
from evalwheel.monitor.queue import Claimed, GradeResult, MonitorStore, new_worker_id
from evalwheel.runs.engine import uses_judge
from evalwheel.runs.grading import BoundGrader, GraderFailure, fold, grade
from evalwheel.types import Output, Sample

log = logging.getLogger("evalwheel.monitor.worker")


def bind_graders(
    config: MonitorConfig, *, judges: bool = True, sessions: bool = False, models: dict[str, Model] | None = None
) -> tuple[list[BoundGrader], list[Model]]:
    """The config's graders (or `session_graders`) with config files merged and judge model names resolved once."""
    from evalwheel.models.registry import get_model
    from evalwheel.models.reliability import Timeouts
    from evalwheel.runs.preflight import check_grader_config

    models = {} if models is None else models
    specs = config.session_graders if sessions else config.graders
    where = "session_graders" if sessions else "graders"
    timeouts = Timeouts.total(config.judge_timeout_s)

    def resolve(name: str) -> Model:
        if name not in models:
            models[name] = get_model(name, max_concurrency=4, timeouts=timeouts)
        return models[name]

    bound: list[BoundGrader] = []
    for i, g in enumerate(specs):
        try:
            fn = get_grader(g.name)
        except KeyError as exc:
            raise ConfigError(f"{where}[{i}].name: {exc.args[0]}") from None
        raw = config.grader_config(g)
        try:  # as `run` and `calibrate` do: a misspelt option or a bad pattern made every row an `error`, exit 0
            check_grader_config(g.name, raw)
        except ValueError as exc:
            raise ConfigError(f"{where}[{i}] ({g.name}): {exc}") from None
        if not judges and uses_judge(raw):
            continue
        cfg = dict(raw)
        if isinstance(cfg.get("judge_model"), str):
            cfg["judge_model"] = resolve(cfg["judge_model"])
        if isinstance(cfg.get("judge_models"), list):
            cfg["judge_models"] = [resolve(m) if isinstance(m, str) else m for m in cfg["judge_models"]]
        gate_scores = tuple(g.gate_scores) if g.gate_scores is not None else None
        bound.append(BoundGrader(g.name, fn, GraderContext(cfg), g.gate, gate_scores))
    return bound, list(models.values())


@dataclass
class WorkerStats:
    graded: int = 0
    inserted: int = 0
    errors: int = 0
    retried: int = 0
    batches: int = 0
    by_status: dict[str, int] = field(default_factory=dict)


class Worker:
    """One async worker; run several (processes or machines) against one PostgreSQL store to scale out."""

    def __init__(
        self,
        store: MonitorStore,
        config: MonitorConfig,
        *,
        worker_id: str | None = None,
        judges: bool = True,
        batch: int = 64,
        lease_s: float = 60.0,
        concurrency: int = 16,
        on_results: Callable[[list[GradeResult]], object] | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.id = worker_id or new_worker_id()
        models: dict[str, Model] = {}
        self.graders, _ = bind_graders(config, judges=judges, models=models)
        self.session_graders, _ = bind_graders(config, judges=judges, sessions=True, models=models)
        self.models = list(models.values())
        self.batch = batch
        self.lease_s = lease_s
        self.concurrency = concurrency
        self.on_results = on_results
        self.stats = WorkerStats()

    async def _grade_one(self, item: Claimed, sem: asyncio.Semaphore) -> GradeResult | None:
        e = item.event
        base: dict[str, Any] = {"request_id": e.request_id, "app": e.app, "ts": e.timestamp}
        base["inclusion_prob"] = item.inclusion_prob
        if e.session_id is not None and e.metadata.get("session_end") is True:
            return await self._grade_session(item, base, sem)
        if e.output is None:
            # The app produced nothing to grade (it errored): unscored, counted in the window's error rate.
            return GradeResult(**base, status="unscored", value=None, scores=[], error=e.error or "no output")
        return await self._graded(item, base, sem, e.to_sample(), e.to_output(), self.graders)

    async def _grade_session(self, item: Claimed, base: dict[str, Any], sem: asyncio.Semaphore) -> GradeResult | None:
        """A close event: assemble the session from its turn events and grade it with the session graders."""
        e = item.event
        if not self.session_graders:
            return GradeResult(**base, status="unscored", value=None, scores=[], error="no session_graders configured")
        turns = await asyncio.to_thread(self.store.session_events, e.app, str(e.session_id))
        turns = [t for t in turns if t.metadata.get("session_end") is not True]
        sessions = assemble_sessions(turns, domain=str(e.metadata.get("domain", "unknown")))
        if not sessions:
            return GradeResult(**base, status="unscored", value=None, scores=[], error="session has no turns")
        sample = Sample(id=str(e.session_id), partition="distribution", input=sessions[0])
        return await self._graded(item, base, sem, sample, Output(), self.session_graders)

    async def _graded(
        self,
        item: Claimed,
        base: dict[str, Any],
        sem: asyncio.Semaphore,
        sample: Sample,
        output: Output,
        graders: list[BoundGrader],
    ) -> GradeResult | None:
        """Grade and fold; a raising grader returns None (retry later) until the last attempt, then `error`."""
        async with sem:
            try:
                scores, gating = await grade(sample, output, graders)
            except GraderFailure as exc:
                if item.attempts < self.config.max_attempts:
                    self.stats.retried += 1
                    return None  # released and retried on a later claim
                self.stats.errors += 1
                return GradeResult(**base, status="error", value=None, scores=[], error=str(exc))
        status, value = fold(gating)
        dumped = [s.model_dump(mode="json", exclude_defaults=True) for s in scores]
        return GradeResult(**base, status=status, value=value, scores=dumped)

    async def run_once(self) -> int:
        """Claim one batch, grade it, store it; returns how many events were claimed (0: queue empty)."""
        claimed = await asyncio.to_thread(self.store.claim, self.id, self.batch, self.lease_s)
        if not claimed:
            return 0
        sem = asyncio.Semaphore(self.concurrency)
        outcomes = await asyncio.gather(*(self._grade_one(c, sem) for c in claimed))
        done = [r for r in outcomes if r is not None]
        retry = [c.event.request_id for c, r in zip(claimed, outcomes, strict=True) if r is None]
        inserted = await asyncio.to_thread(self.store.complete, self.id, done)
        if retry:
            await asyncio.to_thread(self.store.release, retry)
        self.stats.batches += 1
        self.stats.graded += len(done)
        self.stats.inserted += inserted
        for r in done:
            self.stats.by_status[r.status] = self.stats.by_status.get(r.status, 0) + 1
        if self.on_results is not None and done:
            try:
                self.on_results(done)
            except Exception:  # alerting must never stop grading
                log.exception("alert evaluation failed")
        return len(claimed)

    async def drain(self) -> int:
        """Grade until the queue is empty (tests, the traffic demo); returns events claimed."""
        total = 0
        while (n := await self.run_once()) > 0:
            total += n
        return total

    async def run(self, stop: asyncio.Event, idle_sleep: float = 0.25) -> None:
        """Grade until `stop` is set, sleeping briefly whenever the queue is empty."""
        while not stop.is_set():
            try:
                n = await self.run_once()
            except Exception:
                log.exception("worker batch failed; retrying")
                n = 0
            if n == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), idle_sleep)

    async def aclose(self) -> None:
        for m in self.models:
            with contextlib.suppress(Exception):
                await m.aclose()
