"""Dataset loading and importers (MRBench, MathDial; sessions live in `datasets.sessions`).

Partitioned sample datasets with content hashes are in `datasets.samples`; the golden lock in `datasets.lock`.
"""

from evalwheel.datasets.lock import (
    GoldenDiff,
    GoldenLock,
    GoldenLockError,
    LockFileError,
    check_golden_lock,
    default_lock_path,
    read_lock,
    verify_golden_lock,
    write_lock,
)
from evalwheel.datasets.samples import (
    Dataset,
    DatasetLoadError,
    DatasetSummary,
    HashedSample,
    InvalidDatasetError,
    dataset_version_hash,
    iter_hashed_samples,
    iter_samples,
    load_dataset,
    sample_hash,
    save_dataset,
    scan_dataset,
    short_hash,
)

__all__ = [
    "Dataset",
    "DatasetLoadError",
    "DatasetSummary",
    "GoldenDiff",
    "GoldenLock",
    "GoldenLockError",
    "HashedSample",
    "InvalidDatasetError",
    "LockFileError",
    "check_golden_lock",
    "dataset_version_hash",
    "default_lock_path",
    "iter_hashed_samples",
    "iter_samples",
    "load_dataset",
    "read_lock",
    "sample_hash",
    "save_dataset",
    "scan_dataset",
    "short_hash",
    "verify_golden_lock",
    "write_lock",
]
