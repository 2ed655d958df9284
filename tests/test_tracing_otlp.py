"""OpenTelemetry export against a real OTLP/HTTP receiver started in the test: an aiohttp server that decodes
`ExportTraceServiceRequest` protobufs (the protocol an OpenTelemetry Collector speaks on :4318/v1/traces).

A run of a prompt spec (target model: the scripted HTTP test double) and a judge grader must arrive as one
trace: run -> sample -> model call / grader -> judge model call, with GenAI attributes and verdicts."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from scripted_judge import ScriptedJudge  # noqa: E402


class OTLPReceiver:
    """Minimal OTLP/HTTP trace receiver (protobuf encoding), collecting every span it is sent."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.resources: list[dict[str, Any]] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def _traces(self, request: web.Request) -> web.Response:
        body = await request.read()
        if request.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        assert request.headers["Content-Type"] == "application/x-protobuf"
        message = ExportTraceServiceRequest()
        message.ParseFromString(body)
        for rs in message.resource_spans:
            self.resources.append({a.key: _value(a.value) for a in rs.resource.attributes})
            for ss in rs.scope_spans:
                for s in ss.spans:
                    self.spans.append(
                        {
                            "name": s.name,
                            "trace_id": s.trace_id.hex(),
                            "span_id": s.span_id.hex(),
                            "parent": s.parent_span_id.hex(),
                            "kind": s.kind,
                            "duration_ns": s.end_time_unix_nano - s.start_time_unix_nano,
                            "attrs": {a.key: _value(a.value) for a in s.attributes},
                        }
                    )
        return web.Response(
            body=ExportTraceServiceResponse().SerializeToString(), content_type="application/x-protobuf"
        )

    async def __aenter__(self) -> OTLPReceiver:
        app = web.Application()
        app.router.add_post("/v1/traces", self._traces)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


def _value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [_value(x) for x in v.array_value.values]
    return getattr(v, kind) if kind else None


def _write_spec(root: Path, model_url: str) -> Path:
    (root / "data.jsonl").write_text(
        json.dumps({"id": "q1", "partition": "golden", "input": "2+2?", "reference": "4"}) + "\n"
        + json.dumps({"id": "q2", "partition": "distribution", "input": "3+3?", "reference": "6"}) + "\n"
    )  # fmt: skip
    spec = root / "spec.yaml"
    spec.write_text(
        yaml.safe_dump(
            {
                "name": "arith",
                "dataset": "data.jsonl",
                "solver": {"type": "prompt", "model": f"{model_url}#target", "template": "{input}", "max_tokens": 8},
                "graders": [
                    {"name": "contains"},
                    {"name": "judge.rubric", "gate": False,
                     "config": {"judge_model": f"{model_url}#judge", "scale_max": 2, "criterion": "correct?"}},
                ],
                "gates": {"golden": None},
            }
        )
    )  # fmt: skip
    return spec


def _reply(body: dict[str, Any]) -> str:
    if body.get("response_format"):
        return json.dumps({"reason": "ok", "score": 2})
    return "4"


