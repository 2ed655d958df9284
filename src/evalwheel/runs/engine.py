"""The run engine: a spec's samples through solver and graders, concurrently, every result stored at once.

Memory stays flat as the dataset grows: samples are streamed from the dataset file through a bounded queue
(a file of at most 2 MB without `input_file` is held after its validating scan: runs/dataset_source.py),
results are handed to the group-commit writer as they complete, and nothing keeps a list of them. A resumed
run skips every (sample, epoch) already in the store, so a killed run never calls the model again for work
that finished; with `retry_errors` the errored ones are run again and their rows replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from pydantic import Field

from evalwheel import tracing
from evalwheel.basemodel import EvalwheelModel
from evalwheel.graders.registry import GraderContext, get_grader
from evalwheel.models.base import Model
from evalwheel.models.pricing import cost_usd
from evalwheel.models.registry import get_model
from evalwheel.runs import writer as writer_module
from evalwheel.runs.dataset_source import PreparedDataset
from evalwheel.runs.executors import Executor
from evalwheel.runs.grading import BoundGrader, GraderFailure, fold, grade, spec_agreement
from evalwheel.runs.lease import HEARTBEAT_S, LEASE_TTL_S, LeaseLostError, RunLease
from evalwheel.runs.spec import EvalSpec, SpecError
from evalwheel.runs.writer import ResultWriter, RunStoppedError, StoreUnavailableError, WritePolicy, retry_store
from evalwheel.solvers.base import SolverContext, SolverFn
from evalwheel.solvers.build import build_solver
from evalwheel.store.errors import now_iso
from evalwheel.types import RunInfo, Sample, SampleResult

if TYPE_CHECKING:
    from evalwheel.store import Store  # imported (SQLAlchemy) only once the store is opened

JUDGE_MODEL_KEYS = ("judge_model", "judge_models")


class RunOutcome(EvalwheelModel):
    """What one execution did (not the verdict: gates decide that from the stored results)."""

    run: RunInfo
    resumed: bool = False
    skipped: int = Field(default=0, description="Samples already finished in the store (resume).")
    executed: int = 0
    counts: dict[str, int] = Field(default_factory=dict, description="Status counts of the samples executed now.")
    cost_usd: float = 0.0
    budget_exhausted: bool = False
    wall_s: float = 0.0


@dataclass
class RunPlan:
    """Everything resolved before the first sample runs, so bad config fails fast (exit 2)."""

    spec: EvalSpec
    arm: str | None
    solver: SolverFn
    solver_ctx: SolverContext
    graders: list[BoundGrader]
    models: list[Model] = field(default_factory=list)
    cache: bool = True  # kept so an executor's workers can build the same plan (runs/executors/)
    judges: bool = True

    async def aclose(self) -> None:
        for m in self.models:
            with contextlib.suppress(Exception):
                await m.aclose()


def _resolve_models(config: dict[str, Any], resolve: Callable[[str], Model]) -> dict[str, Any]:
    """Judge model names become Model objects once per run (one client and cache per name, not per call)."""
    out = dict(config)
    if isinstance(out.get("judge_model"), str):
        out["judge_model"] = resolve(out["judge_model"])
    if isinstance(out.get("judge_models"), list):
        out["judge_models"] = [resolve(m) if isinstance(m, str) else m for m in out["judge_models"]]
    return out


def uses_judge(config: dict[str, Any]) -> bool:
    return any(k in config for k in JUDGE_MODEL_KEYS)


def plan_run(spec: EvalSpec, arm: str | None = None, *, cache: bool = True, judges: bool = True) -> RunPlan:
    """Resolve graders, models and the solver. `judges=False` drops LLM-judge graders (a fast, free pass)."""
    models: dict[str, Model] = {}

    def resolve(name: str) -> Model:
        if name not in models:
            models[name] = tracing.traced_model(
                get_model(
                    name,
                    cache=cache,
                    max_concurrency=max(spec.concurrency, 1),
                    timeouts=spec.timeouts.policy(),
                    hedge=spec.hedge.policy(),
                )
            )
        return models[name]

    graders: list[BoundGrader] = []
    for i, g in enumerate(spec.graders):
        try:
            fn = get_grader(g.name)
        except KeyError as exc:
            raise SpecError(f"graders[{i}].name: {exc.args[0]}") from None
        raw = spec.grader_config(g)
        if not judges and uses_judge(raw):
            continue
        config = _resolve_models(raw, resolve)
        gate_scores = tuple(g.gate_scores) if g.gate_scores is not None else None
        note, note_score = spec_agreement(spec.resolve(g.calibration) if g.calibration else None, g.name)
        graders.append(
            BoundGrader(
                g.name, tracing.traced_grader(g.name, fn), GraderContext(config), g.gate, gate_scores, note, note_score
            )
        )

    s = spec.solver
    if s.type == "replay":
        arms = s.arms
        if arm is None:
            raise SpecError(f"solver.arms: choose one of {', '.join(arms)} for this run")
        if arm not in arms:
            raise SpecError(f"arm {arm!r} is not in solver.arms ({', '.join(arms)})")
    elif arm is not None:
        raise SpecError(f"--arm {arm} given, but solver type {s.type!r} has no arms")
    needs_model = s.type in ("prompt", "python") or (s.type == "replay" and arm != "human")
    model = resolve(s.model) if (needs_model and s.model) else None
    config = s.model_dump(exclude={"type", "model", "arms", "options"}) | s.options
    if arm is not None:
        config["arm"] = arm
    solver, ctx = build_solver(s.type, config, model, spec.base_dir)
    return RunPlan(spec, arm, solver, ctx, graders, list(models.values()), cache=cache, judges=judges)


async def run_one_sample(
    plan: RunPlan, run_id: str, sample: Sample, sample_hash: str, epoch: int
) -> tuple[SampleResult, float]:
    """Solve and grade one sample; any exception becomes an isolated `error` result, never a crash."""
    base = {
        "run_id": run_id,
        "sample_id": sample.id,
        "partition": sample.partition,
        "epoch": epoch,
        "sample_hash": sample_hash,
        "tags": sample.tags,
    }
    ctx = plan.solver_ctx if epoch == 0 else replace(plan.solver_ctx, config={**plan.solver_ctx.config, "epoch": epoch})
    started = time.perf_counter()
    try:
        output = await plan.solver(sample, ctx)
    except Exception as exc:
        return SampleResult(**base, status="error", error=f"solver: {exc.__class__.__name__}: {exc}"), 0.0
    if output.latency_ms is None:
        output = output.model_copy(update={"latency_ms": round((time.perf_counter() - started) * 1000.0, 3)})
    cost = 0.0 if output.cached or ctx.model is None else cost_usd(ctx.model.name, output.usage)
    if output.error:
        return SampleResult(**base, status="error", output=output, error=f"solver: {output.error}"), cost
    try:
        scores, gating = await grade(sample, output, plan.graders)
    except GraderFailure as exc:
        return SampleResult(**base, status="error", output=output, error=str(exc)), cost
    status, value = fold(gating)
    return SampleResult(**base, status=status, value=value, scores=scores, output=output), cost


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


@dataclass
class Progress:
    """Callbacks for a progress display; the CLI plugs a rich progress bar in."""

    start: Callable[[int], None] = lambda total: None
    advance: Callable[[SampleResult], None] = lambda result: None


class RunDeadlineError(RunStoppedError):
    """The run's `deadline_s` expired: it stopped cleanly, unfinished samples are left for --resume (exit 3)."""


