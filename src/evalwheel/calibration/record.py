"""Calibration records: what `evalwheel calibrate ... --out FILE` measured, kept so a gate can rely on it.

A grader may gate CI only once it has been shown to agree with humans. The record is that evidence in one small
JSON file: which grader (and options), which labelled data (path and sha256, so a changed file is detectable),
how many items, and the agreement figures with a top-level numeric `kappa`. `check_min_agreement` is the one
place that turns a record and a grader's `min_agreement` into a yes/no with a reason.

Which kappa: `kappa` / `macro_f1` / `accuracy` are the grader *as configured* (its own `passed` verdicts) over
all scored items, because that is what will gate. When a threshold was tuned, `threshold` and the `heldout_*`
figures describe the tuned cut on the held-out part; they apply to the grader only once that threshold is put
in its config.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field, ValidationError

from evalwheel.basemodel import EvalwheelModel
from evalwheel.calibration.generic import GraderCalibration
from evalwheel.calibration.runner import FaithfulnessCalibration, PairwiseCalibration, ThresholdCalibration
from evalwheel.fileio import FileReadError, read_text, write_text_atomic
from evalwheel.stats.agreement import Agreement

RECORD_VERSION = 1
METRICS = ("kappa", "macro_f1", "accuracy", "roc_auc", "heldout_kappa", "heldout_macro_f1", "heldout_accuracy")


class CalibrationRecordError(ValueError):
    """A calibration record that cannot be read; names the file and the cause."""

    def __init__(self, path: Path | str, cause: str) -> None:
        self.path = str(path)
        self.cause = cause
        super().__init__(f"{self.path}: {cause}")


class DatasetRef(EvalwheelModel):
    model_config = ConfigDict(extra="ignore")

    path: str
    sha256: str
    items: int | None = None  # rows / items in the file before any filtering


class CalibrationRecord(EvalwheelModel):
    """The figures of one calibration run. Unknown keys are ignored on load, so newer records stay readable."""

    model_config = ConfigDict(extra="ignore")

    record_version: int = RECORD_VERSION
    task: str  # grader | similarity | pairwise | faithfulness
    grader: str
    score_name: str | None = None
    dataset: DatasetRef
    n: int
    scored: int
    unscored: int
    errors: int = 0
    kappa: float | None
    kappa_note: str | None = None  # why `kappa` is null although items were compared (one class only)
    # How often each human (gold) label occurs among the compared items; None in records written before it was kept.
    gold_labels: dict[str, int] | None = None
    macro_f1: float | None
    accuracy: float | None
    roc_auc: float | None = None
    threshold: float | None = None
    heldout_kappa: float | None = None
    heldout_macro_f1: float | None = None
    heldout_accuracy: float | None = None
    n_heldout: int | None = None
    dev_fraction: float | None = None
    seed: int | None = None
    model: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    measured_at: str
    evalwheel_version: str
    details: dict[str, Any] = Field(default_factory=dict)


def file_sha256(path: Path | str) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def dataset_ref(path: Path | str, items: int | None = None) -> DatasetRef:
    return DatasetRef(path=str(path), sha256=file_sha256(path), items=items)


def _jsonable(value: Any) -> Any:
    """Config as plain JSON: model objects (a `judge_model` handed in as an object) become their name."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(getattr(value, "name", type(value).__name__))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _version() -> str:
    from evalwheel import __version__

    return __version__


def gold_label_counts(a: Agreement | None) -> dict[str, int] | None:
    """The human labels' distribution over the compared items (labels that occur), as a record keeps it."""
    if a is None:
        return None
    return {label: stats.support for label, stats in a.per_label.items() if stats.support}


