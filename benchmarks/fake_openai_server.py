"""Test double for the OpenAI chat-completions HTTP protocol (not a model: it answers instantly-ish, canned).

An aiohttp server on 127.0.0.1 (random port) answering `POST /v1/chat/completions` (JSON and SSE streaming)
with a configurable latency and injected error rate (half 429 with `Retry-After`, half 500), plus a
`script` of forced outcomes for deterministic tests. Used by the tests and by `bench_models.py`, which
runs it in a separate process (`python benchmarks/fake_openai_server.py --latency-ms 100`) so that only
the client's CPU is measured; there the default `--impl fast` variant (bare asyncio, non-streaming) keeps
the server's own CPU per request small enough not to distort throughput.

Replies: `reply` when set; else, with `response_format.json_schema`, a JSON object filled from the schema
(strings "x", numbers 0, booleans true, ...); else an echo of the last user message. Script actions: "ok", "429",
"500", "400", "401", "garbage" (a non-JSON reply to a schema request), "slow" (sleeps `slow_s` first), "hang"
(never answers: the client's timeouts must cut it). `hang_rate` hangs that share of requests at random.
`GET /stats` returns counters; `GET /v1/models` lists one model.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from collections import deque
from typing import Any

from aiohttp import web


def sample_from_schema(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> Any:
    """A value that satisfies the simple JSON schemas our tests and judges use."""
    defs = defs if defs is not None else schema.get("$defs", {})
    if "$ref" in schema:
        return sample_from_schema(defs[schema["$ref"].rsplit("/", 1)[1]], defs)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return sample_from_schema(schema[key][0], defs)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = kind[0]
    if kind == "object":
        return {k: sample_from_schema(v, defs) for k, v in schema.get("properties", {}).items()}
    if kind == "array":
        return [sample_from_schema(schema.get("items", {"type": "string"}), defs)]
    return {"string": "x", "integer": 0, "number": 0.0, "boolean": True, "null": None}.get(kind, "x")


class FakeOpenAIServer:
    """The test double. Use `async with FakeOpenAIServer(...) as srv:` then `srv.base_url` (ends in /v1)."""

    def __init__(
        self,
        *,
        latency_s: float = 0.0,
        error_rate: float = 0.0,
        retry_after: str | None = "0",
        reply: str | None = None,
        script: list[str] | None = None,
        slow_s: float = 1.0,
        seed: int = 0,
        port: int = 0,
        hang_rate: float = 0.0,
    ) -> None:
        self.latency_s = latency_s
        self.error_rate = error_rate
        self.hang_rate = hang_rate
        self.hung = 0
        self._released: asyncio.Event | None = None  # set on stop(): hung handlers return, shutdown is prompt
        self.retry_after = retry_after
        self.reply = reply
        self.script: deque[str] = deque(script or [])
        self.slow_s = slow_s
        self.port = port
        self._rng = random.Random(seed)
        self.requests = 0
        self.status_counts: dict[int, int] = {}
        self.in_flight = 0
        self.max_in_flight = 0
        self.last_body: dict[str, Any] | None = None
        self.last_headers: dict[str, str] = {}
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/stats", self._stats)
        return app

    async def start(self) -> FakeOpenAIServer:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, backlog=1024)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        return self

    async def stop(self) -> None:
        if self._released is not None:
            self._released.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeOpenAIServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _count(self, status: int) -> None:
        self.status_counts[status] = self.status_counts.get(status, 0) + 1

    def _action(self) -> str:
        if self.script:
            return self.script.popleft()
        if self.hang_rate > 0 and self._rng.random() < self.hang_rate:
            return "hang"
        if self.error_rate > 0 and self._rng.random() < self.error_rate:
            return "429" if self._rng.random() < 0.5 else "500"
        return "ok"

    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "fake", "object": "model"}]})

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "requests": self.requests,
                "status": self.status_counts,
                "max_in_flight": self.max_in_flight,
                "hung": self.hung,
            }
        )

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            body = await request.json()
            self.last_body = body
            self.last_headers = dict(request.headers)
            action = self._action()
            if action == "hang":
                self.hung += 1
                if self._released is None:
                    self._released = asyncio.Event()
                await self._released.wait()  # never answered; released on stop() so shutdown does not wait
                return web.Response(status=499)
            delay = self.latency_s + (self.slow_s if action == "slow" else 0.0)
            if delay > 0:
                await asyncio.sleep(delay)
            if action == "429":
                self._count(429)
                headers = {"Retry-After": self.retry_after} if self.retry_after is not None else {}
                return web.json_response({"error": {"message": "rate limited"}}, status=429, headers=headers)
            if action in ("500", "400", "401"):
                status = int(action)
                self._count(status)
                return web.json_response({"error": {"message": f"injected {status}"}}, status=status)
            text = self._text(body, garbage=action == "garbage")
            self._count(200)
            if body.get("stream"):
                return await self._sse(request, body, text)
            return web.json_response(self._envelope(body, text))
        finally:
            self.in_flight -= 1

    def _text(self, body: dict[str, Any], *, garbage: bool) -> str:
        fmt = body.get("response_format") or {}
        if garbage:
            return "Sure! Here is my answer: it passed, I think."
        if self.reply is not None:
            return self.reply
        if fmt.get("type") == "json_schema":
            return json.dumps(sample_from_schema(fmt["json_schema"]["schema"]))
        users = [m["content"] for m in body.get("messages", []) if m.get("role") == "user"]
        return f"echo: {users[-1]}" if users else "hello"

    @staticmethod
    def _envelope(body: dict[str, Any], text: str) -> dict[str, Any]:
        prompt = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": len(text.split()), "total_tokens": 0},
        }

    @staticmethod
    async def _sse(request: web.Request, body: dict[str, Any], text: str) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await resp.prepare(request)
        model = body.get("model", "fake")

        def event(delta: dict[str, Any], finish: str | None = None) -> bytes:
            chunk = {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            return b"data: " + json.dumps(chunk).encode() + b"\n\n"

        await resp.write(b": keep-alive\n\n" + event({"role": "assistant", "content": ""}))
        words = text.split(" ")
        for i, word in enumerate(words):
            await resp.write(event({"content": word if i == 0 else " " + word}))
        await resp.write(event({}, "stop") + b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp


class _FastProtocol(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection of the fast (benchmark) server: non-streaming chat completions only.

    aiohttp.web costs ~0.3-0.5 ms of server CPU per request; at 600+ requests/s that queueing shows up as
    "latency" and would be blamed on the client. A bare asyncio.Protocol answering from a timer costs a
    small fraction of that, so the measured throughput reflects the client.
    """

    def __init__(self, srv: _FastServer) -> None:
        self.srv = srv
        self.buf = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end].decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            if len(self.buf) < end + 4 + length:
                return
            body, self.buf = self.buf[end + 4 : end + 4 + length], self.buf[end + 4 + length :]
            self.srv.handle(self, head.split(" ", 2)[:2], body)

    def send(self, status: int, payload: bytes, extra: str = "") -> None:
        if self.transport is None or self.transport.is_closing():
            return
        reason = {200: "OK", 429: "Too Many Requests", 500: "Internal Server Error", 404: "Not Found"}.get(status, "X")
        head = (
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n{extra}\r\n"
        )
        self.transport.write(head.encode() + payload)


