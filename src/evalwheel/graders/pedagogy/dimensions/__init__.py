"""The seven reviewer dimensions of a Study Mode session, each on the rubric's 0-2 anchored scale.

`evaluate_dimensions` grades a tagged session on every enabled dimension (deterministic tier; code
claims run in the sandbox when `execute_code` is on). Each dimension is also a registered grader
(`studymode.<dimension>`, see `graders.py`), and `studymode.accuracy_judged` adds the LLM-judge
fallback for content the deterministic tier cannot check.
"""

from __future__ import annotations

from collections.abc import Callable

from evalwheel.graders.pedagogy.dimensions.accuracy import accuracy
from evalwheel.graders.pedagogy.dimensions.clarity import clarity
from evalwheel.graders.pedagogy.dimensions.common import DimensionResult, View
from evalwheel.graders.pedagogy.dimensions.config import DimensionsConfig, DimensionSettings
from evalwheel.graders.pedagogy.dimensions.engagement import engagement
from evalwheel.graders.pedagogy.dimensions.learning import opportunity_for_learning
from evalwheel.graders.pedagogy.dimensions.personalization import personalization
from evalwheel.graders.pedagogy.dimensions.safety import safety
from evalwheel.graders.pedagogy.tagger import TaggedSession
from evalwheel.types import DimensionName, Evidence, FailureMode, Score

DimensionFn = Callable[[View, DimensionsConfig], DimensionResult]

DIMENSION_GRADERS: dict[DimensionName, DimensionFn] = {
    DimensionName.ACCURACY: accuracy,
    DimensionName.CLARITY: clarity,
    DimensionName.ENGAGEMENT: engagement,
    DimensionName.PERSONALIZATION: personalization,
    DimensionName.SAFETY: safety,
    DimensionName.OPPORTUNITY_FOR_LEARNING: opportunity_for_learning,
}

TAXONOMY_OF_DIMENSION: dict[str, FailureMode] = {
    DimensionName.ACCURACY.value: FailureMode.CONTENT_ERROR,
    DimensionName.CLARITY.value: FailureMode.COGNITIVE_OVERLOAD,
    DimensionName.ENGAGEMENT.value: FailureMode.COLD_AFFECT,
    DimensionName.PERSONALIZATION.value: FailureMode.IGNORES_LEARNER,
    DimensionName.OPPORTUNITY_FOR_LEARNING.value: FailureMode.PASSIVE_LEARNER,
}


def fidelity_level(fidelity: float | None) -> int | None:
    """Pedagogical fidelity on the 0-2 scale: 2 at >= 0.8, 1 at >= 0.6 (the rubric's derived anchors)."""
    if fidelity is None:
        return None
    return 2 if fidelity >= 0.8 - 1e-9 else 1 if fidelity >= 0.6 - 1e-9 else 0


def fidelity_dimension(fidelity: float | None, checks: list[Score]) -> DimensionResult:
    level = fidelity_level(fidelity)
    failed = [s for s in checks if s.passed is False]
    reason = (
        "no check could be scored"
        if fidelity is None
        else (
            f"fidelity {fidelity:.2f}: "
            + (", ".join(s.name for s in failed) + " failed" if failed else "every check passes")
        )
    )
    evidence: list[Evidence] = [e for s in failed[:2] for e in s.evidence[:1]]
    confs = [s.confidence for s in checks if s.confidence is not None]
    conf = sum(confs) / len(confs) if confs else 0.5
    return DimensionResult(DimensionName.PEDAGOGICAL_FIDELITY, level, reason, conf, evidence, {"fidelity": fidelity})


def evaluate_dimensions(
    ts: TaggedSession, cfg: DimensionsConfig, fidelity: float | None, checks: list[Score]
) -> list[Score]:
    """Every enabled dimension's Score, fidelity first, in DimensionName order."""
    view = View(ts)
    out: list[Score] = []
    fid = cfg.pedagogical_fidelity
    if fid.enabled:
        out.append(fidelity_dimension(fidelity, checks).score(fid.pass_at))
    for name, fn in DIMENSION_GRADERS.items():
        settings = cfg.settings(name.value)
        if settings.enabled:
            out.append(fn(view, cfg).score(settings.pass_at))
    return out


def escalations(scores: list[Score], cfg: DimensionsConfig) -> list[str]:
    """Escalation reasons from the dimensions' `escalate_at_or_below` settings."""
    reasons: list[str] = []
    for s in scores:
        limit = cfg.settings(s.name).escalate_at_or_below
        if limit is not None and s.value is not None and s.value <= limit:
            reasons.append(f"{s.name} {s.value:.0f} <= {limit}")
    return reasons


__all__ = [
    "DIMENSION_GRADERS",
    "TAXONOMY_OF_DIMENSION",
    "DimensionSettings",
    "DimensionsConfig",
    "escalations",
    "evaluate_dimensions",
    "fidelity_level",
]
