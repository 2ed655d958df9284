"""Leftovers of the audit, each pinned by a test that failed before its fix:

1. the LLM-judged Study Mode graders never ask the judge about a session without a non-blank tutor turn;
2. `evalwheel serve` gives its /study chat a tutor model (`--study-model`) and a per-request time limit
   (`--timeout`), so a slow model is cut and reported to the learner instead of holding the request;
3. a `min_agreement` gate fails on a calibration record whose human labels use one class, whatever its metric.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from evalwheel.graders import GraderContext, get_grader
from evalwheel.graders.pedagogy.llm import STUDYMODE_RUBRICS
from evalwheel.graders.pedagogy.session import NO_TUTOR_REASON
from evalwheel.types import Output, Sample, Score, Session, Turn
from scripted_judge import FAST, ScriptedJudge, judge

runner = CliRunner()

# ------------------------------------------------------------------ 1. no judge call without a tutor turn

NO_TUTOR_SESSIONS = {
    "blank-replies": [
        Turn(role="user", content="What does `print(1/0)` do in Python?"),
        Turn(role="assistant", content="   \n "),
        Turn(role="user", content="hello?"),
        Turn(role="assistant", content=""),
    ],
    "learner-only": [Turn(role="user", content="Explain recursion with an example please.")],
}


def _sample(kind: str) -> Sample:
    session = Session(session_id=f"s-{kind}", domain="python", prompt="help", trajectory=NO_TUTOR_SESSIONS[kind])
    return Sample(id=kind, input=session, reference="ZeroDivisionError")


def _no_tutor_output(kind: str) -> list[tuple[Sample, Output]]:
    """The recorded session, and a replay whose solver produced only blank tutor turns."""
    recorded = _sample(kind)
    good = Session(
        session_id="s-good",
        domain="python",
        prompt="help",
        trajectory=[Turn(role="user", content="hi"), Turn(role="assistant", content="What have you tried?")],
    )
    replayed = Output(trajectory=NO_TUTOR_SESSIONS[kind])
    return [(recorded, Output()), (Sample(id="replay", input=good), replayed)]


LLM_SESSION_GRADERS = [*sorted(STUDYMODE_RUBRICS), "studymode.accuracy_judged", "studymode.llm_fallback"]


@pytest.mark.parametrize("kind", sorted(NO_TUTOR_SESSIONS))
@pytest.mark.parametrize("name", LLM_SESSION_GRADERS)
async def test_llm_session_graders_do_not_ask_the_judge_without_a_tutor_turn(name: str, kind: str) -> None:
    async with ScriptedJudge() as srv:  # schema-filled valid answers: a call would score
        for sample, output in _no_tutor_output(kind):
            config: dict[str, Any] = {"judge_model": judge(srv), "fallback_threshold": 1.0, "fallback_below": 1.0}
            result = await get_grader(name)(sample, output, GraderContext(config=config))
            scores = result if isinstance(result, list) else [result]
            assert scores and all(isinstance(s, Score) for s in scores)
            for s in scores:
                assert s.value is None and s.passed is None, (name, s)
                assert s.reason == NO_TUTOR_REASON, (name, s.reason)
        assert srv.requests == 0, f"{name} asked the judge about a session with no tutor turn"


async def test_llm_session_graders_still_ask_the_judge_when_the_tutor_spoke() -> None:
    """The guard is only for empty sessions: one non-blank tutor turn is graded by the judge as before."""
    session = Session(
        session_id="s-one",
        domain="python",
        prompt="help",
        trajectory=[Turn(role="user", content="hi"), Turn(role="assistant", content="   "),
                    Turn(role="user", content="?"), Turn(role="assistant", content="What have you tried so far?")],
    )  # fmt: skip
    async with ScriptedJudge(reply=json.dumps({"reason": "fine", "score": 1})) as srv:
        s = await get_grader("studymode.clarity")(Sample(id="x", input=session), Output(),
                                                  GraderContext(config={"judge_model": judge(srv)}))  # fmt: skip
        assert srv.requests == 1
    assert isinstance(s, Score) and s.value == 1.0


# ------------------------------------------------------------------ 2. serve: the /study tutor model and timeout


@pytest.fixture
def hanging_server() -> Iterator[str]:
    """The fake OpenAI-compatible server (benchmarks/fake_openai_server.py) answering nothing, ever, on a
    thread of its own (the TestClient runs the app on another loop); yields its model name for get_model."""
    loop = asyncio.new_event_loop()
    srv = ScriptedJudge(hang_rate=1.0)
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(srv.start(), loop).result(10)
    try:
        yield f"{srv.base_url}#fake-tutor"
    finally:
        asyncio.run_coroutine_threadsafe(srv.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def _chat(client: TestClient, text: str = "Why does range(3) stop at 2?") -> list[dict[str, Any]]:
    learner = client.post("/study/api/profile", json={"name": "Ana", "level": "beginner"}).json()["learner_id"]
    session = client.post(f"/study/api/learners/{learner}/sessions", json={}).json()["session_id"]
    r = client.post(f"/study/api/sessions/{session}/messages", json={"content": text, "study_mode": True})
    assert r.status_code == 200, r.text
    return [json.loads(line) for line in r.text.splitlines() if line.strip()]


def test_serve_study_chat_cuts_a_slow_tutor_at_the_timeout(
    tmp_path: Path, hanging_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from evalwheel.models import http
    from evalwheel.web.app import create_app

    monkeypatch.setenv("EVALWHEEL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("EVALWHEEL_STUDY_MODEL", "openai:should-not-be-used")
    monkeypatch.setattr(http, "RetryPolicy", lambda: FAST)  # two quick attempts, not eight with backoff
    app = create_app(tmp_path / "ws.sqlite", study_model=hanging_server, study_timeout=0.3)
    with TestClient(app) as client:
        started = time.perf_counter()
        events = _chat(client)
        elapsed = time.perf_counter() - started
        service = app.state.study_service
    assert service.model_name == hanging_server  # --study-model wins over the environment variable
    assert "error" in events[-1] and "could not answer" in events[-1]["error"], events
    assert not any("done" in e for e in events)
    assert elapsed < 10.0, elapsed


def test_serve_study_model_falls_back_to_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from evalwheel.web.app import create_app

    monkeypatch.setenv("EVALWHEEL_STUDY_MODEL", "http://127.0.0.1:9/v1#from-env")
    app = create_app(tmp_path / "ws.sqlite")
    with TestClient(app) as client:
        client.post("/study/api/profile", json={"name": "Bo"})
        service = app.state.study_service
    assert service.model_name == "http://127.0.0.1:9/v1#from-env" and service.timeouts is None


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port nobody can bind: a serve that gets past its options stops at the bind (exit 2, "cannot listen")."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        yield busy.getsockname()[1]


def test_serve_validates_study_model_and_timeout_at_start_up(tmp_path: Path, busy_port: int) -> None:
    from evalwheel.cli import app

    base = ["serve", "--create-store", "--store", str(tmp_path / "s.sqlite"), "--port", str(busy_port)]
    bad = runner.invoke(app, [*base, "--study-model", "gpt-4o"])
    assert bad.exit_code == 2 and "--study-model" in bad.output and "gpt-4o" in bad.output, bad.output
    assert not (tmp_path / "s.sqlite").exists()  # refused before anything was started or created
    zero = runner.invoke(app, [*base, "--timeout", "0"])
    assert zero.exit_code == 2 and "--timeout" in zero.output, zero.output
    good = runner.invoke(app, [*base, "--study-model", "http://127.0.0.1:9/v1#tutor", "--timeout", "30"])
    assert good.exit_code == 2 and "cannot listen" in good.output, good.output  # accepted; only the bind failed


def test_readme_documents_the_serve_study_options() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert "--study-model" in readme and "EVALWHEEL_STUDY_MODEL" in readme
    assert "serve" in readme[readme.index("--study-model") - 400 : readme.index("--study-model") + 400]


# ------------------------------------------------------------------ 3. min_agreement on one-class human labels


def _calibrate_one_class(tmp_path: Path, outputs: list[str]) -> Path:
    """Calibrate `contains` on items the humans all labelled pass, through the real path; the record's file."""
    from evalwheel.calibration.generic import calibrate_grader
    from evalwheel.calibration.labels import load_labels
    from evalwheel.calibration.record import dataset_ref, record_from_grader, write_record

    labels = tmp_path / f"labels-{len(outputs)}.jsonl"
    rows = [{"id": str(i), "input": "capital?", "output": o, "reference": "Paris", "label": True}
            for i, o in enumerate(outputs)]  # fmt: skip
    labels.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result = asyncio.run(calibrate_grader(load_labels(labels), "contains", {}))
    return write_record(record_from_grader(result, dataset_ref(labels, len(rows))), tmp_path / f"rec-{len(rows)}.json")


