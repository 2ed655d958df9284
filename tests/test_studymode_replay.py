"""Replay across arms: ordering, history, resume, atomic artifacts, grading and the CLI wiring.

Most tests use `ScriptedModelDouble`, an in-process TEST DOUBLE of the Model protocol that returns
canned replies and records every call; it is not a model and says nothing about tutoring quality.
The `slow` tests run a real replay on the embedded `local-small` model and assert only shapes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from evalwheel.models.base import Completion, GenerateConfig, Message, Model, ModelConfigError, ModelError, Schema
from evalwheel.studymode import cli as studymode_cli
from evalwheel.studymode.prompting import (
    BASE_SYSTEM_PROMPT,
    Arm,
    ArmError,
    available_overlays,
    build_system_message,
    load_overlay,
    parse_arms,
)
from evalwheel.studymode.replay import (
    REPORT_NAME,
    ReplayArtifact,
    ReplayEvent,
    ReplayReport,
    artifact_path,
    replay_sessions,
    truncate,
)
from evalwheel.types import LearnerProfile, Session, Turn, Usage

BASE, V1, V2, HUMAN = (
    Arm(kind="base"),
    Arm(kind="overlay", overlay_version="v1"),
    Arm(kind="overlay", overlay_version="v2"),
    Arm(kind="human"),
)


class ScriptedModelDouble:
    """TEST DOUBLE for the Model protocol: returns canned replies in order, records every call.

    `replies` are consumed in order (cycled when exhausted); `fail_on` makes the call whose last user
    message contains that text raise ModelError; `delay_s` yields to the event loop so concurrent
    sessions interleave; `config_error` makes every call raise ModelConfigError (unreachable server).
    """

    def __init__(
        self,
        replies: Sequence[str] = ("What do you already know about this?",),
        name: str = "scripted-double",
        delay_s: float = 0.0,
        fail_on: str | None = None,
        config_error: bool = False,
    ) -> None:
        self.name = name
        self.replies = list(replies)
        self.delay_s = delay_s
        self.fail_on = fail_on
        self.config_error = config_error
        self.calls: list[list[Message]] = []
        self.closed = False
        self._next = 0

    def _reply(self, messages: Sequence[Message]) -> str:
        if self.config_error:
            raise ModelConfigError("server unreachable at http://127.0.0.1:9 (test double)")
        last_user = next(m.content for m in reversed(messages) if m.role == "user")
        if self.fail_on is not None and self.fail_on in last_user:
            raise ModelError("scripted failure")
        self.calls.append(list(messages))
        text = self.replies[self._next % len(self.replies)]
        self._next += 1
        return text

    async def generate(
        self, messages: Sequence[Message], config: GenerateConfig | None = None, schema: Schema | None = None
    ) -> Completion:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        text = self._reply(messages)
        return Completion(
            text=text, usage=Usage(prompt_tokens=10, completion_tokens=5), latency_ms=2.0, model=self.name
        )

    async def stream(self, messages: Sequence[Message], config: GenerateConfig | None = None) -> AsyncIterator[str]:
        text = self._reply(messages)
        for word in text.split(" "):
            yield word + " "

    async def aclose(self) -> None:
        self.closed = True


def make_session(sid: str = "s1", learner_turns: int = 3, learner: LearnerProfile | None = None) -> Session:
    traj: list[Turn] = []
    for i in range(learner_turns):
        traj.append(Turn(role="user", content=f"learner message {i}"))
        traj.append(Turn(role="assistant", content=f"recorded tutor reply {i}"))
    return Session(
        session_id=sid, domain="programming.python", prompt="help me with loops", learner=learner, trajectory=traj
    )


run = asyncio.run


# ------------------------------------------------------------------------------------------- prompting


def test_overlays_are_shipped_and_versioned() -> None:
    assert available_overlays()[:2] == ["v1", "v2"]
    v1, v2 = load_overlay("v1"), load_overlay("2")
    assert v1 and v2 and v1 != v2
    for step in ("DIAGNOSE", "MICRO-EXPLAIN", "GUIDE", "CHECK", "PRACTICE", "RECAP"):
        assert step in v2
    with pytest.raises(ArmError, match="available: v1, v2"):
        load_overlay("v99")


def test_parse_arms_and_bad_names() -> None:
    assert parse_arms("base, overlay:v2,human,base") == [BASE, V2, HUMAN]
    assert [a.name for a in parse_arms("overlay:1")] == ["overlay:v1"]
    with pytest.raises(ArmError, match="unknown arm 'robot'"):
        parse_arms("base,robot")
    with pytest.raises(ArmError, match="unknown overlay version"):
        parse_arms("overlay:v7")


def test_system_message_has_overlay_profile_and_memory() -> None:
    learner = LearnerProfile(
        name="Kofi", level="beginner", goals=["finish the loops lab"], known_concepts=["print", "for"]
    )
    msg = build_system_message(V2, learner, "- Earlier session on lists")
    assert msg is not None
    assert msg.startswith(load_overlay("v2"))
    for part in ("Kofi", "beginner", "finish the loops lab", "Already knows: print, for", "Earlier session on lists"):
        assert part in msg
    base = build_system_message(BASE, learner)
    assert base is not None and base.startswith(BASE_SYSTEM_PROMPT) and "DIAGNOSE" not in base
    assert build_system_message(HUMAN, learner) is None


# ------------------------------------------------------------------------------------------- replay


def test_replay_regenerates_in_order_with_regenerated_history(tmp_path: Path) -> None:
    model = ScriptedModelDouble(replies=["R0", "R1", "R2"])
    session = make_session(learner=LearnerProfile(level="beginner"))
    report = run(replay_sessions([session], [V2], model, tmp_path))
    assert [r.status for r in report.results] == ["ok"]
    # The model sees the regenerated conversation so far, never the recorded tutor.
    assert len(model.calls) == 3
    third = model.calls[2]
    assert third[0].role == "system" and "beginner" in third[0].content
    assert [(m.role, m.content) for m in third[1:]] == [
        ("user", "learner message 0"),
        ("assistant", "R0"),
        ("user", "learner message 1"),
        ("assistant", "R1"),
        ("user", "learner message 2"),
    ]
    assert not any("recorded tutor" in m.content for call in model.calls for m in call)


def test_artifact_contents(tmp_path: Path) -> None:
    model = ScriptedModelDouble(replies=["A", "B", "C"])
    session = make_session()
    run(replay_sessions([session], [V2, HUMAN], model, tmp_path))
    art = ReplayArtifact.model_validate_json(artifact_path(tmp_path, "s1", V2).read_text())
    assert art.session_id == "s1" and art.arm == "overlay:v2" and art.overlay_version == "v2"
    assert art.model == "scripted-double" and art.instructions == build_system_message(V2, None)
    assert art.original_trajectory == session.trajectory
    assert [t.content for t in art.regenerated_trajectory if t.role == "assistant"] == ["A", "B", "C"]
    assert all("regenerated" in t.tags for t in art.regenerated_trajectory if t.role == "assistant")
    assert [t.content for t in art.regenerated_trajectory if t.role == "user"] == [
        t.content for t in session.trajectory if t.role == "user"
    ]
    assert art.usage == Usage(prompt_tokens=30, completion_tokens=15)
    assert art.calls == 3 and art.turn_latency_ms == [2.0, 2.0, 2.0] and art.model_latency_ms == 6.0
    assert art.started_at <= art.finished_at and art.complete
    assert art.generate_config is not None and art.generate_config["temperature"] == 0.0
    raw = json.loads(artifact_path(tmp_path, "s1", V2).read_text())
    for key in (
        "session_id",
        "arm",
        "overlay_version",
        "model",
        "instructions",
        "original_trajectory",
        "regenerated_trajectory",
        "started_at",
        "finished_at",
        "usage",
        "model_latency_ms",
    ):
        assert key in raw
    # The human arm copies the recorded tutor and calls no model.
    human = ReplayArtifact.model_validate_json(artifact_path(tmp_path, "s1", HUMAN).read_text())
    assert human.model is None and human.instructions is None and human.calls == 0
    assert human.regenerated_trajectory == session.trajectory
    assert len(model.calls) == 3


def test_human_only_needs_no_model(tmp_path: Path) -> None:
    report = run(replay_sessions([make_session()], [HUMAN], None, tmp_path))
    assert report.model is None and report.results[0].status == "ok"
    with pytest.raises(ValueError, match="model is required"):
        run(replay_sessions([make_session()], [BASE], None, tmp_path))


def test_max_turns_and_consecutive_learner_messages(tmp_path: Path) -> None:
    traj = [
        Turn(role="user", content="part one"),
        Turn(role="user", content="part two"),
        Turn(role="assistant", content="reply"),
        Turn(role="user", content="next"),
        Turn(role="assistant", content="reply 2"),
        Turn(role="user", content="last, unanswered in the recording"),
    ]
    session = Session(session_id="s", domain="d", prompt="p", trajectory=traj)
    assert truncate(traj, 1) == traj[:3]
    model = ScriptedModelDouble(replies=["X"])
    run(replay_sessions([session], [BASE], model, tmp_path))
    # Two learner messages in a row get one reply; a trailing learner turn still gets one.
    assert len(model.calls) == 3
    art = ReplayArtifact.model_validate_json(artifact_path(tmp_path, "s", BASE).read_text())
    assert [t.role for t in art.regenerated_trajectory] == [
        "user",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
        "assistant",
    ]
    model2 = ScriptedModelDouble(replies=["Y"])
    run(replay_sessions([session], [BASE], model2, tmp_path / "short", max_turns=2))
    short = ReplayArtifact.model_validate_json(artifact_path(tmp_path / "short", "s", BASE).read_text())
    assert len(model2.calls) == 2 and short.max_turns == 2 and short.original_trajectory == traj[:5]


def test_sessions_run_concurrently_turns_stay_in_order(tmp_path: Path) -> None:
    model = ScriptedModelDouble(replies=["ok"], delay_s=0.01)
    sessions = [make_session(f"s{i}", learner_turns=3) for i in range(4)]
    events: list[ReplayEvent] = []
    report = run(replay_sessions(sessions, [BASE, V2], model, tmp_path, concurrency=8, on_event=events.append))
    assert all(r.status == "ok" for r in report.results) and len(report.results) == 8
    # Interleaved across sessions (concurrency), but every session's learner turns arrive in order.
    order = [(c[-1].content, tuple(m.content for m in c if m.role == "user")) for c in model.calls]
    firsts = [i for i, (last, _) in enumerate(order) if last == "learner message 0"]
    assert firsts == list(range(8))  # all 8 session x arm jobs started before any second turn
    for call in model.calls:
        users = [m.content for m in call if m.role == "user"]
        assert users == [f"learner message {i}" for i in range(len(users))]
    assert sum(e.advance for e in events) == 8 * 3
    # With a bound of 1 the same run is strictly sequential.
    serial = ScriptedModelDouble(replies=["ok"], delay_s=0.001)
    run(replay_sessions(sessions, [BASE, V2], serial, tmp_path / "serial", concurrency=1))
    serial_firsts = [i for i, c in enumerate(serial.calls) if c[-1].content == "learner message 0"]
    assert serial_firsts == list(range(0, 24, 3))


def test_resume_skips_complete_artifacts_and_redoes_broken_ones(tmp_path: Path) -> None:
    sessions = [make_session("a"), make_session("b")]
    first = ScriptedModelDouble(replies=["one"])
    run(replay_sessions(sessions, [V2], first, tmp_path))
    assert len(first.calls) == 6
    # Simulate an interrupt that left a half-written file for "b" (atomic writes never do, but be robust).
    artifact_path(tmp_path, "b", V2).write_text('{"session_id": "b", "arm"')
    again = ScriptedModelDouble(replies=["two"])
    report = run(replay_sessions(sessions, [V2], again, tmp_path))
    assert {r.session_id: r.status for r in report.results} == {"a": "skipped", "b": "ok"}
    assert len(again.calls) == 3
    a = ReplayArtifact.model_validate_json(artifact_path(tmp_path, "a", V2).read_text())
    assert a.regenerated_trajectory[1].content == "one"  # kept, not redone
    assert all(r.evaluation is not None for r in report.results)  # skipped ones are still graded
    # Different settings (another model) invalidate the artifact.
    other = ScriptedModelDouble(replies=["three"], name="other-model")
    report = run(replay_sessions(sessions, [V2], other, tmp_path))
    assert {r.status for r in report.results} == {"ok"} and len(other.calls) == 6


def test_no_temp_files_left_and_failures_are_isolated(tmp_path: Path) -> None:
    model = ScriptedModelDouble(replies=["fine"], fail_on="learner message 1")
    good = Session(session_id="good", domain="d", prompt="p", trajectory=[Turn(role="user", content="hello")])
    report = run(replay_sessions([make_session("bad"), good], [BASE], model, tmp_path))
    status = {r.session_id: r for r in report.results}
    assert status["bad"].status == "error" and "ModelError" in (status["bad"].error or "")
    assert status["good"].status == "ok"
    assert not artifact_path(tmp_path, "bad", BASE).exists()  # no half artifact
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*"))
    assert report.summaries[0].errors == 1


def test_config_error_aborts_but_keeps_written_artifacts(tmp_path: Path) -> None:
    run(replay_sessions([make_session("a")], [HUMAN], None, tmp_path))
    with pytest.raises(ModelConfigError):
        run(replay_sessions([make_session("a")], [HUMAN, BASE], ScriptedModelDouble(config_error=True), tmp_path))
    assert artifact_path(tmp_path, "a", HUMAN).exists()


def test_grading_and_arm_summary(tmp_path: Path, sessions_dir: Path) -> None:
    from evalwheel.datasets.sessions import load_sessions

    sessions = load_sessions([sessions_dir]).sessions[:5]
    model = ScriptedModelDouble(replies=["What have you tried so far?"])
    report = run(replay_sessions(sessions, [BASE, V2, HUMAN], model, tmp_path, max_turns=2))
    assert [s.arm for s in report.summaries] == ["base", "overlay:v2", "human"]
    for s in report.summaries:
        assert s.sessions == 5 and s.graded == 5 and s.errors == 0
        assert s.fidelity.n == 5 and s.fidelity.estimate is not None
        assert s.fidelity.low is not None and s.fidelity.high is not None
        assert 0.0 <= s.fidelity.low <= s.fidelity.estimate <= s.fidelity.high <= 1.0
        assert s.escalation_rate is not None and 0.0 <= s.escalation_rate <= 1.0
        assert set(s.checks) >= {"diagnosis_first", "single_question_per_step", "safety"}
        for rate in s.checks.values():
            assert rate.passed + rate.failed + rate.unscored == 5
    for r in report.results:
        assert r.evaluation is not None and r.evaluation.session_id == r.session_id
    saved = ReplayReport.model_validate_json((tmp_path / REPORT_NAME).read_text())
    assert saved.summaries == report.summaries


# ------------------------------------------------------------------------------------------- CLI wiring


def cli_app() -> typer.Typer:
    """The commands mounted as the lead will mount them (`evalwheel replay`, `evalwheel chat`)."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command("replay")(studymode_cli.replay_command)
    app.command("chat")(studymode_cli.chat_command)
    return app


