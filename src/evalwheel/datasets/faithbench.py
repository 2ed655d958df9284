"""Load FaithBench summaries (data/faithbench/faithbench_dev.csv) as labelled hallucination items.

The CSV has a header row with the columns `source` (the passage), `summary` (an LLM's summary of it), `LLM` (the
summariser) and `worst-label` / `best-label`: the most and least severe of the human annotators' span labels on
that summary, one of Consistent, Benign, Questionable, Unwanted (FaithBench's taxonomy: Benign = added
information that is not in the source but is harmless/true; Questionable = annotators disagree whether it is
a hallucination; Unwanted = a real hallucination, intrinsic or extrinsic).

Mapping to a binary label (documented, and the only one used): **hallucinated = (worst-label == Unwanted)**.
Consistent, Benign and Questionable are "not hallucinated": Benign additions and borderline (Questionable)
spans are not what a faithfulness gate should fail on. `best-label` is kept but not used for the mapping.

The loader is strict: a missing file, a missing column, an empty source or summary, or a label outside the
four names raises `FaithBenchFormatError` naming the file, the CSV line and the cause. Labels are matched
case- and whitespace-insensitively.
"""

from __future__ import annotations

import csv
from pathlib import Path

from pydantic import ConfigDict

from evalwheel.basemodel import EvalwheelModel
from evalwheel.datasets.errors import DataFileError
from evalwheel.types import Output, Sample

LABELS = ("Consistent", "Benign", "Questionable", "Unwanted")
HALLUCINATED_LABELS = frozenset({"Unwanted"})
REQUIRED_COLUMNS = ("source", "summary", "worst-label")
SUMMARY_PROMPT = "Summarize the following passage."


class FaithBenchFormatError(DataFileError):
    """A FaithBench file that cannot be loaded; names file, CSV line (when known) and cause."""


class FaithBenchItem(EvalwheelModel):
    """One summary with its human label and the binary hallucination label derived from it."""

    model_config = ConfigDict(extra="forbid")

    id: str
    source: str
    summary: str
    llm: str | None
    worst_label: str
    best_label: str | None
    hallucinated: bool

    def to_sample(self) -> tuple[Sample, Output]:
        """The item as a grader input: the source is the context, the summary the output to grade."""
        sample = Sample(
            id=self.id,
            input=SUMMARY_PROMPT,
            context=self.source,
            metadata={"llm": self.llm, "worst_label": self.worst_label, "hallucinated": self.hallucinated},
        )
        return sample, Output(text=self.summary)


def _label(raw: str | None, path: Path, line: int, column: str) -> str:
    norm = " ".join((raw or "").split()).casefold()
    for label in LABELS:
        if label.casefold() == norm:
            return label
    raise FaithBenchFormatError(path, f"{column} {raw!r} is not one of {', '.join(LABELS)}", line)


def load_faithbench(path: Path | str) -> list[FaithBenchItem]:
    """All rows of a FaithBench CSV, in file order (ids `faithbench-<row>` counting data rows from 0)."""
    p = Path(path)
    try:
        with p.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            columns = [c.strip() for c in reader.fieldnames or []]
            missing = [c for c in REQUIRED_COLUMNS if c not in columns]
            if missing:
                raise FaithBenchFormatError(p, f"missing column(s) {', '.join(missing)}; header is {columns}", 1)
            reader.fieldnames = columns
            items: list[FaithBenchItem] = []
            for i, row in enumerate(reader):
                line = reader.line_num
                if None in row:
                    raise FaithBenchFormatError(p, f"more fields than the {len(columns)} columns of the header", line)
                source = (row.get("source") or "").strip()
                summary = (row.get("summary") or "").strip()
                if not source or not summary:
                    raise FaithBenchFormatError(p, "empty source or summary", line)
                worst = _label(row.get("worst-label"), p, line, "worst-label")
                best_raw = row.get("best-label")
                best = _label(best_raw, p, line, "best-label") if best_raw and best_raw.strip() else None
                items.append(
                    FaithBenchItem(
                        id=f"faithbench-{i}",
                        source=source,
                        summary=summary,
                        llm=(row.get("LLM") or "").strip() or None,
                        worst_label=worst,
                        best_label=best,
                        hallucinated=worst in HALLUCINATED_LABELS,
                    )
                )
    except OSError as exc:
        raise FaithBenchFormatError(p, f"cannot read the file: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise FaithBenchFormatError(p, f"not UTF-8 text: {exc.reason}") from exc
    except csv.Error as exc:
        raise FaithBenchFormatError(p, f"malformed CSV: {exc}") from exc
    if not items:
        raise FaithBenchFormatError(p, "no data rows")
    return items