def _gate(record: Path, metric: str, minimum: float = 0.7) -> Any:
    from evalwheel.gates import evaluate_gates, judge_requirements
    from evalwheel.gates.config import GateConfig
    from evalwheel.gates.summary import summarize

    reqs = judge_requirements(
        [{"name": "contains", "min_agreement": minimum, "metric": metric, "calibration": str(record)}]
    )
    from evalwheel.types import SampleResult

    ok = SampleResult(run_id="r", sample_id="s", partition="golden", status="passed",
                      scores=[Score(name="contains", passed=True)], output=Output(text="Paris"))  # fmt: skip
    report = evaluate_gates(summarize([ok]), GateConfig(), judge_requirements=reqs)
    return next(g for g in report.gates if g.name == "judge:contains"), report


@pytest.mark.parametrize("metric", ["accuracy", "macro_f1", "kappa"])
def test_min_agreement_fails_when_the_human_labels_use_one_class(tmp_path: Path, metric: str) -> None:
    from evalwheel.gates import ExitCode

    same = _calibrate_one_class(tmp_path, ["Paris"] * 6)  # humans and grader: pass, pass, ... (kappa undefined)
    mixed = _calibrate_one_class(tmp_path, ["Paris"] * 9 + ["London"])  # humans all pass, grader 9 of 10
    for record in (same, mixed):
        g, report = _gate(record, metric)
        assert g.passed is False and report.exit_code == ExitCode.GATE_FAILED, (record.name, metric, g.message)
        assert "one class" in g.message and "'pass'" in g.message, g.message


