"""Calibration records that ship inside the package, and the agreement note every verdict carries.

A grader's verdict is only as good as its measured agreement with humans, so the records measured at
release time (grouped cross-validation on labelled dev data) live in `calibration/shipped/`, one
`CalibrationRecord` JSON per grader, written by the same code and read by the same reader
(`load_calibration_record`) as any record a user writes with `calibrate --out`. `agreement_note`
condenses a record into the small dict a Score carries in `metadata["agreement"]`.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

SHIPPED_DIR = Path(__file__).parent / "shipped"


def shipped_record_path(grader: str) -> Path:
    return SHIPPED_DIR / f"{grader}.json"


@lru_cache(maxsize=64)
def shipped_record(grader: str) -> Any:
    """The shipped `CalibrationRecord` for `grader`, or None if none ships (or it is unreadable)."""
    from evalwheel.calibration.record import CalibrationRecordError, load_calibration_record

    path = shipped_record_path(grader)
    if not path.is_file():
        return None
    try:
        return load_calibration_record(path)
    except CalibrationRecordError:
        return None


def agreement_note(grader: str, tier: str | None = None) -> dict[str, Any] | None:
    """{metric, value, n, dataset, date, tier, kappa} for the verdicts of `grader` at `tier`.

    The record holds a figure per tier (`details.tiers`); a verdict made by another tier than the
    record's default carries that tier's figure, so the number always describes the verdict shown.
    """
    record = shipped_record(grader)
    if record is None:
        return None
    return note_from_record(record, tier)


def note_from_record(record: Any, tier: str | None = None) -> dict[str, Any] | None:
    """The agreement note of any `CalibrationRecord` (shipped, or a spec's `calibration:` file)."""
    tiers = record.details.get("tiers", {})
    default = record.details.get("default_tier")
    chosen = tier or default
    fig = tiers.get(chosen) if chosen in tiers else None
    if fig is None and chosen != default:
        return None
    value = fig["macro_f1"] if fig else record.macro_f1
    kappa = fig["kappa"] if fig else record.kappa
    n = fig["n"] if fig else record.n
    metric = "macro_f1"
    if value is None and kappa is not None:  # a pass/fail judge's record may carry kappa alone
        metric, value = "kappa", kappa
    return {
        "metric": metric,
        "value": None if value is None else round(float(value), 4),
        "kappa": None if kappa is None else round(float(kappa), 4),
        "n": int(n),
        "dataset": record.dataset.path,
        "method": record.details.get("method", ""),
        "date": record.measured_at[:10],
        "tier": chosen,
    }


def format_note(note: Mapping[str, Any]) -> str:
    """One line for reports: 'macro-F1 0.64 (linear tier; n=1118; MRBench dev, 5-fold grouped CV, 2026-12-02)'."""
    value = "n/a" if note.get("value") is None else f"{note['value']:.2f}"
    where = ", ".join(x for x in (note.get("dataset", ""), note.get("method", ""), note.get("date", "")) if x)
    tier = f"{note['tier']} tier; " if note.get("tier") else ""
    metric = {"macro_f1": "macro-F1"}.get(note["metric"], str(note["metric"]).replace("_", "-"))
    return f"{metric} {value} ({tier}n={note['n']}; {where})"


NOT_CALIBRATED = "not calibrated"


def agreement_text(note: Mapping[str, Any] | None) -> str:
    """The figure a report prints next to a verdict, or "not calibrated" when the grader has no record.

    Saying so beats printing nothing: a verdict without a measured agreement is an unmeasured instrument,
    and a reader should see that as plainly as they see a figure.
    """
    return format_note(note) if note else NOT_CALIBRATED


def agreement_view(note: Mapping[str, Any] | None) -> dict[str, Any]:
    """The note as `--json` shows it: its fields plus `calibrated` and the printed `text`."""
    if not note:
        return {"calibrated": False, "text": NOT_CALIBRATED}
    return {**note, "calibrated": True, "text": format_note(note)}


def score_note(metadata: Mapping[str, Any]) -> dict[str, Any] | None:
    """The agreement note a Score carries in `metadata["agreement"]`, or None (a malformed one is None too)."""
    note = metadata.get("agreement")
    return note if isinstance(note, dict) and "metric" in note and "n" in note else None
