"""The golden lock: the golden partition may only change together with its reviewed lock file.

Golden samples are the minimum bar every release must clear; a quiet edit to one (a softened reference,
a trimmed session) would move the bar without anyone deciding to. So `evalwheel dataset lock` records each
golden sample's content hash in a lock file next to the dataset (`<dataset file name>.lock.json`, meant to
be committed and reviewed), and a run calls `verify_golden_lock`, which fails naming every golden sample
that changed, appeared or disappeared. Other partitions are free to change: regression samples are added
from failures all the time.

The lock holds no timestamp, so locking an unchanged dataset rewrites the same bytes and shows no diff.
A dataset without golden samples needs no lock; one with golden samples but no lock file fails
verification unless `require=False` (then the check is skipped).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import ConfigDict, ValidationError

from evalwheel.basemodel import EvalwheelModel
from evalwheel.datasets.samples import DatasetSummary, scan_dataset, short_hash
from evalwheel.datasets.sessions import json_path
from evalwheel.fileio import FileReadError, read_text, write_text_atomic

LOCK_SUFFIX = ".lock.json"
_NOTE = "Golden-partition lock written by `evalwheel dataset lock`; regenerate it, do not edit it by hand."


class GoldenLock(EvalwheelModel):
    """The lock file's content: full sha256 hashes of the golden samples at the time of locking."""

    model_config = ConfigDict(extra="forbid")

    lock_version: Literal[1] = 1
    note: str = _NOTE
    dataset: str
    dataset_hash: str
    golden: dict[str, str]


class LockFileError(ValueError):
    """A lock file that cannot be read; names file, field and cause."""

    def __init__(self, path: Path | str, field: str, cause: str) -> None:
        self.path = str(path)
        self.field = field
        self.cause = cause
        super().__init__(f"{self.path}: {field}: {cause}")


@dataclass
class GoldenDiff:
    """How the golden partition differs from its lock; each entry carries full hashes."""

    changed: list[tuple[str, str, str]] = field(default_factory=list)  # (id, locked hash, current hash)
    added: list[tuple[str, str]] = field(default_factory=list)  # (id, current hash)
    removed: list[tuple[str, str]] = field(default_factory=list)  # (id, locked hash)

    @property
    def ok(self) -> bool:
        return not (self.changed or self.added or self.removed)

    def lines(self) -> list[str]:
        """One line per golden sample that differs, using short hashes."""
        out = [f"changed  {i}: {short_hash(old)} -> {short_hash(new)}" for i, old, new in self.changed]
        out += [f"added    {i}: (not locked) -> {short_hash(new)}" for i, new in self.added]
        out += [f"removed  {i}: {short_hash(old)} -> (missing)" for i, old in self.removed]
        return out

    def counts(self) -> dict[str, int]:
        return {"changed": len(self.changed), "added": len(self.added), "removed": len(self.removed)}

    def to_dict(self) -> dict[str, object]:
        return {
            "changed": [{"id": i, "locked": old, "current": new} for i, old, new in self.changed],
            "added": [{"id": i, "current": new} for i, new in self.added],
            "removed": [{"id": i, "locked": old} for i, old in self.removed],
        }


class GoldenLockError(ValueError):
    """The golden partition does not match its lock (or the lock is missing); the message lists every sample."""

    def __init__(self, message: str, dataset: str, lock_path: Path, diff: GoldenDiff | None) -> None:
        self.dataset = dataset
        self.lock_path = lock_path
        self.diff = diff  # None when the lock file is missing
        super().__init__(message)


def default_lock_path(dataset_path: Path | str) -> Path:
    """`cases.jsonl` -> `cases.jsonl.lock.json`: the full name keeps `cases.yaml` and `cases.jsonl` apart."""
    p = Path(dataset_path)
    return p.with_name(p.name + LOCK_SUFFIX)


def _lock_command(dataset: str, lock_path: Path) -> str:
    cmd = f"evalwheel dataset lock {dataset}"
    return cmd if lock_path == default_lock_path(dataset) else f"{cmd} --lock {lock_path}"


