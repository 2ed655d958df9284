"""OTLP/HTTP traces -> events: spans that follow the OpenTelemetry GenAI semantic conventions.

A span becomes an event when it carries a request text: `gen_ai.input.messages` / `gen_ai.output.messages`
(JSON, current conventions), the older `gen_ai.prompt` / `gen_ai.completion` strings or their indexed
`gen_ai.prompt.N.content` form, or `gen_ai.user.message` / `gen_ai.choice` span events. The service name is
the app, `trace_id:span_id` the request id, span times give timestamp and latency, an ERROR status the error,
`gen_ai.usage.*` the usage; `gen_ai.conversation.id` (or `session.id`) is the session. Other spans (HTTP,
retrieval, ...) are skipped and counted.
"""

from __future__ import annotations

import base64
import contextlib
import json
from typing import Any

from evalwheel.monitor.events import Event
from evalwheel.types import Usage


class OtlpError(ValueError):
    """The body is not an OTLP ExportTraceServiceRequest (HTTP 400)."""


def _any_value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_any_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _any_value(kv.value) for kv in v.kvlist_value.values}
    if kind == "bytes_value":
        return v.bytes_value.hex()
    return getattr(v, kind)


def _attrs(kvs: Any) -> dict[str, Any]:
    return {kv.key: _any_value(kv.value) for kv in kvs}


def _hex_ids_to_base64(node: Any) -> Any:
    """OTLP/JSON writes trace and span ids as hex; protobuf's JSON parser expects base64 for bytes fields."""
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k in ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id") and isinstance(
                v, str
            ):
                with contextlib.suppress(ValueError):
                    v = base64.b64encode(bytes.fromhex(v)).decode()
            out[k] = _hex_ids_to_base64(v)
        return out
    if isinstance(node, list):
        return [_hex_ids_to_base64(x) for x in node]
    return node


def parse_request(body: bytes, content_type: str) -> Any:
    from google.protobuf import json_format  # type: ignore[import-untyped]
    from google.protobuf.message import DecodeError  # type: ignore[import-untyped]
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    req = ExportTraceServiceRequest()
    try:
        if "json" in content_type:
            json_format.ParseDict(_hex_ids_to_base64(json.loads(body)), req, ignore_unknown_fields=True)
        else:
            req.ParseFromString(body)
    except (DecodeError, json_format.ParseError, ValueError, TypeError) as exc:
        raise OtlpError(f"not an OTLP ExportTraceServiceRequest ({content_type}): {exc}") from None
    return req


def _messages_text(value: Any, role: str | None) -> str | None:
    """Text of a JSON messages attribute ([{role, content | parts}]); the last message of `role` if given."""
    try:
        msgs = json.loads(value) if isinstance(value, str) else value
    except json.JSONDecodeError:
        return str(value)
    if isinstance(msgs, dict):
        msgs = [msgs]
    if not isinstance(msgs, list):
        return None
    texts = []
    for m in msgs:
        if not isinstance(m, dict) or (role is not None and m.get("role") not in (role, None)):
            continue
        if isinstance(m.get("content"), str):
            texts.append(m["content"])
        for p in m.get("parts", []) or []:
            if isinstance(p, dict) and isinstance(p.get("content"), str):
                texts.append(p["content"])
    return texts[-1] if texts else None


def span_to_event(span: Any, resource: dict[str, Any]) -> Event | None:
    a = _attrs(span.attributes)
    question = None
    answer = None
    if "gen_ai.input.messages" in a:
        question = _messages_text(a["gen_ai.input.messages"], "user")
    if "gen_ai.output.messages" in a:
        answer = _messages_text(a["gen_ai.output.messages"], None)
    question = question or a.get("gen_ai.prompt") or a.get("gen_ai.prompt.0.content")
    answer = answer or a.get("gen_ai.completion") or a.get("gen_ai.completion.0.content")
    for ev in span.events:
        ea = _attrs(ev.attributes)
        if ev.name == "gen_ai.user.message" and question is None:
            question = ea.get("content")
        if ev.name == "gen_ai.choice" and answer is None:
            msg = ea.get("message")
            answer = _messages_text(msg, None) if msg is not None else ea.get("content")
    if not question:
        return None
    start, end = span.start_time_unix_nano, span.end_time_unix_nano
    error = None
    if span.status.code == 2:
        error = span.status.message or "span status ERROR"
    usage = None
    if "gen_ai.usage.input_tokens" in a or "gen_ai.usage.output_tokens" in a:
        usage = Usage(
            prompt_tokens=int(a.get("gen_ai.usage.input_tokens", 0)),
            completion_tokens=int(a.get("gen_ai.usage.output_tokens", 0)),
        )
    meta = {k: v for k, v in a.items() if isinstance(v, str | int | float | bool) and not k.startswith("gen_ai.prompt")}
    meta = {k: v for k, v in meta.items() if not k.startswith("gen_ai.completion") and "messages" not in k}
    return Event(
        request_id=f"{span.trace_id.hex()}:{span.span_id.hex()}",
        app=str(a.get("evalwheel.app") or resource.get("service.name") or "unknown"),
        timestamp=start / 1e9 if start else 0.0,
        input=str(question),
        output=None if answer is None else str(answer),
        latency_ms=(end - start) / 1e6 if start and end >= start else None,
        error=error,
        model=a.get("gen_ai.response.model") or a.get("gen_ai.request.model"),
        prompt_version=a.get("evalwheel.prompt_version"),
        session_id=a.get("gen_ai.conversation.id") or a.get("session.id"),
        metadata=meta,
        usage=usage,
    )


def events_from_request(req: Any) -> tuple[list[Event], int]:
    """(events, spans skipped because they carry no GenAI request)."""
    out: list[Event] = []
    skipped = 0
    for rs in req.resource_spans:
        resource = _attrs(rs.resource.attributes)
        for ss in rs.scope_spans:
            for span in ss.spans:
                ev = span_to_event(span, resource)
                if ev is None:
                    skipped += 1
                else:
                    out.append(ev)
    return out, skipped
