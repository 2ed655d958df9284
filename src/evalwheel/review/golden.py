"""Promoting a reviewed sample to a golden dataset: only when two reviewers agree, and always with a record.

The seed's rule is that golden examples are reviewed by at least two experts and change only with
explicit approval. Promotion therefore (1) refuses unless two or more reviewers labelled the item and
agree on every check they rated and on the escalation decision, (2) appends the sample to the dataset as
`partition: golden` (the reference is the expert-corrected reply when the reviewers gave one, else the
reviewed output), (3) rewrites the golden lock with the existing `evalwheel dataset lock` code, and
(4) appends an approval record next to the dataset and in the store.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from evalwheel.datasets.lock import verify_golden_lock, write_lock
from evalwheel.datasets.samples import sample_hash, scan_dataset
from evalwheel.fileio import read_text, write_text_atomic
from evalwheel.review.models import Label
from evalwheel.review.store import ReviewError, ReviewStore
from evalwheel.store.store import now_iso
from evalwheel.types import Sample

APPROVALS_SUFFIX = ".approvals.jsonl"


def disagreements(labels: list[Label]) -> list[str]:
    """What two or more reviewers disagree on (empty = they agree); fewer than two reviewers is a reason too."""
    if len(labels) < 2:
        return [f"needs two reviewers, has {len(labels)}"]
    out: list[str] = []
    for check in sorted({c for lb in labels for c in lb.checks}):
        verdicts = {lb.checks.get(check) for lb in labels}
        if len(verdicts) > 1:
            out.append(f"{check}: " + " vs ".join(str(lb.checks.get(check, "—")) for lb in labels))
    if len({lb.escalate for lb in labels}) > 1:
        out.append("escalation decision differs")
    return out


def _reference(labels: list[Label], output: dict[str, Any] | None) -> str | None:
    corrected = {lb.corrected_reply.strip() for lb in labels if lb.corrected_reply and lb.corrected_reply.strip()}
    if len(corrected) > 1:
        raise ReviewError("the reviewers gave different corrected replies; agree on one before promoting")
    if corrected:
        return corrected.pop()
    text = (output or {}).get("text")
    return text if isinstance(text, str) else None


def _approved(approvals: str, item_id: int, digest: str) -> bool:
    """Whether the approvals file already records this item's promotion of this exact sample."""
    for line in approvals.splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue  # a torn last line from a kill: not a record
        if isinstance(rec, dict) and rec.get("item_id") == item_id and rec.get("sample_hash") == digest:
            return True
    return False


_promoting = threading.Lock()


@contextmanager
def _one_promotion_at_a_time(path: Path) -> Iterator[None]:
    """Promotion reads the dataset, appends and replaces it (and its lock and approvals): two at once each wrote
    their own line over the other's, so an acknowledged promotion vanished from the dataset. Serialised in this
    process (the server's worker threads) and, where flock exists, across processes (a CLI promotion while the
    server promotes) by locking the dataset's folder, the nearest one that exists."""
    folder = next((p for p in (path.parent, *path.parent.parents) if p.is_dir()), Path("."))
    with _promoting:
        try:
            import fcntl

            fd = os.open(folder, os.O_RDONLY)
        except (ImportError, OSError):  # Windows, or an unreadable folder: this process only
            yield
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the flock


def promote_to_golden(store: ReviewStore, item_id: int, dataset: Path | str, approver: str) -> dict[str, Any]:
    """Append the item's sample to `dataset` as golden, re-lock, record the approval; returns the record."""
    if not approver.strip():  # `--approver ''` recorded an approval by nobody
        raise ReviewError("--approver: empty; name who approves the promotion")
    path = Path(dataset)
    with _one_promotion_at_a_time(path):
        return _promote(store, item_id, path, approver.strip())


def _promote(store: ReviewStore, item_id: int, path: Path, approver: str) -> dict[str, Any]:
    item = store.get_item(item_id)  # read under the lock: a concurrent promotion of this item has finished
    if item.status == "golden":
        raise ReviewError(f"item {item_id} is already golden")
    labels = list(store.labels_for(item_id).values())
    problems = disagreements(labels)
    if problems:
        raise ReviewError("cannot promote: " + "; ".join(problems))
    if item.sample is None or item.sample.get("input") is None:
        raise ReviewError(f"item {item_id} has no sample snapshot (its dataset file was missing when queued)")
    if path.suffix != ".jsonl":
        raise ReviewError(f"{path}: golden promotion appends to a JSONL dataset")
    # fileio.read_text: a folder or a binary file named *.jsonl is FileReadError naming it (was a traceback)
    existing = read_text(path, what="--dataset") if path.exists() else ""
    summary_before = scan_dataset(path) if existing.strip() else None
    if summary_before is not None:
        # The lock is rewritten below; a golden sample edited since the last lock would be blessed with it
        # (the monitor's promotion checks the same way). GoldenLockError names each changed sample.
        verify_golden_lock(summary_before, require=False)
    sample = Sample.model_validate(
        {
            **{k: v for k, v in item.sample.items() if k not in ("partition", "reference")},
            "partition": "golden",
            "reference": _reference(labels, item.output),
            "metadata": {**item.sample.get("metadata", {}), "promoted_from": f"{item.run_id}/{item.sample_id}"},
        }
    )
    digest = sample_hash(sample)
    # The same sample, byte for byte (its `promoted_from` names this item), is already there: an earlier promotion
    # of this item was killed after writing the dataset and before the store recorded it. Finish that one.
    finishing = summary_before is not None and summary_before.sample_hashes.get(sample.id) == digest
    if summary_before is not None and sample.id in summary_before.sample_hashes and not finishing:
        raise ReviewError(f"{path}: already has a sample with id {sample.id!r}")
    if not finishing:
        line = json.dumps(sample.model_dump(mode="json", exclude_none=True), ensure_ascii=False) + "\n"
        sep = "" if not existing or existing.endswith("\n") else "\n"
        write_text_atomic(path, existing + sep + line)
    lock = write_lock(scan_dataset(path))
    record = {
        "sample_id": sample.id,
        "sample_hash": digest,
        "dataset": str(path),
        "lock": str(lock),
        "item_id": item_id,
        "run_id": item.run_id,
        "reviewers": [lb.reviewer for lb in labels],
        "approved_by": approver,
        "approved_at": now_iso(),
        "checks": labels[0].checks,
    }
    approvals = path.with_name(path.name + APPROVALS_SUFFIX)
    prior = read_text(approvals, what="approvals") if approvals.exists() else ""
    if not (finishing and _approved(prior, item_id, digest)):  # one approval record per promotion, even resumed
        write_text_atomic(approvals, prior + json.dumps(record, sort_keys=True) + "\n")
    store.record_golden(item_id, str(path), sample.id, [lb.reviewer for lb in labels], record)
    return record
