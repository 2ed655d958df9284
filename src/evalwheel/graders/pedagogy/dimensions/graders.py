"""Registered async graders for the reviewer dimensions, and the accuracy LLM-judge fallback.

- `studymode.dimensions`: every enabled dimension's Score for the session (fidelity included);
- `studymode.dimension.<name>`: one dimension (e.g. `studymode.dimension.clarity`), so a spec can gate on it;
- `studymode.accuracy_judged`: the deterministic accuracy verdict, and where it could verify nothing (no
  checkable claim, or the sandbox stopped the code) the `studymode.answer_accuracy` rubric judge reads the
  content instead. Its Score says which tier decided in `metadata["tier"]` ("deterministic" or
  "llm_judge"); a contradiction the checker computed is never overridden by the judge, and a session without a
  tutor turn is unscored without asking the judge.

Config (GraderContext.config): `studymode` (an EvaluationConfig dict: thresholds, `dimensions:` settings);
for the judged grader also everything the rubric judge reads (`judge_model`, `n`, ...) and
`fallback_below` (confidence under which the judge is asked; default 0.6).
"""

from __future__ import annotations

import asyncio

from evalwheel.graders.pedagogy.dimensions import DIMENSION_GRADERS
from evalwheel.graders.pedagogy.dimensions.common import View
from evalwheel.graders.pedagogy.graders import session_of
from evalwheel.graders.pedagogy.session import (
    EvaluationConfig,
    evaluate_session,
    has_tutor_turn,
    unscored_without_tutor,
)
from evalwheel.graders.pedagogy.tagger import tag_session
from evalwheel.graders.registry import GraderContext, GraderFn, grader
from evalwheel.types import DimensionName, Output, Sample, Score, Session


def _accuracy(session: Session, cfg: EvaluationConfig) -> Score:
    settings = cfg.dimensions.settings(DimensionName.ACCURACY.value)
    return DIMENSION_GRADERS[DimensionName.ACCURACY](View(tag_session(session)), cfg.dimensions).score(settings.pass_at)


def _config(ctx: GraderContext) -> EvaluationConfig:
    return EvaluationConfig.model_validate(ctx.config.get("studymode", {}))


@grader("studymode.dimensions")
async def studymode_dimensions(sample: Sample, output: Output, ctx: GraderContext) -> list[Score]:
    """All reviewer dimensions of the session on the 0-2 anchored scale, with evidence and confidence."""
    cfg = _config(ctx)
    session = session_of(sample, output)
    if cfg.dimensions.execute_code:
        # Code claims run in a subprocess; a worker thread keeps the run's event loop serving other samples.
        return (await asyncio.to_thread(evaluate_session, session, cfg)).dimensions
    return evaluate_session(session, cfg).dimensions


def _make(name: DimensionName) -> GraderFn:
    async def one_dimension(sample: Sample, output: Output, ctx: GraderContext) -> Score:
        cfg = _config(ctx)
        session = session_of(sample, output)
        if name == DimensionName.PEDAGOGICAL_FIDELITY:
            return evaluate_session(session, cfg).dimensions[0]
        settings = cfg.dimensions.settings(name.value)
        if not has_tutor_turn(session):  # nothing to judge, not a vacuous pass (as in evaluate_session)
            judged = DIMENSION_GRADERS[name](View(tag_session(session)), cfg.dimensions)
            return unscored_without_tutor(judged.score(settings.pass_at))
        if name == DimensionName.ACCURACY and cfg.dimensions.execute_code:
            return await asyncio.to_thread(_accuracy, session, cfg)
        return DIMENSION_GRADERS[name](View(tag_session(session)), cfg.dimensions).score(settings.pass_at)

    one_dimension.__name__ = one_dimension.__qualname__ = f"studymode_dimension_{name.value}"
    one_dimension.__doc__ = f"The '{name.value}' reviewer dimension on the rubric's 0-2 scale (docs/rubric.md)."
    return grader(f"studymode.dimension.{name.value}")(one_dimension)


DIMENSION_REGISTRY: dict[DimensionName, GraderFn] = {name: _make(name) for name in DimensionName}


@grader("studymode.accuracy_judged")
async def studymode_accuracy_judged(sample: Sample, output: Output, ctx: GraderContext) -> Score:
    """Accuracy of content: deterministic where it can compute, the LLM rubric judge (marked) for the rest."""
    from evalwheel.graders.pedagogy.llm import STUDYMODE_GRADERS

    cfg = _config(ctx)
    session = session_of(sample, output)
    settings = cfg.dimensions.settings(DimensionName.ACCURACY.value)
    det = await asyncio.to_thread(_accuracy, session, cfg)
    if not has_tutor_turn(session):  # nothing to judge: unscored, without asking the judge (as evaluate_session)
        return unscored_without_tutor(det)
    threshold = float(ctx.config.get("fallback_below", 0.6))
    if det.value == 0 or (det.confidence is not None and det.confidence >= threshold):
        return det
    judge_config = {k: v for k, v in ctx.config.items() if k not in ("studymode", "fallback_below")}
    judged = await STUDYMODE_GRADERS["studymode.answer_accuracy"](sample, output, GraderContext(config=judge_config))
    assert isinstance(judged, Score)
    deterministic = {"value": det.value, "reason": det.reason, "confidence": det.confidence}
    if judged.value is None:
        det.metadata.update({"judge_unscored": True, "judge_reason": judged.reason})
        return det
    value = max(0, min(2, round(judged.value)))
    return Score(
        name=DimensionName.ACCURACY.value,
        value=float(value),
        passed=value >= settings.pass_at,
        reason=f"LLM judge: {judged.reason}",
        evidence=judged.evidence or det.evidence,
        confidence=judged.confidence,
        metadata={"scale": "0-2", "tier": "llm_judge", "deterministic": deterministic, "judge": judged.metadata},
    )


__all__ = ["DIMENSION_REGISTRY", "studymode_accuracy_judged", "studymode_dimensions"]