async def test_run_exports_a_span_tree_over_otlp_http(tmp_path: Path) -> None:
    async with OTLPReceiver() as receiver, ScriptedJudge(fn=_reply) as model:
        spec = _write_spec(tmp_path, model.base_url)
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "evalwheel.cli", "run", str(spec), "--no-progress", "--no-cache", "--json",
            "--store", str(tmp_path / "r.sqlite"), "--otel-endpoint", receiver.url,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
        )  # fmt: skip
        out, err = await proc.communicate()
        assert proc.returncode in (0, 1), err.decode()
        run_id = json.loads(out)["run_id"]
        spans = list(receiver.spans)
    by_name: dict[str, list[dict[str, Any]]] = {}
    for s in spans:
        by_name.setdefault(s["name"].split(" ")[0], []).append(s)
    [run] = by_name["evalwheel.run"]
    assert run["attrs"]["evalwheel.run.id"] == run_id and run["attrs"]["evalwheel.spec.name"] == "arith"
    assert len({s["trace_id"] for s in spans}) == 1  # one trace per run
    samples = by_name["evalwheel.sample"]
    assert {s["attrs"]["evalwheel.sample.id"] for s in samples} == {"q1", "q2"}
    assert all(s["parent"] == run["span_id"] for s in samples)
    q2 = next(s for s in samples if s["attrs"]["evalwheel.sample.id"] == "q2")
    assert q2["attrs"]["evalwheel.sample.partition"] == "distribution" and q2["attrs"]["evalwheel.verdict"] == "failed"
    sample_ids = {s["span_id"] for s in samples}
    graders = by_name["evalwheel.grader"]
    assert {g["attrs"]["evalwheel.grader.name"] for g in graders} == {"contains", "judge.rubric"}
    assert all(g["parent"] in sample_ids for g in graders) and len(graders) == 4
    chats = by_name["chat"]
    target = [c for c in chats if c["attrs"]["gen_ai.request.model"].endswith("#target")]
    judges = [c for c in chats if c["attrs"]["gen_ai.request.model"].endswith("#judge")]
    assert len(target) == 2 and len(judges) == 2
    assert all(c["parent"] in sample_ids for c in target)  # the solver's call, under its sample
    judge_graders = {g["span_id"] for g in graders if g["attrs"]["evalwheel.grader.name"] == "judge.rubric"}
    assert all(c["parent"] in judge_graders for c in judges)  # the judge's call, under its grader
    c = target[0]["attrs"]
    assert c["gen_ai.operation.name"] == "chat" and c["gen_ai.request.max_tokens"] == 8
    assert c["gen_ai.usage.input_tokens"] > 0 and c["gen_ai.usage.output_tokens"] > 0
    assert c["gen_ai.response.model"] and c["evalwheel.latency_ms"] > 0 and target[0]["kind"] == 3  # CLIENT
    assert receiver.resources[0]["service.name"] == "evalwheel"


async def test_standard_env_variables_turn_export_on(tmp_path: Path) -> None:
    async with OTLPReceiver() as receiver, ScriptedJudge(fn=_reply) as model:
        spec = _write_spec(tmp_path, model.base_url)
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("OTEL_")},
               "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url}  # fmt: skip
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "evalwheel.cli", "run", str(spec), "--no-progress", "--no-cache", "--no-judges",
            "--store", str(tmp_path / "r.sqlite"), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=env,
        )  # fmt: skip
        await proc.communicate()
        names = {s["name"].split(" ")[0] for s in receiver.spans}
    assert {"evalwheel.run", "evalwheel.sample", "evalwheel.grader", "chat"} <= names


async def test_a_collector_that_never_answers_holds_the_run_for_seconds_not_tens(tmp_path: Path) -> None:
    """Export gives up after EXPORT_TIMEOUT_S unless OTEL_EXPORTER_OTLP_TIMEOUT says otherwise (OTLP's default
    of 10 s per export held the end of every command for about 10 s when the collector hung)."""
    accepted: list[asyncio.StreamWriter] = []

    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # reads nothing, answers nothing

    server = await asyncio.start_server(hang, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with ScriptedJudge(fn=_reply) as model:
        spec = _write_spec(tmp_path, model.base_url)
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        started = asyncio.get_running_loop().time()
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "evalwheel.cli", "run", str(spec), "--no-progress", "--no-cache", "--json",
            "--store", str(tmp_path / "r.sqlite"), "--otel-endpoint", f"http://127.0.0.1:{port}",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
        )  # fmt: skip
        out, err = await proc.communicate()
        elapsed = asyncio.get_running_loop().time() - started
    server.close()
    assert proc.returncode in (0, 1), err.decode()  # the run's own verdict, whatever the collector does
    assert json.loads(out)["executed"] == 2
    assert accepted  # the exporter did try
    assert elapsed < 9.0, elapsed  # about 2 s of export timeout (twice at most: a flush and the shutdown)


def test_tracing_is_off_by_default() -> None:
    from evalwheel import tracing

    env = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("OTEL_EXPORTER_OTLP")}
    try:
        tracing.shutdown()
        assert tracing.enabled() is False
        sentinel = object()
        assert tracing.traced_model(sentinel) is sentinel
    finally:
        os.environ.update(env)
        tracing.shutdown()
