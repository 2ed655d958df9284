"""A spec's dataset, prepared for a run: validated, hashed and lock-checked before any sample runs.

A broken dataset or a golden sample that changed without `evalwheel dataset lock` must stop the run before
the first model call (exit 2), so the whole file is scanned first — streaming, keeping only ids and hashes —
and the samples are streamed again while the run executes. A file of at most `HOLD_MAX_BYTES` keeps the
samples of its scan instead: reading, validating and hashing every sample a second time was about a tenth of a
run's own CPU per sample (issue 15, the raw-HTTP floor), and the memory that saves is bounded by that size.
A file that mentions `input_file` always streams: its samples load session files of any size.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from evalwheel.datasets.lock import verify_golden_lock
from evalwheel.datasets.samples import Dataset, DatasetSummary, iter_hashed_samples, load_dataset, scan_dataset
from evalwheel.types import Sample

HOLD_MAX_BYTES = 2 * 1024 * 1024  # dataset files up to this size are held in memory after the validating scan


@dataclass(frozen=True)
class PreparedDataset:
    path: Path
    summary: DatasetSummary
    root: Path | None = None  # the folder `input_file` paths must stay in (default: the dataset's folder)

    @property
    def version_hash(self) -> str:
        return self.summary.version_hash

    @property
    def count(self) -> int:
        return self.summary.total

    def iter_samples(self) -> Iterator[tuple[Sample, str]]:
        summary = self.summary
        if isinstance(summary, Dataset):  # held by prepare_dataset: the scan's own validated samples
            hashes = summary.sample_hashes
            for sample in summary.samples:
                yield sample, hashes[sample.id]
            return
        for item in iter_hashed_samples(self.path, root=self.root):
            yield item.sample, item.hash


def _holdable(path: Path) -> bool:
    """Small enough to keep after the scan: at most HOLD_MAX_BYTES, and no `input_file` (whose sessions, loaded
    into the samples, could be of any size)."""
    try:
        return path.is_file() and path.stat().st_size <= HOLD_MAX_BYTES and b"input_file" not in path.read_bytes()
    except OSError:
        return False  # the scan reports what is wrong with the path


def prepare_dataset(
    path: Path, lock_path: Path | None = None, *, require_lock: bool = False, root: Path | None = None
) -> PreparedDataset:
    """Scan and lock-check; raises InvalidDatasetError / GoldenLockError / LockFileError (all exit 2)."""
    hold = _holdable(path)
    summary: DatasetSummary = load_dataset(path, root=root) if hold else scan_dataset(path, root=root)
    verify_golden_lock(summary, lock_path, require=require_lock)
    return PreparedDataset(path, summary, root)
