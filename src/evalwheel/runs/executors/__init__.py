"""Where a run's (sample, epoch) units are solved and graded: in this process (default) or on a Ray cluster.

The engine (`runs/engine.py`) owns everything that must happen exactly once — the run row, the lease, resume
bookkeeping and the durable group-commit writer — and hands the per-unit work to an executor. An executor
yields results back to the driver; only the driver writes to the store, so "exactly once" is decided in one
place whatever the executor does (a retried shard's results are dropped if their keys were already handed
over). `None` means the engine's own asyncio workers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from evalwheel.runs.engine import RunPlan
    from evalwheel.types import Sample, SampleResult

Unit = tuple["Sample", str, int]  # (sample, sample_hash, epoch)
Deliver = Callable[["SampleResult", float], Awaitable[None]]


class Executor(Protocol):
    """Runs units and delivers each result once; returns True when it stopped early on the budget."""

    async def run(
        self,
        plan: RunPlan,
        run_id: str,
        units: Iterator[Unit],
        deliver: Deliver,
        over_budget: Callable[[], bool],
    ) -> bool: ...


EXECUTORS = ("local", "ray")


class ExecutorError(ValueError):
    """An executor that cannot be used (unknown name, Ray not installed, cluster unreachable): exit 2."""


def get_executor(name: str, address: str | None = None) -> Executor | None:
    """`local` -> None (the engine's own workers); `ray` -> a RayExecutor on `address` (None: start/join local)."""
    if name == "local":
        if address:
            raise ExecutorError("--address is only meaningful with --executor ray")
        return None
    if name == "ray":
        from evalwheel.runs.executors.ray import RayExecutor, connect

        connect(address)  # now, so an unreachable cluster is exit 2 before a run row exists
        return RayExecutor(address)
    raise ExecutorError(f"--executor {name!r}: choose one of {', '.join(EXECUTORS)}")


__all__ = ["EXECUTORS", "Deliver", "Executor", "ExecutorError", "Unit", "get_executor"]
