"""Registered async graders over the deterministic Study Mode checks."""

from __future__ import annotations

from typing import Any

from evalwheel.graders.pedagogy.session import EvaluationConfig, evaluate_session
from evalwheel.graders.registry import GraderContext, grader
from evalwheel.types import Output, Sample, Score, Session


def session_of(sample: Sample, output: Output) -> Session:
    """The session to grade: the sample's session with the solver's trajectory when it produced one."""
    if not isinstance(sample.input, Session):
        raise TypeError(f"sample {sample.id!r}: studymode graders need a Session as input")
    if output.trajectory is None:
        return sample.input
    update: dict[str, object] = {"trajectory": output.trajectory}
    recorded_users = sum(t.role == "user" for t in sample.input.trajectory)
    if sum(t.role == "user" for t in output.trajectory) < recorded_users:
        # The solver stopped before the recorded learner did (--max-turns): grade it as cut, not ended.
        update["metadata"] = {**sample.input.metadata, "truncated": True}
    return sample.input.model_copy(update=update)


_CONFIGS: dict[int, tuple[Any, EvaluationConfig]] = {}


def evaluation_config(raw: Any) -> EvaluationConfig:
    """`EvaluationConfig` for a grader's `studymode` option, parsed once per bound config object.

    The grader is called per session with the same bound config dict (batch grading: a million times), so
    the memo is keyed by the dict's identity and holds the dict, so that its id cannot be reused."""
    if not raw:
        raw = _EMPTY
    hit = _CONFIGS.get(id(raw))
    if hit is not None and hit[0] is raw:
        return hit[1]
    parsed = EvaluationConfig.model_validate(raw)
    if len(_CONFIGS) < 256:
        _CONFIGS[id(raw)] = (raw, parsed)
    return parsed


_EMPTY: dict[str, Any] = {}


@grader("studymode.fidelity")
async def studymode_fidelity(sample: Sample, output: Output, ctx: GraderContext) -> list[Score]:
    """Every check's Score plus a `pedagogical_fidelity` Score (mean of the scored checks)."""
    cfg = evaluation_config(ctx.config.get("studymode", {}))
    result = evaluate_session(session_of(sample, output), cfg)
    fidelity = Score(
        name="pedagogical_fidelity",
        value=result.fidelity,
        passed=None if result.fidelity is None else result.fidelity >= cfg.fidelity_threshold,
        reason="; ".join(result.escalation_reasons) or "no escalation",
        metadata={"escalate": result.escalate, "taxonomy": [m.value for m in result.taxonomy]},
    )
    return [*result.checks, fidelity]


# The reviewer-dimension graders (studymode.dimensions, studymode.dimension.*, studymode.accuracy_judged) register
# when this module loads, so every path that makes the fidelity grader available makes them available too.
from evalwheel.graders.pedagogy.dimensions import graders as dimension_graders  # noqa: E402

__all__ = ["dimension_graders", "session_of", "studymode_fidelity"]
