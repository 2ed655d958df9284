"""Judge-agreement requirements: a judge may only gate a build if it agrees with humans well enough.

A spec's grader entry opts in with `min_agreement`; it is enforced unless the grader has `gate: false`:

    graders:
      - {name: faithfulness, gate: true, min_agreement: 0.4, calibration: calib/faithfulness.json}

The calibration file is a record written by `evalwheel calibrate ... --out` (or shipped in the package):
it is read and validated by the one reader, `evalwheel.calibration.record.load_calibration_record`, so a
gate never accepts a file that `calibrate` would not have written. The requirement's metric (default
`kappa`) is looked up at the record's top level, then under `details`; a dotted metric
(`details.tiers.encoder.macro_f1`) follows the path.

What counts as what (see docs/ci.md): a file that is absent, or a measured figure below the minimum (or
undefined, `null`), fails the gate (exit 1: the judge is not trustworthy yet). A file that exists but is
not a valid calibration record, lacks the metric, or was measured for a different grader is bad input
(exit 2), because the gate cannot even be evaluated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field

from evalwheel.basemodel import EvalwheelModel
from evalwheel.gates.config import GateConfigError


class CalibrationError(GateConfigError):
    """A calibration file exists but cannot be used; names the file and the cause (exit code 2)."""


class CalibrationRecord(EvalwheelModel):
    """What a gate reads of a validated calibration record; `raw` is the whole record for metric look-ups."""

    model_config = ConfigDict(extra="forbid")

    path: str | None = None
    grader: str | None = None
    dataset: str | None = None
    n: int | None = None
    raw: dict[str, Any] = Field(default_factory=dict)

    def lookup(self, metric: str) -> tuple[bool, float | None]:
        """(found, value) for `metric`; found with value None means the figure is undefined (`null`)."""
        candidates = [metric.split(".")] if "." in metric else [[metric], ["details", metric]]
        for path in candidates:
            node: Any = self.raw
            for key in path:
                if not isinstance(node, Mapping) or key not in node:
                    break
                node = node[key]
            else:
                if node is None:
                    return True, None
                if isinstance(node, bool) or not isinstance(node, int | float):
                    where = f"{self.path or '<calibration>'}: {'.'.join(path)}"
                    raise CalibrationError(f"{where}: expected a number, got {node!r}")
                return True, float(node)
        return False, None


def load_calibration(path: str | Path) -> CalibrationRecord:
    """Read and validate a calibration record; raises `CalibrationError` naming the file, field and cause.

    A missing file raises FileNotFoundError: callers decide whether that is a failed gate (it is, for
    `judge_requirements`) or an error.
    """
    from evalwheel.calibration.record import CalibrationRecordError, load_calibration_record

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(p)
    try:
        record = load_calibration_record(p)
    except CalibrationRecordError as exc:
        raise CalibrationError(str(exc)) from None
    return CalibrationRecord(
        path=str(p), grader=record.grader, dataset=record.dataset.path, n=record.scored, raw=record.model_dump()
    )


class JudgeAgreementRequirement(EvalwheelModel):
    """`grader` must have `metric` >= `min_agreement` in its calibration; enforced only when `gate`."""

    model_config = ConfigDict(extra="forbid")

    grader: str
    min_agreement: float = Field(ge=-1.0, le=1.0)
    metric: str = "kappa"
    calibration: CalibrationRecord | None = None
    calibration_path: str | None = None
    gate: bool = True


_REQ_KEYS = ("gate", "min_agreement", "calibration", "metric")


def judge_requirements(
    graders: Sequence[Any], source: str = "<spec>", base_dir: str | Path | None = None
) -> list[JudgeAgreementRequirement]:
    """Requirements from a spec's `graders:` list; entries without `min_agreement` (or with null) yield none.

    `gate` defaults to true, as in the spec's grader model: a grader whose verdicts decide pass/fail is held
    to its minimum; `gate: false` makes the agreement check report-only.

    Calibration paths are relative to `base_dir` (the spec's folder). A missing file gives a requirement
    with `calibration=None` (the gate will fail and say so); an unreadable one raises `CalibrationError`.
    Type errors raise `GateConfigError` naming `source: graders[i].field`.
    """
    base = Path(base_dir) if base_dir is not None else Path(".")
    out: list[JudgeAgreementRequirement] = []
    for i, entry in enumerate(graders):
        if not isinstance(entry, Mapping) or entry.get("min_agreement") is None:
            continue
        where = f"{source}: graders[{i}]"
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            raise GateConfigError(f"{where}.name: a grader with min_agreement needs a name")
        minimum = entry["min_agreement"]
        if isinstance(minimum, bool) or not isinstance(minimum, int | float) or not -1.0 <= minimum <= 1.0:
            raise GateConfigError(f"{where}.min_agreement: expected a number in [-1, 1], got {minimum!r}")
        gate = entry.get("gate", True)
        if not isinstance(gate, bool):
            raise GateConfigError(f"{where}.gate: expected true or false, got {gate!r}")
        metric = entry.get("metric", "kappa")
        if not isinstance(metric, str) or not metric:
            raise GateConfigError(f"{where}.metric: expected a metric name such as 'kappa', got {metric!r}")
        calib = entry.get("calibration")
        if calib is not None and not isinstance(calib, str):
            raise GateConfigError(f"{where}.calibration: expected a file path, got {calib!r}")
        record: CalibrationRecord | None = None
        path_text: str | None = None
        if calib:
            path = Path(calib) if Path(calib).is_absolute() else base / calib
            path_text = str(path)
            if path.exists():  # a directory or binary file here is bad input (exit 2), not "no calibration"
                record = load_calibration(path)
        out.append(
            JudgeAgreementRequirement(
                grader=name,
                min_agreement=float(minimum),
                metric=metric,
                calibration=record,
                calibration_path=path_text,
                gate=gate,
            )
        )
    return out
