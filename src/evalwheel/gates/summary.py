"""Per-partition summaries of a run, computed in one pass over its results.

Gates, JUnit XML and the PR comment all read the same `RunSummary`, so the numbers a reviewer sees in the
comment are exactly the numbers the exit code was decided on. Results are consumed as a stream (a store
query or a JSONL reader can feed millions of rows) and memory stays nearly flat in the number of samples:

- a sample that passed in every epoch (the bulk of a healthy run) is kept as one packed `bytes` value of
  about 90 bytes (partition, epochs, latency, content hash): exactly what the regression gate needs to
  match it against a baseline and JUnit needs to emit its passing test case. A full `SampleRecord` is
  built from it only when someone asks for that sample;
- a sample that failed, errored or went unscored in any epoch keeps a full record with its failing
  graders' reasons, up to `DETAIL_LIMIT` such samples per partition. Past that (a broken build failing
  100,000 samples) further ones keep exact counts, status and hash in the packed form, but not their
  reasons (`SampleRecord.details_dropped`): every count, rate, gate and failing-sample total stays exact,
  and the reports list the first `DETAIL_LIMIT` per partition with reasons, which is more than any
  reviewer reads (the store keeps every score).

Counting rules (documented in docs/ci.md):
- every SampleResult (one sample, one epoch) is one trial; `n` counts trials, `samples` distinct ids;
- `pass_rate` = passed / (passed + failed): unscored and errored trials are counted and shown, never
  silently folded into the rate (a gate may opt in to `denominator: all`);
- a sample's overall status across its epochs is the worst one: failed > error > unscored > passed.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, cast

from pydantic import ConfigDict, Field, GetCoreSchemaHandler
from pydantic_core import core_schema

from evalwheel.basemodel import EvalwheelModel
from evalwheel.stats.intervals import Interval, proportion_ci
from evalwheel.types import Partition, SampleResult, SampleStatus, clip

PARTITIONS: tuple[Partition, ...] = ("golden", "regression", "adversarial", "distribution")
REASON_MAX = 300  # enough for a judge's one-line rationale; a PR comment is not the place for essays
MAX_NOTES_PER_SAMPLE = 5
# Full records (reasons, error message) kept per partition for samples that are not clean passes. A
# record costs 1-5 KB, so this bounds the reporting detail at a few MB even when a whole run fails.
DETAIL_LIMIT = 1000
# Colour codes and control characters from tracebacks or model output would garble a PR comment and
# break XML; they are dropped where reasons enter the summary.
_ANSI_OR_CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_reason(text: str) -> str:
    """A reason or error message as one clipped line without colour codes or control characters."""
    return clip(_ANSI_OR_CONTROL.sub("", text), limit=REASON_MAX)


class SummaryError(ValueError):
    """The results cannot be summarised as one run (mixed run ids, duplicates, a sample in two partitions)."""


class GraderCounts(EvalwheelModel):
    """How one grader (Score.name) voted across a partition's trials."""

    model_config = ConfigDict(extra="forbid")

    passed: int = 0
    failed: int = 0
    unscored: int = 0
    # The figure this grader's verdicts were measured at (its Scores' `metadata["agreement"]`); None: not
    # calibrated. Reports print it next to the grader's counts so a pass rate is read with its instrument's error.
    agreement: dict[str, Any] | None = None

    @property
    def scored(self) -> int:
        return self.passed + self.failed

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.scored if self.scored else None


class FailureNote(EvalwheelModel):
    """One failing grader on one sample: what a reviewer needs to start debugging."""

    model_config = ConfigDict(extra="forbid")

    grader: str
    reason: str = ""
    epoch: int = 0


def _worst(failed: int, errors: int, unscored: int) -> SampleStatus:
    """Worst status over the epochs: one failing epoch makes the sample a failure."""
    if failed:
        return "failed"
    if errors:
        return "error"
    if unscored:
        return "unscored"
    return "passed"


