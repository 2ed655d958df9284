"""Issue #15 item 3: setup errors exit 2 with one message before a run row exists (runs/preflight.py).

Endpoints are real loopback HTTP servers: the OpenAI-protocol test double (benchmarks/fake_openai_server.py via
tests/scripted_judge.py) answering 401, 404 for an unknown model id, 500 or slowly, and a closed port."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from typer.testing import CliRunner

from evalwheel.cli import app
from evalwheel.models.base import Message
from evalwheel.models.http import OpenAIModel
from evalwheel.runs.api import run_eval
from evalwheel.runs.engine import plan_run
from evalwheel.runs.preflight import PreflightError, _endpoint, preflight, probe
from evalwheel.runs.spec import spec_from_dict
from evalwheel.store import Store
from scripted_judge import ScriptedJudge

runner = CliRunner()


class ModelCheckingServer(ScriptedJudge):
    """Answers 404 `model not found` unless the request names the model `fake`, like hosted APIs do."""

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        if body.get("model") != "fake":
            self.requests += 1
            return web.json_response({"error": {"message": f"model {body.get('model')!r} not found"}}, status=404)
        return await super()._chat(request)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def project(tmp: Path, *, solver: dict[str, Any] | None = None, graders: list[dict[str, Any]] | None = None) -> Path:
    rows = [{"id": f"s{i}", "partition": "distribution", "input": f"q{i}", "reference": "a"} for i in range(5)]
    (tmp / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp / "rec.jsonl").write_text("".join(json.dumps({"id": r["id"], "output": "a"}) + "\n" for r in rows))
    spec = {
        "name": "preflight",
        "dataset": "data.jsonl",
        "solver": solver or {"type": "recorded", "path": "rec.jsonl"},
        "graders": graders or [{"name": "exact"}],
        "store": "runs.sqlite",
    }
    (tmp / "spec.json").write_text(json.dumps(spec))
    return tmp / "spec.json"


def no_runs(tmp: Path) -> bool:
    db = tmp / "runs.sqlite"
    return not db.exists() or Store(db).list_runs() == []


def prompt_solver(model: str) -> dict[str, Any]:
    return {"type": "prompt", "model": model, "template": "{input}"}


def test_unreachable_server_exits_2_before_a_run_exists(tmp_path: Path) -> None:
    spec = project(tmp_path, solver=prompt_solver(f"http://127.0.0.1:{closed_port()}/v1#fake"))
    res = runner.invoke(app, ["run", str(spec), "--no-progress", "--no-cache"])
    assert res.exit_code == 2, res.output
    text = " ".join(res.output.split())
    assert "preflight found a setup problem" in text and "is the server running" in text
    assert "nothing was run" in text and no_runs(tmp_path)


def test_a_refused_run_prints_its_error_and_no_progress_bar(tmp_path: Path) -> None:
    """The progress bar appears when samples start executing, so a preflight refusal is the one message shown."""
    spec = project(tmp_path, solver=prompt_solver(f"http://127.0.0.1:{closed_port()}/v1#fake"))
    res = runner.invoke(app, ["run", str(spec), "--no-cache"])  # progress bar on (the default)
    assert res.exit_code == 2, res.output
    assert "preflight found a setup problem" in res.output
    assert "━" not in res.output and "0/?" not in res.output
    ok = project(tmp_path, solver={"type": "recorded", "path": "rec.jsonl"})
    res = runner.invoke(app, ["run", str(ok), "--no-cache"])
    assert res.exit_code == 0, res.output
    assert "5/5" in res.output  # a run that executes still shows its bar


def test_unknown_grader_options_and_an_unreachable_judge_in_one_message(tmp_path: Path) -> None:
    judge_url = f"http://127.0.0.1:{closed_port()}/v1#fake"
    spec = project(
        tmp_path,
        graders=[
            {"name": "exact", "config": {"case_sensitve": True}},
            {"name": "judge.rubric", "config": {"judge_model": judge_url, "temprature": 0.5}},
        ],
    )
    res = runner.invoke(app, ["run", str(spec), "--no-progress", "--no-cache"])
    assert res.exit_code == 2, res.output
    text = " ".join(res.output.split())
    assert "preflight found setup problems" in text
    assert "graders[0] (exact)" in text and "'case_sensitve'" in text and "unknown option" in text
    assert "graders[1] (judge.rubric)" in text and "'temprature'" in text and "known options:" in text
    assert "is the server running" in text
    assert no_runs(tmp_path)


def test_an_invalid_rubric_is_a_preflight_error(tmp_path: Path) -> None:
    spec = project(tmp_path, graders=[{"name": "judge.rubric", "config": {"judge_model": "x", "scale_max": 0}}])
    res = runner.invoke(app, ["run", str(spec), "--no-progress", "--no-judges"])
    assert res.exit_code == 2 and "invalid rubric" in " ".join(res.output.split()), res.output
    assert no_runs(tmp_path)


async def test_401_from_a_judge_is_one_probe_and_exit_2(tmp_path: Path) -> None:
    async with ScriptedJudge(script=["401"] * 10) as srv:
        spec_path = project(
            tmp_path, graders=[{"name": "judge.rubric", "config": {"judge_model": f"{srv.base_url}#fake"}}]
        )
        with pytest.raises(PreflightError, match=r"(?s)HTTP 401.*check the API key"):
            await run_eval(spec_path, cache=False)
        assert srv.requests == 1  # one cheap probe, not one failing call per sample; the recorded solver: none
        assert srv.bodies == [] or srv.bodies[0]["max_tokens"] == 1
    assert no_runs(tmp_path)


async def test_404_model_id_exits_2(tmp_path: Path) -> None:
    async with ModelCheckingServer() as srv:
        spec_path = project(tmp_path, solver=prompt_solver(f"{srv.base_url}#no-such-model"))
        with pytest.raises(PreflightError, match=r"(?s)HTTP 404.*not found.*check the base URL and model id"):
            await run_eval(spec_path, cache=False)
        ok = await run_eval(project(tmp_path, solver=prompt_solver(f"{srv.base_url}#fake")), cache=False)
    assert ok.outcome.executed == 5 and ok.warnings == ()


class ArrivalLoggingServer(ModelCheckingServer):
    """Logs (arrival time, kind) per request: `probe`, `judge` (structured output) or `solver`."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.arrivals: list[tuple[float, str]] = []

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        kind = "probe" if body.get("max_tokens") == 1 else "judge" if "response_format" in body else "solver"
        self.arrivals.append((asyncio.get_running_loop().time(), kind))
        return await super()._chat(request)


