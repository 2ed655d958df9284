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
from dataclasses import dataclass, field
from typing import Any, Literal

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

    def figures(self) -> dict[str, Any]:
        """The counts plus the derived rates and interval, for `--json` output (not for re-validation)."""
        ci = self.interval
        return {
            **self.model_dump(mode="json"),
            "pass_rate": self.pass_rate,
            "ci_low": ci.low,
            "ci_high": ci.high,
            "error_rate": self.error_rate,
            "unscored_rate": self.unscored_rate,
        }


class RunSummary(BaseModel):
    """Everything gates and reports need to know about one run, without holding its results."""

    model_config = ConfigDict(extra="forbid")

    run_id: str | None = None
    partitions: dict[str, PartitionSummary] = Field(default_factory=dict)
    overall: PartitionSummary = Field(default_factory=lambda: PartitionSummary(partition="all"))
    samples: dict[str, SampleRecord] = Field(default_factory=dict)

    def figures(self) -> dict[str, Any]:
        """Per-partition and overall figures (with rates and intervals) for `--json`; samples left out."""
        return {
            "run_id": self.run_id,
            "partitions": {name: p.figures() for name, p in self.partitions.items()},
            "overall": self.overall.figures(),
        }

    def failing_samples(self, partition: str | None = None) -> list[SampleRecord]:
        """Samples whose overall status is failed or error, in first-seen order."""
        return [
            r
            for r in self.samples.values()
            if r.status in ("failed", "error") and (partition is None or r.partition == partition)
        ]


# Accumulators: plain slotted objects while streaming (pydantic attribute assignment costs ~2 µs a field,
# which dominated a 100k-result summary), turned into the pydantic models once at the end.


@dataclass(slots=True)
class _Counts:
    n: int = 0
    samples: int = 0
    passed: int = 0
    failed: int = 0
    unscored: int = 0
    errors: int = 0
    graders: dict[str, list[int]] = field(default_factory=dict)  # name -> [passed, failed, unscored]

    def add(self, result: SampleResult) -> None:
        self.n += 1
        status = result.status
        if status == "passed":
            self.passed += 1
        elif status == "failed":
            self.failed += 1
        elif status == "unscored":
            self.unscored += 1
        else:
            self.errors += 1
        for score in result.scores:
            counts = self.graders.get(score.name)
            if counts is None:
                counts = self.graders[score.name] = [0, 0, 0]
            counts[0 if score.passed is True else 1 if score.passed is False else 2] += 1

    def model(self, partition: str) -> PartitionSummary:
        graders = {k: GraderCounts(passed=v[0], failed=v[1], unscored=v[2]) for k, v in self.graders.items()}
        return PartitionSummary(
            partition=partition, n=self.n, samples=self.samples, passed=self.passed, failed=self.failed,
            unscored=self.unscored, errors=self.errors, graders=graders,
        )


@dataclass(slots=True)
class _Record:
    partition: Partition
    epochs: set[int] = field(default_factory=set)
    passed: int = 0
    failed: int = 0
    unscored: int = 0
    errors: int = 0
    sample_hash: str = ""
    failures: list[FailureNote] = field(default_factory=list)
    error: str | None = None
    latency_ms: float | None = None

    def add(self, result: SampleResult) -> None:
        if result.sample_hash and not self.sample_hash:
            self.sample_hash = result.sample_hash
        if result.output is not None and result.output.latency_ms is not None:
            self.latency_ms = (self.latency_ms or 0.0) + result.output.latency_ms
        status = result.status
        if status == "passed":
            self.passed += 1
        elif status == "failed":
            self.failed += 1
            for score in result.scores:
                if score.passed is False and len(self.failures) < MAX_NOTES_PER_SAMPLE:
                    note = FailureNote(grader=score.name, reason=clean_reason(score.reason), epoch=result.epoch)
                    self.failures.append(note)
        elif status == "unscored":
            self.unscored += 1
        else:
            self.errors += 1
            message = result.error or (result.output.error if result.output is not None else None)
            if message and self.error is None:
                self.error = clean_reason(message)

    def model(self, sample_id: str) -> SampleRecord:
        return SampleRecord(
            sample_id=sample_id, partition=self.partition, epochs=len(self.epochs), passed=self.passed,
            failed=self.failed, unscored=self.unscored, errors=self.errors, sample_hash=self.sample_hash,
            failures=self.failures, error=self.error, latency_ms=self.latency_ms,
        )


def summarize(results: Iterable[SampleResult]) -> RunSummary:
    """Fold a stream of results into a `RunSummary`.

    Raises `SummaryError` for input that is not one run: two run ids, the same (sample, epoch) twice, or one
    sample id in two partitions. Each would silently skew a gate, so they are refused with the ids named.
    """
    run_id: str | None = None
    overall = _Counts()
    parts: dict[str, _Counts] = {}
    records: dict[str, _Record] = {}
    for result in results:
        if run_id is None:
            run_id = result.run_id
        elif result.run_id != run_id:
            raise SummaryError(
                f"results from two runs ({run_id!r} and {result.run_id!r}, sample {result.sample_id!r}); "
                "summarise one run at a time"
            )
        part = parts.get(result.partition)
        if part is None:
            part = parts[result.partition] = _Counts()
        record = records.get(result.sample_id)
        if record is None:
            record = records[result.sample_id] = _Record(partition=result.partition)
            part.samples += 1
            overall.samples += 1
        elif record.partition != result.partition:
            raise SummaryError(
                f"run {result.run_id!r}: sample {result.sample_id!r} is in partitions "
                f"{record.partition!r} and {result.partition!r}"
            )
        if result.epoch in record.epochs:
            raise SummaryError(f"run {result.run_id!r}: sample {result.sample_id!r} epoch {result.epoch} appears twice")
        record.epochs.add(result.epoch)
        part.add(result)
        overall.add(result)
        record.add(result)
    # Canonical partition order, so tables and JUnit suites read the same in every run.
    order: dict[str, int] = {p: i for i, p in enumerate(PARTITIONS)}
    ordered = sorted(parts.items(), key=lambda kv: order.get(kv[0], len(order)))
    return RunSummary(
        run_id=run_id,
        partitions={name: counts.model(name) for name, counts in ordered},
        overall=overall.model("all"),
        samples={sid: rec.model(sid) for sid, rec in records.items()},
    )