def check_unchanged(info: RunInfo, spec_hash: str, dataset_hash: str, *, force: bool) -> dict[str, Any] | None:
    """Refuse to resume a run whose spec or dataset changed since it started (unless forced: then say so)."""
    changed = []
    if info.spec_hash and info.spec_hash != spec_hash:
        changed.append(f"the spec (hash {info.spec_hash[:12]} when the run started, {spec_hash[:12]} now)")
    if info.dataset_hash and info.dataset_hash != dataset_hash:
        changed.append(f"the dataset (version {info.dataset_hash[:12]} when the run started, {dataset_hash[:12]} now)")
    if not changed:
        return None
    if not force:
        raise SpecError(
            f"run {info.run_id}: {' and '.join(changed)} changed; resuming would mix results of two versions in "
            "one run. Start a new run, or pass --force to resume anyway (recorded in the run's metadata)"
        )
    note = {"at": now_iso(), "spec_hash": spec_hash, "dataset_hash": dataset_hash}
    return {"forced_resumes": [*info.metadata.get("forced_resumes", []), note]}


def _store_step(store: Store, what: str, fn: Callable[[], Any], policy: WritePolicy | None) -> Any:
    """A store call at the start or end of a run, retried like commits; a store that stays down is exit 3."""
    return retry_store(store, what, fn, policy=policy or writer_module.DEFAULT_POLICY)[0]


