"""The limiter recovers, hung requests are cut, stragglers are hedged (issue 15, item 2).

Each failure is reproduced against the HTTP test double (benchmarks/fake_openai_server.py): 429 storms with
Retry-After, requests that never answer, and slow stragglers. No timing assertions beyond generous bounds
that only a hung request could break.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from pathlib import Path

import pytest

from evalwheel.models.base import GenerateConfig, Message
from evalwheel.models.http import OpenAIModel
from evalwheel.models.reliability import (
    AdaptiveLimiter,
    HedgePolicy,
    LatencyTracker,
    RetryPolicy,
    Timeouts,
    first_success,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from fake_openai_server import FakeOpenAIServer

MSGS = [Message(role="user", content="what is 2+2?")]
FAST = RetryPolicy(max_attempts=6, base_delay_s=0.01, max_delay_s=0.05)


def model_for(srv: FakeOpenAIServer, **kw: object) -> OpenAIModel:
    kw.setdefault("retry", FAST)
    return OpenAIModel("fake-model", srv.base_url, name="test:fake", **kw)  # type: ignore[arg-type]


# --- the limiter --------------------------------------------------------------------------------------------


def test_scattered_429s_do_not_cut_the_limit() -> None:
    """The issue's collapse: 10% random 429s (half of a 20% 429/500 mix) drove 50 down to 2-3."""
    lim = AdaptiveLimiter(50, cooldown_s=0.0)
    rng = random.Random(1)
    for _ in range(5000):
        if rng.random() < 0.1:
            lim.throttled(lim.epoch)
        else:
            lim.succeeded()
    assert lim.limit == 50 and lim.cuts == 0 and lim.throttle_events > 400


def test_sustained_429s_cut_then_additive_increase_recovers() -> None:
    lim = AdaptiveLimiter(50, cooldown_s=0.0, grow_after=5)
    for _ in range(10):  # a real overload: every call refused; half a window of 429s is sustained
        lim.throttled(lim.epoch)
    assert lim.cuts == 1 and lim.limit == 25
    for _ in range(10):
        lim.throttled(lim.epoch)
    assert lim.limit == 12 and lim.lowest == 12
    for _ in range(5 * 38):  # pressure gone: +1 per 5 successes, up to the bound and no further
        lim.succeeded()
    assert lim.limit == 50
    for _ in range(50):
        lim.succeeded()
    assert lim.limit == 50


async def test_a_cut_with_retry_after_pauses_new_admissions() -> None:
    lim = AdaptiveLimiter(4, window=2, cooldown_s=0.0)
    lim.throttled(lim.epoch, retry_after=0.2)
    assert lim.cuts == 1 and lim.limit == 2
    t0 = time.perf_counter()
    await lim.acquire()
    assert time.perf_counter() - t0 >= 0.15  # a lower bound: sleeping can only take longer
    lim.release()
    assert lim._paused_until <= time.monotonic()  # the pause is over: the next admission does not wait
    await asyncio.wait_for(lim.acquire(), 5)


async def test_429_storm_with_retry_after_completes_and_limit_recovers() -> None:
    """A storm: 40 refusals in a row (Retry-After: 0), then a healthy server. Every call completes, the limit is
    cut during the storm and back at the bound afterwards."""
    async with FakeOpenAIServer(latency_s=0.005, script=["429"] * 40, retry_after="0") as srv:
        limiter = AdaptiveLimiter(16, grow_after=2, cooldown_s=0.0)
        m = model_for(srv, limiter=limiter, max_concurrency=16, retry=RetryPolicy(max_attempts=12, base_delay_s=0.01))
        results = await asyncio.gather(*(m.generate(MSGS) for _ in range(32)))
        assert len(results) == 32 and srv.status_counts[429] == 40
        assert limiter.cuts >= 1 and limiter.lowest < 16
        await asyncio.gather(*(m.generate(MSGS) for _ in range(120)))
        assert limiter.limit == 16 and limiter.in_flight == 0
        await m.aclose()


