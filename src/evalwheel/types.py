"""Pydantic models that cross module boundaries.

Everything that is read from disk, written to disk or handed from one subsystem to another is one of
these models, so validation (and its error messages) happens in exactly one place.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator

from evalwheel.basemodel import EvalwheelModel

SNIPPET_MAX = 200

Role = Literal["user", "assistant", "system"]
Level = Literal["beginner", "intermediate", "advanced"]
Partition = Literal["golden", "regression", "adversarial", "distribution"]


class CheckName(StrEnum):
    """The session-level Study Mode checks (the seed's seven, plus recap and safety)."""

    DIAGNOSIS_FIRST = "diagnosis_first"
    NO_DIRECT_ANSWER_INITIALLY = "no_direct_answer_initially"
    SINGLE_QUESTION_PER_STEP = "single_question_per_step"
    WAIT_FOR_STUDENT = "wait_for_student"
    CHECK_REINFORCE = "check_reinforce"
    VARY_RHYTHM = "vary_rhythm"
    CONCISENESS = "conciseness"
    RECAP = "recap"
    SAFETY = "safety"


class FailureMode(StrEnum):
    """The failure taxonomy used to triage sessions into prompt and policy fixes."""

    ANSWERED_TOO_EARLY = "answered_too_early"
    MULTI_QUESTION_OVERLOAD = "multi_question_overload"
    NO_DIAGNOSIS = "no_diagnosis"
    LECTURE_MODE = "lecture_mode"
    NO_REINFORCEMENT = "no_reinforcement"
    OVER_SCAFFOLDING = "over_scaffolding"
    SAFETY_SLIP = "safety_slip"
    CONTENT_ERROR = "content_error"
    COGNITIVE_OVERLOAD = "cognitive_overload"
    COLD_AFFECT = "cold_affect"
    IGNORES_LEARNER = "ignores_learner"
    PASSIVE_LEARNER = "passive_learner"


class DimensionName(StrEnum):
    """The reviewer dimensions labelled on the rubric's 0-2 anchored scale (docs/rubric.md).

    Pedagogical fidelity, the seventh, is derived from the checks rather than labelled directly.
    """

    PEDAGOGICAL_FIDELITY = "pedagogical_fidelity"
    ACCURACY = "accuracy"
    CLARITY = "clarity"
    ENGAGEMENT = "engagement"
    PERSONALIZATION = "personalization"
    SAFETY = "safety"
    OPPORTUNITY_FOR_LEARNING = "opportunity_for_learning"


class Turn(EvalwheelModel):
    """One message of a conversation."""

    model_config = ConfigDict(extra="forbid")

    role: Role
    content: str
    tags: list[str] = Field(default_factory=list)


class LearnerProfile(EvalwheelModel):
    """What the tutor may know about the learner before the session starts."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    level: Level | None = None
    goals: list[str] = Field(default_factory=list)
    known_concepts: list[str] = Field(default_factory=list)
    prior_knowledge: str | None = None
    notes: str | None = None


class ExpertLabels(EvalwheelModel):
    """A careful teacher's verdicts on a session; the ground truth the checks are measured against.

    `checks` maps a check name to pass (True), fail (False) or not applicable (None); `dimensions` maps a
    reviewer dimension to its 0-2 anchored-scale label (None = not applicable).
    """

    model_config = ConfigDict(extra="forbid")

    checks: dict[CheckName, bool | None]
    dimensions: dict[DimensionName, Literal[0, 1, 2] | None] = Field(default_factory=dict)
    taxonomy: list[FailureMode] = Field(default_factory=list)
    escalate: bool | None = None
    labeller: str | None = None
    notes: str | None = None


class Session(EvalwheelModel):
    """A recorded tutoring session in the seed's format, validated."""

    model_config = ConfigDict(extra="forbid")

    session_id: str = Field(min_length=1)
    domain: str
    prompt: str
    learner: LearnerProfile | None = None
    trajectory: list[Turn] = Field(min_length=1)
    labels: ExpertLabels | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class Evidence(EvalwheelModel):
    """Where a verdict comes from: a turn (or none, for session-wide facts) and a short quote."""

    model_config = ConfigDict(extra="forbid")

    turn_index: int | None = None
    snippet: str = Field(default="", max_length=SNIPPET_MAX)

    @classmethod
    def quote(cls, turn_index: int | None, text: str, start: int = 0) -> Evidence:
        """Build evidence from a longer text, clipping around `start` to the snippet limit."""
        return cls(turn_index=turn_index, snippet=clip(text, start))


def clip(text: str, start: int = 0, limit: int = SNIPPET_MAX) -> str:
    """A single-line excerpt of at most `limit` characters beginning near `start`."""
    # Only the first few hundred characters can end up in the snippet; don't re-space a whole essay.
    flat = " ".join(text[start : start + 4 * limit].split())
    if len(flat) <= limit:
        return flat
    return flat[: limit - 1].rstrip() + "…"


class Score(EvalwheelModel):
    """One grader's verdict. `passed=None` means unscored: reported and counted, never a silent fail."""

    model_config = ConfigDict(extra="forbid")

    name: str
    value: float | None = None
    passed: bool | None = None
    reason: str = ""
    evidence: list[Evidence] = Field(default_factory=list)
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("value")
    @classmethod
    def _finite(cls, v: float | None) -> float | None:
        if v is not None and v != v:  # NaN never enters a Score; use passed=None instead
            raise ValueError("value must not be NaN; leave it None for unscored")
        return v


class Sample(EvalwheelModel):
    """One test case of a dataset."""

    model_config = ConfigDict(extra="forbid")

    id: str
    partition: Partition = "golden"
    input: str | list[Turn] | Session
    reference: str | None = None
    context: str | list[str] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)