class SampleRecord(EvalwheelModel):
    """One sample id's outcome across its epochs, with the failing graders' reasons (clipped).

    `details_dropped` is True for a failing sample past the summary's per-partition `DETAIL_LIMIT`: its
    counts and status are exact, but its reasons and error message were not kept.
    """

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
    details_dropped: bool = False

    @property
    def scored(self) -> int:
        return self.passed + self.failed

    @property
    def status(self) -> SampleStatus:
        return _worst(self.failed, self.errors, self.unscored)


class SampleOutcome(NamedTuple):
    """A sample's counts without its reasons: cheap to produce for every sample of a large run."""

    sample_id: str
    partition: Partition
    epochs: int
    passed: int
    failed: int
    unscored: int
    errors: int
    sample_hash: str
    latency_ms: float | None

    @property
    def scored(self) -> int:
        return self.passed + self.failed

    @property
    def status(self) -> SampleStatus:
        return _worst(self.failed, self.errors, self.unscored)


# ---------------------------------------------------------------------------------------- packed samples
#
# One `bytes` per sample: a fixed head, then the content hash (32 raw bytes when it is a lowercase hex
# digest, as the dataset loader writes it, else its UTF-8 text). Measured on 100k samples with sha256
# hashes: ~88 bytes a value, against ~170 for a (partition, hash, epochs, latency) tuple with the hash as
# bytes and ~1.5 KB for a SampleRecord. The epoch bitmask (for duplicate detection while streaming) limits
# the packed form to epochs 0..63; a sample with a larger epoch number gets a full record instead.

_HEAD = struct.Struct("<BQdBBBB")  # flags, epoch bitmask, latency sum (ms), passed, failed, unscored, errors
_PART_BITS = 0x07  # index into PARTITIONS
_HEX_HASH = 0x08  # the tail is bytes.fromhex(sample_hash)
_HAS_LATENCY = 0x10
_CLEAN = 0x20  # passed in every epoch so far
_DROPPED = 0x40  # not a clean pass, and over the detail limit: reasons were not kept
MAX_PACKED_EPOCH = 63
_CODES: dict[str, int] = {p: i for i, p in enumerate(PARTITIONS)}


def _hash_tail(sample_hash: str) -> tuple[int, bytes]:
    if not sample_hash:
        return 0, b""
    if len(sample_hash) % 2 == 0:
        try:
            raw = bytes.fromhex(sample_hash)
        except ValueError:
            pass
        else:
            if raw.hex() == sample_hash:  # lowercase, no whitespace: decodes back to the same text
                return _HEX_HASH, raw
    return 0, sample_hash.encode("utf-8", "surrogatepass")


def _pack(code: int, mask: int, latency: float | None, counts: tuple[int, int, int, int], tail_flag: int,
          tail: bytes, dropped: bool) -> bytes:
    passed, failed, unscored, errors = counts
    flags = code | tail_flag
    if latency is not None:
        flags |= _HAS_LATENCY
    if not (failed or unscored or errors):
        flags |= _CLEAN
    elif dropped:
        flags |= _DROPPED
    return _HEAD.pack(flags, mask, latency or 0.0, passed, failed, unscored, errors) + tail


def _unpack_outcome(sample_id: str, entry: bytes) -> SampleOutcome:
    flags, mask, latency, passed, failed, unscored, errors = _HEAD.unpack_from(entry)
    tail = entry[_HEAD.size:]
    sample_hash = tail.hex() if flags & _HEX_HASH else tail.decode("utf-8", "surrogatepass")
    return SampleOutcome(
        sample_id, PARTITIONS[flags & _PART_BITS], mask.bit_count(), passed, failed, unscored, errors, sample_hash,
        latency if flags & _HAS_LATENCY else None,
    )


def _outcome_of(sample_id: str, entry: bytes | SampleRecord) -> SampleOutcome:
    if isinstance(entry, bytes):
        return _unpack_outcome(sample_id, entry)
    r = entry
    return SampleOutcome(
        sample_id, r.partition, r.epochs, r.passed, r.failed, r.unscored, r.errors, r.sample_hash, r.latency_ms
    )