async def test_a_flaky_or_slow_endpoint_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    async with ScriptedJudge(script=["500", "500"]) as srv:
        result = await run_eval(project(tmp_path, solver=prompt_solver(f"{srv.base_url}#fake")), cache=False)
    assert result.outcome.executed == 5 and len(result.warnings) == 1
    assert "preflight probe failed" in result.warnings[0] and "HTTP 500" in result.warnings[0]
    async with ScriptedJudge(script=["slow"] * 3, slow_s=1.0) as srv:
        spec = spec_from_dict(
            json.loads(project(tmp_path, solver=prompt_solver(f"{srv.base_url}#fake")).read_text()),
            base_dir=tmp_path,
        )
        plan = plan_run(spec, cache=False)
        try:
            warnings = await preflight(spec, plan.models, probe_timeout_s=0.3)
        finally:
            await plan.aclose()
    assert len(warnings) == 1 and "running anyway" in warnings[0]
    assert "timed out" in warnings[0] or "no answer within 0.3 s" in warnings[0]


class NotAnAPIServer:
    """A loopback web server that answers every POST with 200 but no chat completion: an HTML page, or JSON
    without `choices` (what a base URL pointing at a web app or a proxy's landing page gets)."""

    def __init__(self, body: str, content_type: str, status: int = 200) -> None:
        self.body, self.content_type, self.status, self.requests = body, content_type, status, 0

    async def __aenter__(self) -> str:
        async def answer(request: web.Request) -> web.Response:
            self.requests += 1
            return web.Response(text=self.body, content_type=self.content_type, status=self.status)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", answer)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc: object) -> None:
        await self.runner.cleanup()


@pytest.mark.parametrize(
    ("body", "content_type", "shown"),
    [
        ("<!doctype html><html><body>Welcome to nginx!</body></html>", "text/html", "response is not JSON"),
        ('{"status": "ok", "service": "landing"}', "application/json", "malformed response"),
    ],
)
async def test_a_200_that_is_not_a_chat_completion_is_a_setup_error(
    tmp_path: Path, body: str, content_type: str, shown: str
) -> None:
    server = NotAnAPIServer(body, content_type)
    async with server as url:
        spec_path = project(tmp_path, solver=prompt_solver(f"{url}#fake"))
        with pytest.raises(PreflightError) as info:
            await run_eval(spec_path, cache=False)
    text = " ".join(str(info.value).split())
    assert "nothing was run" in text and f"at {url}/chat/completions" in text
    assert "not with an OpenAI chat completion" in text and shown in text and "check the base URL" in text
    assert server.requests == 1 and no_runs(tmp_path)  # one probe, no retries, no run row


