"""Load the conversational-uptake set (data/uptake/uptake_data.csv) as labelled text pairs.

The file (Demszky et al. 2021, "Measuring Conversational Uptake", MIT licence) holds student utterance ->
teacher response exchanges from elementary math classrooms. Three annotators rated how much the teacher
*takes up* the student's contribution (acknowledges, repeats, reformulates, builds on it): 0 = low, 1 = mid,
2 = high. Columns used: `obs_id`, `exchange_idx`, `student_text`, `teacher_text`, `uptake` (mean rating) and
`uptake_majority` (the rating at least two of the three annotators gave; empty when all three differ or the
exchange was not rated).

Binarisation (the only one used; documented so figures are comparable): **label = uptake_majority >=
positive_at**, with `positive_at = 2` by default, i.e. *a majority of annotators rated the uptake high*.
Rows without a majority are skipped and counted (`skipped_no_majority`), never guessed from the mean.
`positive_at = 1` asks the easier question "any uptake at all" (heavily imbalanced: few exchanges have a
majority 0).

The loader is strict: a missing file, a missing column, an empty utterance or response, or a majority outside
0/1/2 raises `UptakeFormatError` naming the file, the CSV line and the cause.
"""

from __future__ import annotations

import csv
from pathlib import Path

from pydantic import ConfigDict

from evalwheel.basemodel import EvalwheelModel
from evalwheel.datasets.errors import DataFileError
from evalwheel.types import Output, Sample

REQUIRED_COLUMNS = ("obs_id", "exchange_idx", "student_text", "teacher_text", "uptake_majority")
RATINGS = (0, 1, 2)


class UptakeFormatError(DataFileError):
    """An uptake file that cannot be loaded; names file, CSV line (when known) and cause."""


class UptakePair(EvalwheelModel):
    """One exchange: the student's utterance, the teacher's response and the binarised human uptake label."""

    model_config = ConfigDict(extra="forbid")

    id: str
    student: str
    teacher: str
    majority: int  # 0 / 1 / 2, the rating most annotators gave
    mean: float | None  # mean of the annotators' ratings
    label: bool  # majority >= positive_at

    def to_sample(self) -> tuple[Sample, Output]:
        """As a grader input: the teacher's response is the output, the student's utterance its reference.

        So a reference-based grader (semantic_similarity, token_f1, ...) measures how close the response is to
        what the student said, which is the surface part of uptake.
        """
        sample = Sample(
            id=self.id,
            input=self.student,
            reference=self.student,
            metadata={"uptake_majority": self.majority, "uptake_mean": self.mean},
        )
        return sample, Output(text=self.teacher)


class UptakeSet(EvalwheelModel):
    """The loaded pairs plus what was left out and why, so n is never silently smaller than the file."""

    model_config = ConfigDict(extra="forbid")

    path: str
    rows: int
    positive_at: int
    pairs: list[UptakePair]
    skipped_no_majority: int

    @property
    def positives(self) -> int:
        return sum(1 for p in self.pairs if p.label)


def _rating(path: Path, line: int, column: str, raw: str) -> int:
    try:
        value = float(raw)
    except ValueError:
        raise UptakeFormatError(path, f"{column} {raw!r} is not a number", line) from None
    if value not in RATINGS:
        raise UptakeFormatError(path, f"{column} {raw!r} is not one of 0, 1, 2", line)
    return int(value)


def _mean(path: Path, line: int, raw: str | None) -> float | None:
    if raw is None or not raw.strip():
        return None
    try:
        return float(raw)
    except ValueError:
        raise UptakeFormatError(path, f"uptake {raw!r} is not a number", line) from None


def load_uptake(path: Path | str, *, positive_at: int = 2) -> UptakeSet:
    """All exchanges that have a majority rating, labelled `majority >= positive_at`, in file order."""
    if positive_at not in (1, 2):
        raise ValueError(f"positive_at must be 1 or 2, got {positive_at}")
    p = Path(path)
    try:
        with p.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            missing = [c for c in REQUIRED_COLUMNS if c not in header]
            if missing:
                raise UptakeFormatError(p, f"missing column(s) {', '.join(missing)}", 1)
            pairs: list[UptakePair] = []
            rows = skipped = 0
            for row in reader:
                rows += 1
                line = reader.line_num
                student = (row.get("student_text") or "").strip()
                teacher = (row.get("teacher_text") or "").strip()
                if not student or not teacher:
                    which = "student_text" if not student else "teacher_text"
                    raise UptakeFormatError(p, f"empty {which}", line)
                raw_majority = (row.get("uptake_majority") or "").strip()
                if not raw_majority:
                    skipped += 1
                    continue
                majority = _rating(p, line, "uptake_majority", raw_majority)
                pairs.append(
                    UptakePair(
                        id=f"uptake-{row['obs_id']}-{row['exchange_idx']}",
                        student=student,
                        teacher=teacher,
                        majority=majority,
                        mean=_mean(p, line, row.get("uptake")),
                        label=majority >= positive_at,
                    )
                )
    except OSError as exc:
        raise UptakeFormatError(p, f"cannot read the file: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise UptakeFormatError(p, f"not UTF-8 text: {exc.reason}") from exc
    except csv.Error as exc:
        raise UptakeFormatError(p, f"invalid CSV: {exc}") from exc
    if not pairs:
        raise UptakeFormatError(p, "no exchange with a majority uptake rating")
    seen: set[str] = set()
    for pair in pairs:
        if pair.id in seen:
            raise UptakeFormatError(p, f"duplicate exchange {pair.id!r} (obs_id, exchange_idx)")
        seen.add(pair.id)
    return UptakeSet(path=str(p), rows=rows, positive_at=positive_at, pairs=pairs, skipped_no_majority=skipped)
