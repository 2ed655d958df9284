"""`evalwheel run --partition P`: run only some partitions of a spec's dataset (e.g. the golden set first).

Expensive graders make a full run costly; scoping it to the partitions that gate a change keeps a quick check
quick. The view streams the same file and keeps the same version hash, so the lock check, resume and the
baseline comparison (on shared samples) behave exactly as for a full run.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from evalwheel.datasets.samples import PARTITIONS
from evalwheel.runs.dataset_source import PreparedDataset
from evalwheel.types import Sample


class PartitionChoiceError(ValueError):
    """An unknown partition name, or one with no samples in the dataset (bad input: exit code 2)."""


@dataclass(frozen=True)
class PartitionView(PreparedDataset):
    """A prepared dataset restricted to some partitions."""

    partitions: frozenset[str] = frozenset()

    @property
    def count(self) -> int:
        return sum(n for p, n in self.summary.counts.items() if p in self.partitions)

    def iter_samples(self) -> Iterator[tuple[Sample, str]]:
        for sample, sample_hash in super().iter_samples():
            if sample.partition in self.partitions:
                yield sample, sample_hash


def scope_partitions(dataset: PreparedDataset, partitions: Iterable[str] | None) -> PreparedDataset:
    """The dataset itself when no partition is chosen, else a view on the chosen ones (checked to exist)."""
    chosen = list(dict.fromkeys(partitions or []))
    if not chosen:
        return dataset
    unknown = [p for p in chosen if p not in PARTITIONS]
    if unknown:
        raise PartitionChoiceError(f"--partition {unknown[0]!r}: expected one of {', '.join(PARTITIONS)}")
    empty = [p for p in chosen if not dataset.summary.counts.get(p)]
    if len(empty) == len(chosen):
        raise PartitionChoiceError(
            f"--partition {', '.join(chosen)}: {dataset.path} has no samples there "
            f"(it has {', '.join(f'{p}: {n}' for p, n in dataset.summary.counts.items() if n) or 'none'})"
        )
    return PartitionView(dataset.path, dataset.summary, dataset.root, frozenset(chosen))
