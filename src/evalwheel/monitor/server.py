"""The ingest server: `POST /v1/events`, `POST /v1/traces` (OTLP/HTTP), `GET /healthz`, `GET /metrics`.

An event is acknowledged (202) only after its row is committed. Requests do not each pay for a transaction:
a single writer task commits everything that arrived while the previous commit ran (group commit), so
throughput grows with load while every reply still means "stored". When more than `max_pending` events wait
for the writer, new requests get 429 with Retry-After and the SDK retries them: refused explicitly, never
dropped silently. Bodies above `max_body_bytes` get 413; malformed events 422 naming the field, and nothing
of a bad batch is stored. Bound to anything but loopback the server needs a token, and answers 401 without it.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import ValidationError

from evalwheel.datasets.checks import lone_surrogate, surrogate_cause
from evalwheel.monitor.config import MonitorConfig
from evalwheel.monitor.events import Event
from evalwheel.monitor.otlp import OtlpError, events_from_request, parse_request
from evalwheel.monitor.queue import Decision, MonitorStore
from evalwheel.monitor.sampler import Sampler

log = logging.getLogger("evalwheel.monitor.server")

MAX_BODY = 8 * 1024 * 1024


class QueueFullError(RuntimeError):
    pass


@dataclass
class IngestMetrics:
    accepted: int = 0
    duplicates: int = 0
    refused_429: int = 0
    invalid_422: int = 0
    too_large_413: int = 0
    unauthorized_401: int = 0
    otlp_spans_skipped: int = 0
    commits: int = 0
    commit_seconds: float = 0.0
    sampled: int = 0
    started: float = field(default_factory=time.time)


class Ingestor:
    """Samples events and group-commits them to the store; `submit` returns once they are durable."""

    def __init__(self, store: MonitorStore, config: MonitorConfig, *, max_pending: int = 50_000) -> None:
        self.store = store
        self.config = config
        self.sampler = Sampler(config.sampler)
        self.max_pending = max_pending
        self.metrics = IngestMetrics()
        self._pending: list[tuple[list[tuple[Event, Decision]], asyncio.Future[int]]] = []
        self._pending_events = 0
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def pending(self) -> int:
        return self._pending_events

    def _ensure_writer(self) -> asyncio.Event:
        if self._task is None or self._task.done():
            self._wake = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._writer())
        assert self._wake is not None
        return self._wake

    async def submit(self, events: list[Event]) -> int:
        """Persist events (sampling decided here); returns how many were new. Raises QueueFullError."""
        if self._pending_events + len(events) > self.max_pending:
            self.metrics.refused_429 += len(events)
            raise QueueFullError(f"{self._pending_events} events waiting to be stored")
        wake = self._ensure_writer()
        decided = [(e, self.sampler.decide(e)) for e in events]
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pending.append((decided, fut))
        self._pending_events += len(events)
        wake.set()
        return await fut

    async def _writer(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch, self._pending = self._pending, []
                rows = [row for items, _ in batch for row in items]
                t0 = time.perf_counter()
                try:
                    new = await asyncio.to_thread(self.store.enqueue, rows)
                except Exception as exc:  # the store is down: every waiting request gets a 503, nothing is acked
                    log.exception("ingest commit failed")
                    for _, fut in batch:
                        if not fut.done():
                            fut.set_exception(exc)
                    self._pending_events -= len(rows)
                    continue
                self.metrics.commits += 1
                self.metrics.commit_seconds += time.perf_counter() - t0
                self.metrics.accepted += len(rows)
                self.metrics.duplicates += len(rows) - new
                self.metrics.sampled += sum(1 for _, d in rows if d.sampled)
                self._pending_events -= len(rows)
                for items, fut in batch:
                    if not fut.done():
                        fut.set_result(len(items))

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await self._task


def _field_path(loc: tuple[Any, ...], prefix: str = "") -> str:
    out = prefix
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(body)"


def parse_events(payload: Any) -> list[Event]:
    """A single event, `{"events": [...]}` or a list; raises HTTPException(422) naming every bad field."""
    if isinstance(payload, dict) and "events" in payload:
        items, prefix = payload["events"], "events"
    elif isinstance(payload, list):
        items, prefix = payload, ""
    else:
        items, prefix = [payload], None
    if not isinstance(items, list) or not items:
        raise HTTPException(422, detail=[{"field": "events", "error": "expected a non-empty list of events"}])
    events: list[Event] = []
    problems: list[dict[str, str]] = []
    for i, raw in enumerate(items):
        base = "" if prefix is None else f"{prefix}[{i}]"
        surrogate = lone_surrogate(raw)  # in free-form metadata it passed validation, then failed the store (503)
        if surrogate is not None:
            problems.append({"field": _field_path(surrogate[0], base), "error": surrogate_cause(surrogate[1])})
            continue
        try:
            events.append(Event.model_validate(raw))
        except ValidationError as exc:
            for err in exc.errors():
                problems.append({"field": _field_path(err["loc"], base), "error": err["msg"]})
    if problems:
        raise HTTPException(422, detail=problems[:50])
    return events


async def read_body(request: Request, limit: int) -> bytes:
    """The body, or 413 as soon as it passes `limit` bytes (declared or streamed)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, detail=f"body of {declared} bytes exceeds the {limit}-byte limit")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, detail=f"body exceeds the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def token_dependency(token: str | None, metrics: IngestMetrics) -> Any:
    async def check(request: Request) -> None:
        if token is None:
            return
        header = request.headers.get("authorization", "")
        given = header[7:] if header.lower().startswith("bearer ") else request.headers.get("x-evalwheel-token", "")
        if not hmac.compare_digest(given.encode(), token.encode()):
            metrics.unauthorized_401 += 1
            raise HTTPException(401, detail="missing or wrong token", headers={"WWW-Authenticate": "Bearer"})

    return check