@pytest.mark.parametrize("status", [405, 501])
async def test_a_server_that_does_not_implement_post_is_a_setup_error_without_retries(
    tmp_path: Path, status: int
) -> None:
    """`python -m http.server` answers POST with 501, many web apps with 405: no retry can change that."""
    server = NotAnAPIServer("<html><body>Error response: Unsupported method ('POST')</body></html>", "text/html", status)
    async with server as url:
        spec_path = project(tmp_path, solver=prompt_solver(f"{url}#fake"))
        with pytest.raises(PreflightError) as info:
            await run_eval(spec_path, cache=False)
    text = " ".join(str(info.value).split())
    assert f"HTTP {status} from {url}/chat/completions" in text and "serves POST /chat/completions" in text
    assert server.requests == 1 and no_runs(tmp_path)


def test_the_embedded_model_and_cached_wrappers(tmp_path: Path) -> None:
    assert _endpoint(OpenAIModel("local", "http://127.0.0.1:1/v1", name="local")) is None  # started, not probed
    remote = OpenAIModel("fake", "http://127.0.0.1:1/v1", name="http://127.0.0.1:1/v1#fake")
    assert _endpoint(remote) is remote
    from evalwheel.models.cache import CachedModel, ModelCache

    assert _endpoint(CachedModel(remote, ModelCache(tmp_path / "c.sqlite"))) is remote


def test_a_custom_grader_can_declare_its_options() -> None:
    from evalwheel.runs.preflight import GRADER_OPTIONS, check_grader_config, declare_options

    check_grader_config("test.custom", {"anything": 1})  # undeclared: its own code validates its config
    declare_options("test.custom", ["threshold"])
    try:
        check_grader_config("test.custom", {"threshold": 0.5})
        with pytest.raises(
            ValueError, match=r"grader 'test.custom': unknown option 'treshold' \(known options: threshold\)"
        ):
            check_grader_config("test.custom", {"treshold": 0.5})
    finally:
        GRADER_OPTIONS.pop("test.custom")


async def test_no_model_call_goes_out_before_the_probes_have_passed(tmp_path: Path) -> None:
    """The probes go first: no sample's model call reaches a server before they have passed."""
    async with ArrivalLoggingServer(latency_s=0.3) as srv:
        judge_cfg = {"judge_model": f"{srv.base_url}#fake", "criterion": "Is it right?", "scale_max": 5}
        spec = project(tmp_path, solver=prompt_solver(f"{srv.base_url}#fake"), graders=[
            {"name": "judge.rubric", "config": judge_cfg}])  # fmt: skip
        result = await run_eval(spec, cache=False)
    assert result.outcome.executed == 5 and result.outcome.counts.get("error", 0) == 0
    probes = [t for t, kind in srv.arrivals if kind == "probe"]
    calls = [t for t, kind in srv.arrivals if kind != "probe"]
    assert len(probes) == 1 and len(calls) == 10  # one endpoint (same URL and model id): one probe
    assert min(calls) >= probes[0] + 0.3  # the probe's answer cannot come before the server's latency


async def test_a_judge_that_fails_its_probe_costs_one_probe_per_endpoint_and_no_run(tmp_path: Path) -> None:
    async with ArrivalLoggingServer(latency_s=0.05) as srv:
        judge_cfg = {"judge_model": f"{srv.base_url}#no-such-judge", "criterion": "Is it right?", "scale_max": 5}
        spec = project(tmp_path, solver=prompt_solver(f"{srv.base_url}#fake"), graders=[
            {"name": "judge.rubric", "config": judge_cfg}])  # fmt: skip
        with pytest.raises(PreflightError, match=r"(?s)no-such-judge.*HTTP 404"):
            await run_eval(spec, cache=False)
        await asyncio.sleep(0.2)  # a sample that had started anyway would reach the server now
    assert sorted(kind for _, kind in srv.arrivals) == ["probe", "probe"]
    assert no_runs(tmp_path)


async def test_probing_a_model_in_use_leaves_its_session_open_and_does_not_queue_behind_it() -> None:
    async with ScriptedJudge(latency_s=0.3) as srv:
        model = OpenAIModel("fake", srv.base_url, max_concurrency=1)
        try:
            busy = asyncio.ensure_future(model.generate([Message(role="user", content="hi")]))
            await asyncio.sleep(0.05)  # the model's one slot is taken, its session open
            session = model._session
            started = asyncio.get_running_loop().time()
            assert await probe(model) is None
            assert asyncio.get_running_loop().time() - started < 0.55  # did not wait for the busy call's slot
            assert (await busy).text and model._session is session and not session.closed
        finally:
            await model.aclose()
