"""The `gates:` mapping of an eval spec, validated.

A typo in a gate (`min_pass_rat`) must not turn a gate off silently, so unknown keys are refused and every
error names the spec file and the dotted field (`spec.yaml: gates.adversarial.min_pass_rat: unknown
field`); the CLI turns `GateConfigError` into exit code 2.

Defaults, and why:
- `golden` gates at 1.0 whenever golden samples exist: golden samples are the ones that must never break.
  Writing `golden: null` turns it off explicitly (visible in review, unlike a forgotten key).
- `baseline` (no worse than a baseline run; `regression:` is its old name), `adversarial`, `distribution` gate
  only when configured; otherwise they are reported.
- `max_error_rate` defaults to 0.05: a run where more than one sample in twenty crashed says more about
  the infrastructure than about the application, so it exits 3 instead of pretending to measure quality.

Thresholds are strict numbers (an int or a float): `min_pass_rate: false` used to be read as 0.0, a gate that
always passes, and `max_error_rate: true` as 1.0, any number of errors; a quoted "0.9" is refused alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import AliasChoices, ConfigDict, Field, ValidationError, model_validator

from evalwheel.basemodel import EvalwheelModel
from evalwheel.types import Partition

Denominator = Literal["scored", "all"]


class GateConfigError(ValueError):
    """Bad gate configuration; the message names the file, the field and the cause (exit code 2)."""


class PartitionGate(EvalwheelModel):
    """A minimum pass rate for one partition.

    `denominator: scored` (default) computes the rate over scored trials, so unscored and errored trials are
    handled by `max_unscored_rate` / `max_error_rate` instead of being silently counted as failures;
    `denominator: all` makes them count against this gate (e.g. "every golden sample must pass, full stop").
    """

    model_config = ConfigDict(extra="forbid")

    min_pass_rate: float = Field(ge=0.0, le=1.0, strict=True)
    denominator: Denominator = "scored"


class RegressionGate(EvalwheelModel):
    """No worse than a baseline run, within `max_drop`, on the scored samples both runs share.

    `partitions` limits the comparison (default: every partition). `require_baseline: true` makes a
    missing baseline a configuration error (exit 2) instead of a skipped gate.
    """

    model_config = ConfigDict(extra="forbid")

    max_drop: float = Field(default=0.0, ge=0.0, le=1.0, strict=True)
    partitions: list[Partition] | None = None
    require_baseline: bool = False


class GateConfig(EvalwheelModel):
    """All gates of a spec. An empty mapping gives the defaults above."""

    model_config = ConfigDict(extra="forbid")

    golden: PartitionGate | None = Field(default_factory=lambda: PartitionGate(min_pass_rate=1.0))
    # The comparison with a baseline run. Named `baseline` so it is not mistaken for the `regression`
    # partition (whose samples are gated like any other); `regression:` is still accepted, the old name.
    baseline: RegressionGate | None = Field(default=None, validation_alias=AliasChoices("baseline", "regression"))
    adversarial: PartitionGate | None = None
    distribution: PartitionGate | None = None
    max_error_rate: float = Field(default=0.05, ge=0.0, le=1.0, strict=True)
    max_unscored_rate: float | None = Field(default=None, ge=0.0, le=1.0, strict=True)

    @model_validator(mode="before")
    @classmethod
    def _one_baseline_key(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "baseline" in data and "regression" in data:
            raise ValueError("`regression` is the old name of the `baseline` gate: give only `baseline`")
        return data

    def partition_gate(self, partition: str) -> PartitionGate | None:
        """The min-pass-rate gate of a partition (the regression partition has none of its own)."""
        if partition == "golden":
            return self.golden
        if partition == "adversarial":
            return self.adversarial
        if partition == "distribution":
            return self.distribution
        return None


def format_validation_error(exc: ValidationError, source: str, prefix: str) -> str:
    """One line per problem: `source: prefix.field.sub: cause`."""
    lines = []
    for err in exc.errors():
        loc = ".".join([prefix, *(str(p) for p in err["loc"])]) if prefix else ".".join(str(p) for p in err["loc"])
        cause = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
        lines.append(f"{source}: {loc}: {cause}")
    return "\n".join(lines)


def parse_gate_config(data: Mapping[str, Any] | None, source: str = "<spec>") -> GateConfig:
    """Validate the `gates:` mapping of the spec at `source` (missing or empty -> defaults)."""
    if data is None:
        return GateConfig()
    if not isinstance(data, Mapping):
        raise GateConfigError(f"{source}: gates: expected a mapping, got {type(data).__name__}")
    try:
        return GateConfig.model_validate(dict(data))
    except ValidationError as exc:
        raise GateConfigError(format_validation_error(exc, source, "gates")) from None
