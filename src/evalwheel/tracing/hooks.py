"""The tracing hooks the run engine calls; pass-throughs until `configure` (or the OTEL_* variables) turn them on.

opentelemetry is imported only when tracing is on: the engine imports this module on every run.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from typing import Any, TypeVar

from evalwheel.graders.registry import GraderContext, GraderFn
from evalwheel.types import Output, Sample, SampleResult, Score

ENV_ENDPOINTS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
ENV_TIMEOUTS = ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT")
EXPORT_TIMEOUT_S = 2.0
SERVICE_NAME = "evalwheel"

T = TypeVar("T")
_state: dict[str, Any] = {"tracer": None, "provider": None, "checked_env": False}


def configure(endpoint: str | None = None) -> bool:
    """Turn span export on. `endpoint` is the collector's base URL (`http://host:4318`) or its full traces
    URL (`.../v1/traces`); None reads the standard OTEL_EXPORTER_OTLP_* variables. True when tracing is on."""
    if _state["tracer"] is not None:
        return True
    env_set = any(os.environ.get(v) for v in ENV_ENDPOINTS)
    if endpoint is None and not env_set:
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from evalwheel import __version__

    # A collector that is down or never answers must not hold the end of a command for OTLP's default 10 s per
    # export: unless the user set a timeout, each export gives up after EXPORT_TIMEOUT_S (spans are then lost,
    # the run's results and exit code are not).
    timeout = None if any(os.environ.get(v) for v in ENV_TIMEOUTS) else EXPORT_TIMEOUT_S
    if endpoint is not None:
        url = endpoint.rstrip("/")
        exporter = OTLPSpanExporter(endpoint=url if url.endswith("/v1/traces") else url + "/v1/traces", timeout=timeout)
    else:
        exporter = OTLPSpanExporter(timeout=timeout)  # reads OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT / HEADERS itself
    resource = Resource.create({"service.name": SERVICE_NAME, "service.version": __version__})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    _state["provider"] = provider
    _state["tracer"] = provider.get_tracer("evalwheel", __version__)
    atexit.register(shutdown)
    return True


def enabled() -> bool:
    """Whether spans are exported (the OTEL_* variables switch tracing on the first time this is asked)."""
    if _state["tracer"] is None and not _state["checked_env"]:
        _state["checked_env"] = True
        configure(None)
    return _state["tracer"] is not None


def shutdown() -> None:
    """Flush every pending span and stop exporting (called at the end of a command, and at exit)."""
    provider = _state["provider"]
    _state["tracer"] = _state["provider"] = None
    _state["checked_env"] = False
    if provider is not None:
        provider.force_flush()
        provider.shutdown()


def _clean(attrs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in attrs.items() if v is not None}


def _verdict(passed: bool | None) -> str:
    return {True: "pass", False: "fail", None: "unscored"}[passed]


@contextlib.asynccontextmanager
async def run_span(spec_name: str, arm: str | None, dataset_version: str | None) -> AsyncIterator[Any]:
    """The root span of one run; tasks started inside inherit it, so sample spans become its children."""
    if not enabled():
        yield None
        return
    from opentelemetry import trace

    attrs = {"evalwheel.spec.name": spec_name, "evalwheel.arm": arm, "evalwheel.dataset.version": dataset_version}
    with _state["tracer"].start_as_current_span(f"evalwheel.run {spec_name}", attributes=_clean(attrs)) as span:
        try:
            yield span
        except BaseException as exc:
            span.set_status(trace.Status(trace.StatusCode.ERROR, str(exc)))
            raise


@contextlib.contextmanager
def sample_span(sample: Sample, epoch: int) -> Iterator[Callable[[SampleResult], None]]:
    """A span per (sample, epoch); call the yielded function with the result to record its verdict."""
    if not enabled():
        yield lambda result: None
        return
    attrs = {"evalwheel.sample.id": sample.id, "evalwheel.sample.partition": sample.partition,
             "evalwheel.sample.epoch": epoch}  # fmt: skip
    with _state["tracer"].start_as_current_span(f"evalwheel.sample {sample.id}", attributes=attrs) as span:

        def record(result: SampleResult) -> None:
            span.set_attribute("evalwheel.verdict", result.status)
            if result.value is not None:
                span.set_attribute("evalwheel.value", result.value)
            if result.error:
                from opentelemetry import trace

                span.set_status(trace.Status(trace.StatusCode.ERROR, result.error[:500]))

        yield record


@contextlib.contextmanager
def grader_span(name: str, sample: Sample) -> Iterator[Callable[[Sequence[Score]], None]]:
    """A span per grader call; the yielded function records the scores' verdicts."""
    if not enabled():
        yield lambda scores: None
        return
    attrs = {"evalwheel.grader.name": name, "evalwheel.sample.id": sample.id}
    with _state["tracer"].start_as_current_span(f"evalwheel.grader {name}", attributes=attrs) as span:

        def record(scores: Sequence[Score]) -> None:
            verdicts = [_verdict(s.passed) for s in scores]
            span.set_attribute("evalwheel.verdict", "fail" if "fail" in verdicts else verdicts[0] if verdicts else "")
            span.set_attribute("evalwheel.scores", [f"{s.name}={_verdict(s.passed)}" for s in scores])

        yield record


