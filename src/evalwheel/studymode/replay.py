"""Replay recorded tutoring sessions under arms (base, overlay:vN, human) and grade the regenerated tutor.

This is the seed's `run_study_session_trajectory`, done properly:
- the learner's turns are replayed in order and every tutor turn is regenerated, with the *regenerated*
  conversation so far as history (the model never sees the recorded tutor's replies);
- `human` copies the recorded tutor turns, so the human tutor is graded by the same checks;
- sessions x arms run concurrently under a bound, while the turns of one session stay strictly in order;
- one JSON artifact per session x arm is written atomically (tmp + rename) as soon as it is complete, and
  a re-run skips artifacts that are complete and were made with the same settings (resume);
- the regenerated trajectories are graded with the deterministic Study Mode checks, and each arm gets a
  fidelity mean with a 95% interval, a pass rate per check and an escalation rate.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import ConfigDict, Field, ValidationError

from evalwheel.basemodel import EvalwheelModel
from evalwheel.fileio import make_dir, write_text_atomic
from evalwheel.graders.pedagogy.dimensions.report import dimension_means
from evalwheel.graders.pedagogy.session import EvaluationConfig, evaluate_session
from evalwheel.models.base import GenerateConfig, Message, Model, ModelConfigError, ModelError
from evalwheel.stats.intervals import Interval, mean_ci, proportion_ci
from evalwheel.studymode.guard import GuardConfig, GuardedReply, guarded_reply
from evalwheel.studymode.paired import PairedComparison, paired_comparison
from evalwheel.studymode.prompting import Arm, build_system_message
from evalwheel.types import LearnerProfile, Session, SessionEvaluation, Turn, Usage

ARTIFACT_FORMAT = 2  # 2: `truncated` recorded, so cut sessions are graded as cut
REPORT_NAME = "report.json"
REGENERATED_TAG = "regenerated"

Status = Literal["ok", "skipped", "error"]
T = TypeVar("T")


def utcnow() -> datetime:
    return datetime.now(UTC)


class EmptyReplyError(ModelError):
    """The tutor model returned an empty (or blank) reply. Why an error and not a turn: an empty tutor turn was
    graded as if the tutor had spoken, and a session of them scored as a tutor that never did anything wrong.
    Replay records the session x arm as an error (a re-run tries again); simulate ends the conversation there."""


def check_reply(text: str, turn: int) -> str:
    """`text`, or EmptyReplyError when the model said nothing in reply to the learner's turn `turn`."""
    if not text.strip():
        raise EmptyReplyError(f"the tutor model returned an empty reply to the learner at turn {turn}")
    return text


class ReplayArtifact(EvalwheelModel):
    """One session replayed under one arm: everything needed to audit, re-grade or resume it."""

    model_config = ConfigDict(extra="forbid")

    format_version: int = ARTIFACT_FORMAT
    session_id: str
    domain: str
    prompt: str
    learner: LearnerProfile | None = None
    arm: str
    overlay_version: str | None = None
    model: str | None = None  # None for the human arm: no model was called
    instructions: str | None = None  # the system message sent to the model
    generate_config: dict[str, Any] | None = None
    max_turns: int | None = None
    truncated: bool = False  # max_turns cut the recorded session short: end-of-session checks go unscored
    original_trajectory: list[Turn]
    regenerated_trajectory: list[Turn]
    started_at: datetime
    finished_at: datetime
    usage: Usage = Field(default_factory=Usage)
    cost_usd: float = 0.0
    model_latency_ms: float = 0.0  # sum of the model's reported latencies
    wall_ms: float = 0.0
    turn_latency_ms: list[float] = Field(default_factory=list)
    calls: int = 0
    cached_calls: int = 0
    guard_fired: int = 0
    guard_extra_calls: int = 0
    guard_extra_latency_ms: float = 0.0
    complete: bool = True

    def as_session(self) -> Session:
        """The regenerated conversation as a Session, so the ordinary graders (and `evaluate`) accept it."""
        return Session(
            session_id=self.session_id,
            domain=self.domain,
            prompt=self.prompt,
            learner=self.learner,
            trajectory=self.regenerated_trajectory,
            metadata={
                "source": self.arm,
                "model": self.model,
                "overlay_version": self.overlay_version,
                "truncated": self.truncated,
            },
        )


