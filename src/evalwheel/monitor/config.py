"""The monitor config (YAML): sampler, graders (the offline spec's format), windows, drift and alert rules.

Graders are listed exactly as in an eval spec (`name`, `config`, `config_file`, `gate`, `gate_scores`), and a
`config_file` is relative to the monitor config, so a production monitor grades with the very files the
offline spec uses. Every field has a default: an empty config samples 10% of traffic and grades nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import ConfigDict, Field, ValidationError, field_validator, model_validator

from evalwheel.basemodel import EvalwheelModel
from evalwheel.fileio import FileReadError, parse_error_text, read_text
from evalwheel.runs.spec import GraderSpec


class ConfigError(ValueError):
    """A monitor config that cannot be used: names the file, the field and the cause (exit code 2)."""


class AlwaysRules(EvalwheelModel):
    """Events sampled with probability 1 whatever their stratum's rate."""

    model_config = ConfigDict(extra="forbid")

    input_patterns: list[str] = Field(default_factory=list, description="Regexes searched in the request text.")
    errors: bool = True
    latency_above_p95: bool = True
    negative_feedback: bool = True


class Budget(EvalwheelModel):
    """Grading budget per hour of event time: events, or dollars at `usd_per_graded_event`."""

    model_config = ConfigDict(extra="forbid")

    events_per_hour: int | None = Field(default=None, ge=1)
    usd_per_hour: float | None = Field(default=None, gt=0)
    usd_per_graded_event: float = Field(default=0.0, ge=0)

    def max_events_per_hour(self) -> int | None:
        limits = [self.events_per_hour] if self.events_per_hour else []
        if self.usd_per_hour and self.usd_per_graded_event > 0:
            limits.append(int(self.usd_per_hour / self.usd_per_graded_event))
        return min(limits) if limits else None


class SamplerConfig(EvalwheelModel):
    model_config = ConfigDict(extra="forbid")

    strata: list[str] = Field(
        default_factory=lambda: ["app"], description="Event fields (`app`, `model`, `prompt_version`) or metadata.KEY"
    )
    default_rate: float = Field(default=0.1, ge=0.0, le=1.0)
    rates: dict[str, float] = Field(
        default_factory=dict, description="Stratum label -> rate (label: values joined by |)."
    )
    min_per_hour: int = Field(default=0, ge=0, description="Raise a thin stratum's rate to reach this many per hour.")
    always: AlwaysRules = Field(default_factory=AlwaysRules)
    budget: Budget = Field(default_factory=Budget)


class WindowConfig(EvalwheelModel):
    model_config = ConfigDict(extra="forbid")

    size_s: float = Field(default=300.0, gt=0, allow_inf_nan=False)
    baseline: str = Field(default="first", description="`first` (the first full window), `previous`, or `run:RUN_ID`.")

    @field_validator("baseline")
    @classmethod
    def _known_baseline(cls, value: str) -> str:
        """An unknown mode used to mean "no baseline" silently (no drift ever reported)."""
        if value in ("first", "previous") or (value.startswith("run:") and value[4:].strip()):
            return value
        raise ValueError(f"{value!r} is not one of first, previous, run:RUN_ID")


class DriftConfig(EvalwheelModel):
    model_config = ConfigDict(extra="forbid")

    alpha: float = Field(default=0.05, gt=0, lt=1)
    correction: Literal["holm", "bonferroni", "none"] = "holm"
    min_graded: int = Field(default=20, ge=2, description="Fewer graded events in either window: no test.")
    input_drift: bool = Field(default=False, description="Embed request texts with MiniLM (needs onnxruntime).")
    new_topic_similarity: float = Field(default=0.5, gt=0, lt=1)


# What a rule's `metric` can name (besides pass_rate:GRADER): numeric window fields, and what drift tests.
THRESHOLD_METRICS = (
    "pass_rate",
    "error_rate",
    "errors",
    "volume",
    "sampled",
    "graded",
    "latency_p50",
    "latency_p95",
    "latency_p99",
    "cost_usd",
    "judge_mean",
    "judge_p10",
    "hallucination_rate",
)
DRIFT_METRICS = ("pass_rate", "error_rate", "judge_score", "latency_ms", "input")


