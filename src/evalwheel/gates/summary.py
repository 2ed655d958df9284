"""Per-partition summaries of a run, computed in one pass over its results.

Gates, JUnit XML and the PR comment all read the same `RunSummary`, so the numbers a reviewer sees in the
comment are exactly the numbers the exit code was decided on. Results are consumed as a stream (a store
query or a JSONL reader can feed millions of rows); only counters and one small record per sample id are
kept, which is what the regression gate and the failure listings need.

Counting rules (documented in docs/ci.md):
- every SampleResult (one sample, one epoch) is one trial; `n` counts trials, `samples` distinct ids;
- `pass_rate` = passed / (passed + failed): unscored and errored trials are counted and shown, never
  silently folded into the rate (a gate may opt in to `denominator: all`);
- a sample's overall status across its epochs is the worst one: failed > error > unscored > passed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from evalwheel.stats.intervals import Interval, proportion_ci
from evalwheel.types import Partition, SampleResult, SampleStatus, clip

PARTITIONS: tuple[Partition, ...] = ("golden", "regression", "adversarial", "distribution")
REASON_MAX = 300  # enough for a judge's one-line rationale; a PR comment is not the place for essays
MAX_NOTES_PER_SAMPLE = 5
# Colour codes and control characters from tracebacks or model output would garble a PR comment and
# break XML; they are dropped where reasons enter the summary.
_ANSI_OR_CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_reason(text: str) -> str:
    """A reason or error message as one clipped line without colour codes or control characters."""
    return clip(_ANSI_OR_CONTROL.sub("", text), limit=REASON_MAX)


class SummaryError(ValueError):
    """The results cannot be summarised as one run (mixed run ids, duplicates, a sample in two partitions)."""


class GraderCounts(BaseModel):
    """How one grader (Score.name) voted across a partition's trials."""

    model_config = ConfigDict(extra="forbid")

    passed: int = 0
    failed: int = 0
    unscored: int = 0

    @property
    def scored(self) -> int:
        return self.passed + self.failed

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.scored if self.scored else None


class FailureNote(BaseModel):
    """One failing grader on one sample: what a reviewer needs to start debugging."""

    model_config = ConfigDict(extra="forbid")

    grader: str
    reason: str = ""
    epoch: int = 0


class SampleRecord(BaseModel):
    """One sample id's outcome across its epochs, with the failing graders' reasons (clipped)."""

    model_config = ConfigDict(extra="forbid")

    sample_id: str
    partition: Partition
    epochs: int = 0
    passed: int = 0
    failed: int = 0
    unscored: int = 0
    errors: int = 0
    sample_hash: str = ""
    failures: list[FailureNote] = Field(default_factory=list)
    error: str | None = None
    latency_ms: float | None = None

    @property
    def scored(self) -> int:
        return self.passed + self.failed

    @property
    def status(self) -> SampleStatus:
        """Worst status over the epochs: one failing epoch makes the sample a failure."""
        if self.failed:
            return "failed"
        if self.errors:
            return "error"
        if self.unscored:
            return "unscored"
        return "passed"


class PartitionSummary(BaseModel):
    """Counts, pass rate with its Wilson interval, and per-grader counts for one partition (or all)."""

    model_config = ConfigDict(extra="forbid")

    partition: str
    n: int = 0
    samples: int = 0
    passed: int = 0
    failed: int = 0
    unscored: int = 0
    errors: int = 0
    graders: dict[str, GraderCounts] = Field(default_factory=dict)

    @property
    def scored(self) -> int:
        return self.passed + self.failed

    @property
    def pass_rate(self) -> float | None:
        """passed / scored; None when nothing was scored (never 0.0 or NaN by accident)."""
        return self.passed / self.scored if self.scored else None

    @property
    def interval(self) -> Interval:
        return proportion_ci(self.passed, self.scored)

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.n if self.n else None

    @property
    def unscored_rate(self) -> float | None:
        return self.unscored / self.n if self.n else None

    def rate(self, denominator: Literal["scored", "all"]) -> float | None:
        """Pass rate over scored trials, or over all trials (unscored and errors then count against)."""
        if denominator == "all":
            return self.passed / self.n if self.n else None
        return self.pass_rate

    def add(self, result: SampleResult) -> None:
        """Count one trial (used by `summarize`; summaries are built, not edited by callers)."""
        self.n += 1
        if result.status == "passed":
            self.passed += 1
        elif result.status == "failed":
            self.failed += 1
        elif result.status == "unscored":
            self.unscored += 1
        else:
            self.errors += 1
        for score in result.scores:
            counts = self.graders.setdefault(score.name, GraderCounts())
            if score.passed is True:
                counts.passed += 1
            elif score.passed is False:
                counts.failed += 1
            else:
                counts.unscored += 1