class CheckRate(EvalwheelModel):
    """How often one check passed among the sessions where it was scored (unscored counted apart)."""

    model_config = ConfigDict(extra="forbid")

    passed: int = 0
    failed: int = 0
    unscored: int = 0
    rate: Interval


class ArmSummary(EvalwheelModel):
    """The A/B row for one arm."""

    model_config = ConfigDict(extra="forbid")

    arm: str
    overlay_version: str | None = None
    sessions: int
    graded: int
    errors: int
    fidelity: Interval
    escalated: int
    escalation_rate: float | None
    checks: dict[str, CheckRate]
    taxonomy: dict[str, int]
    usage: Usage
    cost_usd: float
    mean_turn_latency_ms: float | None
    tutor_turns: int = 0
    model_calls: int = 0
    guard_fired_turns: int = 0  # tutor turns where the guard regenerated or rewrote the draft
    guard_extra_calls: int = 0  # model calls spent on regenerations
    guard_extra_latency_ms: float = 0.0
    dimensions: dict[str, float | None] = Field(default_factory=dict)  # mean 0-2 level per reviewer dimension


class SessionArmResult(EvalwheelModel):
    """What happened to one session x arm in this run."""

    model_config = ConfigDict(extra="forbid")

    session_id: str
    arm: str
    status: Status
    artifact: str | None = None
    error: str | None = None
    evaluation: SessionEvaluation | None = None


class ReplayReport(EvalwheelModel):
    """The outcome of a replay run: per session x arm results and the per-arm summaries."""

    model_config = ConfigDict(extra="forbid")

    model: str | None
    arms: list[str]
    out_dir: str
    max_turns: int | None
    generate_config: dict[str, Any]
    started_at: datetime
    finished_at: datetime
    results: list[SessionArmResult]
    summaries: list[ArmSummary]
    paired: list[PairedComparison] = Field(default_factory=list)  # every arm vs the first, by session

    @property
    def errors(self) -> list[SessionArmResult]:
        return [r for r in self.results if r.status == "error"]


@dataclass(frozen=True)
class ReplayEvent:
    """Progress notification: `advance` units of work finished (one unit = one regenerated tutor turn)."""

    kind: Literal["turn", "job"]
    session_id: str
    arm: str
    advance: int
    status: Status | None = None


ProgressCallback = Callable[[ReplayEvent], None]


# ---------------------------------------------------------------------------------------------- planning


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "x"


def id_stem(identifier: str, limit: int = 100) -> str:
    """A file-name stem for a session or persona id that stays unique: an id that had to be changed (unsafe
    characters, or longer than `limit`) gets a short hash of the original. Why: `topic/one` and `topic-one`
    both became `topic-one`, so two sessions shared one artifact, and a 300-character id was an OSError."""
    stem = _safe(identifier)
    if stem == identifier and len(stem) <= limit:
        return stem
    return f"{stem[:limit]}-{hashlib.sha256(identifier.encode('utf-8')).hexdigest()[:10]}"


def artifact_path(out_dir: Path, session_id: str, arm: Arm) -> Path:
    """`<session_id>__<arm>.json`, with anything unsafe for a file name replaced (see `id_stem`)."""
    return out_dir / f"{id_stem(session_id)}__{_safe(arm.name.replace(':', '-'))}.json"


def is_reply_point(turns: Sequence[Turn], i: int) -> bool:
    """A tutor reply follows a learner turn unless the learner's next message comes straight after it.

    Two learner messages in a row are one learner turn from the tutor's point of view, so the model
    answers once, after the last of them.
    """
    return turns[i].role == "user" and (i + 1 >= len(turns) or turns[i + 1].role != "user")


