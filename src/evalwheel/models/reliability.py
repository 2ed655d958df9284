"""Retries with backoff and an adaptive concurrency limiter, independent of any HTTP library.

Why here and not in the HTTP backend: the policy (what to retry, how long to wait, how many calls to keep
in flight) is the part worth testing on its own, and the embedded model reuses it through the same HTTP
path. The backend turns its transport failures into `TransientError`; everything else is a final answer.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TypeVar

from evalwheel.models.base import ModelConfigError, ModelError

T = TypeVar("T")

# OpenAI's own client retries these too: request timeout, conflict (lock contention), rate limit, server errors.
RETRYABLE_STATUS = frozenset({408, 409, 429})
# 5xx answers that are not a passing failure: the server says it will never handle this request ("Not
# Implemented", "HTTP Version Not Supported"), typically a base URL that points at a plain web server.
PERMANENT_5XX = frozenset({501, 505})
_RNG = random.Random()


def is_retryable_status(status: int) -> bool:
    """429, 408, 409 and every 5xx but 501/505 are worth another try; any other 4xx will fail the same way."""
    return status in RETRYABLE_STATUS or (status >= 500 and status not in PERMANENT_5XX)


class TransientError(Exception):
    """A failure that another attempt may fix (429, 5xx, timeout, connection error).

    `connection=True` marks "could not talk to the server at all": if that survives every retry it is a
    configuration problem (wrong URL, server not started), reported as ModelConfigError (exit code 2).
    """

    def __init__(
        self, reason: str, *, status: int | None = None, retry_after: float | None = None, connection: bool = False
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after
        self.connection = connection


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asked us to wait, from `retry-after-ms` (OpenAI) or `Retry-After` (seconds or a date)."""
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = headers.get("Retry-After") or headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - time.time())


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try.

    8 attempts make a call survive even a 20% error rate (0.2**8 ~ 3e-6 chance of failing), while
    connection failures give up after `max_connection_attempts` (~0.4 s of backoff): a server that is not
    listening at all is a setup error to report promptly, not a blip to wait out.
    `max_retry_after_s` caps a server-requested wait so a bogus header cannot stall a run for hours.
    """

    max_attempts: int = 8
    max_connection_attempts: int = 3
    base_delay_s: float = 0.25
    max_delay_s: float = 8.0
    max_retry_after_s: float = 60.0

    def delay(self, attempt: int, retry_after: float | None = None, rng: random.Random | None = None) -> float:
        """Wait before attempt `attempt + 1`: Retry-After when given, else exponential with "equal jitter".

        Equal jitter (half fixed, half random) spreads a burst of clients that failed together without ever
        retrying immediately, which full jitter sometimes does.
        """
        r = rng or _RNG
        if retry_after is not None:
            return min(retry_after, self.max_retry_after_s) + r.uniform(0.0, 0.1 * self.base_delay_s)
        ceiling = min(self.max_delay_s, self.base_delay_s * 2.0 ** (attempt - 1))
        return ceiling / 2 + r.uniform(0.0, ceiling / 2)


async def with_retries(
    attempt: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    model: str,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """Run `attempt` until it succeeds, a non-transient error escapes, or the attempts run out.

    Final failures name the model and the last cause; connection failures become ModelConfigError because
    after several tries "the server is not there" is a setup problem, not a flaky sample.
    """
    last: TransientError | None = None
    n = connection_failures = 0
    while n < policy.max_attempts:
        n += 1
        try:
            return await attempt()
        except TransientError as exc:
            last = exc
            connection_failures += exc.connection
            if connection_failures >= policy.max_connection_attempts:
                break
            if n < policy.max_attempts:
                await sleep(policy.delay(n, exc.retry_after))
    assert last is not None  # max_attempts >= 1, and every loop iteration either returned or set `last`
    message = f"model {model}: {last.reason} (gave up after {n} attempts)"
    if last.connection:
        raise ModelConfigError(message + "; is the server running and the base URL right?")
    raise ModelError(message)


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Per-attempt time limits, so a hung request is cut and retried instead of holding its slot for minutes.

    `connect_s` bounds opening the TCP (and TLS) connection; `first_byte_s` bounds the wait for the response
    to start (and any later gap between reads), which is what a request the server accepted and then forgot
    runs into; `total_s` bounds the whole attempt and, when set, overrides `GenerateConfig.timeout_s`.
    A non-streaming LLM reply sends its first byte only when generation ends, so `first_byte_s` must cover
    the slowest honest answer. None leaves that limit off.
    """

    connect_s: float | None = 10.0
    first_byte_s: float | None = None
    total_s: float | None = None

    @classmethod
    def total(cls, seconds: float | None) -> Timeouts | None:
        """A total limit per attempt only (what a `--timeout S` option sets), or None (the client's defaults)."""
        return None if seconds is None else cls(total_s=seconds)


@dataclass(frozen=True, slots=True)
class HedgePolicy:
    """Hedged requests for stragglers: a call still unanswered after the recent `quantile` latency gets a
    second, identical request; the first answer wins and the other is cancelled.

    Off by default (it can double the cost of the slowest calls). `max_fraction` caps hedges at that share of
    calls, so an endpoint that became uniformly slow is not hit twice as hard; no hedging happens until
    `min_samples` latencies have been seen.
    """

    enabled: bool = False
    quantile: float = 0.95
    min_delay_s: float = 0.02
    min_samples: int = 20
    max_fraction: float = 0.1


