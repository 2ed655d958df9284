"""The Ray executor: a run's units sharded over Ray tasks; results come back to the driver, which stores them.

Why tasks, not actors or Ray Data: a shard is a pure function of (spec, units) -> results, and Ray re-runs a
task whose worker process died (`max_retries`) with no code of ours; an actor that dies loses its queue and
needs our own restart and bookkeeping. Ray Data would add a second batching and backpressure layer on top of
the engine's own (bounded in-flight shards, the writer's bounded queue) and an extra dependency surface
(pyarrow) for no gain on a stream of small rows. The price of tasks is rebuilding the plan (graders, model
clients) per task; each worker process caches its plan per (spec hash, arm, flags), so it is built once per
process, not once per shard.

Exactly once: workers never touch the store. A shard returns all its results when it completes; the driver
hands each one to the run's durable writer (`runs/writer.py`) only if it is one of that shard's undelivered
(sample, epoch) keys, and the store's unique (run, sample, epoch) key backs that up. A shard whose worker
was killed returns nothing, is retried whole, and its results arrive once.

Concurrency: the spec's `concurrency` is the cluster total. With S task slots (cluster CPUs, at most the
concurrency) each task runs `concurrency // S` units at once, and its model clients are built with that
limit, so S workers never send more than `concurrency` requests together.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from evalwheel import eventloop
from evalwheel.runs.executors import Deliver, ExecutorError, Unit
from evalwheel.runs.writer import RunStoppedError

if TYPE_CHECKING:
    from evalwheel.runs.engine import RunPlan
    from evalwheel.runs.spec import EvalSpec
    from evalwheel.types import SampleResult


class RayShardError(RunStoppedError):
    """A shard failed on every attempt (workers kept dying, or the cluster went away): exit 3, `--resume` it."""


def _ray() -> Any:
    try:
        import ray
    except ImportError:  # pragma: no cover - depends on the environment
        raise ExecutorError("--executor ray needs Ray: pip install 'evalwheel[ray]'") from None
    return ray


def connect(address: str | None) -> Any:
    """Join the cluster at `address` (`auto`, `ray://host:10001`) or, with None, reuse / start a local one."""
    ray = _ray()
    if not ray.is_initialized():
        try:
            ray.init(
                address=address,
                include_dashboard=False,
                logging_level="WARNING",
                log_to_driver=True,
                configure_logging=True,
            )
        except (ConnectionError, ValueError, RuntimeError) as exc:
            raise ExecutorError(f"--address {address}: cannot connect to the Ray cluster ({exc})") from None
    return ray


# --- worker side -------------------------------------------------------------------------------------------

_WORKER: dict[str, Any] = {}  # one event loop per worker process, plans by key (Ray reuses worker processes)


def _worker_plan(spec: EvalSpec, arm: str | None, cache: bool, judges: bool, per_task: int) -> tuple[Any, Any]:
    from evalwheel.runs.engine import plan_run

    loop = _WORKER.get("loop")
    if loop is None:
        loop = _WORKER["loop"] = eventloop.new_event_loop()
        asyncio.set_event_loop(loop)
    key = f"{spec.content_hash()}|{arm}|{cache}|{judges}|{per_task}|{spec.base_dir}"
    plans: dict[str, Any] = _WORKER.setdefault("plans", {})
    if key not in plans:
        plans[key] = plan_run(spec.model_copy(update={"concurrency": per_task}), arm, cache=cache, judges=judges)
    return loop, plans[key]


def solve_shard(
    spec: EvalSpec, arm: str | None, cache: bool, judges: bool, per_task: int, run_id: str, units: list[Unit]
) -> list[tuple[SampleResult, float]]:
    """Solve and grade one shard with `per_task` units in flight; the Ray task body (pure: no store access)."""
    from evalwheel.runs.engine import run_one_sample

    loop, plan = _worker_plan(spec, arm, cache, judges, per_task)
    gate = asyncio.Semaphore(per_task)

    async def one(unit: Unit) -> tuple[SampleResult, float]:
        async with gate:
            return await run_one_sample(plan, run_id, *unit)

    async def shard() -> list[tuple[SampleResult, float]]:
        return list(await asyncio.gather(*(one(u) for u in units)))

    results: list[tuple[SampleResult, float]] = loop.run_until_complete(shard())
    return results


# --- driver side -------------------------------------------------------------------------------------------


@dataclass
class RayExecutor:
    """Shards units over Ray tasks, at most `2 x slots` shards in flight (streaming: the dataset is never listed)."""

    address: str | None = None
    shard_size: int | None = None  # units per task; default 8 x the per-task concurrency
    max_retries: int = 3  # re-runs of a shard whose worker process died
    stats: dict[str, int] = field(default_factory=dict)

    async def run(
        self,
        plan: RunPlan,
        run_id: str,
        units: Iterator[Unit],
        deliver: Deliver,
        over_budget: Callable[[], bool],
    ) -> bool:
        ray = connect(self.address)
        spec = plan.spec
        cpus = int(ray.cluster_resources().get("CPU", 1)) or 1
        slots = max(1, min(cpus, spec.concurrency))
        per_task = max(1, spec.concurrency // slots)
        size = self.shard_size or per_task * 8
        task = ray.remote(num_cpus=1, max_retries=self.max_retries, retry_exceptions=False)(solve_shard)
        spec_ref = ray.put(spec)
        # each in-flight shard's undelivered (sample, epoch) keys: memory follows the shards in flight, not the run
        pending: dict[asyncio.Future[Any], set[tuple[str, int]]] = {}
        self.stats = {"slots": slots, "per_task": per_task, "shard_size": size, "shards": 0, "dropped": 0}
        exhausted = False
        source = iter(units)

        def submit() -> bool:
            shard: list[Unit] = []
            for unit in source:
                shard.append(unit)
                if len(shard) >= size:
                    break
            if not shard:
                return False
            ref = task.remote(spec_ref, plan.arm, plan.cache, plan.judges, per_task, run_id, shard)
            pending[asyncio.wrap_future(ref.future())] = {(s.id, epoch) for s, _, epoch in shard}
            self.stats["shards"] += 1
            return True

        more = True
        try:
            while True:
                while more and len(pending) < 2 * slots:
                    if over_budget():
                        exhausted = True
                        more = False
                        break
                    more = submit()
                if not pending:
                    return exhausted
                finished, _ = await asyncio.wait(set(pending), return_when=asyncio.FIRST_COMPLETED)
                for fut in finished:
                    expected = pending.pop(fut)
                    try:
                        results = fut.result()
                    except Exception as exc:
                        raise RayShardError(
                            f"a Ray shard failed after {self.max_retries} retries ({type(exc).__name__}: "
                            f"{str(exc).strip().splitlines()[-1] if str(exc).strip() else ''})"
                        ) from exc
                    for result, cost in results:
                        key = (result.sample_id, result.epoch)
                        if key not in expected:  # a repeat, or not this shard's unit: never stored twice
                            self.stats["dropped"] += 1
                            continue
                        expected.discard(key)
                        await deliver(result, cost)
        finally:
            for fut in pending:
                fut.cancel()


def worker_pid() -> int:
    """For tests and the benchmark: which process ran a task."""
    return os.getpid()
