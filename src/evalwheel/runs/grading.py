"""Grade one output with the spec's graders and fold the scores into one sample status.

Folding rules (documented in the README): a grader that raises makes the sample `error`; otherwise any
failed gating score makes it `failed`; else any unscored gating score makes it `unscored` (never silently a
fail); else `passed`. Graders with `gate: false` are stored and reported but do not decide the status.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalwheel.graders.registry import GraderContext, GraderFn
from evalwheel.types import Output, Sample, SampleStatus, Score


@dataclass(frozen=True)
class BoundGrader:
    """A registered grader with its resolved configuration, built once per run."""

    name: str
    fn: GraderFn
    ctx: GraderContext
    gate: bool
    gate_scores: tuple[str, ...] | None = None
    # The agreement note of the spec's `calibration:` record (None: none given or unreadable), put on the
    # Scores that lack one so reports show the figure next to the verdict; `agreement_score` limits it to the
    # score the record measured (a grader may return several).
    agreement: dict[str, Any] | None = None
    agreement_score: str | None = None

    def gates_on(self, score: Score) -> bool:
        return self.gate and (self.gate_scores is None or score.name in self.gate_scores)

    def with_agreement(self, score: Score) -> Score:
        if self.agreement is None or "agreement" in score.metadata:
            return score
        if self.agreement_score is not None and score.name != self.agreement_score:
            return score
        return score.model_copy(update={"metadata": {**score.metadata, "agreement": self.agreement}})


def spec_agreement(calibration: Path | None, grader: str) -> tuple[dict[str, Any] | None, str | None]:
    """(note, score name) of a spec grader's `calibration:` record, or (None, None).

    A missing, unreadable or other-grader record gives no note here: the judge-agreement gate is where such a
    record is reported as bad input, and a report must not print a figure measured for another grader.
    """
    if calibration is None or not calibration.is_file():
        return None, None
    from evalwheel.calibration.record import CalibrationRecordError, load_calibration_record
    from evalwheel.calibration.shipped import note_from_record

    try:
        record = load_calibration_record(calibration)
    except CalibrationRecordError:
        return None, None
    if record.grader != grader:
        return None, None
    return note_from_record(record), record.score_name


class GraderFailure(RuntimeError):
    """A grader raised: the sample is an error, isolated from the rest of the run."""


async def grade(sample: Sample, output: Output, graders: Sequence[BoundGrader]) -> tuple[list[Score], list[Score]]:
    """All scores (tagged with their grader) and the gating subset."""
    scores: list[Score] = []
    gating: list[Score] = []
    for g in graders:
        try:
            result = await g.fn(sample, output, g.ctx)
        except Exception as exc:
            raise GraderFailure(f"grader {g.name}: {exc.__class__.__name__}: {exc}") from exc
        for score in result if isinstance(result, list) else [result]:
            if "grader" not in score.metadata:
                score = score.model_copy(update={"metadata": {**score.metadata, "grader": g.name}})
            score = g.with_agreement(score)
            scores.append(score)
            if g.gates_on(score):
                gating.append(score)
    return scores, gating


def fold(gating: Sequence[Score]) -> tuple[SampleStatus, float | None]:
    """The sample's status and value (mean of the gating scores' values) from its gating scores."""
    values = [s.value for s in gating if s.value is not None]
    value = sum(values) / len(values) if values else None
    if not gating:
        return "unscored", value
    if any(s.passed is False for s in gating):
        return "failed", value
    if any(s.passed is None for s in gating):
        return "unscored", value
    return "passed", value
