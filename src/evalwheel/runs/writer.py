"""Group commit off the event loop: results are committed as they complete, many per transaction.

What "acknowledged" means: a result is acknowledged once the transaction that inserted it has committed.
Only then does the progress bar count it and `RunOutcome.counts` include it, and only acknowledged results are
skipped by `--resume`. A result that completed but was not yet committed when the process died (or when the
store stayed unavailable) is simply run again by the resume; nothing acknowledged is ever lost or recomputed.

How: workers hand each result to a bounded asyncio queue (`put` waits when it is full, so a slow store slows
the workers down instead of growing memory). The writer coroutine takes everything queued since its last
commit and commits it in one transaction with a batched Core `executemany` insert, in a worker thread
(`asyncio.to_thread`): a store that is locked or slow never freezes the event loop and the model calls in
flight. A commit that fails with a transient error (database locked, disk full, connection lost) is retried
with exponential backoff; when the store is still unavailable after `give_up_after_s`, or the error cannot be
fixed by retrying (an integrity error), the writer raises `StoreUnavailableError` and the engine stops the run
(exit code 3). Under load a thousand tiny transactions become a few dozen.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from evalwheel.types import SampleResult

if TYPE_CHECKING:
    from evalwheel.store import Store

T = TypeVar("T")


class RunStoppedError(RuntimeError):
    """The run was stopped part-way by a failure of its infrastructure (exit code 3); `--resume` finishes it.

    The engine fills in `run_id` and `committed` (results acknowledged in this execution) before raising."""

    run_id: str | None = None
    committed: int = 0


class StoreUnavailableError(RunStoppedError):
    """Results could not be committed: the run was stopped, every acknowledged result is stored (exit code 3)."""


@dataclass(frozen=True)
class WritePolicy:
    """How the writer batches and how long it keeps retrying an unavailable store before stopping the run."""

    queue_size: int = 1024  # results handed over but not yet committed (the bounded hand-off)
    max_batch: int = 500  # results per transaction at most
    # How long the writer waits for more results before committing a batch smaller than max_batch. Each commit
    # costs about 1.5 ms of CPU (SQLAlchemy, SQLite WAL); at concurrency 50 without a wait, batches averaged 4
    # results (474 commits for 2,000 samples). Acknowledgement is delayed by at most this, never lost.
    linger_s: float = 0.05
    retry_base_s: float = 0.1
    retry_max_s: float = 5.0
    give_up_after_s: float = 60.0


DEFAULT_POLICY = WritePolicy()


def transient(exc: BaseException) -> bool:
    """Whether another attempt may succeed: a lock, a full disk or a lost connection may clear; a duplicate won't."""
    from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, InternalError, OperationalError

    if isinstance(exc, IntegrityError):
        return False
    if isinstance(exc, (OperationalError, InterfaceError, InternalError, OSError)):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def describe(exc: BaseException) -> str:
    text = " ".join(str(getattr(exc, "orig", None) or exc).split())
    return f"{exc.__class__.__name__}: {text[:300]}"


