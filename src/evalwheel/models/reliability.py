"""Retries with backoff and an adaptive concurrency limiter, independent of any HTTP library.

Why here and not in the HTTP backend: the policy (what to retry, how long to wait, how many calls to keep
in flight) is the part worth testing on its own, and the embedded model reuses it through the same HTTP
path. The backend turns its transport failures into `TransientError`; everything else is a final answer.
"""

from __future__ import annotations

import asyncio
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
_RNG = random.Random()


def is_retryable_status(status: int) -> bool:
    """429, 408, 409 and every 5xx are worth another try; any other 4xx will fail the same way again."""
    return status in RETRYABLE_STATUS or status >= 500


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


class AdaptiveLimiter:
    """An async concurrency limit that halves on rate limiting and grows by one after `grow_after` successes.

    Additive-increase / multiplicative-decrease, like TCP: a rate-limited endpoint settles near the
    concurrency it can take, and a healthy one quickly returns to `max_limit` (the global bound).
    A burst of 429s from calls that were all admitted under the same limit counts as one signal: every
    admission records the current "epoch", and only a 429 from the current epoch halves the limit again.
    Otherwise 64 simultaneous 429s would collapse the limit to 1. Likewise, at most one halving happens
    per `cooldown_s`: scattered 429s (a shared quota, a flaky proxy) would otherwise pin the limit at 1
    long after the pressure is gone; the retries themselves still honour Retry-After.

    Not thread-safe: it lives on one event loop, like the aiohttp session it guards.
    """

    def __init__(
        self,
        max_limit: int,
        *,
        initial: int | None = None,
        min_limit: int = 1,
        grow_after: int = 10,
        cooldown_s: float = 1.0,
    ) -> None:
        if max_limit < 1:
            raise ValueError("max_limit must be >= 1")
        self.max_limit = max_limit
        self.min_limit = max(1, min(min_limit, max_limit))
        self.limit = max(self.min_limit, min(initial if initial is not None else max_limit, max_limit))
        self.grow_after = max(1, grow_after)
        self.cooldown_s = cooldown_s
        self._last_cut = -float("inf")
        self.in_flight = 0
        self.epoch = 0
        self.throttle_events = 0
        self._successes = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> int:
        """Wait for a slot; returns the epoch the call was admitted under (pass it to `throttled`)."""
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
        self._wake()

    def succeeded(self) -> None:
        """A call went through: after `grow_after` of them, allow one more in flight."""
        self._successes += 1
        if self._successes >= self.grow_after:
            self._successes = 0
            if self.limit < self.max_limit:
                self.limit += 1
                self._wake()

    def throttled(self, epoch: int) -> None:
        """The server said 429 to a call admitted under `epoch`: halve the limit once per epoch."""
        self.throttle_events += 1
        self._successes = 0
        now = time.monotonic()
        if epoch != self.epoch or now - self._last_cut < self.cooldown_s:
            return
        self._last_cut = now
        self.epoch += 1
        self.limit = max(self.min_limit, self.limit // 2)

    def _wake(self) -> None:
        while self._waiters and self.in_flight < self.limit:
            fut = self._waiters.popleft()
            if not fut.done():
                self.in_flight += 1
                fut.set_result(None)