def _partition_of(entry: bytes | SampleRecord) -> str:
    return PARTITIONS[entry[0] & _PART_BITS] if isinstance(entry, bytes) else entry.partition


def _is_clean(entry: bytes | SampleRecord) -> bool:
    if isinstance(entry, bytes):
        return bool(entry[0] & _CLEAN)
    return entry.status == "passed" and not entry.failures and entry.error is None


def _packable(rec: SampleRecord) -> bool:
    """A clean pass that round-trips exactly through the packed form (so loading JSON stays compact)."""
    return (
        rec.partition in _CODES
        and 1 <= rec.epochs <= MAX_PACKED_EPOCH + 1
        and rec.passed == rec.epochs
        and not (rec.failed or rec.unscored or rec.errors or rec.failures or rec.error or rec.details_dropped)
    )


class SampleIndex(Mapping[str, SampleRecord]):
    """Every sample of a run by id, in first-seen order, stored compactly (see the module docstring).

    As a `Mapping[str, SampleRecord]` it behaves like the plain dict it replaces, building the record of a
    clean pass on access. Code that walks every sample of a large run should use `outcomes()` (counts
    only, no pydantic objects) or `outcomes(notable=True)` (only the samples that were not clean passes).
    """

    __slots__ = ("_entries",)

    def __init__(self, entries: dict[str, bytes | SampleRecord] | None = None) -> None:
        self._entries: dict[str, bytes | SampleRecord] = entries if entries is not None else {}

    @classmethod
    def from_records(cls, records: Mapping[str, SampleRecord]) -> SampleIndex:
        """An index over ready-made records (e.g. a summary read back from JSON); clean passes get packed."""
        entries: dict[str, bytes | SampleRecord] = {}
        for sid, rec in records.items():
            if _packable(rec):
                flag, tail = _hash_tail(rec.sample_hash)
                counts = (rec.passed, 0, 0, 0)
                entries[sid] = _pack(_CODES[rec.partition], (1 << rec.epochs) - 1, rec.latency_ms, counts, flag,
                                     tail, False)
            else:
                entries[sid] = rec
        return cls(entries)

    # Mapping protocol: full records, built on demand for packed samples.
    def __getitem__(self, sample_id: str) -> SampleRecord:
        entry = self._entries[sample_id]
        if not isinstance(entry, bytes):
            return entry
        o = _unpack_outcome(sample_id, entry)
        return SampleRecord(
            sample_id=sample_id, partition=o.partition, epochs=o.epochs, passed=o.passed, failed=o.failed,
            unscored=o.unscored, errors=o.errors, sample_hash=o.sample_hash, latency_ms=o.latency_ms,
            details_dropped=bool(entry[0] & _DROPPED),
        )

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, sample_id: object) -> bool:
        return sample_id in self._entries

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        return len(self) == len(other) and all(k in other and self[k] == other[k] for k in self._entries)

    def __repr__(self) -> str:
        notable = sum(1 for e in self._entries.values() if not _is_clean(e))
        return f"SampleIndex({len(self)} samples, {notable} not clean passes)"

    # Cheap views for gates and reports.
    def outcome(self, sample_id: str) -> SampleOutcome | None:
        """The counts of one sample, or None when the run does not have it."""
        entry = self._entries.get(sample_id)
        return None if entry is None else _outcome_of(sample_id, entry)

    def outcomes(self, partition: str | None = None, *, notable: bool = False) -> Iterator[SampleOutcome]:
        """Counts per sample in first-seen order; `notable=True` skips samples that passed in every epoch."""
        for sid, entry in self._entries.items():
            if notable and _is_clean(entry):
                continue
            if partition is not None and _partition_of(entry) != partition:
                continue
            yield _outcome_of(sid, entry)

    def count(self, partition: str | None = None) -> int:
        """How many samples (in one partition, or all), without unpacking them."""
        if partition is None:
            return len(self._entries)
        return sum(1 for e in self._entries.values() if _partition_of(e) == partition)

    def records(self, partition: str | None = None, *, notable: bool = False) -> Iterator[SampleRecord]:
        """Full records in first-seen order (built one at a time for packed samples)."""
        for o in self.outcomes(partition, notable=notable):
            yield self[o.sample_id]

    # pydantic: validated from (and serialised as) the plain `{sample_id: SampleRecord}` mapping of old.
    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        as_dict = handler.generate_schema(dict[str, SampleRecord])
        from_dict = core_schema.no_info_after_validator_function(cls.from_records, as_dict)
        return core_schema.json_or_python_schema(
            json_schema=from_dict,
            python_schema=core_schema.union_schema([core_schema.is_instance_schema(cls), from_dict]),
            serialization=core_schema.plain_serializer_function_ser_schema(dict, return_schema=as_dict),
        )


