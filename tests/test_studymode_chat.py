"""Interactive chat: scripted stdin through the real command, streamed output, a saved valid Session.

`ScriptedModelDouble` below is a TEST DOUBLE of the Model protocol (canned, streamed replies); it is not
a model and the tests assert the plumbing, not the tutoring.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from evalwheel.datasets.sessions import load_sessions
from evalwheel.graders.pedagogy.session import evaluate_session
from evalwheel.models.base import Completion, GenerateConfig, Message, Model, ModelConfigError, ModelError, Schema
from evalwheel.studymode import cli as studymode_cli
from evalwheel.studymode.chat import run_chat, save_session
from evalwheel.studymode.prompting import Arm, load_overlay
from evalwheel.types import LearnerProfile, Session, Usage


class ScriptedModelDouble:
    """TEST DOUBLE for the Model protocol: streams canned replies word by word and records the calls.

    A reply equal to "!fail" raises ModelError for that call, to exercise recovery.
    """

    def __init__(self, replies: Sequence[str], name: str = "scripted-double") -> None:
        self.name = name
        self.replies = list(replies)
        self.calls: list[list[Message]] = []
        self.closed = False

    def _next(self, messages: Sequence[Message]) -> str:
        self.calls.append(list(messages))
        text = self.replies.pop(0) if self.replies else "Tell me more?"
        if text == "!fail":
            raise ModelError("scripted failure")
        return text

    async def generate(
        self, messages: Sequence[Message], config: GenerateConfig | None = None, schema: Schema | None = None
    ) -> Completion:
        return Completion(text=self._next(messages), usage=Usage(), model=self.name)

    async def stream(self, messages: Sequence[Message], config: GenerateConfig | None = None) -> AsyncIterator[str]:
        text = self._next(messages)
        for i, word in enumerate(text.split(" ")):
            yield word if i == 0 else " " + word

    async def aclose(self) -> None:
        self.closed = True


def cli_app() -> typer.Typer:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command("chat")(studymode_cli.chat_command)
    app.command("replay")(studymode_cli.replay_command)
    return app


def patch_model(monkeypatch: pytest.MonkeyPatch, model: Model | Exception) -> None:
    def fake(name: str, cache: bool, max_concurrency: int, timeout_s: float | None = None) -> Model:
        if isinstance(model, Exception):
            raise model
        return model

    monkeypatch.setattr(studymode_cli, "resolve_model", fake)


def test_chat_cli_saves_a_valid_session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = ScriptedModelDouble(["What have you tried so far?", "Good. What does range(3) give you?"])
    patch_model(monkeypatch, model)
    out = tmp_path / "chat.json"
    stdin = "how do for loops work?\n\ni tried for i in range(3)\n/quit\nthis is never read\n"
    res = CliRunner().invoke(
        cli_app(),
        [
            "chat",
            "--model",
            "local-small",
            "--level",
            "beginner",
            "--goal",
            "finish lab 2",
            "--knows",
            "print",
            "--knows",
            "variables",
            "--name",
            "Kofi",
            "--domain",
            "programming.python",
            "--out",
            str(out),
        ],
        input=stdin,
    )
    assert res.exit_code == 0, res.output
    assert "What have you tried so far?" in res.output  # streamed to the terminal
    assert model.closed
    session = Session.model_validate_json(out.read_text())
    assert [t.role for t in session.trajectory] == ["user", "assistant", "user", "assistant"]
    assert session.trajectory[3].content == "Good. What does range(3) give you?"
    assert session.prompt == "how do for loops work?" and session.domain == "programming.python"
    assert session.learner == LearnerProfile(
        name="Kofi", level="beginner", goals=["finish lab 2"], known_concepts=["print", "variables"]
    )
    assert session.metadata["source"] == "chat" and session.metadata["arm"] == "overlay:v2"
    # The system message carried the overlay and the profile; history grows turn by turn.
    system = model.calls[1][0]
    assert system.role == "system" and system.content.startswith(load_overlay("v2")) and "Kofi" in system.content
    assert [m.content for m in model.calls[1][1:]] == [
        "how do for loops work?",
        "What have you tried so far?",
        "i tried for i in range(3)",
    ]
    # The file is something `evaluate` accepts: the loader and the graders take it as is.
    loaded = load_sessions([out])
    assert not loaded.errors and loaded.sessions[0] == session
    assert evaluate_session(session).session_id == session.session_id


def test_chat_memory_and_eof(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sessions_dir: Path) -> None:
    model = ScriptedModelDouble(["Welcome back. Which part of slicing felt shaky?"])
    patch_model(monkeypatch, model)
    out = tmp_path / "c.json"
    earlier = sessions_dir / "python.lists_slicing.beginner.base_llm.006.json"
    res = CliRunner().invoke(
        cli_app(),
        ["chat", "--arm", "base", "--memory", str(earlier), "--out", str(out), "--session-id", "mine"],
        input="hi again\n",  # no /quit: end of input ends the chat
    )
    assert res.exit_code == 0, res.output
    session = Session.model_validate_json(out.read_text())
    assert session.session_id == "mine" and session.metadata["arm"] == "base"
    system = model.calls[0][0].content
    assert "Earlier session" in system and "DIAGNOSE" not in system


def test_chat_nothing_to_save_and_bad_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    patch_model(monkeypatch, ScriptedModelDouble([]))
    out = tmp_path / "none.json"
    res = CliRunner().invoke(cli_app(), ["chat", "--out", str(out)], input="/quit\n")
    assert res.exit_code == 0 and "nothing to save" in res.output and not out.exists()
    for args, msg in (
        (["--arm", "human"], "no model to chat with"),
        (["--arm", "overlay:v42"], "unknown overlay version"),
        (["--level", "expert"], "--level must be one of"),
    ):
        res = CliRunner().invoke(cli_app(), ["chat", *args], input="/quit\n")
        assert res.exit_code == 2 and msg in res.output, res.output
    patch_model(monkeypatch, ModelConfigError("unknown model 'gpt-9'"))
    res = CliRunner().invoke(cli_app(), ["chat", "--model", "gpt-9"], input="hi\n")
    assert res.exit_code == 2 and "unknown model 'gpt-9'" in res.output and "Traceback" not in res.output


def test_run_chat_recovers_from_a_failed_call(tmp_path: Path) -> None:
    model = ScriptedModelDouble(["!fail", "Sure. What do you know already?"])
    lines = iter(["first try", "second try", "/quit"])
    console = Console(file=open(tmp_path / "term.txt", "w"), width=100)  # noqa: SIM115 - closed below
    session = asyncio.run(
        run_chat(model, Arm(kind="overlay", overlay_version="v1"), lambda _p: next(lines, None), console)
    )
    console.file.close()
    assert session is not None
    assert [t.content for t in session.trajectory] == ["second try", "Sure. What do you know already?"]
    assert "please send that again" in (tmp_path / "term.txt").read_text()
    path = save_session(session, tmp_path / "s.json")
    assert Session.model_validate(json.loads(path.read_text())) == session


def test_chat_multiline_messages_stay_one_turn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pasted code in a ``` fence and backslash-continued lines are one learner message, not several turns."""
    model = ScriptedModelDouble(["What do you expect it to print?", "Try it and tell me?"])
    patch_model(monkeypatch, model)
    out = tmp_path / "multi.json"
    stdin = "my loop: \\\n```python\nfor i in range(1, 10):\n\n    print(i)\n```\nfirst line \\\nsecond line\n/quit\n"
    res = CliRunner().invoke(cli_app(), ["chat", "--out", str(out)], input=stdin)
    assert res.exit_code == 0, res.output
    assert "``` fences" in res.output
    session = Session.model_validate_json(out.read_text())
    users = [t.content for t in session.trajectory if t.role == "user"]
    assert users == ["my loop: \n```python\nfor i in range(1, 10):\n\n    print(i)\n```", "first line \nsecond line"]