def truncate(trajectory: Sequence[Turn], max_turns: int | None) -> list[Turn]:
    """The trajectory up to (and including the tutor's reply to) the `max_turns`-th learner turn."""
    turns = list(trajectory)
    if max_turns is None:
        return turns
    seen = 0
    for i in range(len(turns)):
        if is_reply_point(turns, i):
            seen += 1
            if seen == max_turns:
                end = i + 1
                while end < len(turns) and turns[end].role != "user":
                    end += 1
                return turns[:end]
    return turns


def is_cut(full: Sequence[Turn], kept: Sequence[Turn]) -> bool:
    """Whether `kept` (a `truncate` of `full`) dropped learner turns: then the session did not end, it was cut."""
    return sum(t.role == "user" for t in kept) < sum(t.role == "user" for t in full)


def planned_calls(session: Session, arm: Arm, max_turns: int | None) -> int:
    """Model calls a session x arm needs (0 for `human`); the progress bar counts in these."""
    if not arm.uses_model:
        return 0
    turns = truncate(session.trajectory, max_turns)
    return sum(1 for i in range(len(turns)) if is_reply_point(turns, i))


def work_units(session: Session, arm: Arm, max_turns: int | None) -> int:
    return max(1, planned_calls(session, arm, max_turns))


def session_memory(session: Session) -> str | None:
    """A memory summary recorded with the session (`metadata.memory`), injected into the system message."""
    memory = session.metadata.get("memory")
    return memory if isinstance(memory, str) and memory.strip() else None


# ---------------------------------------------------------------------------------------------- writing


def load_artifact(path: Path) -> ReplayArtifact | None:
    """The artifact at `path`, or None when it is missing or unreadable (then it is simply redone)."""
    try:
        return ReplayArtifact.model_validate_json(path.read_bytes())
    except (OSError, ValidationError, ValueError):
        return None


def _reusable(
    art: ReplayArtifact | None,
    session: Session,
    arm: Arm,
    model_name: str | None,
    instructions: str | None,
    config: dict[str, Any] | None,
    max_turns: int | None,
    original: list[Turn],
) -> bool:
    """A complete artifact made with the same inputs and settings; anything else is regenerated."""
    return (
        art is not None
        and art.complete
        and art.format_version == ARTIFACT_FORMAT
        and art.session_id == session.session_id
        and art.arm == arm.name
        and art.model == model_name
        and art.instructions == instructions
        and art.generate_config == config
        and art.max_turns == max_turns
        and art.original_trajectory == original
    )


# ---------------------------------------------------------------------------------------------- replay


async def regenerate(
    turns: Sequence[Turn],
    model: Model,
    instructions: str | None,
    config: GenerateConfig,
    on_turn: Callable[[], None] | None = None,
    guard: GuardConfig | None = None,
    solution: str | list[str] | None = None,
) -> tuple[list[Turn], ReplayArtifactStats]:
    """Replay the learner's turns in order and let the model write every tutor turn.

    History is the regenerated conversation so far, never the recorded tutor: an arm is judged on the
    conversation it would actually have had. With `guard`, every tutor turn goes through the Study Mode
    guard (draft, check, regenerate, rewrite) and carries its `guard:*` tags.
    """
    history: list[Message] = [Message(role="system", content=instructions)] if instructions else []
    out: list[Turn] = []
    stats = ReplayArtifactStats()
    for i, turn in enumerate(turns):
        if turn.role == "assistant":
            continue
        out.append(turn.model_copy(deep=True))
        history.append(Message(role=turn.role, content=turn.content))
        if not is_reply_point(turns, i):
            continue
        started = time.perf_counter()
        if guard is not None:
            reply = await guarded_reply(model, list(history), out, config, guard, solution)
            stats.add_guarded(reply, time.perf_counter() - started)
            text, tags = reply.text, [REGENERATED_TAG, *reply.tags]
        else:
            completion = await model.generate(list(history), config)
            stats.add(completion.usage, completion.latency_ms, time.perf_counter() - started, completion.cached)
            stats.cost_usd += completion.cost_usd
            text, tags = completion.text, [REGENERATED_TAG]
        out.append(Turn(role="assistant", content=check_reply(text, i), tags=tags))
        history.append(Message(role="assistant", content=text))
        if on_turn is not None:
            on_turn()
    return out, stats


