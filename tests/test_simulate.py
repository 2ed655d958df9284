"""Simulated learners and `evalwheel simulate`: personas, scripted learner, guarded vs base A/B, truncation.

The tutor here is `ScriptedTutorDouble` (a TEST DOUBLE, tests/scripted_tutor.py) that always hands over the
persona's answer: the plumbing — guard, grading, pairing, statistics, artifacts — is what is under test.
The run on the embedded model is `test_simulate_on_the_embedded_model` (slow).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evalwheel.cli import app
from evalwheel.models.base import GenerateConfig, Message
from evalwheel.studymode import cli as studymode_cli
from evalwheel.studymode.learners import (
    LLMLearner,
    PersonaError,
    ScriptedLearner,
    asks_for_answer,
    clean_learner_text,
    load_personas,
    parse_personas,
)
from evalwheel.studymode.prompting import parse_arms
from evalwheel.studymode.simulate import SimulationSettings, load_artifact, simulate
from scripted_tutor import ScriptedTutorDouble

runner = CliRunner()
PERSONAS = load_personas()


def answer_dumper(messages: Sequence[Message]) -> str:
    """The tutor a small base model tends to be: states the result of the learner's problem at once."""
    system = messages[0].content if messages[0].role == "system" else ""
    persona = next((p for p in PERSONAS if p.problem in " ".join(m.content for m in messages)), None)
    answer = persona.solution if persona and isinstance(persona.solution, str) else "42"
    if "[Study Mode supervisor]" in messages[-1].content and "Study Mode" in system:
        return f"Sure. The answer is {answer}. What else?"  # ignores the feedback: the rewrite must catch it
    return f"The answer is {answer}. Do you see why? Want another one?"


def _settings(turns: int = 2, timeout: float | None = None) -> SimulationSettings:
    return SimulationSettings(
        turns=turns, tutor_model="scripted-tutor-double", learner="scripted", tutor_config={}, turn_timeout_s=timeout
    )


def test_shipped_personas() -> None:
    personas = load_personas()
    assert len(personas) >= 30
    kinds = {p.source.split(" ")[0] for p in personas if p.source}
    assert {"mathdial-kind", "bridge-kind", "python-beginner"} <= kinds
    assert all(p.solution for p in personas)
    assert len({p.id for p in personas}) == len(personas)
    # the tutor is told level and goal, never the misconception it has to find
    assert personas[0].misconception not in personas[0].profile().model_dump_json()