class _FastServer:
    """The benchmark variant of the test double: same latency and error injection, minimal CPU per request."""

    def __init__(
        self, latency_s: float, error_rate: float, retry_after: str | None, seed: int = 0, hang_rate: float = 0.0
    ) -> None:
        self.latency_s = latency_s
        self.error_rate = error_rate
        self.hang_rate = hang_rate
        self.hung = 0
        self.retry_after = retry_after
        self.rng = random.Random(seed)
        self.requests = 0
        self.status_counts: dict[int, int] = {}
        self.loop = asyncio.get_running_loop()
        text = "Let's work it out together: what do you multiply the base by?"
        self.ok = json.dumps(FakeOpenAIServer._envelope({"model": "fake", "messages": []}, text)).encode()
        # structured-output (judge) requests get a JSON verdict: {"reason", "score"} fits a numeric rubric
        verdict = json.dumps({"reason": "It guides with a question and does not give the answer away.", "score": 4})
        self.ok_json = json.dumps(FakeOpenAIServer._envelope({"model": "fake", "messages": []}, verdict)).encode()
        self.e429 = b'{"error":{"message":"rate limited"}}'
        self.e500 = b'{"error":{"message":"injected 500"}}'

    def handle(self, conn: _FastProtocol, request_line: list[str], body: bytes) -> None:
        method, path = [*request_line, "", ""][:2]
        if method == "GET" and path == "/stats":
            stats = {"requests": self.requests, "status": self.status_counts, "hung": self.hung}
            conn.send(200, json.dumps(stats).encode())
            return
        if path != "/v1/chat/completions":
            conn.send(404, b'{"error":{"message":"not found"}}')
            return
        self.requests += 1
        if self.hang_rate > 0 and self.rng.random() < self.hang_rate:
            self.hung += 1
            return  # never answered: the connection stays open until the client gives up on it
        status = 200
        if self.error_rate > 0 and self.rng.random() < self.error_rate:
            status = 429 if self.rng.random() < 0.5 else 500
        self.status_counts[status] = self.status_counts.get(status, 0) + 1
        if status == 200:
            payload, extra = (self.ok_json if b'"response_format"' in body else self.ok), ""
        elif status == 429:
            payload = self.e429
            extra = f"Retry-After: {self.retry_after}\r\n" if self.retry_after is not None else ""
        else:
            payload, extra = self.e500, ""
        self.loop.call_later(self.latency_s, conn.send, status, payload, extra)


async def _serve(args: argparse.Namespace) -> None:
    latency_s = args.latency_ms / 1000.0
    if args.impl == "fast":
        fast = _FastServer(latency_s, args.error_rate, args.retry_after, hang_rate=args.hang_rate)
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _FastProtocol(fast), "127.0.0.1", args.port, backlog=1024)
        port = server.sockets[0].getsockname()[1]
    else:
        srv = FakeOpenAIServer(
            latency_s=latency_s,
            error_rate=args.error_rate,
            retry_after=args.retry_after,
            port=args.port,
            hang_rate=args.hang_rate,
        )
        await srv.start()
        port = srv.port
    print(f"PORT {port}", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--error-rate", type=float, default=0.0)
    parser.add_argument("--retry-after", default="0")
    parser.add_argument("--hang-rate", type=float, default=0.0, help="share of requests never answered")
    parser.add_argument(
        "--impl",
        choices=["fast", "aiohttp"],
        default="fast",
        help="fast: bare asyncio, non-streaming only (benchmarks); aiohttp: the full double incl. SSE",
    )
    args = parser.parse_args()
    try:
        asyncio.run(_serve(args))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
