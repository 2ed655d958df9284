"""The eval spec: what to run (dataset, solver, graders, gates, concurrency, budget), from YAML or Python.

A spec file's relative paths are relative to the spec file, so a spec and its dataset travel together and
`evalwheel run examples/support/spec.yaml` works from any working directory.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import ConfigDict, Field, ValidationError, model_validator

from evalwheel.basemodel import EvalwheelModel
from evalwheel.fileio import FileReadError, parse_error_text, read_text
from evalwheel.models.reliability import HedgePolicy, Timeouts
from evalwheel.solvers.prompt import TEMPLATE_FIELDS, template_problems

SolverType = Literal["prompt", "replay", "python", "recorded"]


class SpecError(ValueError):
    """A spec that cannot be used; the message names the file, the field and the cause (exit code 2)."""


class DatasetRef(EvalwheelModel):
    model_config = ConfigDict(extra="forbid")

    path: str
    lock: str | None = Field(default=None, description="Golden lock file; default `<dataset>.lock.json`.")
    require_lock: bool = Field(default=False, description="Fail when golden samples exist but no lock file does.")
    data_root: str | None = Field(
        default=None,
        description="Folder that samples' `input_file` paths may point into (relative to the spec); "
        "default: the dataset file's own folder.",
    )


class SolverSpec(EvalwheelModel):
    """How outputs are produced. Only the fields of the chosen `type` are used."""

    model_config = ConfigDict(extra="forbid")

    type: SolverType
    model: str | None = Field(default=None, description="Target model (prompt / python / replay).")
    # prompt
    template: str | None = Field(
        default=None, description="User message; {input}, {context}, {reference}, {metadata[k]}."
    )
    system: str | None = None
    # python
    function: str | None = Field(default=None, description="`file.py:name` (relative to the spec) or `module:name`.")
    # recorded
    path: str | None = Field(default=None, description="JSONL of {id, output} lines (recorded solver).")
    # replay (Study Mode)
    arms: list[str] = Field(default_factory=list, description="Arms to run: base, overlay:vN, human.")
    max_turns: int | None = Field(default=None, ge=1)
    gate_arms: list[str] | None = Field(
        default=None, description="Arms whose gates decide the exit code (default: all); others are reported only."
    )
    # generation settings for the target model
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    max_tokens: int = Field(default=512, ge=1)
    seed: int | None = 0
    options: dict[str, Any] = Field(default_factory=dict, description="Free-form settings for python solvers.")

    @model_validator(mode="after")
    def _fields_for_type(self) -> SolverSpec:
        needs = {"prompt": ("template", "model"), "python": ("function",), "recorded": ("path",), "replay": ("arms",)}
        missing = [f for f in needs[self.type] if not getattr(self, f)]
        if missing:
            raise ValueError(f"solver type {self.type!r} needs {', '.join(missing)}")
        if self.type == "replay" and any(a != "human" for a in self.arms) and not self.model:
            raise ValueError("replay arms other than `human` need solver.model")
        if self.type == "prompt" and self.template:
            problems = template_problems(self.template)
            if problems:
                raise ValueError(f"template: {'; '.join(problems)} (fields: {', '.join(TEMPLATE_FIELDS)})")
        unknown = [a for a in self.gate_arms or [] if a not in self.arms]
        if unknown:
            raise ValueError(f"gate_arms {unknown} are not in arms {self.arms}")
        return self


class GraderSpec(EvalwheelModel):
    """One grader of the spec. `gate: false` graders are reported but do not decide pass/fail."""

    model_config = ConfigDict(extra="forbid")

    name: str
    config: dict[str, Any] = Field(default_factory=dict)
    config_file: str | None = Field(default=None, description="YAML/JSON merged under `config` (config wins).")
    gate: bool = True
    gate_scores: list[str] | None = Field(
        default=None, description="Only these score names decide pass/fail (default: every score the grader returns)."
    )
    # strict: `min_agreement: true` was read as 1.0 here, before the gate's own check could refuse a bool
    min_agreement: float | None = Field(default=None, ge=-1.0, le=1.0, strict=True)
    calibration: str | None = Field(default=None, description="Calibration record JSON (`evalwheel calibrate --out`).")


class Budget(EvalwheelModel):
    model_config = ConfigDict(extra="forbid")

    max_usd: float | None = Field(default=None, ge=0.0)


class TimeoutSpec(EvalwheelModel):
    """`timeouts:` — per-request limits, so a hung request is cut and retried instead of holding a slot.

    `first_byte_s` must cover the slowest honest answer (a non-streaming reply starts when generation ends);
    `total_s` overrides the solver's and judges' own per-call timeout when set.
    """

    model_config = ConfigDict(extra="forbid")

    connect_s: float | None = Field(default=10.0, gt=0.0)
    first_byte_s: float | None = Field(default=None, gt=0.0)
    total_s: float | None = Field(default=None, gt=0.0)

    def policy(self) -> Timeouts:
        return Timeouts(connect_s=self.connect_s, first_byte_s=self.first_byte_s, total_s=self.total_s)


class HedgeSpec(EvalwheelModel):
    """`hedge:` — a second request for a call still unanswered after the recent `quantile` latency."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    quantile: float = Field(default=0.95, ge=0.5, lt=1.0)
    max_fraction: float = Field(default=0.1, gt=0.0, le=1.0, description="At most this share of calls hedged.")

    def policy(self) -> HedgePolicy:
        return HedgePolicy(enabled=self.enabled, quantile=self.quantile, max_fraction=self.max_fraction)