class PartitionSummary(EvalwheelModel):
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


class RunSummary(EvalwheelModel):
    """Everything gates and reports need to know about one run, without holding its results."""

    model_config = ConfigDict(extra="forbid")

    run_id: str | None = None
    partitions: dict[str, PartitionSummary] = Field(default_factory=dict)
    overall: PartitionSummary = Field(default_factory=lambda: PartitionSummary(partition="all"))
    samples: SampleIndex = Field(default_factory=SampleIndex)

    def figures(self) -> dict[str, Any]:
        """Per-partition and overall figures (with rates and intervals) for `--json`; samples left out."""
        return {
            "run_id": self.run_id,
            "partitions": {name: p.figures() for name, p in self.partitions.items()},
            "overall": self.overall.figures(),
        }

    def iter_failing_samples(self, partition: str | None = None) -> Iterator[SampleRecord]:
        """Samples whose overall status is failed or error, in first-seen order, one record at a time."""
        for o in self.samples.outcomes(partition, notable=True):
            if o.status in ("failed", "error"):
                yield self.samples[o.sample_id]

    def failing_samples(self, partition: str | None = None) -> list[SampleRecord]:
        """Samples whose overall status is failed or error, in first-seen order."""
        return list(self.iter_failing_samples(partition))


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
    notes: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> agreement note (first one seen)

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
            if score.name not in self.notes:
                note = score.metadata.get("agreement")
                if isinstance(note, dict):
                    self.notes[score.name] = note

    def model(self, partition: str) -> PartitionSummary:
        graders = {
            k: GraderCounts(passed=v[0], failed=v[1], unscored=v[2], agreement=self.notes.get(k))
            for k, v in self.graders.items()
        }
        return PartitionSummary(
            partition=partition, n=self.n, samples=self.samples, passed=self.passed, failed=self.failed,
            unscored=self.unscored, errors=self.errors, graders=graders,
        )