@dataclass
class ReplayArtifactStats:
    """Usage and latency accumulated over one session's model calls."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    model_latency_ms: float = 0.0
    calls: int = 0
    cached_calls: int = 0
    turn_latency_ms: list[float] = field(default_factory=list)
    guard_fired: int = 0  # tutor turns where the guard regenerated or rewrote the draft
    guard_extra_calls: int = 0
    guard_extra_latency_ms: float = 0.0
    guard_check_ms: float = 0.0

    def add(self, usage: Usage, latency_ms: float, wall_s: float, cached: bool) -> None:
        self.prompt_tokens += usage.prompt_tokens
        self.completion_tokens += usage.completion_tokens
        # Prefer the backend's latency (excludes queueing behind the concurrency bound); fall back to wall.
        lat = latency_ms if latency_ms > 0 else wall_s * 1000.0
        self.model_latency_ms += lat
        self.turn_latency_ms.append(round(lat, 3))
        self.calls += 1
        self.cached_calls += int(cached)

    def add_guarded(self, reply: GuardedReply, wall_s: float) -> None:
        """One guarded tutor turn: all its model calls count, its latency is the whole draft-check-fix loop."""
        self.prompt_tokens += reply.usage.prompt_tokens
        self.completion_tokens += reply.usage.completion_tokens
        self.cost_usd += reply.cost_usd
        lat = reply.model_latency_ms + reply.check_ms if reply.model_latency_ms > 0 else wall_s * 1000.0
        self.model_latency_ms += lat
        self.turn_latency_ms.append(round(lat, 3))
        self.calls += reply.calls
        self.cached_calls += reply.cached_calls
        self.guard_fired += int(reply.fired)
        self.guard_extra_calls += reply.calls - 1
        self.guard_extra_latency_ms += reply.extra_latency_ms
        self.guard_check_ms += reply.check_ms


async def replay_one(
    session: Session,
    arm: Arm,
    model: Model | None,
    out_dir: Path,
    config: GenerateConfig,
    max_turns: int | None = None,
    on_event: ProgressCallback | None = None,
) -> SessionArmResult:
    """Replay one session under one arm, write its artifact, or skip it when a matching one exists."""
    path = artifact_path(out_dir, session.session_id, arm)
    original = truncate(session.trajectory, max_turns)
    instructions = build_system_message(arm, session.learner, session_memory(session))
    model_name = model.name if (model is not None and arm.uses_model) else None
    cfg = config.model_dump(mode="json") if arm.uses_model else None
    units = work_units(session, arm, max_turns)

    def emit(kind: Literal["turn", "job"], advance: int, status: Status | None = None) -> None:
        if on_event is not None:
            on_event(ReplayEvent(kind, session.session_id, arm.name, advance, status))

    if _reusable(load_artifact(path), session, arm, model_name, instructions, cfg, max_turns, original):
        emit("job", units, "skipped")
        return SessionArmResult(session_id=session.session_id, arm=arm.name, status="skipped", artifact=str(path))

    started_at, t0 = utcnow(), time.perf_counter()
    done = 0

    def on_turn() -> None:
        nonlocal done
        done += 1
        emit("turn", 1)

    if arm.uses_model:
        if model is None:
            raise ValueError(f"arm {arm.name} needs a model")
        guard = GuardConfig() if arm.guard else None
        solution = session.metadata.get("solution")
        regenerated, stats = await regenerate(original, model, instructions, config, on_turn, guard, solution)
    else:
        regenerated, stats = [t.model_copy(deep=True) for t in original], ReplayArtifactStats()
    artifact = ReplayArtifact(
        session_id=session.session_id,
        domain=session.domain,
        prompt=session.prompt,
        learner=session.learner,
        arm=arm.name,
        overlay_version=arm.overlay_version,
        model=model_name,
        instructions=instructions,
        generate_config=cfg,
        max_turns=max_turns,
        truncated=is_cut(session.trajectory, original),
        original_trajectory=original,
        regenerated_trajectory=regenerated,
        started_at=started_at,
        finished_at=utcnow(),
        usage=Usage(prompt_tokens=stats.prompt_tokens, completion_tokens=stats.completion_tokens),
        cost_usd=stats.cost_usd,
        model_latency_ms=round(stats.model_latency_ms, 3),
        wall_ms=round((time.perf_counter() - t0) * 1000.0, 3),
        turn_latency_ms=stats.turn_latency_ms,
        calls=stats.calls,
        cached_calls=stats.cached_calls,
        guard_fired=stats.guard_fired,
        guard_extra_calls=stats.guard_extra_calls,
        guard_extra_latency_ms=round(stats.guard_extra_latency_ms, 3),
    )
    write_text_atomic(path, artifact.model_dump_json(indent=2))
    emit("job", units - done, "ok")
    return SessionArmResult(session_id=session.session_id, arm=arm.name, status="ok", artifact=str(path))


# ---------------------------------------------------------------------------------------------- grading


@dataclass
class ArmCosts:
    """Usage, latency and guard activity of one arm's sessions, summed."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    turn_latency_ms: list[float] = field(default_factory=list)
    calls: int = 0
    guard_fired: int = 0
    guard_extra_calls: int = 0
    guard_extra_latency_ms: float = 0.0

    @classmethod
    def of(cls, artifacts: Sequence[ReplayArtifact]) -> ArmCosts:
        return cls(
            prompt_tokens=sum(a.usage.prompt_tokens for a in artifacts),
            completion_tokens=sum(a.usage.completion_tokens for a in artifacts),
            cost_usd=sum(a.cost_usd for a in artifacts),
            turn_latency_ms=[x for a in artifacts for x in a.turn_latency_ms],
            calls=sum(a.calls for a in artifacts),
            guard_fired=sum(a.guard_fired for a in artifacts),
            guard_extra_calls=sum(a.guard_extra_calls for a in artifacts),
            guard_extra_latency_ms=sum(a.guard_extra_latency_ms for a in artifacts),
        )