def retry_store(
    store: Store,
    what: str,
    fn: Callable[[], T],
    *,
    policy: WritePolicy,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[T, int]:
    """Call `fn` (a blocking store operation) until it succeeds; returns (its result, the attempts it took).

    Transient failures are retried with exponential backoff for `policy.give_up_after_s`, then reported as
    StoreUnavailableError; a database error that retrying cannot fix is reported at once. Other exceptions
    (an unknown run id, a leased run) propagate unchanged: they are answers, not outages."""
    from sqlalchemy.exc import SQLAlchemyError

    started = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        try:
            return fn(), attempt
        except Exception as exc:
            waited = time.monotonic() - started
            if not transient(exc):
                if isinstance(exc, SQLAlchemyError):
                    raise StoreUnavailableError(
                        f"the run store {store.safe_url} rejected {what} ({describe(exc)})"
                    ) from exc
                raise
            if waited >= policy.give_up_after_s:
                raise StoreUnavailableError(
                    f"the run store {store.safe_url} stayed unavailable for {waited:.1f} s while {what} "
                    f"({attempt} attempts; last error {describe(exc)})"
                ) from exc
            delay = min(policy.retry_max_s, policy.retry_base_s * 2.0 ** (attempt - 1))
            sleep(min(delay, max(0.0, policy.give_up_after_s - waited)))


def commit_with_retry(
    store: Store,
    batch: Sequence[SampleResult],
    costs: Sequence[float],
    *,
    replace: bool,
    policy: WritePolicy,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Commit one batch (blocking; called in a worker thread); returns the attempts it took."""
    what = f"a batch of {len(batch)} results"
    return retry_store(
        store, what, lambda: store.add_results(batch, costs, replace=replace), policy=policy, sleep=sleep
    )[1]


class ResultWriter:
    """The writer task of one run. `await put(...)` from workers, `run()` as a task, `close()` when done.

    `on_commit` is called on the event loop with each committed batch: that is the acknowledgement.
    """

    def __init__(
        self,
        store: Store,
        *,
        replace: bool = False,
        policy: WritePolicy | None = None,
        on_commit: Callable[[Sequence[SampleResult]], None] | None = None,
    ) -> None:
        self.store = store
        self.replace = replace
        self.policy = policy or DEFAULT_POLICY
        self.on_commit = on_commit
        self._queue: asyncio.Queue[tuple[SampleResult, float] | None] = asyncio.Queue(self.policy.queue_size)
        self._closed = False
        self._wake = asyncio.Event()  # set by close(): a lingering writer commits at once instead of waiting
        self.written = 0
        self.commits = 0
        self.retried = 0
        self.failure: StoreUnavailableError | None = None

    async def put(self, result: SampleResult, cost_usd: float) -> None:
        """Hand a result over; waits (without blocking the loop) while `queue_size` results are uncommitted."""
        if self.failure is not None:
            raise self.failure
        await self._queue.put((result, cost_usd))

    async def close(self) -> None:
        """No more results: the writer commits what is queued and returns."""
        if not self._closed:
            self._closed = True
            self._wake.set()
            await self._queue.put(None)

    def _take(self, first: tuple[SampleResult, float]) -> tuple[list[SampleResult], list[float], bool]:
        batch, costs = [first[0]], [first[1]]
        closing = False
        while len(batch) < self.policy.max_batch:
            try:
                item = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                break
            if item is None:
                closing = True
                break
            batch.append(item[0])
            costs.append(item[1])
        return batch, costs, closing

    async def run(self) -> None:
        while True:
            item = await self._queue.get()
            if item is None:
                return
            if self.policy.linger_s > 0 and self._queue.qsize() + 1 < self.policy.max_batch and not self._closed:
                await self._linger()
            batch, costs, closing = self._take(item)
            try:
                attempts = await asyncio.to_thread(
                    commit_with_retry, self.store, batch, costs, replace=self.replace, policy=self.policy
                )
            except StoreUnavailableError as exc:
                self.failure = exc
                raise
            self.written += len(batch)
            self.commits += 1
            self.retried += attempts - 1
            if self.on_commit is not None:
                self.on_commit(batch)
            if closing:
                return

    async def _linger(self) -> None:
        """Wait up to `linger_s` to gather a larger batch (fewer commits, same durability), but not past close():
        the run's last results are then committed at once, so its end is not held back by a full linger."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), self.policy.linger_s)

    def drain_sync(self) -> None:
        """Commit whatever is still queued, blocking (shutdown after a cancellation; never after a store failure)."""
        if self.failure is not None:
            return
        while True:
            try:
                item = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            if item is None:
                continue
            batch, costs, _ = self._take(item)
            commit_with_retry(self.store, batch, costs, replace=self.replace, policy=self.policy)
            self.written += len(batch)
            if self.on_commit is not None:
                self.on_commit(batch)
