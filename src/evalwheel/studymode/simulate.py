"""On-policy A/B of tutoring arms against simulated learners (`evalwheel simulate`).

Every persona talks to every arm for up to `turns` learner turns. The learner answers *this* tutor (an
LLM-played student, or the scripted one in tests), so unlike replay the conversation stays coherent when
the tutor changes. Each session × arm is written as one artifact (atomically, resumable), graded with the
Study Mode checks — the persona's known solution makes stating it early a reveal, and a session cut by
the turn budget or a model timeout is graded as truncated — and the arms are compared per arm (fidelity
with a CI, pass rate per check, escalation, guard activity and cost) and pairwise against the first arm
with `evalwheel.stats.compare` (paired by persona: Wilcoxon on fidelity, McNemar on "no answer revealed").
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationError

from evalwheel.basemodel import EvalwheelModel
from evalwheel.fileio import make_dir, write_text_atomic
from evalwheel.graders.pedagogy.session import EvaluationConfig, evaluate_session
from evalwheel.models.base import GenerateConfig, Message, Model, ModelConfigError, ModelError
from evalwheel.studymode.guard import GuardConfig, guarded_reply
from evalwheel.studymode.learners import Learner, Persona
from evalwheel.studymode.paired import PairedComparison, paired_comparison
from evalwheel.studymode.prompting import Arm, build_system_message
from evalwheel.studymode.replay import (
    ArmCosts,
    ArmSummary,
    EmptyReplyError,
    check_reply,
    gather_all,
    id_stem,
    summarize_evaluations,
)
from evalwheel.types import Session, SessionEvaluation, Turn, Usage

SIM_FORMAT = 1
REPORT_NAME = "simulation.json"

Status = Literal["ok", "skipped", "error"]


class SimulationSettings(EvalwheelModel):
    """Everything that changes a simulated conversation; part of each artifact's resume key."""

    model_config = ConfigDict(extra="forbid")

    turns: int = Field(ge=1)
    tutor_model: str
    learner: str
    tutor_config: dict[str, Any]
    learner_config: dict[str, Any] | None = None
    turn_timeout_s: float | None = None
    guard: dict[str, Any] = Field(default_factory=dict)

    def key(self) -> str:
        return hashlib.sha256(json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()[:16]


class SimArtifact(EvalwheelModel):
    """One persona × arm conversation, with what it cost and what the guard did."""

    model_config = ConfigDict(extra="forbid")

    format_version: int = SIM_FORMAT
    settings_key: str
    persona_id: str
    arm: str
    session: Session
    truncated: str | None = None  # "turn budget", "timeout", "model error", "empty reply": graded as cut, not ended
    error: str | None = None
    started_at: datetime
    finished_at: datetime
    tutor_usage: Usage = Field(default_factory=Usage)
    learner_usage: Usage = Field(default_factory=Usage)
    cost_usd: float = 0.0
    turn_latency_ms: list[float] = Field(default_factory=list)
    tutor_calls: int = 0
    learner_calls: int = 0
    learner_fallbacks: int = 0  # LLM learner messages replaced by the scripted line (out of character)
    guard_fired: int = 0
    guard_extra_calls: int = 0
    guard_extra_latency_ms: float = 0.0
    guard_check_ms: float = 0.0


class SimResult(EvalwheelModel):
    model_config = ConfigDict(extra="forbid")

    persona_id: str
    arm: str
    status: Status
    artifact: str | None = None
    error: str | None = None
    evaluation: SessionEvaluation | None = None


class SimulationReport(EvalwheelModel):
    model_config = ConfigDict(extra="forbid")

    settings: SimulationSettings
    arms: list[str]
    personas: int
    out_dir: str
    started_at: datetime
    finished_at: datetime
    results: list[SimResult]
    summaries: list[ArmSummary]
    paired: list[PairedComparison]

    @property
    def errors(self) -> list[SimResult]:
        return [r for r in self.results if r.status == "error"]


@dataclass(frozen=True)
class SimEvent:
    persona_id: str
    arm: str
    advance: int
    status: Status | None = None


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "-" for c in text).strip("-") or "x"


def artifact_path(out_dir: Path, persona: Persona, arm: Arm) -> Path:
    return out_dir / f"{id_stem(persona.id)}__{_safe(arm.name.replace(':', '-'))}.json"


def load_artifact(path: Path) -> SimArtifact | None:
    try:
        return SimArtifact.model_validate_json(path.read_bytes())
    except (OSError, ValidationError, ValueError):
        return None


async def _timed(coro: Any, timeout_s: float | None) -> Any:
    return await (asyncio.wait_for(coro, timeout_s) if timeout_s else coro)