async def execute(
    plan: RunPlan,
    dataset: PreparedDataset,
    store: Store,
    *,
    resume: str | None = None,
    retry_errors: bool = False,
    limit: int | None = None,
    progress: Progress | None = None,
    force: bool = False,
    write_policy: WritePolicy | None = None,
    lease_ttl_s: float = LEASE_TTL_S,
    heartbeat_s: float = HEARTBEAT_S,
    executor: Executor | None = None,
) -> RunOutcome:
    """Execute (or resume) one run. Results are acknowledged once committed (runs/writer.py).

    Raises RunStoppedError (exit 3) when the store stays unavailable or the run's lease is lost: every
    acknowledged result is stored and `--resume` finishes the run. A resume refuses a changed spec or dataset
    unless `force`, and a run another live process is executing (RunLeasedError, exit 2).
    """
    spec = plan.spec
    progress = progress or Progress()
    spec_hash = spec.content_hash()
    if resume is not None:
        info = _store_step(store, "reading the run", lambda: store.get_run(resume), write_policy)
        if info.spec_name != spec.name:
            raise SpecError(f"run {resume} belongs to spec {info.spec_name!r}, not {spec.name!r}")
        if info.arm != plan.arm:
            raise SpecError(f"run {resume} ran arm {info.arm!r}; resume it with --arm {info.arm}")
        forced = check_unchanged(info, spec_hash, dataset.version_hash, force=force)
        lease = _store_step(
            store,
            "taking the lease",
            lambda: RunLease.acquire(store, resume, ttl_s=lease_ttl_s, heartbeat_s=heartbeat_s),
            write_policy,
        )
        try:
            _store_step(
                store,
                "marking the run running",
                lambda: store.set_run_status(resume, "running", metadata_update=forced),
                write_policy,
            )
            done = _store_step(
                store,
                "reading finished samples",
                lambda: store.finished_keys(resume, include_errors=not retry_errors),
                write_policy,
            )
        except BaseException:
            lease.release()
            raise
    else:
        info = RunInfo(
            run_id=new_run_id(),
            spec_name=spec.name,
            spec_hash=spec_hash,
            dataset_hash=dataset.version_hash,
            arm=plan.arm,
            model=spec.solver.model if plan.solver_ctx.model is not None else None,
            started_at=now_iso(),
            metadata={
                "dataset": str(spec.dataset_path),
                "samples": dataset.count,
                "epochs": spec.epochs,
                "solver": spec.solver.type,
                # the spec's own gate thresholds, so readers of the store (the web workspace) judge the run by them
                "gates": spec.gates,
            },
        )
        lease = RunLease.for_new_run(info.run_id, store, ttl_s=lease_ttl_s, heartbeat_s=heartbeat_s)
        _store_step(
            store,
            "creating the run",
            lambda: store.create_run(info, lease_owner=lease.owner, lease_ttl_s=lease_ttl_s),
            write_policy,
        )
        done = set()
    run_id = info.run_id
    budget = spec.budget.max_usd
    try:
        spent = (
            _store_step(store, "reading the cost so far", lambda: store.run_cost(run_id), write_policy)
            if resume
            else 0.0
        )
    except BaseException:
        lease.release()
        raise

    limited = False  # `limit` left units unrun: the run is "partial", never a baseline (store.latest_run)

    def units() -> Iterator[tuple[Sample, str, int]]:
        nonlocal limited
        n = 0
        for sample, sample_hash in dataset.iter_samples():
            for epoch in range(spec.epochs):
                if (sample.id, epoch) in done:
                    continue
                if limit is not None and n >= limit:
                    limited = True
                    return
                n += 1
                yield sample, sample_hash, epoch

    total = dataset.count * spec.epochs - len(done)
    progress.start(min(total, limit) if limit is not None else total)
    counts: Counter[str] = Counter()

    def acknowledged(batch: Sequence[SampleResult]) -> None:
        for r in batch:
            counts[r.status] += 1
            progress.advance(r)

    writer = ResultWriter(store, replace=retry_errors, policy=write_policy, on_commit=acknowledged)
    # One iterator shared by the workers, as a bare loop would: each takes the next unit when it is free. No
    # producer task and queue in between (a put, a get and a wake-up per sample): next() is synchronous, so two
    # workers never step the generator at once, and the dataset is still read lazily, one sample at a time.
    todo = units()
    exhausted = False
    new_cost = 0.0

    async def work() -> None:
        nonlocal new_cost, exhausted
        for unit in todo:
            if budget is not None and spent + new_cost >= budget:
                exhausted = True  # not started: left for a resume with a larger budget
                break
            with tracing.sample_span(unit[0], unit[2]) as record:
                result, cost = await run_one_sample(plan, run_id, *unit)
                record(result)
            new_cost += cost
            await writer.put(result, cost)

    async def deliver(result: SampleResult, cost: float) -> None:
        nonlocal new_cost
        new_cost += cost
        await writer.put(result, cost)

    async def pipeline() -> None:
        nonlocal exhausted
        if executor is None:  # the default: this process's asyncio workers
            await asyncio.gather(*(work() for _ in range(spec.concurrency)))
        else:  # e.g. Ray: units solved elsewhere, results delivered back to this writer
            over = lambda: budget is not None and spent + new_cost >= budget  # noqa: E731
            exhausted = await executor.run(plan, run_id, units(), deliver, over)
        await writer.close()

    async def body() -> None:
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(writer.run())
                tg.create_task(pipeline())
        except BaseExceptionGroup as group:
            stop = next((e for e in group.exceptions if isinstance(e, RunStoppedError)), None)
            raise stop or group.exceptions[0] from None

    started = time.perf_counter()
    status = "interrupted"
    stopped: RunStoppedError | None = None
    body_task = asyncio.create_task(
        tracing.within_run(
            body(), spec_name=spec.name, arm=plan.arm, run_id=run_id, dataset_version=dataset.version_hash
        )
    )
    keep_task = asyncio.create_task(lease.keep())
    try:
        finished, _ = await asyncio.wait(
            {body_task, keep_task}, timeout=spec.deadline_s, return_when=asyncio.FIRST_COMPLETED
        )
        if not finished:  # the run deadline: stop cleanly, in-flight samples are left for --resume
            body_task.cancel()
            with contextlib.suppress(BaseException):
                await body_task
            raise RunDeadlineError(f"the run deadline of {spec.deadline_s:g} s expired (spec deadline_s / --deadline)")
        if keep_task.done():
            body_task.cancel()
            with contextlib.suppress(BaseException):
                await body_task
            keep_task.result()  # raises LeaseLostError
        body_task.result()
        status = "interrupted" if exhausted else "partial" if limited else "finished"
    except RunStoppedError as exc:
        stopped = exc
    finally:
        for task in (body_task, keep_task):
            task.cancel()
        await asyncio.gather(body_task, keep_task, return_exceptions=True)
        if not isinstance(stopped, (StoreUnavailableError, LeaseLostError)):
            try:  # results handed over before a cancellation (Ctrl-C, the deadline) are still committed
                writer.drain_sync()
            except StoreUnavailableError as exc:
                stopped = exc
        update: dict[str, Any] = {"budget_exhausted": True} if exhausted else {}
        if stopped is not None:
            update["stopped"] = str(stopped)
        if stopped is None:  # every result is committed: the status is worth waiting for
            try:
                _store_step(
                    store,
                    "recording the run's status",
                    lambda: store.set_run_status(run_id, status, metadata_update=update or None),
                    write_policy,
                )
            except StoreUnavailableError as exc:
                stopped = exc  # the run stays "running"; a resume finds nothing left to do and finishes it
        else:  # the store is probably down: one attempt, the error already says what happened
            with contextlib.suppress(Exception):
                store.set_run_status(run_id, status, metadata_update=update or None)
        lease.release()
    if stopped is not None:
        stopped.run_id = run_id
        stopped.committed = writer.written
        raise stopped
    return RunOutcome(
        run=store.get_run(run_id),
        resumed=resume is not None,
        skipped=len(done),
        executed=sum(counts.values()),
        counts=dict(counts),
        cost_usd=round(spent + new_cost, 6),
        budget_exhausted=exhausted,
        wall_s=round(time.perf_counter() - started, 3),
    )