class CostModelSpec(EvalwheelModel):
    """`cost_model:` — a preset of `evalwheel.stats.cost` (tutoring, support_desk) with optional overrides."""

    model_config = ConfigDict(extra="forbid")

    preset: str = "support_desk"
    sessions: int = Field(default=1000, ge=1)
    overrides: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_preset(self) -> CostModelSpec:
        """An unknown preset or a bad override is a spec error now, not a traceback once the run has finished."""
        from evalwheel.stats.cost import preset

        try:
            preset(self.preset, **self.overrides)
        except ValidationError as exc:
            causes = "; ".join(
                f"overrides.{'.'.join(map(str, e['loc']))}: "
                + ("unknown field" if e["type"] == "extra_forbidden" else e["msg"])
                for e in exc.errors()
            )
            raise ValueError(causes) from None
        return self


class EvalSpec(EvalwheelModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    description: str = ""
    dataset: DatasetRef
    solver: SolverSpec
    graders: list[GraderSpec] = Field(min_length=1)
    gates: dict[str, Any] = Field(default_factory=dict)
    concurrency: int = Field(default=8, ge=1, le=1024)
    epochs: int = Field(default=1, ge=1)
    budget: Budget = Field(default_factory=Budget)
    timeouts: TimeoutSpec = Field(default_factory=TimeoutSpec)
    hedge: HedgeSpec = Field(default_factory=HedgeSpec)
    deadline_s: float | None = Field(
        default=None, gt=0.0, description="Stop the run cleanly after this many seconds (exit 3; --resume finishes it)."
    )
    cost_model: CostModelSpec | None = None
    store: str | None = Field(
        default=None, description="SQLAlchemy URL or SQLite path; default .evalwheel/runs.sqlite."
    )
    base_dir: Path = Field(default_factory=Path.cwd, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _dataset_shorthand(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("dataset"), str):
            data = {**data, "dataset": {"path": data["dataset"]}}
        return data

    def with_run_settings(
        self,
        *,
        connect_s: float | None = None,
        first_byte_s: float | None = None,
        total_s: float | None = None,
        hedge: bool | None = None,
        deadline_s: float | None = None,
    ) -> EvalSpec:
        """A copy with command-line overrides of the operational settings (None keeps the spec's value)."""
        timeouts = {
            k: v for k, v in (("connect_s", connect_s), ("first_byte_s", first_byte_s), ("total_s", total_s)) if v
        }
        update: dict[str, Any] = {}
        if timeouts:
            update["timeouts"] = self.timeouts.model_copy(update=timeouts)
        if hedge is not None:
            update["hedge"] = self.hedge.model_copy(update={"enabled": hedge})
        if deadline_s is not None:
            update["deadline_s"] = deadline_s
        return self.model_copy(update=update) if update else self

    def resolve(self, relative: str) -> Path:
        path = Path(relative).expanduser()
        return path if path.is_absolute() else self.base_dir / path

    @property
    def dataset_path(self) -> Path:
        return self.resolve(self.dataset.path)

    @property
    def data_root(self) -> Path | None:
        return self.resolve(self.dataset.data_root).resolve() if self.dataset.data_root else None

    @property
    def lock_path(self) -> Path:
        if self.dataset.lock:
            return self.resolve(self.dataset.lock)
        return self.dataset_path.with_name(self.dataset_path.name + ".lock.json")

    def grader_config(self, g: GraderSpec) -> dict[str, Any]:
        """The grader's config with `config_file` merged in (explicit `config` keys win)."""
        if g.config_file is None:
            return dict(g.config)
        path = self.resolve(g.config_file)
        loaded = _read_mapping(path, f"graders[{g.name}].config_file")
        return {**loaded, **g.config}

    def content_hash(self) -> str:
        """Identifies what decides a run's results (name, dataset, solver, graders with their `config_file`
        contents, epochs), so `--resume` can refuse a spec that changed underneath the run. Operational settings
        (concurrency, budget, gates, store, timeouts) are left out: changing them between a crash and a resume
        is legitimate. Defaults are left out too, so a new optional field does not change existing hashes."""
        data = self.model_dump(mode="json", include={"name", "dataset", "solver", "epochs"}, exclude_defaults=True)
        data["graders"] = [
            {**g.model_dump(mode="json", exclude_defaults=True), "config": self.grader_config(g)} for g in self.graders
        ]
        text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _read_mapping(path: Path, what: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(read_text(path, what=what))
    except FileReadError as exc:
        raise SpecError(str(exc)) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML/JSON: {parse_error_text(exc)}") from None
    if not isinstance(data, dict):
        raise SpecError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def _where(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def spec_from_dict(data: dict[str, Any], *, base_dir: Path | None = None, source: str = "<spec>") -> EvalSpec:
    """Validate a spec mapping; errors list every bad field as `source: field: cause`."""
    try:
        spec = EvalSpec.model_validate({**data, "base_dir": base_dir or Path.cwd()})
    except ValidationError as exc:
        lines = [f"{source}: {_where(e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise SpecError("invalid eval spec:\n  " + "\n  ".join(lines)) from None
    return spec


def load_spec(path: str | Path) -> EvalSpec:
    path = Path(path)
    data = _read_mapping(path, "spec")
    return spec_from_dict(data, base_dir=path.resolve().parent, source=str(path))