def ingest_router(ingestor: Ingestor, *, token: str | None = None, max_body_bytes: int = MAX_BODY) -> APIRouter:
    """The ingest routes on an `Ingestor`: mount with `app.include_router(...)` (the web workspace does)."""
    m = ingestor.metrics
    router = APIRouter(dependencies=[Depends(token_dependency(token, m))])

    async def _accept(events: list[Event]) -> JSONResponse:
        try:
            stored = await ingestor.submit(events)
        except QueueFullError as exc:
            return JSONResponse({"detail": f"busy: {exc}; retry"}, status_code=429, headers={"Retry-After": "1"})
        except Exception as exc:
            return JSONResponse({"detail": f"store unavailable: {exc.__class__.__name__}"}, status_code=503)
        return JSONResponse({"accepted": stored}, status_code=202)

    async def _body(request: Request) -> bytes:
        try:
            return await read_body(request, max_body_bytes)
        except HTTPException:
            m.too_large_413 += 1
            raise

    @router.post("/v1/events", status_code=202)
    async def post_events(request: Request) -> Response:
        body = await _body(request)
        try:
            payload = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            m.invalid_422 += 1
            raise HTTPException(422, detail=[{"field": "(body)", "error": f"not JSON: {exc}"}]) from None
        try:
            events = parse_events(payload)
        except HTTPException:
            m.invalid_422 += 1
            raise
        return await _accept(events)

    @router.post("/v1/traces")
    async def post_traces(request: Request) -> Response:
        body = await _body(request)
        ctype = request.headers.get("content-type", "application/x-protobuf")
        try:
            req = parse_request(body, ctype)
            events, skipped = events_from_request(req)
        except (OtlpError, ValidationError) as exc:
            m.invalid_422 += 1
            raise HTTPException(400, detail=str(exc)) from None
        m.otlp_spans_skipped += skipped
        if events:
            resp = await _accept(events)
            if resp.status_code != 202:
                return resp
        if "json" in ctype:
            return JSONResponse({}, status_code=200)
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

        return Response(ExportTraceServiceResponse().SerializeToString(), media_type="application/x-protobuf")

    @router.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "pending_writes": ingestor.pending, "uptime_s": round(time.time() - m.started, 1)}

    @router.get("/metrics")
    async def metrics() -> PlainTextResponse:
        counts = await asyncio.to_thread(ingestor.store.counts)
        return PlainTextResponse(prometheus_text(m, ingestor.pending, counts), media_type="text/plain; version=0.0.4")

    return router


def prometheus_text(m: IngestMetrics, pending: int, counts: dict[str, int]) -> str:
    lines: list[str] = []

    def metric(name: str, kind: str, help_: str, value: float, labels: str = "") -> None:
        if not any(line.startswith(f"# HELP {name} ") for line in lines):
            lines.append(f"# HELP {name} {help_}")
            lines.append(f"# TYPE {name} {kind}")
        lines.append(f"{name}{labels} {value:g}")

    metric("evalwheel_events_accepted_total", "counter", "Events acknowledged (stored).", m.accepted)
    metric(
        "evalwheel_events_duplicate_total", "counter", "Accepted events already stored (by request id).", m.duplicates
    )
    metric("evalwheel_events_sampled_total", "counter", "Accepted events chosen for grading.", m.sampled)
    for reason, value in (
        ("busy_429", m.refused_429),
        ("invalid_422", m.invalid_422),
        ("too_large_413", m.too_large_413),
        ("unauthorized_401", m.unauthorized_401),
    ):
        metric(
            "evalwheel_events_refused_total", "counter", "Requests refused, by reason.", value, f'{{reason="{reason}"}}'
        )
    metric("evalwheel_otlp_spans_skipped_total", "counter", "OTLP spans without a GenAI request.", m.otlp_spans_skipped)
    metric("evalwheel_ingest_commits_total", "counter", "Group commits.", m.commits)
    metric("evalwheel_ingest_commit_seconds_total", "counter", "Time spent committing.", m.commit_seconds)
    metric("evalwheel_ingest_pending_writes", "gauge", "Events waiting for the writer.", pending)
    for state in ("pending", "leased", "done", "skipped"):
        metric(
            "evalwheel_queue_events",
            "gauge",
            "Stored events by queue state.",
            counts.get(state, 0),
            f'{{state="{state}"}}',
        )
    metric("evalwheel_results_total", "gauge", "Graded events stored.", counts.get("results", 0))
    return "\n".join(lines) + "\n"


def create_app(
    store: MonitorStore,
    config: MonitorConfig,
    *,
    token: str | None = None,
    max_body_bytes: int = MAX_BODY,
    max_pending: int = 50_000,
    worker: bool = True,
    judges: bool = True,
    maintenance_s: float = 5.0,
) -> FastAPI:
    """The ingest app; with `worker=True` it also grades, evaluates windows and delivers alerts in-process."""
    ingestor = Ingestor(store, config, max_pending=max_pending)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        tasks: list[asyncio.Task[None]] = []
        if worker:
            from evalwheel.monitor.service import maintenance_loop

            tasks.append(
                asyncio.create_task(maintenance_loop(store, config, stop, judges=judges, every_s=maintenance_s))
            )
        try:
            yield
        finally:
            stop.set()
            for t in tasks:
                try:
                    await asyncio.wait_for(t, 10)
                except (TimeoutError, asyncio.CancelledError, Exception):
                    t.cancel()
            await ingestor.aclose()

    app = FastAPI(title="evalwheel monitor", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.ingestor = ingestor
    app.include_router(ingest_router(ingestor, token=token, max_body_bytes=max_body_bytes))
    return app