def traced_grader(name: str, fn: GraderFn) -> GraderFn:
    """The grader wrapped in a span when tracing is on (itself otherwise)."""
    if not enabled():
        return fn

    async def traced(sample: Sample, output: Output, ctx: GraderContext) -> Score | list[Score]:
        with grader_span(name, sample) as record:
            result = await fn(sample, output, ctx)
            record(result if isinstance(result, list) else [result])
            return result

    return traced


class TracedModel:
    """A Model whose `generate` calls are GenAI spans; everything else is the wrapped model's.

    `isinstance` checks see the wrapped model's class, so code that inspects the backend keeps working.
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        return type(self._inner)

    def __getattr__(self, item: str) -> Any:
        if item == "_inner":  # not set yet (copy/pickle protocols probe attributes before __init__)
            raise AttributeError(item)
        return getattr(self._inner, item)

    def __setattr__(self, item: str, value: Any) -> None:
        if item == "_inner":
            object.__setattr__(self, item, value)
        else:
            setattr(self._inner, item, value)

    def __copy__(self) -> Any:
        """A copy is a side client (e.g. the preflight probe's): the plain model, its calls are not run spans."""
        import copy

        return copy.copy(self._inner)

    async def generate(self, messages: Any, config: Any = None, schema: Any = None) -> Any:
        from opentelemetry import trace

        name = getattr(self._inner, "name", type(self._inner).__name__)
        attrs = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "evalwheel.local" if str(name).startswith("local") else "openai",
            "gen_ai.request.model": name,
            "gen_ai.request.temperature": getattr(config, "temperature", None),
            "gen_ai.request.max_tokens": getattr(config, "max_tokens", None),
            "gen_ai.request.seed": getattr(config, "seed", None),
            "evalwheel.structured_output": schema is not None,
        }
        started = time.perf_counter()
        with _state["tracer"].start_as_current_span(f"chat {name}", attributes=_clean(attrs),
                                                    kind=trace.SpanKind.CLIENT) as span:  # fmt: skip
            try:
                completion = await self._inner.generate(messages, config, schema)
            except BaseException as exc:
                span.set_attribute("error.type", type(exc).__name__)
                span.set_status(trace.Status(trace.StatusCode.ERROR, str(exc)[:500]))
                raise
            span.set_attributes(
                _clean(
                    {
                        "gen_ai.response.model": completion.model or name,
                        "gen_ai.usage.input_tokens": completion.usage.prompt_tokens,
                        "gen_ai.usage.output_tokens": completion.usage.completion_tokens,
                        "evalwheel.latency_ms": completion.latency_ms or (time.perf_counter() - started) * 1000.0,
                        "evalwheel.cached": completion.cached,
                    }
                )
            )
            return completion


def traced_model(model: Any) -> Any:
    """The model wrapped so its calls become spans when tracing is on (the model itself otherwise)."""
    return TracedModel(model) if enabled() else model


async def within_run(
    body: Coroutine[Any, Any, T], *, spec_name: str, arm: str | None, run_id: str, dataset_version: str | None
) -> T:
    """Await a run's body inside its run span (a pass-through when tracing is off)."""
    async with run_span(spec_name, arm, dataset_version) as span:
        if span is not None:
            span.set_attribute("evalwheel.run.id", run_id)
        return await body