def read_lock(path: Path | str) -> GoldenLock:
    p = Path(path)
    try:
        data = json.loads(read_text(p))
    except FileReadError as exc:
        raise LockFileError(p, "$", exc.cause) from None
    except json.JSONDecodeError as exc:
        raise LockFileError(p, "$", f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(data, dict):
        raise LockFileError(p, "$", f"expected a JSON object, got {type(data).__name__}")
    try:
        return GoldenLock.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise LockFileError(p, json_path(first["loc"]), str(first["msg"])) from None


def build_lock(summary: DatasetSummary, lock_path: Path | str | None = None) -> GoldenLock:
    """The lock for a dataset as it is now; `dataset` is stored relative to the lock's folder when possible."""
    target = Path(lock_path) if lock_path is not None else default_lock_path(summary.path)
    try:
        name = os.path.relpath(summary.path, target.parent)
    except ValueError:  # another drive on Windows
        name = str(summary.path)
    return GoldenLock(dataset=Path(name).as_posix(), dataset_hash=summary.version_hash, golden=dict(summary.golden))


def write_lock(summary: DatasetSummary, lock_path: Path | str | None = None) -> Path:
    """Write (atomically) the lock for a dataset and return its path."""
    target = Path(lock_path) if lock_path is not None else default_lock_path(summary.path)
    lock = build_lock(summary, target)
    text = json.dumps(lock.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"
    write_text_atomic(target, text)
    return target


def diff_golden(locked: dict[str, str], current: dict[str, str]) -> GoldenDiff:
    """Compare golden id -> hash maps; entries are sorted by id so messages are stable."""
    return GoldenDiff(
        changed=[(i, locked[i], current[i]) for i in sorted(locked.keys() & current.keys()) if locked[i] != current[i]],
        added=[(i, current[i]) for i in sorted(current.keys() - locked.keys())],
        removed=[(i, locked[i]) for i in sorted(locked.keys() - current.keys())],
    )


def check_golden_lock(summary: DatasetSummary, lock_path: Path | str | None = None) -> GoldenDiff | None:
    """The difference between the dataset's golden partition and its lock, or None if there is no lock file."""
    target = Path(lock_path) if lock_path is not None else default_lock_path(summary.path)
    if not target.exists():
        return None
    return diff_golden(read_lock(target).golden, summary.golden)


def verify_golden_lock(
    dataset: DatasetSummary | Path | str, lock_path: Path | str | None = None, *, require: bool = True
) -> None:
    """Raise `GoldenLockError` unless the golden partition matches its lock exactly.

    `dataset` is a loaded `Dataset` / `DatasetSummary`, or a path (then scanned, streaming). A missing lock
    is an error when the dataset has golden samples and `require` is true; otherwise nothing is checked.
    A malformed lock file raises `LockFileError`; a malformed dataset raises `InvalidDatasetError`.
    """
    summary = dataset if isinstance(dataset, DatasetSummary) else scan_dataset(dataset)
    target = Path(lock_path) if lock_path is not None else default_lock_path(summary.path)
    fix = _lock_command(summary.path, target)
    if not target.exists():
        if require and summary.golden:
            raise GoldenLockError(
                f"{summary.path} has {len(summary.golden)} golden sample(s) but no lock file {target}; "
                f"review them and run `{fix}` to create it",
                summary.path,
                target,
                None,
            )
        return
    lock = read_lock(target)
    diff = diff_golden(lock.golden, summary.golden)
    if diff.ok:
        return
    c = diff.counts()
    other = Path(lock.dataset).name != Path(summary.path).name
    header = (
        f"golden partition of {summary.path} does not match its lock {target}"
        + (f" (written for {lock.dataset})" if other else "")
        + f": {c['changed']} changed, {c['added']} added, {c['removed']} removed"
    )
    body = "\n".join(f"  {line}" for line in diff.lines())
    footer = f"If the change is intended, have it reviewed and run `{fix}` to update the lock."
    raise GoldenLockError(f"{header}\n{body}\n{footer}", summary.path, target, diff)