def single_class_reason(record: Mapping[str, Any]) -> str | None:
    """Why no agreement figure of this record (a record's JSON / `model_dump()`) may pass a `min_agreement` gate,
    when its human labels use a single class, else None.

    Why: with one human class, accuracy and macro-F1 come out at 1.0 for a grader that always agrees (and kappa
    is undefined), measured on labels that cannot show whether the grader tells the classes apart. Read from
    `gold_labels`; records written before that field fall back to `details.agreement.per_label` supports (generic
    grader records), then to `kappa_note` (set when humans and grader both used one class).
    """
    counts: Any = record.get("gold_labels")
    if not isinstance(counts, Mapping):
        details = record.get("details")
        measured = details.get("agreement") if isinstance(details, Mapping) else None
        per_label = measured.get("per_label") if isinstance(measured, Mapping) else None
        if isinstance(per_label, Mapping):
            counts = {k: v.get("support", 0) for k, v in per_label.items() if isinstance(v, Mapping)}
    if isinstance(counts, Mapping):
        used = sorted(str(k) for k, v in counts.items() if isinstance(v, int) and v > 0)
        if len(used) != 1:
            return None
        n = counts[used[0]]
        return (
            f"the human labels use one class only ({used[0]!r} on all {n} items), so no agreement figure can show "
            "whether the grader tells the classes apart; label items of both classes and calibrate again"
        )
    note = record.get("kappa_note")
    return note if isinstance(note, str) and note else None


def _threshold_fields(t: ThresholdCalibration | None) -> dict[str, Any]:
    if t is None:
        return {}
    return {
        "threshold": t.threshold,
        "heldout_kappa": t.heldout.kappa,
        "heldout_macro_f1": t.heldout.macro_f1,
        "heldout_accuracy": t.heldout.accuracy,
        "n_heldout": t.n_heldout,
        "dev_fraction": t.dev_fraction,
        "seed": t.seed,
    }