class AlertRule(EvalwheelModel):
    """`kind: event` fires per graded event; `threshold` and `drift` per window."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    kind: Literal["event", "threshold", "drift"]
    severity: Literal["info", "warning", "critical"] = "warning"
    grader: str | None = Field(default=None, description="event: only failures of this grader (default: any).")
    score: str | None = Field(default=None, description="event: only this score name failing (e.g. unsupported).")
    metric: str | None = Field(default=None, description="threshold/drift: e.g. error_rate, pass_rate:constraints.")
    op: Literal[">", "<", ">=", "<="] = ">"
    value: float | None = None
    cooldown_s: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _can_fire(self) -> AlertRule:
        """Why: a threshold without `value`, or on a misspelt metric (`eror_rate`), was accepted, never fired."""
        if self.kind == "threshold" and (self.metric is None or self.value is None):
            raise ValueError("a threshold rule needs `metric` and `value`")
        known = {"threshold": THRESHOLD_METRICS, "drift": DRIFT_METRICS}.get(self.kind, ())
        metric = self.metric
        if known and metric is not None and metric not in known and not metric.startswith("pass_rate:"):
            raise ValueError(f"metric {metric!r} is not one of {', '.join(known)}, pass_rate:GRADER")
        return self


class SinkConfig(EvalwheelModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["log", "webhook"]
    url: str | None = None
    format: Literal["json", "slack"] = "json"
    timeout_s: float = Field(default=5.0, gt=0)
    max_attempts: int = Field(default=8, ge=1)

    @model_validator(mode="after")
    def _webhook_url(self) -> SinkConfig:
        """Why: a webhook without a URL (or with `not a url`) was accepted, and every alert then failed to leave."""
        if self.type == "webhook":
            parts = urlsplit(self.url or "")
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"a webhook sink needs `url: http(s)://host/...`, got {self.url!r}")
        return self


class AlertsConfig(EvalwheelModel):
    model_config = ConfigDict(extra="forbid")

    cooldown_s: float = Field(default=600.0, ge=0)
    rules: list[AlertRule] = Field(default_factory=list)
    sinks: list[SinkConfig] = Field(default_factory=lambda: [SinkConfig(type="log")])


class MonitorConfig(EvalwheelModel):
    model_config = ConfigDict(extra="forbid")

    sampler: SamplerConfig = Field(default_factory=SamplerConfig)
    graders: list[GraderSpec] = Field(default_factory=list)
    session_graders: list[GraderSpec] = Field(
        default_factory=list, description="Graders of whole chat sessions (e.g. studymode.fidelity), run at close."
    )
    windows: WindowConfig = Field(default_factory=WindowConfig)
    drift: DriftConfig = Field(default_factory=DriftConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    session_idle_s: float = Field(default=1800.0, gt=0, description="A chat session closes after this idle time.")
    max_attempts: int = Field(default=3, ge=1, description="Grading attempts before an event is stored as error.")
    judge_timeout_s: float | None = Field(
        default=None,
        gt=0,
        description="Total time limit per LLM-judge request (a hung judge endpoint is cut and retried); "
        "default: the model client's 120 s.",
    )
    base_dir: Path = Field(default_factory=Path.cwd, exclude=True)

    @model_validator(mode="after")
    def _rules_name_configured_graders(self) -> MonitorConfig:
        """Why: a rule on a grader this config does not run (`pass_rate:constrains`, `grader: constrains`) was
        accepted and never fired."""
        names = {g.name for g in [*self.graders, *self.session_graders]}
        for i, rule in enumerate(self.alerts.rules):
            field, name = "grader", rule.grader
            if rule.metric is not None and rule.metric.startswith("pass_rate:"):
                field, name = "metric", rule.metric.split(":", 1)[1]
            if name is not None and name not in names:
                configured = ", ".join(sorted(names)) or "none"
                raise ValueError(
                    f"alerts.rules[{i}] ({rule.name}): {field} names grader {name!r}, which this config does not run "
                    f"(graders: {configured})"
                )
        return self

    def grader_config(self, g: GraderSpec) -> dict[str, Any]:
        if g.config_file is None:
            return dict(g.config)
        path = Path(g.config_file)
        path = path if path.is_absolute() else self.base_dir / path
        return {**_read_mapping(path, f"graders[{g.name}].config_file"), **g.config}


def _read_mapping(path: Path, what: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(read_text(path, nonempty=True))  # shared reader: missing/dir/binary/non-UTF-8/empty
    except FileReadError as exc:
        raise ConfigError(f"{path}: {what}: {exc.cause}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: {what}: not valid YAML: {parse_error_text(exc)}") from None
    if not isinstance(data or {}, dict):
        raise ConfigError(f"{path}: {what}: expected a mapping, got {type(data).__name__}")
    return dict(data or {})


def load_monitor_config(path: str | Path | None) -> MonitorConfig:
    """Validate a monitor YAML (None: the defaults); errors name the file and every bad field."""
    if path is None:
        return MonitorConfig()
    p = Path(path)
    data = _read_mapping(p, "monitor config")
    try:
        return MonitorConfig.model_validate({**data, "base_dir": p.resolve().parent})
    except ValidationError as exc:
        lines = [f"{p}: {'.'.join(str(x) for x in e['loc']) or '(config)'}: {e['msg']}" for e in exc.errors()]
        raise ConfigError("invalid monitor config:\n  " + "\n  ".join(lines)) from None