@dataclass(slots=True)
class _Record:
    """A notable sample's full accumulator; `keep_details=False` counts without keeping reasons."""

    partition: Partition
    keep_details: bool = True
    epochs: set[int] = field(default_factory=set)
    passed: int = 0
    failed: int = 0
    unscored: int = 0
    errors: int = 0
    sample_hash: str = ""
    failures: list[FailureNote] = field(default_factory=list)
    error: str | None = None
    latency_ms: float | None = None

    @classmethod
    def from_outcome(cls, o: SampleOutcome, mask: int, keep_details: bool) -> _Record:
        epochs = {e for e in range(MAX_PACKED_EPOCH + 1) if mask >> e & 1}
        return cls(
            partition=o.partition, keep_details=keep_details, epochs=epochs, passed=o.passed, failed=o.failed,
            unscored=o.unscored, errors=o.errors, sample_hash=o.sample_hash, latency_ms=o.latency_ms,
        )

    def add(self, result: SampleResult) -> None:
        self.epochs.add(result.epoch)
        if result.sample_hash and not self.sample_hash:
            self.sample_hash = result.sample_hash
        if result.output is not None and result.output.latency_ms is not None:
            self.latency_ms = (self.latency_ms or 0.0) + result.output.latency_ms
        status = result.status
        if status == "passed":
            self.passed += 1
        elif status == "failed":
            self.failed += 1
            if self.keep_details:
                for score in result.scores:
                    if score.passed is False and len(self.failures) < MAX_NOTES_PER_SAMPLE:
                        note = FailureNote(grader=score.name, reason=clean_reason(score.reason), epoch=result.epoch)
                        self.failures.append(note)
        elif status == "unscored":
            self.unscored += 1
        else:
            self.errors += 1
            message = result.error or (result.output.error if result.output is not None else None)
            if message and self.error is None and self.keep_details:
                self.error = clean_reason(message)

    def model(self, sample_id: str) -> SampleRecord:
        return SampleRecord(
            sample_id=sample_id, partition=self.partition, epochs=len(self.epochs), passed=self.passed,
            failed=self.failed, unscored=self.unscored, errors=self.errors, sample_hash=self.sample_hash,
            failures=self.failures, error=self.error, latency_ms=self.latency_ms,
            details_dropped=not self.keep_details and _worst(self.failed, self.errors, self.unscored) != "passed",
        )


class _Folder:
    """Folds one result into its sample's entry: packed while it can be, a full `_Record` when it must."""

    def __init__(self, detail_limit: int | None) -> None:
        self.detail_limit = detail_limit
        self.detailed: dict[str, int] = {}  # partition -> notable samples given a full record so far

    def _take_detail(self, partition: str) -> bool:
        used = self.detailed.get(partition, 0)
        if self.detail_limit is not None and used >= self.detail_limit:
            return False
        self.detailed[partition] = used + 1
        return True

    def fold(self, entry: bytes | _Record | None, result: SampleResult) -> bytes | _Record:
        epoch, partition = result.epoch, result.partition
        if isinstance(entry, _Record):
            self._check(entry.partition, epoch in entry.epochs, result)
            entry.add(result)
            return entry
        code = _CODES.get(partition)
        if entry is None:
            mask, latency, counts, dropped = 0, None, (0, 0, 0, 0), False
            tail_flag, tail = _hash_tail(result.sample_hash)
        else:
            flags, mask, lat, *rest = _HEAD.unpack_from(entry)
            latency = lat if flags & _HAS_LATENCY else None
            counts = cast(tuple[int, int, int, int], tuple(rest))
            dropped = bool(flags & _DROPPED)
            tail_flag, tail = flags & _HEX_HASH, entry[_HEAD.size:]
            if not tail and result.sample_hash:
                tail_flag, tail = _hash_tail(result.sample_hash)
            self._check(PARTITIONS[flags & _PART_BITS], 0 <= epoch <= MAX_PACKED_EPOCH and bool(mask >> epoch & 1),
                        result)
        status = result.status
        clean_so_far = not (counts[1] or counts[2] or counts[3])
        becomes_notable = status != "passed" and clean_so_far
        if becomes_notable:
            dropped = not self._take_detail(partition)
        if code is None or not 0 <= epoch <= MAX_PACKED_EPOCH or (becomes_notable and not dropped):
            return self._promote(entry, result, mask, keep_details=not dropped)
        if result.output is not None and result.output.latency_ms is not None:
            latency = (latency or 0.0) + result.output.latency_ms
        p, f, u, e = counts
        if status == "passed":
            p += 1
        elif status == "failed":
            f += 1
        elif status == "unscored":
            u += 1
        else:
            e += 1
        return _pack(code, mask | 1 << epoch, latency, (p, f, u, e), tail_flag, tail, dropped)

    def _promote(self, entry: bytes | None, result: SampleResult, mask: int, keep_details: bool) -> _Record:
        if entry is None:
            rec = _Record(partition=result.partition, keep_details=keep_details)
        else:
            rec = _Record.from_outcome(_unpack_outcome(result.sample_id, entry), mask, keep_details)
        rec.add(result)
        return rec

    @staticmethod
    def _check(partition: str, seen_epoch: bool, result: SampleResult) -> None:
        if partition != result.partition:
            raise SummaryError(
                f"run {result.run_id!r}: sample {result.sample_id!r} is in partitions "
                f"{partition!r} and {result.partition!r}"
            )
        if seen_epoch:
            raise SummaryError(f"run {result.run_id!r}: sample {result.sample_id!r} epoch {result.epoch} appears twice")


