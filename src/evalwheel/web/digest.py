"""Per-run digests: what the pages need from a finished run, folded once and stored.

A finished run's results never change (a resume sets it running again and gives it a new `finished_at`),
so the fold the run page needs (partitions, per-grader counts, gates, cost, failing samples) is computed
once with the engine's own `summarize` / `evaluate_gates` and stored as JSON in `web_run_digests`, keyed by
the run's `finished_at`. Folding a 10,000-result run takes seconds (every result's scores are parsed);
reading its digest takes milliseconds. The server computes missing digests in a background thread at
start-up (newest runs first), and any page computes one on demand if it is still missing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

from pydantic import BaseModel
from sqlalchemy import Column, Integer, MetaData, String, Table, Text, delete, insert, select
from sqlalchemy.exc import IntegrityError

from evalwheel.gates.config import GateConfig
from evalwheel.gates.evaluate import GateReport, evaluate_gates
from evalwheel.gates.summary import PartitionSummary, SampleRecord, summarize
from evalwheel.store import Store
from evalwheel.types import RunInfo, SampleResult

DIGEST_VERSION = 1
log = logging.getLogger("evalwheel.web")

web_metadata = MetaData()
digests = Table(
    "web_run_digests",
    web_metadata,
    Column("run_id", String(64), primary_key=True),
    Column("finished_at", String(40), nullable=False),
    Column("version", Integer, nullable=False),
    Column("digest_json", Text, nullable=False),
)


class RunDigest(BaseModel):
    """A run as the pages show it; gates use the default thresholds (the spec is not stored with the run)."""

    run_id: str
    partitions: dict[str, PartitionSummary]
    overall: PartitionSummary
    gates: GateReport
    cost: float
    failing: list[SampleRecord]
    mean_value: float | None = None


def compute_digest(store: Store, info: RunInfo) -> RunDigest:
    values: list[float] = []

    def stream() -> Iterator[SampleResult]:
        for r in store.iter_results(info.run_id, with_output=False):
            if r.value is not None:
                values.append(r.value)
            yield r

    summary = summarize(stream())
    return RunDigest(
        run_id=info.run_id,
        partitions=summary.partitions,
        overall=summary.overall,
        gates=evaluate_gates(summary, GateConfig()),
        cost=store.run_cost(info.run_id),
        failing=summary.failing_samples(),
        mean_value=sum(values) / len(values) if values else None,
    )


def create_tables(store: Store) -> None:
    web_metadata.create_all(store.engine)


def stored_digests(store: Store, infos: list[RunInfo]) -> dict[str, RunDigest]:
    """The current stored digests of these runs (finished runs only; stale ones are ignored)."""
    want = {i.run_id: i.finished_at for i in infos if i.status == "finished" and i.finished_at}
    if not want:
        return {}
    query = select(digests).where(digests.c.run_id.in_(list(want)), digests.c.version == DIGEST_VERSION)
    with store.engine.connect() as conn:
        rows = list(conn.execute(query).mappings())
    return {
        r["run_id"]: RunDigest.model_validate_json(r["digest_json"])
        for r in rows
        if want.get(r["run_id"]) == r["finished_at"]
    }


def save_digest(store: Store, info: RunInfo, digest: RunDigest) -> None:
    if info.status != "finished" or not info.finished_at:
        return
    try:
        with store.engine.begin() as conn:
            conn.execute(delete(digests).where(digests.c.run_id == info.run_id))
            conn.execute(
                insert(digests).values(
                    run_id=info.run_id,
                    finished_at=info.finished_at,
                    version=DIGEST_VERSION,
                    digest_json=digest.model_dump_json(),
                )
            )
    except IntegrityError:  # another server process stored it first
        pass


def run_digest(store: Store, info: RunInfo) -> RunDigest:
    """The stored digest of a finished run, else computed now (and stored when the run is finished)."""
    found = stored_digests(store, [info]).get(info.run_id)
    if found is not None:
        return found
    digest = compute_digest(store, info)
    save_digest(store, info, digest)
    return digest


def warm_up(store: Store, limit: int = 500) -> int:
    """Compute the missing digests of the newest finished runs; returns how many were computed."""
    infos = [i for i in store.list_runs(limit=limit) if i.status == "finished"]
    have = stored_digests(store, infos)
    done = 0
    for info in infos:
        if info.run_id not in have:
            save_digest(store, info, compute_digest(store, info))
            done += 1
    return done


def start_warm_up(store: Store) -> threading.Thread:
    def work() -> None:
        try:
            n = warm_up(store)
            if n:
                log.info("computed %d run digest(s)", n)
        except Exception:  # a warm-up failure only costs speed; pages compute digests on demand
            log.exception("run digest warm-up failed")

    thread = threading.Thread(target=work, name="evalwheel-digests", daemon=True)
    thread.start()
    return thread