async def test_random_429_and_500_keep_the_limit_near_the_bound() -> None:
    async with FakeOpenAIServer(error_rate=0.2, latency_s=0.002, seed=3) as srv:
        limiter = AdaptiveLimiter(20)
        m = model_for(srv, limiter=limiter, max_concurrency=20, retry=RetryPolicy(max_attempts=10, base_delay_s=0.005))
        await asyncio.gather(*(m.generate(MSGS) for _ in range(300)))
        assert srv.status_counts.get(429, 0) > 10
        assert limiter.lowest >= 10 and limiter.limit == 20
        await m.aclose()


# --- timeouts -----------------------------------------------------------------------------------------------


async def test_first_byte_timeout_cuts_a_hung_request_and_the_retry_succeeds() -> None:
    async with FakeOpenAIServer(script=["hang"]) as srv:
        m = model_for(srv, timeouts=Timeouts(first_byte_s=0.2))
        # the guard fails the test if the hung request is not cut (it would wait for the 60 s total)
        c = await asyncio.wait_for(m.generate(MSGS, GenerateConfig(timeout_s=60)), 30)
        assert c.text.startswith("echo:") and srv.hung == 1 and srv.requests == 2
        await m.aclose()


async def test_total_timeout_from_settings_overrides_the_generate_config() -> None:
    async with FakeOpenAIServer(script=["hang", "hang"]) as srv:
        m = model_for(srv, timeouts=Timeouts(total_s=0.2), retry=RetryPolicy(max_attempts=2, base_delay_s=0.01))
        with pytest.raises(Exception, match=r"timed out: total timeout \(0.2 s\)"):
            await m.generate(MSGS, GenerateConfig(timeout_s=60))
        await m.aclose()


async def test_connect_timeout_is_set_on_the_request() -> None:
    m = OpenAIModel("x", "http://127.0.0.1:9/v1", timeouts=Timeouts(connect_s=1.5, first_byte_s=7, total_s=30))
    t = m._timeout(120)
    assert (t.sock_connect, t.sock_read, t.total) == (1.5, 7, 30)


# --- hedging ------------------------------------------------------------------------------------------------


async def test_first_success_returns_the_faster_copy_and_cancels_the_other() -> None:
    calls = 0
    cancelled = asyncio.Event()

    async def call() -> int:
        nonlocal calls
        calls += 1
        me = calls
        try:
            await asyncio.sleep(10 if me == 1 else 0.01)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return me

    result, hedged = await first_success(call, 0.05)
    assert (result, hedged, calls) == (2, True, 2)
    await asyncio.wait_for(cancelled.wait(), 1)


async def test_first_success_waits_for_the_survivor_when_one_copy_fails() -> None:
    calls = 0

    async def call() -> str:
        nonlocal calls
        calls += 1
        me = calls
        await asyncio.sleep(0.1 if me == 1 else 0.01)
        if me == 2:
            raise RuntimeError("hedge failed")
        return "first"

    assert await first_success(call, 0.02) == ("first", True)


def test_latency_tracker_quantile() -> None:
    t = LatencyTracker(0.95, refresh=1)
    for i in range(100):
        t.add(i / 100)
    assert t.value == pytest.approx(0.95)


async def test_a_straggler_is_hedged_after_the_recent_p95() -> None:
    async with FakeOpenAIServer(latency_s=0.01) as srv:
        m = model_for(srv, hedge=HedgePolicy(enabled=True, min_samples=20, max_fraction=0.5))
        for _ in range(25):
            await m.generate(MSGS)
        assert m.hedge_after() is not None and m.hedges == 0
        srv.script.append("hang")
        c = await asyncio.wait_for(m.generate(MSGS, GenerateConfig(timeout_s=60)), 30)  # no timeouts set: only the
        assert c.text.startswith("echo:") and m.hedges == 1 and srv.hung == 1  # hedge can answer before 60 s
        await m.aclose()


async def test_hedging_respects_its_budget() -> None:
    m = OpenAIModel("x", "http://127.0.0.1:9/v1", hedge=HedgePolicy(enabled=True, min_samples=1, max_fraction=0.1))
    m._latency.add(0.1)
    m.calls, m.hedges = 100, 10
    assert m.hedge_after() is None
    m.calls = 101
    assert m.hedge_after() == pytest.approx(0.1)
    assert OpenAIModel("x", "http://127.0.0.1:9/v1").hedge_after() is None  # off by default