def test_persona_file_errors_name_file_persona_and_field(tmp_path: Path) -> None:
    good = "personas:\n  - {id: a, domain: math, level: beginner, goal: g, problem: p, misconception: m, wrong_answer: w, patience: 2, answer_seeking: 0.5}\n"
    assert parse_personas(good, "x.yaml")[0].id == "a"
    missing = good.replace(" patience: 2,", "")
    with pytest.raises(PersonaError, match=r"x.yaml: personas\[0\] \(id 'a'\).patience: missing required field"):
        parse_personas(missing, "x.yaml")
    unknown = good.replace("goal: g,", "goal: g, mood: sad,")
    with pytest.raises(PersonaError, match=r"personas\[0\] \(id 'a'\).mood: unknown field"):
        parse_personas(unknown, "x.yaml")
    with pytest.raises(PersonaError, match="answer_seeking"):
        parse_personas(good.replace("answer_seeking: 0.5", "answer_seeking: 3"), "x.yaml")
    with pytest.raises(PersonaError, match="appears twice"):
        parse_personas(good + good.split("\n", 1)[1], "x.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text(unknown)
    result = runner.invoke(app, ["simulate", "--learners", str(bad), "--learner", "scripted"])
    assert result.exit_code == 2
    assert "bad.yaml" in result.stderr and "mood: unknown field" in result.stderr
    result = runner.invoke(app, ["simulate", "--learners", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2 and "nope.yaml" in result.stderr
    result = runner.invoke(app, ["simulate", "--arms", "base,human"])
    assert result.exit_code == 2 and "human" in result.stderr


def test_scripted_learner_is_deterministic_and_llm_learner_stays_in_character() -> None:
    persona = load_personas()[0]
    learner = ScriptedLearner()
    first = asyncio.run(learner.reply(persona, [], 0))
    assert first.text == persona.first_message() and persona.problem in first.text
    again = [asyncio.run(learner.reply(persona, [], k)).text for k in range(4)]
    assert again == [asyncio.run(learner.reply(persona, [], k)).text for k in range(4)]
    assert asks_for_answer(persona, 3) == asks_for_answer(persona, 3)
    from evalwheel.types import Turn

    transcript = [Turn(role="user", content="help"), Turn(role="assistant", content="What have you tried?")]
    msgs = LLMLearner(ScriptedTutorDouble(["x"])).messages(persona, transcript, 1)
    assert msgs[0].role == "system" and persona.misconception in msgs[0].content
    assert msgs[1].content.startswith("Conversation so far:\nStudent: help\nTutor: What have you tried?")
    # out-of-character messages (the tutor's voice, an echo of what was said) fall back to the scripted line
    tutorish = LLMLearner(ScriptedTutorDouble(["Sure, I can help you with that. To find the total, multiply."]))
    reply = asyncio.run(tutorish.reply(persona, transcript, 1))
    assert reply.fallback and reply.calls == 1
    refusal = LLMLearner(
        ScriptedTutorDouble(["The student's next message is: \"I'm sorry, but I can't assist with that."])
    )
    assert asyncio.run(refusal.reply(persona, transcript, 1)).fallback
    assert clean_learner_text('The student\'s next message is: "I got 15."') == "I got 15."
    echo = LLMLearner(ScriptedTutorDouble(["help"]))
    assert asyncio.run(echo.reply(persona, transcript, 2)).fallback
    fine = LLMLearner(ScriptedTutorDouble(["Student: I think it's 15? Tutor: no"]))
    good = asyncio.run(fine.reply(persona, transcript, 1))
    assert not good.fallback and good.text == "I think it's 15?"
    assert (
        clean_learner_text('Student: "I think it is 15. Because. Extra. More."') == "I think it is 15. Because. Extra."
    )


def test_guarded_arm_beats_base_paired(tmp_path: Path) -> None:
    personas = load_personas()[:30]
    arms = parse_arms("base,overlay:v2,overlay:v3")
    tutor = ScriptedTutorDouble(answer_dumper)
    report = asyncio.run(
        simulate(
            personas,
            arms,
            tutor,
            ScriptedLearner(),
            tmp_path,
            _settings(),
            GenerateConfig(max_tokens=64),
            concurrency=4,
        )
    )
    assert not report.errors
    by = {s.arm: s for s in report.summaries}
    assert by["base"].checks["no_direct_answer_initially"].passed == 0
    assert by["overlay:v3"].checks["no_direct_answer_initially"].failed == 0
    assert by["overlay:v3"].guard_fired_turns == 60 and by["base"].guard_fired_turns == 0
    assert by["overlay:v3"].model_calls == 120  # one regeneration per turn, then the rewrite
    v3 = next(c for c in report.paired if c.arm == "overlay:v3")
    assert v3.n_pairs == 30
    assert (v3.fidelity_diff.estimate or 0) > 0 and (v3.fidelity_test.p_value or 1) < 0.05
    assert (v3.no_reveal_test.p_value or 1) < 0.05 and v3.verdict == "improvement"
    # artifacts: tagged guard turns, truncated by the turn budget, end-of-session checks unscored
    art = load_artifact(next(tmp_path.glob("math.bags_of_apples__overlay-v3.json")))
    assert art is not None and art.truncated == "turn budget"
    assert all("guard:rewritten" in t.tags for t in art.session.trajectory if t.role == "assistant")
    assert (tmp_path / "simulation.json").exists()
    # resume: a second run reuses every artifact and calls no model
    calls = len(tutor.calls)
    again = asyncio.run(
        simulate(personas, arms, tutor, ScriptedLearner(), tmp_path, _settings(), GenerateConfig(max_tokens=64))
    )
    assert len(tutor.calls) == calls and {r.status for r in again.results} == {"skipped"}


def test_timeout_saves_the_session_so_far_as_truncated(tmp_path: Path) -> None:
    def script(messages: Sequence[Message]) -> str:
        return "!hang" if sum(m.role == "assistant" for m in messages) >= 1 else "What have you tried so far?"

    persona = load_personas()[:1]
    report = asyncio.run(
        simulate(
            persona,
            parse_arms("base"),
            ScriptedTutorDouble(script),
            ScriptedLearner(),
            tmp_path,
            _settings(3, 0.2),
            GenerateConfig(),
        )
    )
    art = load_artifact(Path(report.results[0].artifact or ""))
    assert art is not None and art.truncated == "timeout" and "TimeoutError" in (art.error or "")
    roles = [t.role for t in art.session.trajectory]
    assert roles == ["user", "assistant"]  # the unanswered learner message is not saved
    recap = next(s for s in report.results[0].evaluation.checks if s.name == "recap")  # type: ignore[union-attr]
    assert recap.passed is None


def test_simulate_cli_tables_and_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(studymode_cli, "resolve_model", lambda name, cache, conc: ScriptedTutorDouble(answer_dumper))
    args = [
        "simulate",
        "--arms",
        "base,overlay:v3",
        "--learner",
        "scripted",
        "--turns",
        "2",
        "--limit",
        "6",
        "--out",
        str(tmp_path),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "paired vs base" in result.output and "overlay:v3" in result.output
    assert "Wilcoxon p" in result.output and "McNemar p" in result.output
    result = runner.invoke(app, [*args, "--json"])
    data = json.loads(result.stdout)
    assert data["personas"] == 6 and [s["arm"] for s in data["summaries"]] == ["base", "overlay:v3"]


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("EVALWHEEL_SKIP_LOCAL_MODEL") == "1", reason="local model disabled")
def test_simulate_on_the_embedded_model(tmp_path: Path) -> None:
    """Contract on the real small model (shapes, tags, truncation), not verdicts."""
    result = runner.invoke(
        app,
        [
            "simulate",
            "--model",
            "local-small",
            "--arms",
            "base,overlay:v3",
            "--limit",
            "1",
            "--turns",
            "2",
            "--max-tokens",
            "60",
            "--learner-max-tokens",
            "30",
            "--out",
            str(tmp_path),
            "--json",
            "--no-cache",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {s["arm"] for s in data["summaries"]} == {"base", "overlay:v3"}
    assert all(r["status"] == "ok" for r in data["results"])
    art = load_artifact(next(tmp_path.glob("*__overlay-v3.json")))
    assert art is not None and len(art.session.trajectory) == 4 and art.learner_calls == 1