def test_old_records_without_the_label_counts_still_load_and_gate(tmp_path: Path) -> None:
    from evalwheel.calibration.record import load_calibration_record

    same = _calibrate_one_class(tmp_path, ["Paris"] * 6)
    raw = json.loads(same.read_text(encoding="utf-8"))
    raw.pop("gold_labels", None)
    raw.pop("details", None)  # an old, terse record: only kappa_note says the labels had one class
    old = tmp_path / "old.json"
    old.write_text(json.dumps(raw), encoding="utf-8")
    assert load_calibration_record(old).gold_labels is None
    g, _ = _gate(old, "accuracy")
    assert g.passed is False and "one class" in g.message


def test_two_class_human_labels_still_gate_on_their_figure(tmp_path: Path) -> None:
    from evalwheel.calibration.generic import calibrate_grader
    from evalwheel.calibration.labels import load_labels
    from evalwheel.calibration.record import dataset_ref, record_from_grader, write_record

    rows = [{"id": str(i), "input": "q", "output": o, "reference": "Paris", "label": lab}
            for i, (o, lab) in enumerate([("Paris", True)] * 5 + [("London", False)] * 5)]  # fmt: skip
    labels = tmp_path / "two.jsonl"
    labels.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result = asyncio.run(calibrate_grader(load_labels(labels), "contains", {}))
    rec = record_from_grader(result, dataset_ref(labels, len(rows)))
    assert rec.gold_labels == {"fail": 5, "pass": 5}
    path = write_record(rec, tmp_path / "two.json")
    for metric in ("accuracy", "kappa"):
        g, _ = _gate(path, metric)
        assert g.passed is True and g.measured == 1.0, g.message