def record_from_grader(
    result: GraderCalibration,
    dataset: DatasetRef,
    *,
    config: Mapping[str, Any] | None = None,
    model: str | None = None,
    task: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> CalibrationRecord:
    """The record of a generic (or similarity) grader calibration."""
    a = result.agreement
    return CalibrationRecord(
        task=task or result.task,
        grader=result.grader,
        score_name=result.score_name,
        dataset=dataset,
        n=result.n,
        scored=result.scored,
        unscored=result.unscored,
        errors=result.errors,
        kappa=a.kappa,
        kappa_note=a.kappa_note,
        gold_labels=gold_label_counts(a),
        macro_f1=a.macro_f1,
        accuracy=a.accuracy,
        roc_auc=result.roc_auc,
        model=model,
        config=_jsonable(dict(config or {})),
        measured_at=_now(),
        evalwheel_version=_version(),
        details={**result.model_dump(mode="json"), "task": task or result.task, **_jsonable(dict(extra or {}))},
        **_threshold_fields(result.threshold),
    )


def record_from_pairwise(result: PairwiseCalibration, dataset: DatasetRef, *, model: str) -> CalibrationRecord:
    """The pairwise judge's record: kappa of its winner (A / B / tie) against the gold winner."""
    a = result.agreement
    return CalibrationRecord(
        task="pairwise",
        grader="judge.pairwise",
        dataset=dataset,
        n=result.n,
        scored=result.scored,
        unscored=result.unscored,
        kappa=a.kappa if a else None,
        kappa_note=a.kappa_note if a else None,
        gold_labels=gold_label_counts(a),
        macro_f1=a.macro_f1 if a else None,
        accuracy=result.accuracy,
        model=model,
        measured_at=_now(),
        evalwheel_version=_version(),
        details=result.model_dump(mode="json"),
    )


def record_from_faithfulness(
    result: FaithfulnessCalibration, dataset: DatasetRef, *, model: str, config: Mapping[str, Any] | None = None
) -> CalibrationRecord:
    """The faithfulness grader's record: kappa of has_hallucinations against the FaithBench label."""
    a = result.agreement
    return CalibrationRecord(
        task="faithfulness",
        grader="faithfulness",
        dataset=dataset,
        n=result.n,
        scored=result.scored,
        unscored=result.unscored,
        kappa=a.kappa,
        kappa_note=a.kappa_note,
        gold_labels=gold_label_counts(a),
        macro_f1=a.macro_f1,
        accuracy=a.accuracy,
        model=model,
        config=_jsonable(dict(config or {})),
        measured_at=_now(),
        evalwheel_version=_version(),
        details=result.model_dump(mode="json"),
        **_threshold_fields(result.threshold),
    )


def record_from_agreement(
    result: Any, grader: str, task: str, path: Path, n_items: int, *, method: str = "graded as shipped (no refit)"
) -> CalibrationRecord:
    """The record of one `calibrate mrbench|mathdial` dimension (an agreement runner's TaskResult)."""
    a = result.agreement
    return CalibrationRecord(
        task=task,
        grader=grader,
        score_name=result.task,
        dataset=dataset_ref(path, n_items),
        n=a.n,
        scored=a.n,
        unscored=0,
        kappa=a.kappa,
        kappa_note=a.kappa_note,
        gold_labels=gold_label_counts(a),
        macro_f1=a.macro_f1,
        accuracy=a.accuracy,
        config={"tier": result.tier},
        measured_at=_now(),
        evalwheel_version=_version(),
        details={"method": method, **result.to_json()},
    )


def write_record(record: CalibrationRecord, path: Path | str) -> Path:
    p = Path(path)
    # atomic: a failed write keeps an earlier record, and an unwritable path is FileWriteError (exit 2 in the CLIs)
    write_text_atomic(p, json.dumps(record.model_dump(mode="json"), indent=2) + "\n")
    return p


def load_calibration_record(path: Path | str) -> CalibrationRecord:
    """Read a record written by `--out`; `CalibrationRecordError` names the file and the cause."""
    p = Path(path)
    try:
        data = json.loads(read_text(p))
    except FileReadError as exc:
        raise CalibrationRecordError(p, f"cannot read the calibration record: {exc.cause}") from None
    except json.JSONDecodeError as exc:
        raise CalibrationRecordError(p, f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from exc
    if not isinstance(data, dict):
        raise CalibrationRecordError(p, f"expected a JSON object, got {type(data).__name__}")
    try:
        return CalibrationRecord.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(x) for x in err["loc"]) or "<root>"
        cause = "required field is missing" if err["type"] == "missing" else str(err["msg"])
        raise CalibrationRecordError(p, f"field {field!r}: {cause}") from None


def check_min_agreement(
    record_path: Path | str | None,
    min_agreement: float,
    metric: str = "kappa",
    *,
    grader: str | None = None,
) -> tuple[bool, str]:
    """May a grader that requires `min_agreement` on `metric` gate CI, given its calibration record?

    Never raises for a missing or bad record: that is a "no" with the reason (a grader nobody measured must not
    gate). Raises ValueError only for a metric name outside `METRICS`, which is a bug in the caller's config.
    `grader`, when given, must match the record's grader: a record of another grader proves nothing.
    """
    if metric not in METRICS:
        raise ValueError(f"unknown agreement metric {metric!r} (known: {', '.join(METRICS)})")
    if record_path is None:
        return False, f"requires {metric} >= {min_agreement:g} but no calibration record is configured"
    try:
        record = load_calibration_record(record_path)
    except CalibrationRecordError as exc:
        return False, f"requires {metric} >= {min_agreement:g} but the calibration record is unusable: {exc}"
    if grader is not None and record.grader != grader:
        return False, f"calibration record {record_path} is for grader {record.grader!r}, not {grader!r}"
    value = getattr(record, metric)
    where = f"{record.grader} on {Path(record.dataset.path).name} (n={record.scored}, {record.measured_at})"
    one_class = single_class_reason(record.model_dump())
    if one_class is not None:
        return False, f"{metric} in {record_path} does not count ({where}): {one_class}; requires >= {min_agreement:g}"
    if metric.startswith("heldout_") and record.threshold is not None:
        # A held-out figure holds for the tuned cut, which the grader's config may not use: say so.
        where += f"; at the tuned threshold {record.threshold:.4g}"
    if value is None or not math.isfinite(value):
        why = f": {record.kappa_note}" if metric == "kappa" and record.kappa_note else ""
        return False, f"{metric} is not available in {record_path} ({where}){why}; requires >= {min_agreement:g}"
    if value >= min_agreement:
        return True, f"{metric} {value:.3f} >= {min_agreement:g} ({where})"
    return False, f"{metric} {value:.3f} < required {min_agreement:g} ({where})"
