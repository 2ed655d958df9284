"""The OpenAI-compatible backend and its reliability layer, against the fake server (a protocol test double)."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import pytest
from pydantic import BaseModel

from evalwheel.models.base import GenerateConfig, Message, Model, ModelConfigError, ModelError
from evalwheel.models.http import OpenAIModel, strict_json_schema
from evalwheel.models.reliability import AdaptiveLimiter, RetryPolicy, parse_retry_after

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from fake_openai_server import FakeOpenAIServer

FAST = RetryPolicy(max_attempts=4, base_delay_s=0.01, max_delay_s=0.05)
MSGS = [Message(role="system", content="be brief"), Message(role="user", content="what is 2+2?")]


class Verdict(BaseModel):
    reason: str
    passed: bool


def model_for(srv: FakeOpenAIServer, **kw: object) -> OpenAIModel:
    kw.setdefault("retry", FAST)
    return OpenAIModel("fake-model", srv.base_url, name="test:fake", **kw)  # type: ignore[arg-type]


async def test_generate_returns_text_usage_and_latency() -> None:
    async with FakeOpenAIServer() as srv:
        m = model_for(srv, api_key="sk-test")
        assert isinstance(m, Model)
        c = await m.generate(MSGS, GenerateConfig(max_tokens=20, stop=["\n"]))
        await m.aclose()
    assert c.text == "echo: what is 2+2?"
    assert c.usage.prompt_tokens == 5 and c.usage.completion_tokens == 4
    assert c.latency_ms > 0 and not c.cached and c.model == "test:fake"
    assert c.cost_usd == 0.0  # unknown model id: no price
    assert srv.last_headers["Authorization"] == "Bearer sk-test"
    body = srv.last_body
    assert body is not None
    assert body["model"] == "fake-model" and body["max_tokens"] == 20 and body["stop"] == ["\n"]
    assert body["messages"][1] == {"role": "user", "content": "what is 2+2?"}
    assert "response_format" not in body and "stream" not in body


async def test_no_auth_header_without_key_and_priced_model() -> None:
    async with FakeOpenAIServer(reply="one two three") as srv:
        m = OpenAIModel("gpt-4o-mini", srv.base_url, retry=FAST)
        c = await m.generate(MSGS)
        await m.aclose()
    assert "Authorization" not in srv.last_headers
    assert c.cost_usd == pytest.approx((5 * 0.15 + 3 * 0.60) / 1e6)


async def test_stream_yields_deltas() -> None:
    async with FakeOpenAIServer(reply="a streamed reply in pieces") as srv:
        m = model_for(srv)
        pieces = [p async for p in m.stream(MSGS)]
        assert srv.last_body is not None and srv.last_body["stream"] is True
        # The connection and the concurrency slot are handed back after the stream.
        assert m.limiter.in_flight == 0
        again = [p async for p in m.stream(MSGS)]
        await m.aclose()
    assert len(pieces) == 5 and "".join(pieces) == "a streamed reply in pieces"
    assert "".join(again) == "a streamed reply in pieces"


async def test_stream_retries_before_first_byte_and_early_break_releases_slot() -> None:
    async with FakeOpenAIServer(reply="x y z", script=["429", "500"]) as srv:
        m = model_for(srv)
        got = [p async for p in m.stream(MSGS)]
        assert "".join(got) == "x y z" and srv.requests == 3
        agen = m.stream(MSGS)
        first = await agen.__anext__()
        await agen.aclose()  # caller stops reading early
        assert first == "x" and m.limiter.in_flight == 0
        await m.aclose()


async def test_schema_pydantic_is_validated_into_the_model() -> None:
    async with FakeOpenAIServer() as srv:
        m = model_for(srv)
        c = await m.generate(MSGS, schema=Verdict)
        await m.aclose()
    assert isinstance(c.parsed, Verdict) and c.parsed.passed is True
    fmt = srv.last_body["response_format"] if srv.last_body else {}
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "Verdict" and fmt["json_schema"]["strict"] is True
    schema = fmt["json_schema"]["schema"]
    assert schema["additionalProperties"] is False and schema["required"] == ["reason", "passed"]


async def test_schema_dict_gives_plain_dict() -> None:
    schema = {
        "title": "Judge",
        "type": "object",
        "properties": {"score": {"type": "integer"}, "tags": {"type": "array", "items": {"type": "string"}}},
    }
    async with FakeOpenAIServer() as srv:
        m = model_for(srv)
        c = await m.generate(MSGS, schema=schema)
        await m.aclose()
    assert c.parsed == {"score": 0, "tags": ["x"]}
    assert srv.last_body is not None and srv.last_body["response_format"]["json_schema"]["name"] == "Judge"


async def test_schema_garbage_raises_model_error_with_excerpt() -> None:
    async with FakeOpenAIServer(script=["garbage"]) as srv:
        m = model_for(srv)
        with pytest.raises(ModelError) as info:
            await m.generate(MSGS, schema=Verdict)
        await m.aclose()
    msg = str(info.value)
    assert "test:fake" in msg and "Verdict" in msg and "Sure! Here is my answer" in msg
    assert srv.requests == 1  # a bad reply is not retried


def test_strict_schema_and_fences() -> None:
    s = strict_json_schema(
        {"type": "object", "properties": {"a": {"type": "object", "properties": {"b": {"type": "string"}}}}}
    )
    assert s["required"] == ["a"] and s["properties"]["a"]["additionalProperties"] is False


async def test_fenced_json_is_accepted() -> None:
    async with FakeOpenAIServer(reply='```json\n{"reason": "ok", "passed": false}\n```') as srv:
        m = model_for(srv)
        c = await m.generate(MSGS, schema=Verdict)
        await m.aclose()
    assert isinstance(c.parsed, Verdict) and c.parsed.passed is False


async def test_retries_on_429_and_500_then_success() -> None:
    async with FakeOpenAIServer(script=["429", "500", "500"]) as srv:
        m = model_for(srv)
        c = await m.generate(MSGS)
        await m.aclose()
    assert c.text.startswith("echo:")
    assert srv.requests == 4 and srv.status_counts == {429: 1, 500: 2, 200: 1}


async def test_gives_up_after_max_attempts() -> None:
    async with FakeOpenAIServer(script=["500"] * 10) as srv:
        m = model_for(srv)
        with pytest.raises(ModelError, match=r"test:fake: HTTP 500 .*gave up after 4 attempts"):
            await m.generate(MSGS)
        await m.aclose()
    assert srv.requests == 4


async def test_retry_after_is_honoured() -> None:
    async with FakeOpenAIServer(script=["429"], retry_after="0.3") as srv:
        m = model_for(srv)
        t0 = time.perf_counter()
        await m.generate(MSGS)
        waited = time.perf_counter() - t0
        await m.aclose()
    assert waited >= 0.3


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after({"Retry-After": "2"}) == 2.0
    assert parse_retry_after({"retry-after-ms": "150", "Retry-After": "9"}) == 0.15
    assert parse_retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # in the past
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after({}) is None


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    p = RetryPolicy(base_delay_s=1.0, max_delay_s=4.0)
    for attempt, (lo, hi) in {1: (0.5, 1.0), 2: (1.0, 2.0), 3: (2.0, 4.0), 6: (2.0, 4.0)}.items():
        d = p.delay(attempt)
        assert lo <= d <= hi
    assert 3.0 <= p.delay(1, retry_after=3.0) <= 3.1


async def test_non_retryable_400_fails_immediately_with_status_and_body() -> None:
    async with FakeOpenAIServer(script=["400"]) as srv:
        m = model_for(srv)
        with pytest.raises(ModelError, match=r"HTTP 400 .*injected 400"):
            await m.generate(MSGS)
        await m.aclose()
    assert srv.requests == 1


async def test_401_is_a_config_error() -> None:
    async with FakeOpenAIServer(script=["401"]) as srv:
        m = model_for(srv)
        with pytest.raises(ModelConfigError, match="API key"):
            await m.generate(MSGS)
        await m.aclose()


async def test_timeout_is_retried_then_reported() -> None:
    async with FakeOpenAIServer(script=["slow", "slow"], slow_s=0.5) as srv:
        m = model_for(srv, retry=RetryPolicy(max_attempts=2, base_delay_s=0.01))
        t0 = time.perf_counter()
        with pytest.raises(ModelError, match=r"timed out: total timeout \(0.1 s\)"):
            await m.generate(MSGS, GenerateConfig(timeout_s=0.1))
        assert time.perf_counter() - t0 < 0.45
        assert srv.requests == 2
        # and a timeout followed by a fast answer succeeds
        srv.script.extend(["slow", "ok"])
        c = await m.generate(MSGS, GenerateConfig(timeout_s=0.1))
        assert c.text.startswith("echo:")
        await m.aclose()


async def test_unreachable_server_is_a_config_error() -> None:
    async with FakeOpenAIServer() as srv:
        url = srv.base_url
    m = OpenAIModel("x", url, name="test:down", retry=RetryPolicy(max_attempts=2, base_delay_s=0.01))
    with pytest.raises(ModelConfigError, match=r"test:down: cannot reach .*server running"):
        await m.generate(MSGS)
    await m.aclose()


async def test_adaptive_concurrency_halves_on_429_and_recovers() -> None:
    async with FakeOpenAIServer(latency_s=0.02, script=["429"] * 8) as srv:
        limiter = AdaptiveLimiter(8, grow_after=5, window=4)
        m = model_for(srv, limiter=limiter, max_concurrency=8)
        results = await asyncio.gather(*(m.generate(MSGS) for _ in range(8)))
        assert len(results) == 8
        # eight simultaneous 429s were one signal: halved once, not collapsed to 1
        assert limiter.throttle_events == 8 and limiter.epoch == 1
        assert limiter.limit == 4 + 8 // 5
        srv.max_in_flight = 0
        await asyncio.gather(*(m.generate(MSGS) for _ in range(20)))
        assert 4 < srv.max_in_flight <= 8
        assert limiter.limit == 8 and limiter.in_flight == 0  # grew back, one per 5 successes, up to the bound
        await m.aclose()


async def test_limiter_bounds_in_flight_and_grows_to_max() -> None:
    lim = AdaptiveLimiter(3, initial=1, grow_after=2, window=1)
    peak = 0

    async def work() -> None:
        nonlocal peak
        await lim.acquire()
        peak = max(peak, lim.in_flight)
        await asyncio.sleep(0.001)
        lim.release()
        lim.succeeded()

    await asyncio.gather(*(work() for _ in range(30)))
    assert lim.limit == 3 and peak <= 3 and lim.in_flight == 0
    lim.throttled(lim.epoch)
    lim.throttled(lim.epoch)
    assert lim.limit == 1  # never below min_limit


def test_limiter_cuts_once_per_epoch_and_cooldown() -> None:
    lim = AdaptiveLimiter(64, cooldown_s=0.0, window=1)
    stale = lim.epoch
    lim.throttled(stale)
    lim.throttled(stale)  # admitted before the first cut: same signal
    assert lim.limit == 32
    lim.throttled(lim.epoch)
    assert lim.limit == 16
    slow = AdaptiveLimiter(64, cooldown_s=60.0, window=1)
    slow.throttled(slow.epoch)
    slow.throttled(slow.epoch)  # a fresh-epoch 429 inside the cooldown window: no second cut
    assert slow.limit == 32 and slow.throttle_events == 2


async def test_limiter_cancelled_waiter_does_not_leak_a_slot() -> None:
    lim = AdaptiveLimiter(1)
    await lim.acquire()
    waiter = asyncio.ensure_future(lim.acquire())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    lim.release()
    assert lim.in_flight == 0
    await asyncio.wait_for(lim.acquire(), 0.1)


async def test_session_is_shared_across_calls() -> None:
    async with FakeOpenAIServer() as srv:
        m = model_for(srv)
        await asyncio.gather(*(m.generate(MSGS) for _ in range(5)))
        s1 = m._session
        await m.generate(MSGS)
        assert m._session is s1
        await m.aclose()
        assert m._session is None


async def test_stream_non_retryable_error_releases_slot() -> None:
    async with FakeOpenAIServer(script=["400"]) as srv:
        m = model_for(srv)
        with pytest.raises(ModelError, match="HTTP 400"):
            _ = [p async for p in m.stream(MSGS)]
        assert m.limiter.in_flight == 0 and srv.requests == 1
        await m.aclose()


def test_request_body_frames_encode_the_same_bytes_as_the_whole_body() -> None:
    """Only the messages are encoded per call (the settings and schema once per frame): the body sent must be
    byte-for-byte the JSON of the whole request, for every combination of settings, schemas and streaming."""
    import json

    class Verdict(BaseModel):
        reason: str
        score: int

    model = OpenAIModel("gpt-x", "http://127.0.0.1:9/v1")
    messages = [Message(role="system", content='é \u2028 "q" <x> \\ '), Message(role="user", content="hi\n")]
    dict_schema = {"title": "t x", "type": "object", "properties": {"a": {"type": "string"}}}
    configs = [GenerateConfig(), GenerateConfig(top_p=0.5, seed=None, stop=["a", "b"]), GenerateConfig(seed=3)]
    for cfg in configs:
        for schema in (None, Verdict, dict_schema):
            for stream in (False, True):
                body: dict[str, object] = {
                    "model": "gpt-x",
                    "messages": [{"role": m.role, "content": m.content} for m in messages],
                    "temperature": cfg.temperature,
                    "max_tokens": cfg.max_tokens,
                }
                for key in ("top_p", "seed"):
                    if getattr(cfg, key) is not None:
                        body[key] = getattr(cfg, key)
                if cfg.stop:
                    body["stop"] = cfg.stop
                if schema is not None:
                    body["response_format"] = model._response_format(schema)
                if stream:
                    body["stream"] = True
                want = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
                assert model._payload(messages, cfg, schema, stream) == want  # the frame encoded now
                assert model._payload(messages, cfg, schema, stream) == want  # and reused
    assert len(model._frames) == len(configs) * 2 * 2  # dict schemas are never cached (they can change)


async def test_an_endless_or_oversized_body_is_cut_not_read_into_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """A server that streams a 200 body forever (no Content-Length), or declares a huge one, gets a prompt
    MalformedResponseError naming the cap, not retried, instead of memory growing until the timeout."""
    import resource

    from aiohttp import web

    import evalwheel.models.http as http
    from evalwheel.models.base import MalformedResponseError

    monkeypatch.setattr(http, "MAX_RESPONSE_BYTES", 1024 * 1024)
    requests = 0

    async def endless(request: web.Request) -> web.StreamResponse:
        nonlocal requests
        requests += 1
        if request.query.get("declared"):
            return web.Response(body=b"x" * (2 * 1024 * 1024), content_type="application/json")
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        await resp.prepare(request)
        chunk = b"{" * 65536
        for _ in range(10_000):  # 640 MiB if nobody stopped reading
            await resp.write(chunk)
        return resp

    app = web.Application()
    app.router.add_post("/v1/chat/completions", endless)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        for url in (f"http://127.0.0.1:{port}/v1", f"http://127.0.0.1:{port}/v1?declared=1"):
            model = OpenAIModel("fake", url.split("?")[0], retry=RetryPolicy(max_attempts=3, base_delay_s=0.01))
            if "declared" in url:
                model.url += "?declared=1"
            started = time.perf_counter()
            try:
                with pytest.raises(MalformedResponseError, match=r"larger than 1 MiB"):
                    await model.generate([Message(role="user", content="hi")])
            finally:
                await model.aclose()
            assert time.perf_counter() - started < 10
    finally:
        await runner.cleanup()
    assert requests == 2  # one request each: a body too large is not retried
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200 * 1024  # KiB: far below 640 MiB
