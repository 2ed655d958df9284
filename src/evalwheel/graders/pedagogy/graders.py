"""Registered async graders over the deterministic Study Mode checks."""

from __future__ import annotations

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


@grader("studymode.fidelity")
async def studymode_fidelity(sample: Sample, output: Output, ctx: GraderContext) -> list[Score]:
    """Every check's Score plus a `pedagogical_fidelity` Score (mean of the scored checks)."""
    cfg = EvaluationConfig.model_validate(ctx.config.get("studymode", {}))
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
