"""OpenTelemetry export: runs, samples, model calls and grader calls as spans over OTLP/HTTP.

Off unless asked for: `evalwheel run --otel-endpoint URL`, or the standard `OTEL_EXPORTER_OTLP_ENDPOINT` /
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` variables (headers from `OTEL_EXPORTER_OTLP_HEADERS`). When off, every
hook below is a plain pass-through and opentelemetry is never imported, so tracing costs nothing by default.

Span tree of one run::

    evalwheel.run <spec>                        evalwheel.run.id, evalwheel.spec.name, evalwheel.arm, counts
      evalwheel.sample <sample id>              evalwheel.sample.id, .partition, .epoch, evalwheel.verdict
        chat <model>                            gen_ai.* (operation, request/response model, token usage), latency
        evalwheel.grader <grader name>          evalwheel.grader.name, evalwheel.verdict (pass/fail/unscored)
          chat <judge model>                    the judge's own model calls

Model-call spans follow the OpenTelemetry GenAI semantic conventions (`gen_ai.operation.name`,
`gen_ai.request.model`, `gen_ai.response.model`, `gen_ai.usage.input_tokens` / `output_tokens`,
`gen_ai.request.temperature` / `max_tokens` / `seed`); the evalwheel attributes carry what those do not
cover (sample, partition, verdict, cache hit).
"""

from evalwheel.tracing.hooks import (
    configure,
    enabled,
    grader_span,
    run_span,
    sample_span,
    shutdown,
    traced_grader,
    traced_model,
    within_run,
)

__all__ = [
    "configure",
    "enabled",
    "grader_span",
    "run_span",
    "sample_span",
    "shutdown",
    "traced_grader",
    "traced_model",
    "within_run",
]