class LatencyTracker:
    """Recent call latencies and their quantile, recomputed every `refresh` additions (sorting ~256 floats)."""

    def __init__(self, quantile: float = 0.95, size: int = 256, refresh: int = 32) -> None:
        self.q = quantile
        self._buf: deque[float] = deque(maxlen=size)
        self._refresh = refresh
        self._since = 0
        self._value: float | None = None

    def add(self, seconds: float) -> None:
        self._buf.append(seconds)
        self._since += 1
        if self._since >= self._refresh or self._value is None:
            self._since = 0
            ordered = sorted(self._buf)
            self._value = ordered[min(len(ordered) - 1, int(self.q * len(ordered)))]

    def __len__(self) -> int:
        return len(self._buf)

    @property
    def value(self) -> float | None:
        return self._value


async def first_success(call: Callable[[], Awaitable[T]], hedge_after: float) -> tuple[T, bool]:
    """Run `call`; if it has not finished after `hedge_after` seconds, run a second copy. The first copy to
    succeed wins and the other is cancelled; if both fail, the first failure is raised. Returns
    (result, hedged)."""
    first = asyncio.ensure_future(call())
    try:
        done, _ = await asyncio.wait((first,), timeout=hedge_after)
    except BaseException:
        first.cancel()
        raise
    if done:
        return first.result(), False
    pending = {first, asyncio.ensure_future(call())}
    error: BaseException | None = None
    try:
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                exc = task.exception()
                if exc is None:
                    return task.result(), True
                error = error or exc
        assert error is not None
        raise error
    finally:
        for task in pending:
            task.cancel()


class AdaptiveLimiter:
    """An async concurrency limit: halves on *sustained* rate limiting, grows back by one per `grow_after` successes.

    Additive-increase / multiplicative-decrease, like TCP, with two guards learned the hard way (issue 15: with
    20% random 429/500 the old limiter fell from 50 to 2-3 within seconds and never climbed back):

    - **Only sustained 429s cut.** The last `window` outcomes are kept; the limit halves only when at least
      `threshold` of a full window were 429s. Scattered 429s (a shared quota, a flaky proxy: 10% of calls)
      are left to the retries, which honour Retry-After; an endpoint that really is over its capacity
      answers most calls with 429 and is cut within one window. After a cut the window starts afresh.
    - **One cut per signal.** A burst of 429s from calls admitted under the same limit is one signal: each
      admission records the current epoch, and only a 429 from the current epoch can cut again; at most one
      cut per `cooldown_s`.

    When a cut comes with a server-requested wait (Retry-After), new admissions pause for that long (capped at
    `max_pause_s`), so the whole client backs off, not just the calls that were refused.

    Not thread-safe: it lives on one event loop, like the aiohttp session it guards.
    """

    def __init__(
        self,
        max_limit: int,
        *,
        initial: int | None = None,
        min_limit: int = 1,
        grow_after: int = 5,
        cooldown_s: float = 1.0,
        window: int = 20,
        threshold: float = 0.5,
        max_pause_s: float = 10.0,
    ) -> None:
        if max_limit < 1:
            raise ValueError("max_limit must be >= 1")
        self.max_limit = max_limit
        self.min_limit = max(1, min(min_limit, max_limit))
        self.limit = max(self.min_limit, min(initial if initial is not None else max_limit, max_limit))
        self.grow_after = max(1, grow_after)
        self.cooldown_s = cooldown_s
        self.window = max(1, window)
        self._needed = max(1, math.ceil(threshold * self.window))  # 429s in a full window that make a cut
        self.max_pause_s = max_pause_s
        self._last_cut = -float("inf")
        self._recent: deque[bool] = deque(maxlen=self.window)  # True = 429
        self._recent_429 = 0
        self._paused_until = 0.0
        self.in_flight = 0
        self.epoch = 0
        self.throttle_events = 0
        self.cuts = 0
        self.lowest = self.limit
        self._successes = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> int:
        """Wait for a slot; returns the epoch the call was admitted under (pass it to `throttled`)."""
        if self._paused_until:
            wait = self._paused_until - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            else:
                self._paused_until = 0.0
        if self.in_flight < self.limit and not self._waiters:
            self.in_flight += 1
            return self.epoch
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.release()  # the slot was granted just as we were cancelled: hand it on
            else:
                self._waiters.remove(fut)
            raise
        return self.epoch

    def release(self) -> None:
        self.in_flight -= 1
        if self._waiters:
            self._wake()

    def _record(self, throttled: bool) -> None:
        recent = self._recent
        if len(recent) == self.window and recent[0]:
            self._recent_429 -= 1
        recent.append(throttled)
        self._recent_429 += throttled

    def succeeded(self) -> None:
        """A call went through: after `grow_after` of them, allow one more in flight."""
        self._record(False)
        self._successes += 1
        if self._successes >= self.grow_after:
            self._successes = 0
            if self.limit < self.max_limit:
                self.limit += 1
                self._wake()

    def throttled(self, epoch: int, retry_after: float | None = None) -> None:
        """The server said 429 to a call admitted under `epoch`: halve the limit if 429s are sustained."""
        self.throttle_events += 1
        self._successes = 0
        self._record(True)
        if self._recent_429 < self._needed:
            return
        now = time.monotonic()
        if epoch != self.epoch or now - self._last_cut < self.cooldown_s:
            return
        self._last_cut = now
        self.epoch += 1
        self.cuts += 1
        self.limit = max(self.min_limit, self.limit // 2)
        self.lowest = min(self.lowest, self.limit)
        self._recent.clear()
        self._recent_429 = 0
        if retry_after:
            self._paused_until = max(self._paused_until, now + min(retry_after, self.max_pause_s))

    def _wake(self) -> None:
        while self._waiters and self.in_flight < self.limit:
            fut = self._waiters.popleft()
            if not fut.done():
                self.in_flight += 1
                fut.set_result(None)