class RunSummary(BaseModel):
    """Everything gates and reports need to know about one run, without holding its results."""

    model_config = ConfigDict(extra="forbid")

    run_id: str | None = None
    partitions: dict[str, PartitionSummary] = Field(default_factory=dict)
    overall: PartitionSummary = Field(default_factory=lambda: PartitionSummary(partition="all"))
    samples: dict[str, SampleRecord] = Field(default_factory=dict)

    def failing_samples(self, partition: str | None = None) -> list[SampleRecord]:
        """Samples whose overall status is failed or error, in first-seen order."""
        return [
            r
            for r in self.samples.values()
            if r.status in ("failed", "error") and (partition is None or r.partition == partition)
        ]


def _record_outcome(record: SampleRecord, result: SampleResult) -> None:
    record.epochs += 1
    if result.sample_hash and not record.sample_hash:
        record.sample_hash = result.sample_hash
    if result.output is not None and result.output.latency_ms is not None:
        record.latency_ms = (record.latency_ms or 0.0) + result.output.latency_ms
    if result.status == "passed":
        record.passed += 1
    elif result.status == "failed":
        record.failed += 1
        for score in result.scores:
            if score.passed is False and len(record.failures) < MAX_NOTES_PER_SAMPLE:
                note = FailureNote(grader=score.name, reason=clean_reason(score.reason), epoch=result.epoch)
                record.failures.append(note)
    elif result.status == "unscored":
        record.unscored += 1
    else:
        record.errors += 1
        message = result.error or (result.output.error if result.output is not None else None)
        if message and record.error is None:
            record.error = clean_reason(message)


def summarize(results: Iterable[SampleResult]) -> RunSummary:
    """Fold a stream of results into a `RunSummary`.

    Raises `SummaryError` for input that is not one run: two run ids, the same (sample, epoch) twice, or one
    sample id in two partitions. Each would silently skew a gate, so they are refused with the ids named.
    """
    summary = RunSummary()
    seen: set[tuple[str, int]] = set()
    for result in results:
        if summary.run_id is None:
            summary.run_id = result.run_id
        elif result.run_id != summary.run_id:
            raise SummaryError(
                f"results from two runs ({summary.run_id!r} and {result.run_id!r}, sample {result.sample_id!r}); "
                "summarise one run at a time"
            )
        key = (result.sample_id, result.epoch)
        if key in seen:
            raise SummaryError(f"run {result.run_id!r}: sample {result.sample_id!r} epoch {result.epoch} appears twice")
        seen.add(key)
        record = summary.samples.get(result.sample_id)
        if record is None:
            record = SampleRecord(sample_id=result.sample_id, partition=result.partition)
            summary.samples[result.sample_id] = record
        elif record.partition != result.partition:
            raise SummaryError(
                f"run {result.run_id!r}: sample {result.sample_id!r} is in partitions "
                f"{record.partition!r} and {result.partition!r}"
            )
        part = summary.partitions.get(result.partition)
        if part is None:
            part = PartitionSummary(partition=result.partition)
            summary.partitions[result.partition] = part
        if record.epochs == 0:
            part.samples += 1
            summary.overall.samples += 1
        part.add(result)
        summary.overall.add(result)
        _record_outcome(record, result)
    # Canonical partition order, so tables and JUnit suites read the same in every run.
    order: dict[str, int] = {p: i for i, p in enumerate(PARTITIONS)}
    summary.partitions = dict(sorted(summary.partitions.items(), key=lambda kv: order.get(kv[0], len(order))))
    return summary
