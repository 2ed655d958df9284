"""Read queries behind the pages, sized for a store with 100,000+ results.

List pages aggregate in SQL (GROUP BY on the indexed run id) and paginate; per-run views that need every
result (per-grader counts, gates, compare) fold the run once with the engine's own `summarize` /
`compare_runs` and keep the answer in a small LRU cache keyed by the run's id, status and result count,
so a finished run is folded once per server process and a running one whenever it grew.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import case, func, select

from evalwheel.basemodel import EvalwheelModel
from evalwheel.gates.evaluate import GateReport, evaluate_gates
from evalwheel.gates.summary import PartitionSummary, RunSummary, SampleRecord
from evalwheel.review.agreement import GraderAgreement, RaterAgreement, grader_vs_human, inter_annotator
from evalwheel.review.store import ReviewStore
from evalwheel.store import Store, StoreError
from evalwheel.store.schema import results, runs
from evalwheel.types import RunInfo, SampleResult
from evalwheel.web.digest import RunDigest, compute_digest, run_digest, run_gate_config, stored_digests

PAGE_SIZE = 50
T = TypeVar("T")


class RunRow(EvalwheelModel):
    info: RunInfo
    n: int = 0
    passed: int = 0
    failed: int = 0
    unscored: int = 0
    errors: int = 0
    cost: float = 0.0
    gates: GateReport | None = None

    @property
    def pass_rate(self) -> float | None:
        scored = self.passed + self.failed
        return self.passed / scored if scored else None


class _LRU:
    def __init__(self, size: int = 64) -> None:
        self.size = size
        self.data: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self.lock = threading.Lock()

    def peek(self, key: tuple[Any, ...]) -> Any | None:
        with self.lock:
            return self.data.get(key)

    def get(self, key: tuple[Any, ...], build: Callable[[], T]) -> T:
        with self.lock:
            if key in self.data:
                self.data.move_to_end(key)
                return self.data[key]  # type: ignore[no-any-return]
        value = build()
        with self.lock:
            self.data[key] = value
            while len(self.data) > self.size:
                self.data.popitem(last=False)
        return value


_cache = _LRU()


def _counts_by_partition(store: Store, run_ids: list[str]) -> dict[str, dict[str, dict[str, Any]]]:
    """run -> partition -> {status counts, cost} in one grouped query."""
    if not run_ids:
        return {}
    query = (
        select(
            results.c.run_id,
            results.c.partition,
            results.c.status,
            func.count(),
            func.coalesce(func.sum(results.c.cost_usd), 0.0),
        )
        .where(results.c.run_id.in_(run_ids))
        .group_by(results.c.run_id, results.c.partition, results.c.status)
    )
    out: dict[str, dict[str, dict[str, Any]]] = {}
    with store.engine.connect() as conn:
        for run_id, partition, status, n, cost in conn.execute(query):
            part = out.setdefault(run_id, {}).setdefault(partition, {"cost": 0.0})
            part[status] = int(n)
            part["cost"] += float(cost)
    return out


def _summary_from_counts(run_id: str, parts: dict[str, dict[str, Any]]) -> RunSummary:
    partitions: dict[str, PartitionSummary] = {}
    overall = PartitionSummary(partition="all")
    for name, c in parts.items():
        p = PartitionSummary(
            partition=name,
            passed=c.get("passed", 0),
            failed=c.get("failed", 0),
            unscored=c.get("unscored", 0),
            errors=c.get("error", 0),
        )
        p.n = p.samples = p.passed + p.failed + p.unscored + p.errors
        partitions[name] = p
        for field in ("n", "samples", "passed", "failed", "unscored", "errors"):
            setattr(overall, field, getattr(overall, field) + getattr(p, field))
    return RunSummary(run_id=run_id, partitions=partitions, overall=overall)


def list_runs(store: Store, *, spec: str | None, arm: str | None, page: int) -> tuple[list[RunRow], int]:
    """One page of runs (newest first) with counts, cost and default gates; returns (rows, total runs)."""
    query = select(runs)
    count = select(func.count()).select_from(runs)
    if spec:
        query, count = query.where(runs.c.spec_name == spec), count.where(runs.c.spec_name == spec)
    if arm:
        query, count = query.where(runs.c.arm == arm), count.where(runs.c.arm == arm)
    query = query.order_by(runs.c.started_at.desc(), runs.c.run_id.desc()).limit(PAGE_SIZE)
    query = query.offset(max(0, page - 1) * PAGE_SIZE)
    with store.engine.connect() as conn:
        infos = [_run_info(r) for r in conn.execute(query).mappings()]
        total = int(conn.execute(count).scalar_one())
    have = stored_digests(store, infos)
    counts = _counts_by_partition(store, [i.run_id for i in infos if i.run_id not in have])
    rows: list[RunRow] = []
    for info in infos:
        digest = have.get(info.run_id)
        if digest is not None:
            o, cost, gates = digest.overall, digest.cost, digest.gates
        else:
            parts = counts.get(info.run_id, {})
            summary = _summary_from_counts(info.run_id, parts)
            o, cost = summary.overall, sum(float(p["cost"]) for p in parts.values())
            gates = evaluate_gates(summary, run_gate_config(info))
        rows.append(
            RunRow(
                info=info,
                n=o.n,
                passed=o.passed,
                failed=o.failed,
                unscored=o.unscored,
                errors=o.errors,
                cost=cost,
                gates=gates if o.n else None,
            )
        )
    return rows, total


def spec_and_arm_names(store: Store) -> tuple[list[str], list[str]]:
    with store.engine.connect() as conn:
        specs = [str(r[0]) for r in conn.execute(select(runs.c.spec_name).distinct().order_by(runs.c.spec_name))]
        arms = [str(r[0]) for r in conn.execute(select(runs.c.arm).distinct().order_by(runs.c.arm)) if r[0]]
    return specs, arms


def _run_info(row: Any) -> RunInfo:
    data = {k: row[k] for k in RunInfo.model_fields if k != "metadata"}
    return RunInfo(**data, metadata=json.loads(row["metadata_json"] or "{}"))


def get_run(store: Store, run_id: str) -> RunInfo:
    if not run_id or len(run_id) > 64:
        raise StoreError(f"no run {run_id[:64]!r}")
    return store.get_run(run_id)


def run_view(store: Store, info: RunInfo) -> tuple[RunDigest, list[SampleRecord]]:
    """A finished run's stored digest; a running run is folded again whenever it has grown."""
    if info.status == "finished":
        return run_digest(store, info)
    key = ("run", info.run_id, info.status, store.count_results(info.run_id))
    digest = _cache.get(key, lambda: compute_digest(store, info))
    return digest, digest.failing


