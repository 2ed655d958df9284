"""Failure extraction: failing graded events become regression candidates, and `promote` writes them.

Candidates are clustered by their request text (MiniLM embeddings, leader clustering) so a hundred copies of
one failure read as one cluster, and de-duplicated against each other and against the target dataset. A
promoted candidate is appended to the dataset through the dataset code (`save_dataset(..., append=True)`,
which refuses duplicate ids before writing) with its provenance in `metadata.monitor`. The golden partition is
never written this way: promoting to golden needs a review and `evalwheel dataset lock`; the lock is checked
before and after, so a promotion can never change it.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import Field

from evalwheel.basemodel import EvalwheelModel
from evalwheel.monitor.queue import MonitorStore
from evalwheel.monitor.windows import iso

PROMOTABLE = ("regression", "adversarial", "distribution")
CLUSTER_SIMILARITY = 0.8
DUPLICATE_SIMILARITY = 0.97


class PromotionError(ValueError):
    """A promotion that cannot be done (bad partition, unknown event, dataset problem): exit code 2."""


class FailureCandidate(EvalwheelModel):
    request_id: str
    app: str
    timestamp: float
    window: str
    input: str
    output: str | None
    prompt_version: str | None
    failed_scores: list[str]
    verdicts: list[dict[str, Any]] = Field(description="The failing scores (name, reason, evidence).")
    cluster: int = 0
    cluster_size: int = 1
    representative: bool = True
    duplicate_of: str | None = Field(default=None, description="A candidate or dataset sample with the same input.")
    promoted_to: list[str] = Field(default_factory=list)


def sample_id_for(request_id: str) -> str:
    """`mon-` + the request id; one that had to be changed (characters replaced, cut to length) also gets a hash of
    the original. Why: `order/1`, `order 1` and `order-1` all became `mon-order-1`, so promoting one made `promote`
    skip the others as "already in" the dataset."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", request_id)
    if safe == request_id and len(safe) <= 180:
        return "mon-" + safe
    return f"mon-{safe[:170]}-{hashlib.sha256(request_id.encode()).hexdigest()[:8]}"


def failure_candidates(
    store: MonitorStore,
    *,
    app: str | None = None,
    since: float | None = None,
    dataset: str | Path | None = None,
    window_s: float = 300.0,
    limit: int = 500,
    embed: bool = True,
    embedder: Any = None,
) -> list[FailureCandidate]:
    """Failing graded events, newest first, with cluster ids and duplicates marked."""
    import json

    from evalwheel.monitor.events import Event

    rows = store.failed_results(app, since, limit)
    promoted = store.promoted()
    out: list[FailureCandidate] = []
    for r in rows:
        e = Event.model_validate_json(r["payload"])
        scores = json.loads(r["scores_json"])
        failing = [s for s in scores if s.get("passed") is False]
        ts = float(r["ts"])
        out.append(
            FailureCandidate(
                request_id=e.request_id,
                app=e.app,
                timestamp=ts,
                window=iso(ts - ts % window_s),
                input=e.question,
                output=e.output,
                prompt_version=e.prompt_version,
                failed_scores=sorted({str(s.get("name")) for s in failing}),
                verdicts=[{k: s[k] for k in ("name", "reason", "evidence", "value") if k in s} for s in failing],
                promoted_to=promoted.get(e.request_id, []),
            )
        )
    existing = _dataset_inputs(dataset) if dataset is not None else {}  # checked even when nothing failed
    if not out:
        return out
    if embed:
        _cluster_embedded(out, existing, embedder)
    else:
        _cluster_exact(out, existing)
    return out


def _dataset_inputs(dataset: str | Path) -> dict[str, str]:
    """The dataset's sample inputs by id; PromotionError (exit 2) for a missing or invalid dataset.

    Why: `monitor failures --dataset typo.jsonl` used to mark nothing as a duplicate (exit 0), and a malformed
    dataset was an InvalidDatasetError traceback. A dataset promote is about to create is passed as None.
    """
    from evalwheel.datasets.samples import InvalidDatasetError, iter_samples
    from evalwheel.fileio import FileReadError

    path = Path(dataset)
    if not path.exists():
        raise PromotionError(f"--dataset {path}: file does not exist")
    try:
        return {s.id: s.input for s in iter_samples(path) if isinstance(s.input, str)}
    except (InvalidDatasetError, FileReadError) as exc:
        raise PromotionError(f"--dataset {exc}") from None


def _cluster_exact(cands: list[FailureCandidate], existing: dict[str, str]) -> None:
    by_text = {" ".join(t.lower().split()): sid for sid, t in existing.items()}
    clusters: dict[str, int] = {}
    for c in cands:
        key = " ".join(c.input.lower().split())
        if key in by_text:
            c.duplicate_of = by_text[key]
        if key in clusters:
            c.cluster, c.representative = clusters[key], False
            c.duplicate_of = c.duplicate_of or next(x.request_id for x in cands if x.cluster == c.cluster)
        else:
            clusters[key] = c.cluster = len(clusters)
    _sizes(cands)