def _patch_model(monkeypatch: pytest.MonkeyPatch, model: Model | Exception) -> list[tuple[str, bool, int, float | None]]:
    seen: list[tuple[str, bool, int, float | None]] = []

    def fake(name: str, cache: bool, max_concurrency: int, timeout_s: float | None = None) -> Model:
        seen.append((name, cache, max_concurrency, timeout_s))
        if isinstance(model, Exception):
            raise model
        return model

    monkeypatch.setattr(studymode_cli, "resolve_model", fake)
    return seen


def test_cli_replay_table_json_and_resume(tmp_path: Path, sessions_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = ScriptedModelDouble(replies=["What do you think happens first?"])
    seen = _patch_model(monkeypatch, model)
    session_file = sessions_dir / "python.if_else.beginner.base_llm.002.json"
    out = tmp_path / "arts"
    args = ["replay", str(session_file), "--arms", "base,overlay:v2,human", "--model", "local", "--out", str(out)]
    res = CliRunner().invoke(cli_app(), [*args, "--no-cache", "--concurrency", "3", "--timeout", "2.5"])
    assert res.exit_code == 0, res.output
    assert seen == [("local", False, 3, 2.5)] and model.closed
    for col in ("fidelity [95% CI]", "escalated", "overlay:v2", "human", "diagnosis_first"):
        assert col in res.output
    assert len(list(out.glob("*__*.json"))) == 3 and (out / REPORT_NAME).exists()
    calls = len(model.calls)
    res = CliRunner().invoke(cli_app(), [*args, "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert {r["status"] for r in data["results"]} == {"skipped"} and len(model.calls) == calls
    assert [s["arm"] for s in data["summaries"]] == ["base", "overlay:v2", "human"]


@pytest.mark.parametrize(
    ("extra", "error", "message"),
    [
        (["--arms", "base,robot"], None, "unknown arm 'robot'"),
        (["--arms", "overlay:v9"], None, "unknown overlay version"),
        ([], ModelConfigError("unknown model 'nope'; accepted: local, ..."), "unknown model 'nope'"),
        ([], ModelConfigError("OPENAI_API_KEY is not set"), "OPENAI_API_KEY is not set"),
    ],
)
def test_cli_replay_bad_config_exits_2(
    tmp_path: Path,
    sessions_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    extra: list[str],
    error: Exception | None,
    message: str,
) -> None:
    _patch_model(monkeypatch, error or ScriptedModelDouble())
    session_file = sessions_dir / "python.if_else.beginner.base_llm.002.json"
    res = CliRunner().invoke(cli_app(), ["replay", str(session_file), "--out", str(tmp_path), *extra])
    assert res.exit_code == 2
    assert message in " ".join(res.output.split())
    assert "Traceback" not in res.output


def test_cli_replay_unreachable_server_mid_run_exits_2(
    tmp_path: Path, sessions_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _patch_model(monkeypatch, ScriptedModelDouble(config_error=True))
    session_file = sessions_dir / "python.if_else.beginner.base_llm.002.json"
    res = CliRunner().invoke(cli_app(), ["replay", str(session_file), "--arms", "base", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "server unreachable" in res.output


def test_cli_replay_run_errors_exit_3(tmp_path: Path, sessions_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _patch_model(monkeypatch, ScriptedModelDouble(fail_on=""))  # every call fails
    session_file = sessions_dir / "python.if_else.beginner.base_llm.002.json"
    res = CliRunner().invoke(cli_app(), ["replay", str(session_file), "--arms", "base,human", "--out", str(tmp_path)])
    assert res.exit_code == 3 and "failed" in res.output


def test_cli_replay_invalid_session_file_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _patch_model(monkeypatch, ScriptedModelDouble())
    bad = tmp_path / "bad.json"
    bad.write_text('{"session_id": "x"}')
    res = CliRunner().invoke(cli_app(), ["replay", str(bad), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "bad.json" in res.output


# ------------------------------------------------------------------------------------------- slow: real model


def _local_small() -> Model:
    try:
        from evalwheel.models.registry import get_model
    except ImportError as exc:
        pytest.skip(f"model registry not importable yet: {exc}")
    try:
        return get_model("local-small", cache=False)  # a real replay, not cached replies
    except (ModelConfigError, ImportError, OSError) as exc:
        pytest.skip(f"embedded local-small model not available: {exc}")


@pytest.mark.slow
def test_real_replay_local_small_shapes(tmp_path: Path, sessions_dir: Path) -> None:
    from evalwheel.datasets.sessions import load_sessions

    session = load_sessions([sessions_dir / "python.if_else.beginner.base_llm.002.json"]).sessions[0]
    model = _local_small()

    async def go() -> ReplayReport:
        try:
            return await replay_sessions(
                [session], [BASE, V2], model, tmp_path, config=GenerateConfig(max_tokens=48), max_turns=1
            )
        finally:
            await model.aclose()

    try:
        report = run(go())
    except ModelConfigError as exc:
        pytest.skip(f"embedded local-small model could not start: {exc}")
    assert [r.status for r in report.results] == ["ok", "ok"], report.results
    for arm in (BASE, V2):
        art = ReplayArtifact.model_validate_json(artifact_path(tmp_path, session.session_id, arm).read_text())
        assert art.model and art.calls == 1 and art.complete
        assert [t.role for t in art.regenerated_trajectory] == ["user", "assistant"]
        assert art.regenerated_trajectory[1].content.strip()
        assert art.usage.completion_tokens > 0 and art.model_latency_ms > 0
    # Grading ran (verdicts of a 0.5B tutor are not asserted).
    for s in report.summaries:
        assert s.graded == 1 and s.checks and s.fidelity.n in (0, 1)
    assert all(r.evaluation is not None for r in report.results)


def test_replay_timeout_reaches_the_http_model() -> None:
    """`replay --timeout S` is the total limit per request of the model it builds (a hung server is cut)."""
    from evalwheel.models.http import OpenAIModel

    model = studymode_cli.resolve_model("http://127.0.0.1:9/v1#m", False, 2, 2.5)
    assert isinstance(model, OpenAIModel) and model.timeouts.total_s == 2.5
    assert studymode_cli.resolve_model("http://127.0.0.1:9/v1#m", False, 2).timeouts.total_s is None  # type: ignore[attr-defined]