def test_chat_with_the_guarded_overlay_checks_each_reply(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = ScriptedModelDouble(
        ["Here's the corrected code: range(1, 11). Want more? Any questions?", "What have you tried so far?"]
    )
    patch_model(monkeypatch, model)
    out = tmp_path / "guarded.json"
    res = CliRunner().invoke(
        cli_app(), ["chat", "--arm", "overlay:v3", "--out", str(out)], input="fix my loop\n/quit\n"
    )
    assert res.exit_code == 0, res.output
    session = Session.model_validate_json(out.read_text())
    reply = session.trajectory[1]
    assert reply.content == "What have you tried so far?" and "guard:regenerated" in reply.tags
    assert "corrected code" not in res.output  # the failing draft never reached the learner


def test_chat_passes_timeout_to_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[float | None] = []

    def fake(name: str, cache: bool, max_concurrency: int, timeout_s: float | None = None) -> Model:
        seen.append(timeout_s)
        return ScriptedModelDouble([])

    monkeypatch.setattr(studymode_cli, "resolve_model", fake)
    res = CliRunner().invoke(cli_app(), ["chat", "--timeout", "2.5"], input="/quit\n")
    assert res.exit_code == 0 and seen == [2.5], res.output
    res = CliRunner().invoke(cli_app(), ["chat", "--timeout", "0"], input="/quit\n")
    assert res.exit_code == 2 and "--timeout" in res.output


async def test_a_hung_server_is_cut_and_the_chat_goes_on(tmp_path: Path) -> None:
    """A real loopback server (the HTTP test double) that never answers the first request: the request timeout
    cuts it, the learner is asked to send the message again, and the next one is answered."""
    from evalwheel.models.http import OpenAIModel
    from evalwheel.models.reliability import RetryPolicy, Timeouts
    from scripted_judge import ScriptedJudge

    async with ScriptedJudge(replies=["What have you tried so far?"], script=["hang"]) as srv:
        model = OpenAIModel("fake", srv.base_url, retry=RetryPolicy(max_attempts=1), timeouts=Timeouts(total_s=0.3))
        lines = iter(["hi", "hi again", "/quit"])
        with open(tmp_path / "term.txt", "w") as fh:
            session = await run_chat(
                model, Arm(kind="overlay", overlay_version="v3"), lambda _p: next(lines, None), Console(file=fh)
            )
        await model.aclose()
    term = " ".join((tmp_path / "term.txt").read_text().split())
    assert "the model failed" in term and "please send that again" in term
    assert session is not None and session.trajectory[0].content == "hi again"