def _cluster_embedded(cands: list[FailureCandidate], existing: dict[str, str], embedder: Any) -> None:
    import numpy as np

    from evalwheel.monitor.drift import greedy_clusters

    if embedder is None:
        from evalwheel.embed.minilm import default_embedder

        embedder = default_embedder()
    vecs = np.asarray(embedder.embed([c.input for c in cands]), dtype=np.float32)
    for cid, members in enumerate(greedy_clusters(vecs, CLUSTER_SIMILARITY)):
        leader = members[0]
        for m in members:
            cands[m].cluster = cid
            cands[m].representative = m == leader
            if m != leader and float(vecs[m] @ vecs[leader]) >= DUPLICATE_SIMILARITY:
                cands[m].duplicate_of = cands[leader].request_id
    if existing:
        ids = list(existing)
        ds = np.asarray(embedder.embed([existing[i] for i in ids]), dtype=np.float32)
        sims = vecs @ ds.T
        for i, c in enumerate(cands):
            j = int(sims[i].argmax())
            if float(sims[i, j]) >= DUPLICATE_SIMILARITY:
                c.duplicate_of = ids[j]
    _sizes(cands)


def _sizes(cands: list[FailureCandidate]) -> None:
    sizes: dict[int, int] = {}
    for c in cands:
        sizes[c.cluster] = sizes.get(c.cluster, 0) + 1
    for c in cands:
        c.cluster_size = sizes[c.cluster]


def _event_id(metadata: dict[str, Any]) -> str | None:
    monitor = metadata.get("monitor")
    return str(monitor.get("event_id")) if isinstance(monitor, dict) and monitor.get("event_id") else None


class PromotionReport(EvalwheelModel):
    dataset: str
    partition: str
    promoted: list[str]
    sample_ids: list[str]
    skipped: dict[str, str] = Field(default_factory=dict)


def promote(
    store: MonitorStore,
    request_ids: Sequence[str],
    *,
    dataset: str | Path,
    partition: str = "regression",
    root_cause: str,
    window_s: float = 300.0,
) -> PromotionReport:
    """Append graded events to `dataset` as `partition` samples with provenance; golden is refused."""
    import json

    from evalwheel.datasets.lock import GoldenLockError, LockFileError, verify_golden_lock
    from evalwheel.datasets.samples import InvalidDatasetError, iter_samples, save_dataset

    if partition == "golden":
        raise PromotionError(
            "--partition golden: production failures are never written to the golden set directly; promote to "
            "regression, review the sample, then move it and run `evalwheel dataset lock`"
        )
    if partition not in PROMOTABLE:
        raise PromotionError(f"--partition: {partition!r} is not one of {', '.join(PROMOTABLE)}")
    if not root_cause.strip():
        raise PromotionError("--root-cause: say why these events failed (it is stored with every sample)")
    path = Path(dataset)
    if path.suffix != ".jsonl":
        raise PromotionError(f"{path}: promote appends JSONL; use a .jsonl dataset")
    ids = list(dict.fromkeys(request_ids))
    if not ids:
        raise PromotionError("no event ids to promote")
    events = store.get_events(ids)
    missing = [i for i in ids if i not in events]
    if missing:
        raise PromotionError(f"unknown event id(s): {', '.join(missing)} (see `evalwheel monitor failures`)")
    results = store.result_for(ids)
    try:
        verify_golden_lock(path, require=False) if path.exists() else None
        # sample id -> the event it came from (by provenance; samples promoted under an older id scheme match too)
        existing = {s.id: _event_id(s.metadata) for s in iter_samples(path)} if path.exists() else {}
    except (GoldenLockError, LockFileError, InvalidDatasetError) as exc:
        raise PromotionError(str(exc)) from None
    from evalwheel.types import Sample

    promoted_as = {eid: sid for sid, eid in existing.items() if eid is not None}
    samples: list[Sample] = []
    skipped: dict[str, str] = {}
    now = time.time()
    for rid in ids:
        e = events[rid]
        sid = sample_id_for(rid)
        if rid in promoted_as:
            skipped[rid] = f"already in {path} as {promoted_as[rid]}"
            continue
        if sid in existing:
            skipped[rid] = f"sample id {sid} is already taken in {path} by {existing[sid] or 'a sample not promoted'}"
            continue
        res = results.get(rid)
        verdicts = [] if res is None else [s for s in json.loads(res["scores_json"]) if s.get("passed") is False]
        provenance = {
            "event_id": rid,
            "app": e.app,
            "timestamp": e.timestamp,
            "window": iso(e.timestamp - e.timestamp % window_s),
            "prompt_version": e.prompt_version,
            "status": None if res is None else res["status"],
            "verdicts": [{k: v for k, v in s.items() if k in ("name", "reason", "value")} for s in verdicts],
            "root_cause": root_cause,
            "promoted_at": iso(now),
        }
        base = e.to_sample(partition)
        samples.append(
            base.model_copy(
                update={"id": sid, "metadata": {**base.metadata, "monitor": provenance}, "tags": ["monitor"]}
            )
        )
    try:
        save_dataset(samples, path, append=True)
        if path.exists():
            verify_golden_lock(path, require=False)
    except (ValueError, GoldenLockError) as exc:
        raise PromotionError(str(exc)) from None
    store.record_promotions(
        [
            {
                "request_id": s.metadata["monitor"]["event_id"],
                "dataset": str(path.resolve()),
                "sample_id": s.id,
                "partition": partition,
                "root_cause": root_cause,
                "promoted_at": now,
            }
            for s in samples
        ]
    )
    return PromotionReport(
        dataset=str(path),
        partition=partition,
        promoted=[s.metadata["monitor"]["event_id"] for s in samples],
        sample_ids=[s.id for s in samples],
        skipped=skipped,
    )
