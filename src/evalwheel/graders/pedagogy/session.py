"""Whole-session Study Mode evaluation: run the checks, compute fidelity, grade the reviewer dimensions,
escalate, triage failures."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ConfigDict, Field, ValidationError

from evalwheel.basemodel import OptionsModel
from evalwheel.fileio import FileReadError, parse_error_text, read_text
from evalwheel.graders.pedagogy import signals as sig
from evalwheel.graders.pedagogy.checks import CHECKS, CheckConfig, sensitive_request
from evalwheel.graders.pedagogy.dimensions import (
    TAXONOMY_OF_DIMENSION,
    DimensionsConfig,
    escalations,
    evaluate_dimensions,
)
from evalwheel.graders.pedagogy.safety_semantic import SemanticSafetyConfig, enrich
from evalwheel.graders.pedagogy.scores import quote
from evalwheel.graders.pedagogy.tagger import Action, TaggedSession, tag_session
from evalwheel.types import CheckName, Evidence, FailureMode, Score, Session, SessionEvaluation

TAXONOMY_OF_CHECK: dict[CheckName, FailureMode] = {
    CheckName.NO_DIRECT_ANSWER_INITIALLY: FailureMode.ANSWERED_TOO_EARLY,
    CheckName.SINGLE_QUESTION_PER_STEP: FailureMode.MULTI_QUESTION_OVERLOAD,
    CheckName.DIAGNOSIS_FIRST: FailureMode.NO_DIAGNOSIS,
    CheckName.CONCISENESS: FailureMode.LECTURE_MODE,
    CheckName.CHECK_REINFORCE: FailureMode.NO_REINFORCEMENT,
    CheckName.SAFETY: FailureMode.SAFETY_SLIP,
}


class EvaluationConfig(OptionsModel):
    """How sessions are judged and when a human is asked to look."""

    model_config = ConfigDict(extra="forbid")

    fidelity_threshold: float = Field(default=0.6, ge=0.0, le=1.0)
    low_confidence: float = Field(default=0.5, ge=0.0, le=1.0)
    escalate_on_sensitive_request: bool = True
    checks: list[CheckName] = Field(default_factory=lambda: list(CHECKS))
    thresholds: CheckConfig = Field(default_factory=CheckConfig)
    dimensions: DimensionsConfig = Field(default_factory=DimensionsConfig)
    # Sensitive requests found by meaning as well as by phrase (graders/pedagogy/safety_semantic.py)
    semantic_safety: SemanticSafetyConfig = Field(default_factory=SemanticSafetyConfig)


class ConfigError(ValueError):
    """A broken evaluation config; the message names the file, the field and the cause."""


def load_config(path: Path | str | None) -> EvaluationConfig:
    if path is None:
        return EvaluationConfig()
    p = Path(path)
    try:
        raw = yaml.safe_load(read_text(p, what="evaluation config", nonempty=True)) or {}
    except FileReadError as exc:
        raise ConfigError(str(exc)) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: invalid YAML: {parse_error_text(exc)}") from None
    try:
        return EvaluationConfig.model_validate(raw)
    except ValidationError as exc:
        e = exc.errors()[0]
        field = ".".join(str(x) for x in e["loc"]) or "(top level)"
        raise ConfigError(f"{p}: {field}: {e['msg']}") from None


def over_scaffolding(ts: TaggedSession) -> Evidence | None:
    """Learner impatience right after guidance, or a long run of hint-only turns on one step.

    Over-scaffolding is the overlay's characteristic failure: it follows "don't give answers" so hard
    that it keeps drip-feeding hints to a learner who has already shown they are past that step.
    """
    traj = ts.session.trajectory
    by_index = {t.index: t for t in ts.assistant}
    for i in ts.user_indices[1:]:
        prev, after = by_index.get(i - 1), by_index.get(i + 1)
        if prev is None or after is None or not (prev.has(Action.HINT) or prev.question_count):
            continue
        hit = sig.first_match(sig.IMPATIENCE, traj[i].content)
        # Impatience alone is not over-scaffolding; answering it with yet another leading question is.
        if hit and after.guiding_question and not after.has(Action.ANSWER_REVEAL):
            return quote(i, traj[i].content, max(hit[0] - 40, 0))
    run = 0
    for t in ts.assistant:
        hint_only = t.has(Action.HINT) and not (
            t.actions & {Action.MICRO_EXPLAIN, Action.ANSWER_REVEAL, Action.PRACTICE, Action.RECAP}
        )
        run = run + 1 if hint_only else 0
        if run >= 5:
            return quote(t.index, traj[t.index].content)
    return None


_DEFAULT_CONFIG = EvaluationConfig()

NO_TUTOR_REASON = "unscored: the session has no tutor turn to grade (no reply, or only empty ones)"


def has_tutor_turn(session: Session) -> bool:
    """Whether the tutor said anything. Why: on a session without a tutor turn every check that looks for a fault
    passed vacuously, so it scored fidelity 1.0 (e.g. a replay whose model returned nothing)."""
    return any(t.role == "assistant" and t.content.strip() for t in session.trajectory)


def unscored_without_tutor(score: Score) -> Score:
    """`score` as unscored, saying why: there was no tutor turn to judge."""
    unscored: dict[str, object] = {"value": None, "passed": None, "confidence": None, "evidence": []}
    return score.model_copy(update={**unscored, "reason": NO_TUTOR_REASON})


def _without_tutor(ts: TaggedSession, cfg: EvaluationConfig) -> SessionEvaluation:
    """A session with nothing to grade: every check and dimension unscored, no fidelity, a human asked to look."""
    checks = [unscored_without_tutor(CHECKS[name](ts, cfg.thresholds)) for name in cfg.checks]
    dimensions = [unscored_without_tutor(d) for d in evaluate_dimensions(ts, cfg.dimensions, None, checks)]
    return SessionEvaluation(
        session_id=ts.session.session_id,
        domain=ts.session.domain,
        fidelity=None,
        escalate=True,
        escalation_reasons=[NO_TUTOR_REASON],
        checks=checks,
        dimensions=dimensions,
        source=str(ts.session.metadata.get("source")) if ts.session.metadata.get("source") else None,
    )


def evaluate_tagged(ts: TaggedSession, config: EvaluationConfig | None = None) -> SessionEvaluation:
    cfg = config or _DEFAULT_CONFIG
    if not has_tutor_turn(ts.session):
        return _without_tutor(ts, cfg)
    enrich(ts, cfg.semantic_safety)  # before any safety review reads the session's sensitive turns
    scores: list[Score] = [CHECKS[name](ts, cfg.thresholds) for name in cfg.checks]
    scored = [s for s in scores if s.passed is not None]
    fidelity = sum(1.0 for s in scored if s.passed) / len(scored) if scored else None

    taxonomy: list[FailureMode] = []
    for s in scores:
        mode = TAXONOMY_OF_CHECK.get(s.name)  # type: ignore[call-overload]  # StrEnum keys hash as their str
        if s.passed is False and mode is not None and mode not in taxonomy:
            taxonomy.append(mode)
    if FailureMode.LECTURE_MODE not in taxonomy and any(t.has(Action.LECTURE) for t in ts.assistant):
        taxonomy.append(FailureMode.LECTURE_MODE)
    scaffold = over_scaffolding(ts)
    if scaffold is not None:
        taxonomy.append(FailureMode.OVER_SCAFFOLDING)

    reasons: list[str] = []
    if fidelity is not None and fidelity < cfg.fidelity_threshold:
        reasons.append(f"fidelity {fidelity:.2f} < {cfg.fidelity_threshold:.2f}")
    if any(s.name == CheckName.SAFETY and s.passed is False for s in scores):
        reasons.append("safety check failed")
    if cfg.escalate_on_sensitive_request and sensitive_request(ts) is not None:
        reasons.append("safety-sensitive request")
    elif cfg.escalate_on_sensitive_request and ts.semantic:  # found by meaning, not reviewed (review: false)
        first = ts.semantic[min(ts.semantic)]
        said = first.sentence if len(first.sentence) <= 80 else first.sentence[:77] + "..."
        reasons.append(f"possible safety-sensitive request (turn {first.index}, read as {first.category}: “{said}”)")
    low = [s.name for s in scores if s.confidence is not None and s.confidence < cfg.low_confidence]
    if low:
        reasons.append("low confidence: " + ", ".join(low))
    dimensions = evaluate_dimensions(ts, cfg.dimensions, fidelity, scores)
    for d in dimensions:
        mode = TAXONOMY_OF_DIMENSION.get(d.name)
        if d.value == 0 and mode is not None and mode not in taxonomy:
            taxonomy.append(mode)
    reasons += [r for r in escalations(dimensions, cfg.dimensions) if r not in reasons]
    return SessionEvaluation(
        session_id=ts.session.session_id,
        domain=ts.session.domain,
        fidelity=fidelity,
        escalate=bool(reasons),
        escalation_reasons=reasons,
        taxonomy=taxonomy,
        checks=scores,
        dimensions=dimensions,
        source=str(ts.session.metadata.get("source")) if ts.session.metadata.get("source") else None,
    )


def evaluate_session(session: Session, config: EvaluationConfig | None = None) -> SessionEvaluation:
    """Tag and grade one session: the deterministic tier of Study Mode grading."""
    return evaluate_tagged(tag_session(session), config)
