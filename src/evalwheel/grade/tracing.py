"""OpenTelemetry spans for batch grading, from the driver and from every Ray worker, in one trace.

    evalwheel.grade <file>                 driver: shards, rows, invalid
      evalwheel.grade.shard <N>            worker: the shard's byte range / row groups, rows graded
        evalwheel.grade.batch              worker: one chunk (rows, statuses, graded per second)

Spans are per batch, not per row: at a million sessions a span per row would cost more than the
deterministic grading itself. A worker is a separate process, so the driver hands each task a `TraceLink`
(the OTLP endpoint and the W3C `traceparent` of the driver's span); the worker configures its own exporter
once and flushes at the end of every shard, so a worker that Ray kills later loses no finished shard's spans.
When tracing is off nothing here imports opentelemetry.
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from evalwheel.basemodel import EvalwheelModel

if TYPE_CHECKING:
    from evalwheel.grade.batch import Graded
    from evalwheel.grade.shards import Shard

ENV_ENDPOINTS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")


class TraceLink(EvalwheelModel):
    """What a worker needs to export into the driver's trace."""

    endpoint: str
    carrier: dict[str, str]  # W3C trace context (traceparent) of the driver's span


@contextlib.contextmanager
def grade_span(logs: str, endpoint: str | None) -> Iterator[tuple[Any, TraceLink | None]]:
    """The driver's root span and the link handed to workers; (None, None) when tracing is off."""
    from evalwheel.tracing import configure, enabled

    if endpoint is not None:
        configure(endpoint)
    if not enabled():
        yield None, None
        return
    from opentelemetry import propagate

    from evalwheel.tracing.hooks import _state

    url = endpoint or next(os.environ[v] for v in ENV_ENDPOINTS if os.environ.get(v))
    with _state["tracer"].start_as_current_span(f"evalwheel.grade {os.path.basename(logs)}") as span:
        span.set_attribute("evalwheel.grade.logs", logs)
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        yield span, TraceLink(endpoint=url, carrier=carrier)


class _ShardSpan:
    """Records a shard's batches as child spans (no-ops when tracing is off)."""

    def __init__(self, span: Any, tracer: Any) -> None:
        self.span, self.tracer = span, tracer

    def chunk(self, rows: int, graded: Sequence[Graded], seconds: float) -> None:
        if self.span is None:
            return
        import time

        end = time.time_ns()
        statuses = Counter(g.status for g in graded)
        attrs: dict[str, Any] = {
            "evalwheel.grade.rows": rows,
            "evalwheel.grade.graded": len(graded),
            "evalwheel.grade.rows_per_s": round(rows / seconds, 1) if seconds else 0.0,
        }
        attrs.update({f"evalwheel.grade.status.{k}": v for k, v in statuses.items()})
        span = self.tracer.start_span("evalwheel.grade.batch", start_time=end - int(seconds * 1e9), attributes=attrs)
        span.end(end_time=end)

    def done(self, graded: int, invalid: int) -> None:
        if self.span is not None:
            self.span.set_attribute("evalwheel.grade.graded", graded)
            self.span.set_attribute("evalwheel.grade.invalid", invalid)


@contextlib.contextmanager
def shard_span(shard: Shard, link: TraceLink | None) -> Iterator[_ShardSpan]:
    """A worker's span for one shard, a child of the driver's span; flushed when the shard ends."""
    if link is None:
        yield _ShardSpan(None, None)
        return
    from opentelemetry import propagate, trace

    from evalwheel.tracing import configure
    from evalwheel.tracing.hooks import _state

    configure(link.endpoint)  # once per worker process; later shards reuse the exporter
    tracer = _state["tracer"]
    attrs: dict[str, Any] = {"evalwheel.grade.shard": shard.index, "evalwheel.grade.first_line": shard.first_line,
                             "evalwheel.worker.pid": os.getpid()}  # fmt: skip
    if shard.row_groups:
        attrs["evalwheel.grade.row_groups"] = shard.row_groups
    else:
        attrs["evalwheel.grade.bytes"] = [shard.start, shard.end]
    parent = propagate.extract(link.carrier)
    try:
        with tracer.start_as_current_span(f"evalwheel.grade.shard {shard.index}", context=parent,
                                          attributes=attrs) as span:  # fmt: skip
            try:
                yield _ShardSpan(span, tracer)
            except BaseException as exc:
                span.set_status(trace.Status(trace.StatusCode.ERROR, str(exc)[:500]))
                raise
    finally:
        _state["provider"].force_flush()
