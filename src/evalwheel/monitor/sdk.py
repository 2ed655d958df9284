"""The Python SDK: `Monitor(endpoint=..., app=...)`, `log(...)` and the `@monitor.trace` decorator.

`log` only appends a dict to a bounded in-memory buffer (tens of microseconds) and never raises into the host
app; a daemon thread sends batches with the standard library's HTTP client, retries with exponential backoff
(including 429 and 5xx answers), and counts what it had to drop: events that arrive while the buffer is full,
and events the server rejected as invalid (422: a refused batch is split in halves until only its bad events
are left). `stats()` reports those counts; `flush()` waits for the buffer to drain; `close()` flushes and stops
the thread. Durability starts at the ingest server, which stores an event before it acknowledges it.
"""

from __future__ import annotations

import functools
import http.client
import inspect
import json
import logging
import random
import threading
import time
import urllib.parse
import uuid
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from evalwheel.types import Session

log = logging.getLogger("evalwheel.monitor.sdk")

F = TypeVar("F", bound=Callable[..., Any])


class Monitor:
    def __init__(
        self,
        endpoint: str,
        app: str,
        *,
        token: str | None = None,
        max_buffer: int = 100_000,
        batch_size: int = 500,
        flush_interval_s: float = 0.2,
        timeout_s: float = 10.0,
        max_retry_s: float = 300.0,
        prompt_version: str | None = None,
    ) -> None:
        parsed = urllib.parse.urlsplit(endpoint if "://" in endpoint else f"http://{endpoint}")
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"monitor endpoint {endpoint!r}: expected http(s)://host:port")
        self.endpoint = endpoint
        self.app = app
        self.prompt_version = prompt_version
        self._scheme, self._host, self._port = parsed.scheme, parsed.hostname, parsed.port
        self._path = (parsed.path.rstrip("/") or "") + "/v1/events"
        self._token = token
        self._buf: deque[dict[str, Any]] = deque()
        self._max_buffer = max_buffer
        self._batch_size = batch_size
        self._interval = flush_interval_s
        self._timeout = timeout_s
        self._max_retry_s = max_retry_s
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._closed = False
        self._conn: http.client.HTTPConnection | None = None
        self.sent = 0
        self.dropped_buffer_full = 0
        self.dropped_invalid = 0
        self.retries = 0
        self.refused_429 = 0
        self._thread = threading.Thread(target=self._run, name="evalwheel-monitor-sender", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------------------------- capture

    def log(self, event: dict[str, Any] | None = None, /, **fields: Any) -> bool:
        """Queue one event (a dict or keyword fields); False if it was dropped because the buffer is full.

        `request_id`, `app` and `timestamp` are filled in when missing. Never raises.
        """
        try:
            ev = dict(event) if event else {}
            ev.update(fields)
            ev.setdefault("app", self.app)
            ev.setdefault("timestamp", time.time())
            if "request_id" not in ev:
                ev["request_id"] = uuid.uuid4().hex
            if self.prompt_version is not None:
                ev.setdefault("prompt_version", self.prompt_version)
            if len(self._buf) >= self._max_buffer or self._closed:
                self.dropped_buffer_full += 1
                return False
            self._buf.append(ev)
            self._idle.clear()
            if len(self._buf) >= self._batch_size:
                self._wake.set()
            return True
        except Exception:  # never into the host app
            self.dropped_buffer_full += 1
            return False

    def trace(self, fn: F | None = None, *, input_arg: str | None = None, **extra: Any) -> Any:
        """Decorator: log each call's first (or `input_arg`) argument, its return value, latency and error.

        Works on sync and async functions; the function's own result and exceptions pass through unchanged.
        """

        def wrap(func: F) -> F:
            sig = inspect.signature(func)

            def record(
                args: tuple[Any, ...], kwargs: dict[str, Any], t0: float, out: Any, err: BaseException | None
            ) -> None:
                try:
                    bound = sig.bind_partial(*args, **kwargs)
                    value = bound.arguments.get(input_arg) if input_arg else next(iter(bound.arguments.values()), "")
                    self.log(
                        input=str(value),
                        output=None if err is not None else str(out),
                        latency_ms=(time.perf_counter() - t0) * 1000,
                        error=None if err is None else f"{err.__class__.__name__}: {err}",
                        **extra,
                    )
                except Exception:
                    self.dropped_buffer_full += 1

            if inspect.iscoroutinefunction(func):

                @functools.wraps(func)
                async def awrapper(*args: Any, **kwargs: Any) -> Any:
                    t0 = time.perf_counter()
                    try:
                        out = await func(*args, **kwargs)
                    except BaseException as exc:
                        record(args, kwargs, t0, None, exc)
                        raise
                    record(args, kwargs, t0, out, None)
                    return out

                return awrapper  # type: ignore[return-value]

            @functools.wraps(func)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                t0 = time.perf_counter()
                try:
                    out = func(*args, **kwargs)
                except BaseException as exc:
                    record(args, kwargs, t0, None, exc)
                    raise
                record(args, kwargs, t0, out, None)
                return out

            return wrapper  # type: ignore[return-value]

        return wrap(fn) if fn is not None else wrap

    # --------------------------------------------------------------------------------------- sender

    def _take(self) -> list[dict[str, Any]]:
        batch: list[dict[str, Any]] = []
        while self._buf and len(batch) < self._batch_size:
            batch.append(self._buf.popleft())
        return batch

    def _post(self, body: bytes) -> int:
        if self._conn is None:
            cls = http.client.HTTPSConnection if self._scheme == "https" else http.client.HTTPConnection
            self._conn = cls(self._host, self._port, timeout=self._timeout)
        headers = {"Content-Type": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        try:
            self._conn.request("POST", self._path, body=body, headers=headers)
            resp = self._conn.getresponse()
            resp.read()
            return resp.status
        except Exception:
            self._conn.close()
            self._conn = None
            raise

    def _send(self, batch: list[dict[str, Any]]) -> None:
        """Deliver one batch, retrying until it is stored, refused as invalid, or the retry time runs out."""
        body = json.dumps({"events": batch}, default=str).encode()
        delay, waited = 0.05, 0.0
        while True:
            try:
                code = self._post(body)
            except Exception as exc:
                code = 0
                log.debug("monitor send failed: %s", exc)
            if 200 <= code < 300:
                self.sent += len(batch)
                return
            if code in (400, 401, 403, 413, 422):
                # Too big, or refused as invalid (the server stores nothing of a batch with one bad event): split and
                # send the halves, so only the invalid events are dropped. Why: one bad event used to drop its whole
                # batch, up to `batch_size` valid events with it.
                if code in (413, 422) and len(batch) > 1:
                    half = len(batch) // 2
                    self._send(batch[:half])
                    self._send(batch[half:])
                    return
                self.dropped_invalid += len(batch)
                log.warning("monitor refused %d event(s) with HTTP %d; dropped", len(batch), code)
                return
            if code == 429:
                self.refused_429 += 1
            if waited >= self._max_retry_s:
                self.dropped_invalid += len(batch)
                log.warning("monitor unreachable for %.0f s; dropped %d event(s)", waited, len(batch))
                return
            self.retries += 1
            sleep = delay * (0.5 + random.random())
            time.sleep(sleep)
            waited += sleep
            delay = min(delay * 2, 5.0)

    def _run(self) -> None:
        while True:
            self._wake.wait(self._interval)
            self._wake.clear()
            while self._buf:
                self._send(self._take())
            if not self._buf:
                self._idle.set()
            if self._closed and not self._buf:
                return

    # ------------------------------------------------------------------------------------- control

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Wait until everything logged so far was sent (or dropped); True if the buffer drained in time."""
        self._wake.set()
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._buf or not self._idle.is_set():
            if deadline is not None and time.monotonic() > deadline:
                return False
            self._wake.set()
            time.sleep(0.01)
        return True

    def close(self, timeout: float = 30.0) -> None:
        self.flush(timeout)
        self._closed = True
        self._wake.set()
        self._thread.join(timeout)

    def stats(self) -> dict[str, int]:
        """Sent, buffered and dropped counts (a dropped event is always counted, never silent)."""
        return {
            "sent": self.sent,
            "buffered": len(self._buf),
            "dropped_buffer_full": self.dropped_buffer_full,
            "dropped_refused": self.dropped_invalid,
            "retries": self.retries,
            "refused_429": self.refused_429,
        }

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def log_session(
    endpoint: str,
    session: Session,
    *,
    app: str = "studymode-chat",
    token: str | None = None,
    prompt_version: str | None = None,
    timeout_s: float = 30.0,
) -> dict[str, int]:
    """Log a finished chat session as turn events (`session_id` + `turn`) plus a close event.

    The monitor grades the assembled session with its `session_graders` (e.g. `studymode.fidelity`) when the
    close event arrives. Returns the SDK's delivery counts.
    """
    mon = Monitor(endpoint, app, token=token, prompt_version=prompt_version)
    turn = 0
    pending: str | None = None
    now = time.time()
    meta = {"domain": session.domain}
    for t in session.trajectory:
        if t.role == "user":
            if pending is not None:
                mon.log(
                    request_id=f"{session.session_id}#{turn}",
                    session_id=session.session_id,
                    turn=turn,
                    input=pending,
                    timestamp=now,
                    metadata=meta,
                )
                turn += 1
            pending = t.content
        elif t.role == "assistant" and pending is not None:
            mon.log(
                request_id=f"{session.session_id}#{turn}",
                session_id=session.session_id,
                turn=turn,
                input=pending,
                output=t.content,
                timestamp=now,
                metadata=meta,
            )
            turn += 1
            pending = None
    mon.log(
        request_id=f"{session.session_id}#close",
        session_id=session.session_id,
        turn=turn,
        input="(session closed)",
        timestamp=now,
        metadata={**meta, "session_end": True},
    )
    mon.close(timeout_s)
    return mon.stats()
