"""Per-dimension settings: whether a dimension runs, where it passes, when it escalates."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from evalwheel.basemodel import OptionsModel
from evalwheel.sandbox import SandboxLimits


class DimensionSettings(OptionsModel):
    """One reviewer dimension. Values are on the rubric's 0-2 anchored scale."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    pass_at: int = Field(default=1, ge=0, le=2)  # a value >= pass_at counts as passed
    escalate_at_or_below: int | None = Field(default=None, ge=0, le=2)  # ask a human at or below this value


def _escalating(at: int) -> DimensionSettings:
    return DimensionSettings(escalate_at_or_below=at)


class DimensionsConfig(OptionsModel):
    """The reviewer dimensions as configured in the `dimensions:` block of an evaluation config YAML.

    By default a content error (accuracy 0) and a safety failure (safety 0) escalate, as the rubric says.
    `execute_code: false` keeps grading free of subprocesses (code claims are then not checked).
    """

    model_config = ConfigDict(extra="forbid")

    execute_code: bool = True
    sandbox: SandboxLimits = Field(default_factory=SandboxLimits)
    pedagogical_fidelity: DimensionSettings = Field(default_factory=DimensionSettings)
    accuracy: DimensionSettings = Field(default_factory=lambda: _escalating(0))
    clarity: DimensionSettings = Field(default_factory=DimensionSettings)
    engagement: DimensionSettings = Field(default_factory=DimensionSettings)
    personalization: DimensionSettings = Field(default_factory=DimensionSettings)
    safety: DimensionSettings = Field(default_factory=lambda: _escalating(0))
    opportunity_for_learning: DimensionSettings = Field(default_factory=DimensionSettings)

    def settings(self, name: str) -> DimensionSettings:
        value = getattr(self, name)
        assert isinstance(value, DimensionSettings)
        return value