def failing_page(failing: list[SampleRecord], page: int) -> tuple[list[SampleRecord], int]:
    """One page of the failing / errored samples (in the order the run produced them)."""
    start = max(0, page - 1) * PAGE_SIZE
    return failing[start : start + PAGE_SIZE], len(failing)


def get_result(store: Store, run_id: str, sample_id: str, epoch: int = 0) -> tuple[SampleResult, float]:
    """One stored result and its cost in USD."""
    from evalwheel.store.store import _sample_result

    query = select(results).where(
        results.c.run_id == run_id, results.c.sample_id == sample_id, results.c.epoch == epoch
    )
    with store.engine.connect() as conn:
        row = conn.execute(query).mappings().first()
    if row is None:
        raise StoreError(f"no sample {sample_id[:300]!r} (epoch {epoch}) in run {run_id!r}")
    return _sample_result(row), float(row["cost_usd"] or 0.0)


def epochs_of(store: Store, run_id: str, sample_id: str) -> list[int]:
    query = select(results.c.epoch).where(results.c.run_id == run_id, results.c.sample_id == sample_id)
    with store.engine.connect() as conn:
        return sorted(int(r[0]) for r in conn.execute(query))


def trend_points(store: Store, spec: str, limit: int = 200) -> list[dict[str, Any]]:
    """Per run of a spec (oldest first): date, arm, overall and per-partition pass rates, cost."""
    query = (
        select(runs.c.run_id, runs.c.arm, runs.c.started_at, runs.c.status)
        .where(runs.c.spec_name == spec)
        .order_by(runs.c.started_at.desc())
        .limit(limit)
    )
    with store.engine.connect() as conn:
        infos = list(conn.execute(query))
    infos.reverse()
    full = [get_run(store, str(r[0])) for r in infos]
    have = stored_digests(store, full)
    ids = [str(r[0]) for r in infos if str(r[0]) not in have]
    agg = (
        select(
            results.c.run_id,
            results.c.partition,
            func.sum(case((results.c.status == "passed", 1), else_=0)),
            func.sum(case((results.c.status == "failed", 1), else_=0)),
            func.avg(results.c.value),
            func.coalesce(func.sum(results.c.cost_usd), 0.0),
        )
        .where(results.c.run_id.in_(ids))
        .group_by(results.c.run_id, results.c.partition)
    )
    by_run: dict[str, dict[str, tuple[int, int, float | None, float]]] = {}
    if ids:
        with store.engine.connect() as conn:
            for run_id, part, p, f, mean, cost in conn.execute(agg):
                by_run.setdefault(run_id, {})[part] = (int(p or 0), int(f or 0), mean, float(cost))
    for run_id, digest in have.items():
        by_run[run_id] = {
            name: (ps.passed, ps.failed, None, digest.cost if k == 0 else 0.0)
            for k, (name, ps) in enumerate(digest.partitions.items())
        }
    points: list[dict[str, Any]] = []
    for run_id, arm, started, status in infos:
        parts = by_run.get(run_id, {})
        passed = sum(v[0] for v in parts.values())
        failed = sum(v[1] for v in parts.values())
        points.append(
            {
                "run_id": run_id,
                "arm": arm or "",
                "started_at": started,
                "status": status,
                "pass_rate": passed / (passed + failed) if passed + failed else None,
                "scored": passed + failed,
                "passed": passed,
                "partitions": {k: (v[0] / (v[0] + v[1]) if v[0] + v[1] else None) for k, v in parts.items()},
                "cost": sum(v[3] for v in parts.values()),
            }
        )
    return points


def agreement_figures(rs: ReviewStore, run_id: str | None = None) -> tuple[list[RaterAgreement], list[GraderAgreement]]:
    """Inter-annotator and grader-vs-human figures, recomputed only when a label was added or replaced."""

    def build() -> tuple[list[RaterAgreement], list[GraderAgreement]]:
        labelled = rs.labelled_items(run_id, with_content=False)
        return inter_annotator(labelled), grader_vs_human(labelled)

    return _cache.get(("agreement", rs.runs.url, run_id, *rs.labels_version()), build)