class GraderTally:
    """Per-grader verdict counts and agreement notes over a stream of results, without the rest of a summary
    (what `runs show` lists under a stored run)."""

    def __init__(self) -> None:
        self._counts = _Counts()

    def add(self, result: SampleResult) -> None:
        self._counts.add(result)

    def graders(self) -> dict[str, GraderCounts]:
        return self._counts.model("all").graders


def summarize(results: Iterable[SampleResult], *, detail_limit: int | None = DETAIL_LIMIT) -> RunSummary:
    """Fold a stream of results into a `RunSummary`.

    `detail_limit` caps, per partition, how many not-clean samples keep their failing graders' reasons
    (None: no cap); counts, statuses and gates are exact either way. Raises `SummaryError` for input that
    is not one run: two run ids, the same (sample, epoch) twice, or one sample id in two partitions. Each
    would silently skew a gate, so they are refused with the ids named.
    """
    builder = SummaryBuilder(detail_limit=detail_limit)
    for result in results:
        builder.add(result)
    return builder.finish()


class SummaryBuilder:
    """`summarize`, one result at a time: a run folds its results in as they are committed, so the summary is
    ready when the last one is, instead of re-reading the whole run from the store (same result, same errors)."""

    def __init__(self, *, detail_limit: int | None = DETAIL_LIMIT) -> None:
        self.run_id: str | None = None
        self.overall = _Counts()
        self.parts: dict[str, _Counts] = {}
        self.entries: dict[str, bytes | _Record] = {}
        self.folder = _Folder(detail_limit)
        self.error: SummaryError | None = None  # set by a caller that stopped folding (see runs/api.py)

    def add(self, result: SampleResult) -> None:
        if self.run_id is None:
            self.run_id = result.run_id
        elif result.run_id != self.run_id:
            raise SummaryError(
                f"results from two runs ({self.run_id!r} and {result.run_id!r}, sample {result.sample_id!r}); "
                "summarise one run at a time"
            )
        part = self.parts.get(result.partition)
        if part is None:
            part = self.parts[result.partition] = _Counts()
        sid = result.sample_id
        entries = self.entries
        entry = entries.get(sid)
        new_entry = self.folder.fold(entry, result)
        if entry is None:
            part.samples += 1
            self.overall.samples += 1
        entries[sid] = new_entry
        part.add(result)
        self.overall.add(result)

    def finish(self) -> RunSummary:
        """The summary of everything added (call once: the entries are converted in place)."""
        entries = self.entries
        # Full records become SampleRecords in place: same dict, same first-seen order, no second copy.
        pending = [(sid, e) for sid, e in entries.items() if isinstance(e, _Record)]
        final = cast(dict[str, bytes | SampleRecord], entries)
        for sid, rec in pending:
            final[sid] = rec.model(sid)
        # Canonical partition order, so tables and JUnit suites read the same in every run.
        order: dict[str, int] = {p: i for i, p in enumerate(PARTITIONS)}
        ordered = sorted(self.parts.items(), key=lambda kv: order.get(kv[0], len(order)))
        return RunSummary(
            run_id=self.run_id,
            partitions={name: counts.model(name) for name, counts in ordered},
            overall=self.overall.model("all"),
            samples=SampleIndex(final),
        )
