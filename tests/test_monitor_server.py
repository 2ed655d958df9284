"""The ingest server as a real uvicorn process on a loopback port, driven over HTTP and by the SDK."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from evalwheel.monitor import Monitor
from evalwheel.monitor.queue import MonitorStore
from test_monitor_helpers import monitor_server


def post(
    url: str, body: bytes | dict[str, Any] | list[Any], *, ctype: str = "application/json", token: str | None = None
) -> tuple[int, bytes]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": ctype}, method="POST")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def get(url: str, token: str | None = None) -> tuple[int, str]:
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def ev(i: int, **kw: Any) -> dict[str, Any]:
    return {"request_id": f"e{i}", "app": "shop", "input": f"question {i}", "output": "answer", **kw}


def test_events_are_stored_before_202_and_bad_input_is_refused(tmp_path: Path) -> None:
    store = str(tmp_path / "m.sqlite")
    with monitor_server(store, "--no-worker", "--max-body-bytes", "4096") as (url, _):
        assert post(url + "/v1/events", ev(1))[0] == 202
        assert post(url + "/v1/events", {"events": [ev(2), ev(3)]})[0] == 202
        assert post(url + "/v1/events", [ev(4)])[0] == 202
        code, body = post(url + "/v1/events", {"events": [ev(5), {"app": "shop", "input": "x"}, ev(6, latency_ms=-1)]})
        assert code == 422
        fields = {d["field"] for d in json.loads(body)["detail"]}
        assert fields == {"events[1].request_id", "events[2].latency_ms"}
        assert post(url + "/v1/events", b"{not json")[0] == 422
        code, body = post(url + "/v1/events", {"events": [ev(i, input="x" * 100) for i in range(100, 200)]})
        assert code == 413
        code, text = get(url + "/metrics")
        assert code == 200
        assert "evalwheel_events_accepted_total 4" in text
        assert 'evalwheel_events_refused_total{reason="invalid_422"} 2' in text
        assert 'evalwheel_events_refused_total{reason="too_large_413"} 1' in text
        assert get(url + "/healthz")[0] == 200
    st = MonitorStore(store)
    assert sorted(st.get_events([f"e{i}" for i in range(10)])) == ["e1", "e2", "e3", "e4"]  # nothing of the bad batch


@pytest.mark.slow  # several server processes / a 10,000-event burst: ~5 s
def test_sigterm_stops_the_server_with_its_store_in_one_file(tmp_path: Path) -> None:
    """A server stopped by SIGTERM (a service manager, a container stop) closes its store before it dies."""
    db = tmp_path / "mon.sqlite"
    with monitor_server(str(db)) as (url, proc):
        assert post(url + "/v1/events", ev(1))[0] == 202
        assert db.with_name(db.name + "-wal").exists()  # the open store writes ahead
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
    assert not db.with_name(db.name + "-wal").exists() and not db.with_name(db.name + "-shm").exists()


def test_token_required_beyond_loopback_and_401_without_it(tmp_path: Path) -> None:
    store = str(tmp_path / "m.sqlite")
    out = subprocess.run(
        [sys.executable, "-m", "evalwheel.cli", "monitor", "serve", "--store", store, "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "200"},
    )
    assert out.returncode == 2 and "refusing to serve without a token" in out.stderr
    with monitor_server(store, "--no-worker", "--token", "s3cret", token="s3cret") as (url, _):
        assert post(url + "/v1/events", ev(1))[0] == 401
        assert get(url + "/metrics")[0] == 401
        assert get(url + "/healthz")[0] == 401
        assert post(url + "/v1/events", ev(1), token="wrong")[0] == 401
        assert post(url + "/v1/events", ev(1), token="s3cret")[0] == 202


@pytest.mark.slow  # several server processes / a 10,000-event burst: ~5 s
def test_acknowledged_events_survive_kill_9_and_restart(tmp_path: Path) -> None:
    store = str(tmp_path / "m.sqlite")
    with monitor_server(store, "--no-worker") as (url, proc):
        for i in range(50):
            assert post(url + "/v1/events", ev(i))[0] == 202
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    with monitor_server(store, "--no-worker") as (url, _):
        assert post(url + "/v1/events", ev(50))[0] == 202
        assert post(url + "/v1/events", ev(0))[0] == 202  # a retried duplicate is accepted, not stored twice
    st = MonitorStore(store)
    assert st.counts()["events"] == 51


@pytest.mark.slow  # several server processes / a 10,000-event burst: ~5 s
def test_burst_is_accepted_or_refused_with_429_and_the_sdk_loses_nothing(tmp_path: Path) -> None:
    store = str(tmp_path / "m.sqlite")
    with monitor_server(store, "--no-worker", "--max-pending", "150") as (url, _):
        monitors = [Monitor(url, "burst", batch_size=100, flush_interval_s=0.01) for _ in range(4)]
        per = 2500

        def fire(k: int) -> None:
            for i in range(per):
                monitors[k].log(request_id=f"b{k}-{i}", input="burst question", output="ok")

        threads = [threading.Thread(target=fire, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for m in monitors:
            assert m.flush(120)
            m.close()
        stats = [m.stats() for m in monitors]
        assert sum(s["sent"] for s in stats) == 4 * per
        assert sum(s["dropped_buffer_full"] + s["dropped_refused"] for s in stats) == 0
        _code, text = get(url + "/metrics")
        refused = sum(s["refused_429"] for s in stats)
        assert 'evalwheel_events_refused_total{reason="busy_429"}' in text
    assert MonitorStore(store).counts(app="burst")["events"] == 4 * per
    assert refused > 0, "the burst never hit the pending limit; the test did not test back-pressure"


def _otlp_request() -> Any:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
    from opentelemetry.proto.resource.v1.resource_pb2 import Resource
    from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

    def kv(k: str, v: Any) -> KeyValue:
        val = AnyValue(int_value=v) if isinstance(v, int) else AnyValue(string_value=v)
        return KeyValue(key=k, value=val)

    chat = Span(
        trace_id=bytes(range(16)),
        span_id=bytes(range(8)),
        name="chat gpt-x",
        start_time_unix_nano=1_700_000_000_000_000_000,
        end_time_unix_nano=1_700_000_000_250_000_000,
        attributes=[
            kv("gen_ai.operation.name", "chat"),
            kv("gen_ai.request.model", "gpt-x"),
            kv(
                "gen_ai.input.messages",
                json.dumps([{"role": "user", "parts": [{"type": "text", "content": "Is SSO on Pro?"}]}]),
            ),
            kv(
                "gen_ai.output.messages",
                json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": "Yes."}]}]),
            ),
            kv("gen_ai.usage.input_tokens", 12),
            kv("gen_ai.usage.output_tokens", 3),
            kv("gen_ai.conversation.id", "conv-1"),
        ],
    )
    failed = Span(
        trace_id=bytes(range(16)),
        span_id=bytes(range(1, 9)),
        name="chat",
        start_time_unix_nano=1_700_000_001_000_000_000,
        end_time_unix_nano=1_700_000_002_000_000_000,
        attributes=[kv("gen_ai.prompt", "old-style prompt")],
        status=Status(code=2, message="rate limited"),
    )
    http_span = Span(
        trace_id=bytes(range(16)), span_id=bytes(range(2, 10)), name="GET /", attributes=[kv("http.method", "GET")]
    )
    return ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=Resource(attributes=[kv("service.name", "support-bot")]),
                scope_spans=[ScopeSpans(spans=[chat, failed, http_span])],
            )
        ]
    )


def test_otlp_http_protobuf_and_json_spans_become_events(tmp_path: Path) -> None:
    from google.protobuf import json_format

    store = str(tmp_path / "m.sqlite")
    req = _otlp_request()
    with monitor_server(store, "--no-worker") as (url, _):
        code, _body = post(url + "/v1/traces", req.SerializeToString(), ctype="application/x-protobuf")
        assert code == 200
        as_json = json_format.MessageToDict(req)
        for span in as_json["resourceSpans"][0]["scopeSpans"][0]["spans"]:  # OTLP/JSON ids are hex
            import base64

            span["traceId"] = base64.b64decode(span["traceId"]).hex()
            span["spanId"] = "ff" + base64.b64decode(span["spanId"]).hex()[2:]
        code, _body = post(url + "/v1/traces", as_json)
        assert code == 200
        assert post(url + "/v1/traces", b"\x00garbage", ctype="application/x-protobuf")[0] == 400
    st = MonitorStore(store)
    assert st.counts(app="support-bot")["events"] == 4  # 2 GenAI spans x 2 encodings; the HTTP span is skipped
    tid = bytes(range(16)).hex()
    got = st.get_events([f"{tid}:{bytes(range(8)).hex()}", f"{tid}:{bytes(range(1, 9)).hex()}"])
    chat, failed = got[f"{tid}:{bytes(range(8)).hex()}"], got[f"{tid}:{bytes(range(1, 9)).hex()}"]
    assert (chat.input, chat.output, chat.model, chat.session_id) == ("Is SSO on Pro?", "Yes.", "gpt-x", "conv-1")
    assert chat.latency_ms == 250.0 and chat.usage is not None and chat.usage.prompt_tokens == 12
    assert failed.input == "old-style prompt" and failed.error == "rate limited"


def test_sdk_never_raises_and_counts_what_it_drops(tmp_path: Path) -> None:
    m = Monitor("http://127.0.0.1:9", "app", max_buffer=10, max_retry_s=0.2)  # nothing listens on port 9
    results = [m.log(input=f"q{i}") for i in range(15)]
    assert results.count(False) == 5 and m.stats()["dropped_buffer_full"] == 5
    m.close(timeout=10)
    assert m.stats()["dropped_refused"] == 10  # gave up after max_retry_s, and said so

    @m.trace
    def sync_fn(question: str) -> str:
        return question.upper()

    assert sync_fn("hi") == "HI"  # a closed monitor still never breaks the host function


def test_sdk_decorator_logs_calls_through_a_real_server(tmp_path: Path) -> None:
    import asyncio

    store = str(tmp_path / "m.sqlite")
    with monitor_server(store, "--no-worker") as (url, _):
        m = Monitor(url, "deco", prompt_version="v7")

        @m.trace(session_id="s1")
        async def answer(question: str, style: str = "short") -> str:
            await asyncio.sleep(0.001)
            return f"answer to {question}"

        @m.trace
        def broken(question: str) -> str:
            raise RuntimeError("model down")

        assert asyncio.run(answer("what is pro?")) == "answer to what is pro?"
        with contextlib.suppress(RuntimeError):
            broken("x")
        assert m.flush(30)
        m.close()
    st = MonitorStore(store)
    evs = list(st.get_events([r for r in _all_ids(st)]).values())
    by_input = {e.input: e for e in evs}
    assert by_input["what is pro?"].output == "answer to what is pro?"
    assert by_input["what is pro?"].prompt_version == "v7" and by_input["what is pro?"].session_id == "s1"
    assert by_input["x"].error == "RuntimeError: model down" and by_input["x"].output is None


def _all_ids(st: MonitorStore) -> list[str]:
    from sqlalchemy import select

    from evalwheel.monitor.schema import events

    with st.engine.connect() as conn:
        return [r for (r,) in conn.execute(select(events.c.request_id))]