class Usage(EvalwheelModel):
    model_config = ConfigDict(extra="forbid")

    prompt_tokens: int = 0
    completion_tokens: int = 0


class Output(EvalwheelModel):
    """What a solver produced for a sample: a text, or a whole trajectory for tutoring sessions."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = None
    trajectory: list[Turn] | None = None
    usage: Usage = Field(default_factory=Usage)
    latency_ms: float | None = None
    cached: bool = False
    error: str | None = None


class SessionEvaluation(EvalwheelModel):
    """Everything the pedagogy graders concluded about one session."""

    model_config = ConfigDict(extra="forbid")

    session_id: str
    domain: str
    fidelity: float | None
    escalate: bool
    escalation_reasons: list[str] = Field(default_factory=list)
    taxonomy: list[FailureMode] = Field(default_factory=list)
    checks: list[Score]
    dimensions: list[Score] = Field(default_factory=list)  # one per reviewer dimension, value on the 0-2 scale
    source: str | None = None

    @property
    def failed_checks(self) -> list[str]:
        return [s.name for s in self.checks if s.passed is False]


SampleStatus = Literal["passed", "failed", "unscored", "error"]


class SampleResult(EvalwheelModel):
    """The stored outcome of one sample (one epoch) in one run.

    `status` folds the gating scores together: `error` when the solver or a grader raised, `unscored` when
    no gating grader could reach a verdict (never silently a fail), otherwise `passed` only if every gating
    grader passed. `value` is the mean of the gating scores' values, for score-based statistics.
    """

    model_config = ConfigDict(extra="forbid")

    run_id: str
    sample_id: str
    partition: Partition
    epoch: int = 0
    status: SampleStatus
    value: float | None = None
    scores: list[Score] = Field(default_factory=list)
    output: Output | None = None
    error: str | None = None
    sample_hash: str = ""
    tags: list[str] = Field(default_factory=list)


def content_changed(hash_a: str, hash_b: str) -> bool:
    """Whether one sample id held different content in two runs (their `sample_hash`es differ).

    Comparing verdicts on such a sample compares two different tests, so the baseline gate and `compare` leave
    it out. An empty hash (a result stored without one) is unknown, never a change.
    """
    return bool(hash_a) and bool(hash_b) and hash_a != hash_b


# "partial": `--limit` left samples unrun. Why a status of its own: only "finished" runs are picked as `SPEC@latest`
# and as the default baseline, so a smoke run over a few samples never becomes the yardstick of the next run.
RunStatus = Literal["running", "finished", "partial", "interrupted"]


class RunInfo(EvalwheelModel):
    """One execution of an eval spec (under one arm, for Study Mode replays)."""

    model_config = ConfigDict(extra="forbid")

    run_id: str
    spec_name: str
    spec_hash: str = ""
    dataset_hash: str = ""
    arm: str | None = None
    model: str | None = None
    status: RunStatus = "running"
    started_at: str = ""
    finished_at: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
