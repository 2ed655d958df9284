"""Per-run digests: what the pages need from a finished run, folded once and stored.

A finished run's results never change (a resume sets it running again and gives it a new `finished_at`),
so the fold the run page needs (partitions, per-grader counts, gates, cost, failing samples) is computed
once with the engine's own `summarize` / `evaluate_gates` and stored as JSON in `web_run_digests`, keyed by
the run's `finished_at`. Folding a 10,000-result run takes seconds (every result's scores are parsed);
reading its digest takes milliseconds. The server computes missing digests in a background thread at
start-up (newest runs first), and any page computes one on demand if it is still missing.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator

from pydantic import Field
from sqlalchemy import Column, Integer, MetaData, String, Table, Text, delete, insert, select
from sqlalchemy.exc import IntegrityError

from evalwheel.basemodel import EvalwheelModel
from evalwheel.gates.config import GateConfig, GateConfigError, parse_gate_config
from evalwheel.gates.evaluate import GateReport, evaluate_gates
from evalwheel.gates.summary import PartitionSummary, SampleRecord, summarize
from evalwheel.store import Store
from evalwheel.types import RunInfo, SampleResult

DIGEST_VERSION = 2
PARSED_CACHE = 256  # parsed digests kept in memory (a 10,000-result run's digest parses in tens of ms)
_parsed: dict[tuple[str, str, str], RunDigest] = {}
_parsed_lock = threading.Lock()
_failing: dict[tuple[str, str, str], list[SampleRecord]] = {}
FAILING_WARM = 8
log = logging.getLogger("evalwheel.web")

web_metadata = MetaData()
digests = Table(
    "web_run_digests",
    web_metadata,
    Column("run_id", String(64), primary_key=True),
    Column("finished_at", String(40), nullable=False),
    Column("version", Integer, nullable=False),
    Column("digest_json", Text, nullable=False),  # everything but the failing samples (the runs list reads it)
    Column("failing_json", Text, nullable=False),  # the failing samples (only the run page reads them)
)


class RunDigest(EvalwheelModel):
    """A run as the pages show it; gates use the spec's thresholds stored with the run (defaults for older runs)."""

    run_id: str
    partitions: dict[str, PartitionSummary]
    overall: PartitionSummary
    gates: GateReport
    cost: float
    failing: list[SampleRecord] = Field(default_factory=list)  # loaded by `failing_samples` when stored
    mean_value: float | None = None


def run_gate_config(info: RunInfo) -> GateConfig:
    """The gates the run's spec declared (recorded in the run's metadata); the defaults when absent or unreadable.

    Runs recorded before the engine stored them, or whose stored config no longer validates, fall back to the
    defaults rather than failing the page.
    """
    try:
        return parse_gate_config(info.metadata.get("gates") or {}, source=f"run {info.run_id}")
    except GateConfigError:
        return GateConfig()


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
        gates=evaluate_gates(summary, run_gate_config(info)),
        cost=store.run_cost(info.run_id),
        failing=summary.failing_samples(),
        mean_value=sum(values) / len(values) if values else None,
    )


def create_tables(store: Store) -> None:
    web_metadata.create_all(store.engine)


def stored_digests(store: Store, infos: list[RunInfo]) -> dict[str, RunDigest]:
    """The current stored digests of these runs (finished runs only; stale ones are ignored)."""
    want = {i.run_id: i.finished_at for i in infos if i.status == "finished" and i.finished_at}
    out: dict[str, RunDigest] = {}
    with _parsed_lock:
        for run_id, finished in list(want.items()):
            hit = _parsed.get((store.url, run_id, finished))
            if hit is not None:
                out[run_id] = hit
                del want[run_id]
    if not want:
        return out
    cols = [digests.c.run_id, digests.c.finished_at, digests.c.digest_json]
    query = select(*cols).where(digests.c.run_id.in_(list(want)), digests.c.version == DIGEST_VERSION)
    with store.engine.connect() as conn:
        rows = list(conn.execute(query).mappings())
    for r in rows:
        if want.get(r["run_id"]) == r["finished_at"]:
            digest = RunDigest.model_validate_json(r["digest_json"])
            out[r["run_id"]] = digest
            _remember(store.url, r["run_id"], r["finished_at"], digest)
    return out


def _remember(url: str, run_id: str, finished: str, digest: RunDigest) -> None:
    with _parsed_lock:
        _parsed[(url, run_id, finished)] = digest
        while len(_parsed) > PARSED_CACHE:
            _parsed.pop(next(iter(_parsed)))


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
                    digest_json=digest.model_dump_json(exclude={"failing"}),
                    failing_json=json.dumps([f.model_dump(mode="json") for f in digest.failing]),
                )
            )
    except IntegrityError:  # another server process stored it first
        pass


def run_digest(store: Store, info: RunInfo) -> tuple[RunDigest, list[SampleRecord]]:
    """The digest and failing samples of a finished run from the store, else computed now (and stored when
    the run is finished)."""
    found = stored_digests(store, [info]).get(info.run_id)
    if found is not None:
        return found, failing_samples(store, info)
    digest = compute_digest(store, info)
    save_digest(store, info, digest)
    return digest, digest.failing


def failing_samples(store: Store, info: RunInfo) -> list[SampleRecord]:
    key = (store.url, info.run_id, f"failing:{info.finished_at}")
    with _parsed_lock:
        hit = _failing.get(key)
    if hit is not None:
        return hit
    with store.engine.connect() as conn:
        raw = conn.execute(select(digests.c.failing_json).where(digests.c.run_id == info.run_id)).scalar()
    records = [SampleRecord.model_validate(x) for x in json.loads(raw or "[]")]
    with _parsed_lock:
        _failing[key] = records
        while len(_failing) > 16:
            _failing.pop(next(iter(_failing)))
    return records


def warm_up(store: Store, limit: int = 500) -> int:
    """Compute the missing digests of the newest finished runs; returns how many were computed."""
    infos = [i for i in store.list_runs(limit=limit) if i.status == "finished"]
    have = stored_digests(store, infos)
    done = 0
    for info in infos:
        if info.run_id not in have:
            save_digest(store, info, compute_digest(store, info))
            done += 1
    for info in infos[:FAILING_WARM]:  # the newest runs' failing lists, parsed before anyone opens them
        failing_samples(store, info)
    return done


def start_warm_up(store: Store, *extra: Callable[[], object]) -> threading.Thread:
    """Compute missing digests, then run the `extra` warm-ups (templates, agreement figures), each on its
    own: one failing never stops the others, and pages compute whatever is missing on demand."""

    def work() -> None:
        try:
            n = warm_up(store)
            if n:
                log.info("computed %d run digest(s)", n)
        except Exception:
            log.exception("run digest warm-up failed")
        for task in extra:
            try:
                task()
            except Exception:
                log.exception("warm-up task failed")

    thread = threading.Thread(target=work, name="evalwheel-digests", daemon=True)
    thread.start()
    return thread
