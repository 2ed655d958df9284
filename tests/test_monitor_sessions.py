"""Chat sessions in production: turn events assemble into a Session that `studymode.fidelity` grades, sessions
close explicitly or after the idle timeout, and `evalwheel chat --monitor URL` logs its session."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from evalwheel.datasets.sessions import load_sessions
from evalwheel.graders.pedagogy.session import evaluate_session
from evalwheel.monitor.config import MonitorConfig
from evalwheel.monitor.events import Event
from evalwheel.monitor.queue import Decision, MonitorStore
from evalwheel.monitor.service import close_idle_sessions
from evalwheel.monitor.worker import Worker
from evalwheel.studymode import cli as studymode_cli
from test_monitor_helpers import monitor_server
from test_studymode_chat import ScriptedModelDouble, patch_model

SESSION_CFG = {"session_graders": [{"name": "studymode.fidelity", "gate_scores": ["pedagogical_fidelity"]}]}


def _turn_events(sessions_dir: Path) -> tuple[list[Event], object]:
    session = load_sessions([sessions_dir]).sessions[0]
    evs: list[Event] = []
    pending = None
    turn = 0
    for t in session.trajectory:
        if t.role == "user":
            pending = t.content
        elif t.role == "assistant" and pending is not None:
            evs.append(
                Event(
                    request_id=f"{session.session_id}#{turn}",
                    app="tutor",
                    session_id=session.session_id,
                    turn=turn,
                    input=pending,
                    output=t.content,
                    timestamp=1000.0 + turn,
                    metadata={"domain": session.domain},
                )
            )
            turn += 1
            pending = None
    return evs, session


def test_a_closed_session_is_graded_whole_like_offline(tmp_path: Path, sessions_dir: Path, store_url: str) -> None:
    evs, session = _turn_events(sessions_dir)
    st = MonitorStore(store_url)
    st.enqueue([(e, Decision("t", False, 0.0, "stratum")) for e in reversed(evs)])  # order does not matter
    close = Event(
        request_id="close-1",
        app="tutor",
        session_id=evs[0].session_id,
        input="(closed)",
        timestamp=2000.0,
        metadata={"session_end": True, "domain": evs[0].metadata["domain"]},
    )
    st.enqueue([(close, Decision("t", True, 1.0, "always:session_end"))])
    w = Worker(st, MonitorConfig.model_validate(SESSION_CFG))
    assert asyncio.run(w.drain()) == 1
    res = st.result_for(["close-1"])["close-1"]
    scores = {s["name"]: s for s in json.loads(res["scores_json"])}
    offline = evaluate_session(session)  # type: ignore[arg-type]
    assert scores["pedagogical_fidelity"]["value"] == pytest.approx(offline.fidelity)
    assert {c.name for c in offline.checks} <= set(scores)


def test_idle_sessions_get_a_close_event_once(tmp_path: Path, sessions_dir: Path, store_url: str) -> None:
    evs, _ = _turn_events(sessions_dir)
    st = MonitorStore(store_url)
    st.enqueue([(e, Decision("t", False, 0.0, "stratum")) for e in evs])
    assert close_idle_sessions(st, idle_s=60, now=1000.0) == 0  # still active
    assert close_idle_sessions(st, idle_s=60, now=10_000.0) == 1
    assert close_idle_sessions(st, idle_s=60, now=20_000.0) == 0  # closed already
    w = Worker(st, MonitorConfig.model_validate(SESSION_CFG))
    asyncio.run(w.drain())
    assert w.stats.by_status.get("passed", 0) + w.stats.by_status.get("failed", 0) == 1


def test_chat_logs_its_session_to_the_monitor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = str(tmp_path / "m.sqlite")
    model = ScriptedModelDouble(["What have you tried so far?", "Good. What does range(3) give you?"])
    patch_model(monkeypatch, model)
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command("chat")(studymode_cli.chat_command)
    app.command("noop")(lambda: None)
    with monitor_server(store, "--no-worker") as (url, _):
        res = CliRunner().invoke(
            app,
            [
                "chat",
                "--model",
                "local-small",
                "--out",
                str(tmp_path / "c.json"),
                "--session-id",
                "chat-1",
                "--monitor",
                url,
            ],
            input="how do for loops work?\ni tried for i in range(3)\n/quit\n",
        )
        assert res.exit_code == 0, res.output
        assert "logged the session" in res.output and "3 event(s)" in res.output
    st = MonitorStore(store)
    got = st.session_events("studymode-chat", "chat-1")
    assert sorted(e.turn for e in got if e.turn is not None) == [0, 1, 2]
    assert any(e.metadata.get("session_end") for e in got)
    assert {e.prompt_version for e in got} == {"overlay:v2"}