def summarize_evaluations(
    arm: Arm, evals: Sequence[SessionEvaluation], sessions: int, errors: int, costs: ArmCosts
) -> ArmSummary:
    """Fidelity mean with a 95% t-interval (clipped to [0, 1]), Wilson pass rate per check, escalation rate."""
    fidelities = [e.fidelity for e in evals if e.fidelity is not None]
    counts: dict[str, Counter[str]] = {}
    for e in evals:
        for s in e.checks:
            key = "passed" if s.passed is True else "failed" if s.passed is False else "unscored"
            counts.setdefault(str(s.name), Counter())[key] += 1
    checks = {
        name: CheckRate(
            passed=c["passed"],
            failed=c["failed"],
            unscored=c["unscored"],
            rate=proportion_ci(c["passed"], c["passed"] + c["failed"]),
        )
        for name, c in counts.items()
    }
    escalated = sum(e.escalate for e in evals)
    latencies = costs.turn_latency_ms
    return ArmSummary(
        arm=arm.name,
        overlay_version=arm.overlay_version,
        sessions=sessions,
        graded=len(evals),
        errors=errors,
        fidelity=mean_ci(fidelities, bounds=(0.0, 1.0)),
        escalated=escalated,
        escalation_rate=escalated / len(evals) if evals else None,
        checks=checks,
        taxonomy=dict(Counter(m.value for e in evals for m in e.taxonomy).most_common()),
        usage=Usage(prompt_tokens=costs.prompt_tokens, completion_tokens=costs.completion_tokens),
        cost_usd=costs.cost_usd,
        mean_turn_latency_ms=sum(latencies) / len(latencies) if latencies else None,
        tutor_turns=len(latencies),
        model_calls=costs.calls,
        guard_fired_turns=costs.guard_fired,
        guard_extra_calls=costs.guard_extra_calls,
        guard_extra_latency_ms=round(costs.guard_extra_latency_ms, 3),
        dimensions=dimension_means(evals),
    )