async def simulate_one(
    persona: Persona,
    arm: Arm,
    tutor: Model,
    learner: Learner,
    settings: SimulationSettings,
    config: GenerateConfig,
    guard: GuardConfig | None = None,
    on_turn: Callable[[], None] | None = None,
) -> SimArtifact:
    """Run one conversation. A model that fails or times out mid-session ends it: what was said so far
    (complete learner/tutor exchanges only) is kept and marked truncated, never half-written."""
    started_at = datetime.now(UTC)
    instructions = build_system_message(arm, persona.profile())
    history: list[Message] = [Message(role="system", content=instructions)] if instructions else []
    turns: list[Turn] = []
    art = SimArtifact(
        settings_key=settings.key(),
        persona_id=persona.id,
        arm=arm.name,
        session=Session(
            session_id="pending",
            domain=persona.domain,
            prompt=persona.problem,
            trajectory=[Turn(role="user", content=persona.problem)],
        ),
        started_at=started_at,
        finished_at=started_at,
    )
    # A simulation always stops at the turn budget (or earlier on a failure), never at a natural end:
    # the end-of-session checks are therefore unscored unless they already passed.
    truncated: str | None = "turn budget"
    for k in range(settings.turns):
        try:
            said = await _timed(learner.reply(persona, turns, k), settings.turn_timeout_s)
        except (TimeoutError, ModelError) as exc:
            truncated, art.error = _cut_by(exc), _describe(exc)
            break
        art.learner_usage.prompt_tokens += said.usage.prompt_tokens
        art.learner_usage.completion_tokens += said.usage.completion_tokens
        art.learner_calls += said.calls
        art.learner_fallbacks += int(said.fallback)
        learner_turn = Turn(role="user", content=said.text)
        t0 = time.perf_counter()
        try:
            if guard is not None:
                reply = await _timed(
                    guarded_reply(
                        tutor,
                        [*history, Message(role="user", content=said.text)],
                        [*turns, learner_turn],
                        config,
                        guard,
                        persona.solution,
                    ),
                    settings.turn_timeout_s,
                )
                text, tags = reply.text, reply.tags
                art.tutor_usage.prompt_tokens += reply.usage.prompt_tokens
                art.tutor_usage.completion_tokens += reply.usage.completion_tokens
                art.cost_usd += reply.cost_usd
                art.tutor_calls += reply.calls
                art.guard_fired += int(reply.fired)
                art.guard_extra_calls += reply.calls - 1
                art.guard_extra_latency_ms += reply.extra_latency_ms
                art.guard_check_ms += reply.check_ms
                latency = reply.model_latency_ms + reply.check_ms
            else:
                done = await _timed(
                    tutor.generate([*history, Message(role="user", content=said.text)], config), settings.turn_timeout_s
                )
                text, tags = done.text.strip(), []
                art.tutor_usage.prompt_tokens += done.usage.prompt_tokens
                art.tutor_usage.completion_tokens += done.usage.completion_tokens
                art.cost_usd += done.cost_usd
                art.tutor_calls += 1
                latency = done.latency_ms
            check_reply(text, len(turns))
        except (TimeoutError, ModelError) as exc:
            # The learner's message has no reply: drop it, so the saved session ends on a complete exchange.
            truncated, art.error = _cut_by(exc), _describe(exc)
            break
        art.turn_latency_ms.append(round(latency if latency > 0 else (time.perf_counter() - t0) * 1000.0, 3))
        turns += [learner_turn, Turn(role="assistant", content=text, tags=tags)]
        history += [Message(role="user", content=said.text), Message(role="assistant", content=text)]
        if on_turn is not None:
            on_turn()
    art.truncated = truncated
    art.finished_at = datetime.now(UTC)
    if turns:
        art.session = Session(
            session_id=f"sim.{persona.id}",
            domain=persona.domain,
            prompt=persona.problem,
            learner=persona.profile(),
            trajectory=turns,
            metadata={
                "source": f"simulated:{arm.name}",
                "arm": arm.name,
                "persona": persona.id,
                "solution": persona.solution,
                "truncated": truncated,
                "learner": learner.name,
                "model": tutor.name,
                "instructions": instructions,
            },
        )
    return art


