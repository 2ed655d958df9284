"""Labels out of the store: the JSONL `evalwheel calibrate GRADER --labels FILE` reads, or the items directly.

One reviewed item becomes one calibration line for one check (a grader score name such as
`diagnosis_first` or `constraints.max_words`): the human consensus on that check is the `label`, and the
sample and output the reviewer saw are the grader input. Items where the reviewers disagree, or marked
the check not applicable, are left out (a disputed label is not ground truth); the count is reported.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from evalwheel.calibration.labels import LabelledItem
from evalwheel.calibration.record import DatasetRef
from evalwheel.fileio import write_text_atomic
from evalwheel.review.agreement import consensus
from evalwheel.review.models import Label, ReviewItem
from evalwheel.review.store import ReviewError, ReviewStore
from evalwheel.store import StoreError

STORE_PREFIX = "store:"


def item_key(item: ReviewItem) -> str:
    return f"{item.run_id}/{item.sample_id}" + (f"#{item.epoch}" if item.epoch else "")


def _grader_input(item: ReviewItem) -> dict[str, Any]:
    sample = item.sample or {}
    out = item.output or {}
    fields: dict[str, Any] = {"input": sample.get("input")}
    if fields["input"] is None:  # dataset gone: the transcript's own turns are the best input left
        fields["input"] = out.get("trajectory") or ""
    for key in ("reference", "context"):
        if sample.get(key) is not None:
            fields[key] = sample[key]
    fields["output"] = out if out else ""
    if sample.get("tags"):
        fields["tags"] = sample["tags"]
    return fields


def labelled_items_for(store: ReviewStore, check: str, run_id: str | None = None) -> tuple[list[LabelledItem], int]:
    """Calibration items for one check, and how many labelled items were skipped (disputed or n/a)."""
    out: list[LabelledItem] = []
    skipped = 0
    for item, labels in store.labelled_items(run_id):
        if not any(check in lb.checks for lb in labels):
            continue
        verdict = consensus(labels, check)
        if verdict is None:
            skipped += 1
            continue
        out.append(
            LabelledItem.model_validate(
                {
                    "id": item_key(item),
                    **_grader_input(item),
                    "label": verdict,
                    "metadata": _meta(item, labels),
                }
            )
        )
    return out, skipped


def _meta(item: ReviewItem, labels: list[Label]) -> dict[str, Any]:
    return {
        "run_id": item.run_id,
        "sample_id": item.sample_id,
        "reviewers": [lb.reviewer for lb in labels],
        "labelled_at": max(lb.created_at for lb in labels),
        "graders_seen": labels[0].graders_seen,
    }


def require_known_check(store: ReviewStore, check: str) -> None:
    """ReviewError naming `check` and the checks the store knows, unless it is one of them (`check_names`)."""
    known = store.check_names()
    if check not in known:
        listed = ", ".join(sorted(known)) if known else "none: no item in this store is queued or labelled yet"
        raise ReviewError(f"unknown check {check!r} (known checks: {listed})")


def export_labels(store: ReviewStore, check: str, path: Path | str, run_id: str | None = None) -> tuple[int, int]:
    """Write the labels JSONL for one check; returns (written, skipped). An unknown check is refused before the
    file is touched: a typo used to replace it with an empty one."""
    require_known_check(store, check)
    found, skipped = labelled_items_for(store, check, run_id)
    write_text_atomic(Path(path), labels_jsonl(found))
    return len(found), skipped


def labels_jsonl(found: list[LabelledItem]) -> str:
    return "".join(
        json.dumps(i.model_dump(mode="json", exclude_defaults=True), ensure_ascii=False) + "\n" for i in found
    )


def store_dataset_ref(spec: str, found: list[LabelledItem]) -> DatasetRef:
    """A calibration record's dataset reference for labels read from a store: the sha256 of their JSONL."""
    digest = hashlib.sha256(labels_jsonl(found).encode("utf-8")).hexdigest()
    return DatasetRef(path=spec, sha256=digest, items=len(found))


def load_store_labels(spec: str, check: str) -> list[LabelledItem]:
    """`store:URL_OR_PATH` -> calibration items for `check` (used by `evalwheel calibrate --labels store:...`)."""
    target = spec[len(STORE_PREFIX) :] if spec.startswith(STORE_PREFIX) else spec
    try:  # must_exist: a mistyped path used to become a new, empty store (as `review` verbs refuse)
        store = ReviewStore(target, must_exist=True)
    except StoreError as exc:  # named as the option the user gave: --labels, not --store
        raise StoreError(f"--labels {spec}: " + str(exc).removeprefix(f"--store {target}: ")) from None
    try:
        found, _ = labelled_items_for(store, check)
    finally:
        store.close()
    return found