def summarize_arm(arm: Arm, results: Sequence[SessionArmResult], artifacts: Sequence[ReplayArtifact]) -> ArmSummary:
    """The A/B row of one arm of a replay."""
    evals = [r.evaluation for r in results if r.evaluation is not None]
    errors = sum(r.status == "error" for r in results)
    return summarize_evaluations(arm, evals, len(results), errors, ArmCosts.of(artifacts))


async def gather_all(jobs: Sequence[Coroutine[Any, Any, T]]) -> list[T]:
    """Run the jobs concurrently; if one raises (or we are cancelled), cancel the rest before re-raising."""
    tasks = [asyncio.create_task(j) for j in jobs]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


async def replay_sessions(
    sessions: Sequence[Session],
    arms: Sequence[Arm],
    model: Model | None,
    out_dir: Path,
    config: GenerateConfig | None = None,
    max_turns: int | None = None,
    concurrency: int = 4,
    eval_config: EvaluationConfig | None = None,
    on_event: ProgressCallback | None = None,
    write_report: bool = True,
) -> ReplayReport:
    """Replay every session under every arm (bounded concurrency), grade, summarise, write the report.

    A model configuration error (unknown model, unreachable server, missing key) aborts the run, since
    every other call would fail the same way; any other failure of one session x arm is recorded in the
    report and the rest of the run continues. Artifacts already written stay on disk either way.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be >= 1")
    if max_turns is not None and max_turns < 1:
        raise ValueError("max_turns must be >= 1")
    if model is None and any(a.uses_model for a in arms):
        raise ValueError("a model is required for the arms " + ", ".join(a.name for a in arms if a.uses_model))
    cfg = config or GenerateConfig()
    make_dir(out_dir, what="--out")
    started_at = utcnow()
    sem = asyncio.Semaphore(concurrency)

    async def job(session: Session, arm: Arm) -> SessionArmResult:
        async with sem:
            try:
                return await replay_one(session, arm, model, out_dir, cfg, max_turns, on_event)
            except (ModelConfigError, asyncio.CancelledError):
                raise
            except Exception as exc:  # one broken session must not sink the run; it is reported instead
                if on_event is not None:
                    on_event(ReplayEvent("job", session.session_id, arm.name, 0, "error"))
                return SessionArmResult(
                    session_id=session.session_id, arm=arm.name, status="error", error=f"{type(exc).__name__}: {exc}"
                )

    results = await gather_all([job(s, a) for s in sessions for a in arms])

    artifacts: dict[tuple[str, str], ReplayArtifact] = {}
    for r in results:
        art = load_artifact(Path(r.artifact)) if r.artifact else None
        if art is None:
            if r.status != "error":
                r.status, r.error = "error", "artifact missing or unreadable after the run"
            continue
        artifacts[(r.session_id, r.arm)] = art
        r.evaluation = evaluate_session(art.as_session(), eval_config)

    summaries = [
        summarize_arm(
            arm,
            [r for r in results if r.arm == arm.name],
            [a for (_, name), a in artifacts.items() if name == arm.name],
        )
        for arm in arms
    ]
    by_arm = {
        arm.name: {r.session_id: r.evaluation for r in results if r.arm == arm.name and r.evaluation is not None}
        for arm in arms
    }
    paired = [paired_comparison(arms[0].name, a.name, by_arm[arms[0].name], by_arm[a.name]) for a in arms[1:]]
    report = ReplayReport(
        model=model.name if model is not None else None,
        arms=[a.name for a in arms],
        out_dir=str(out_dir),
        max_turns=max_turns,
        generate_config=cfg.model_dump(mode="json"),
        started_at=started_at,
        finished_at=utcnow(),
        results=results,
        summaries=summaries,
        paired=paired,
    )
    if write_report:
        write_text_atomic(out_dir / REPORT_NAME, report.model_dump_json(indent=2))
    return report


def report_as_json(report: ReplayReport) -> str:
    """The whole report (results with their evaluations, and the per-arm summaries) as indented JSON."""
    return json.dumps(report.model_dump(mode="json"), indent=2)