def _cut_by(exc: BaseException) -> str:
    """What ended a conversation early, as recorded in `truncated`."""
    if isinstance(exc, TimeoutError):
        return "timeout"
    return "empty reply" if isinstance(exc, EmptyReplyError) else "model error"


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _costs(arts: Sequence[SimArtifact]) -> ArmCosts:
    return ArmCosts(
        prompt_tokens=sum(a.tutor_usage.prompt_tokens for a in arts),
        completion_tokens=sum(a.tutor_usage.completion_tokens for a in arts),
        cost_usd=sum(a.cost_usd for a in arts),
        turn_latency_ms=[x for a in arts for x in a.turn_latency_ms],
        calls=sum(a.tutor_calls for a in arts),
        guard_fired=sum(a.guard_fired for a in arts),
        guard_extra_calls=sum(a.guard_extra_calls for a in arts),
        guard_extra_latency_ms=sum(a.guard_extra_latency_ms for a in arts),
    )


async def simulate(
    personas: Sequence[Persona],
    arms: Sequence[Arm],
    tutor: Model,
    learner: Learner,
    out_dir: Path,
    settings: SimulationSettings,
    config: GenerateConfig,
    concurrency: int = 2,
    eval_config: EvaluationConfig | None = None,
    on_event: Callable[[SimEvent], None] | None = None,
    guard: GuardConfig | None = None,
) -> SimulationReport:
    """Every persona against every arm (bounded concurrency), graded, summarised and compared.

    A model configuration error aborts the run; any other failure of one persona × arm is reported and the
    rest continue. Complete artifacts made with the same settings are reused (resume).
    """
    if any(not a.uses_model for a in arms):
        raise ValueError("simulate needs model arms (base, overlay:vN, +guard); the human arm has no tutor to simulate")
    make_dir(out_dir, what="--out")
    started_at = datetime.now(UTC)
    sem = asyncio.Semaphore(concurrency)
    key = settings.key()
    gcfg = guard or GuardConfig()

    async def job(persona: Persona, arm: Arm) -> SimResult:
        path = artifact_path(out_dir, persona, arm)
        old = load_artifact(path)
        if old is not None and old.settings_key == key and old.persona_id == persona.id and old.arm == arm.name:
            if on_event:
                on_event(SimEvent(persona.id, arm.name, settings.turns, "skipped"))
            return SimResult(persona_id=persona.id, arm=arm.name, status="skipped", artifact=str(path))
        async with sem:
            done = 0

            def on_turn() -> None:
                nonlocal done
                done += 1
                if on_event:
                    on_event(SimEvent(persona.id, arm.name, 1))

            try:
                art = await simulate_one(
                    persona, arm, tutor, learner, settings, config, gcfg if arm.guard else None, on_turn
                )
            except (ModelConfigError, asyncio.CancelledError):
                raise
            except Exception as exc:  # one broken conversation must not sink the run
                if on_event:
                    on_event(SimEvent(persona.id, arm.name, settings.turns - done, "error"))
                return SimResult(persona_id=persona.id, arm=arm.name, status="error", error=_describe(exc))
        if on_event:
            on_event(SimEvent(persona.id, arm.name, settings.turns - done, "ok"))
        if art.session.session_id == "pending":
            return SimResult(
                persona_id=persona.id, arm=arm.name, status="error", error=art.error or "no exchange completed"
            )
        write_text_atomic(path, art.model_dump_json(indent=2))
        return SimResult(persona_id=persona.id, arm=arm.name, status="ok", artifact=str(path))

    results = await gather_all([job(p, a) for p in personas for a in arms])

    arts: dict[tuple[str, str], SimArtifact] = {}
    for r in results:
        art = load_artifact(Path(r.artifact)) if r.artifact else None
        if art is None:
            if r.status != "error":
                r.status, r.error = "error", "artifact missing or unreadable after the run"
            continue
        arts[(r.persona_id, r.arm)] = art
        r.evaluation = evaluate_session(art.session, eval_config)

    summaries: list[ArmSummary] = []
    by_arm: dict[str, dict[str, SessionEvaluation]] = {}
    for arm in arms:
        rs = [r for r in results if r.arm == arm.name]
        evals = {r.persona_id: r.evaluation for r in rs if r.evaluation is not None}
        by_arm[arm.name] = evals
        summaries.append(
            summarize_evaluations(
                arm,
                list(evals.values()),
                len(rs),
                sum(r.status == "error" for r in rs),
                _costs([a for (_, name), a in arts.items() if name == arm.name]),
            )
        )
    base = arms[0].name
    paired = [paired_comparison(base, a.name, by_arm[base], by_arm[a.name]) for a in arms[1:]]
    report = SimulationReport(
        settings=settings,
        arms=[a.name for a in arms],
        personas=len(personas),
        out_dir=str(out_dir),
        started_at=started_at,
        finished_at=datetime.now(UTC),
        results=results,
        summaries=summaries,
        paired=paired,
    )
    write_text_atomic(out_dir / REPORT_NAME, report.model_dump_json(indent=2))
    return report
