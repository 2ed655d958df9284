"""The durable queue and the monitoring reads, on the run store's database (any SQLAlchemy URL).

Accepting an event means committing its row; the ingest server replies 202 only after that commit, so an
acknowledged event survives kill -9 (SQLite WAL, `synchronous=NORMAL`, as the run store). Workers *lease*
sampled events: the claim is one `UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING`,
which PostgreSQL runs concurrently for many workers and SQLite serialises (it has one writer and ignores
the locking clause). A worker killed mid-batch leaves leases that expire and are claimed again; results
are keyed by request id and inserted with ON CONFLICT DO NOTHING, so a re-graded event is never counted
twice.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Select, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from evalwheel.monitor.events import MAX_TIMESTAMP, Event
from evalwheel.monitor.schema import alerts, events, monitor_metadata, promotions, results
from evalwheel.store import Store, StoreError


@dataclass(frozen=True)
class Decision:
    """The sampler's verdict for one event, stored with it."""

    stratum: str
    sampled: bool
    inclusion_prob: float
    reason: str


@dataclass(frozen=True)
class Claimed:
    """A leased event: its row id, the event and how many times it has been claimed (1 = first time)."""

    row_id: int
    event: Event
    inclusion_prob: float
    attempts: int


@dataclass(frozen=True)
class GradeResult:
    request_id: str
    app: str
    ts: float
    status: str
    value: float | None
    inclusion_prob: float
    scores: list[dict[str, Any]]
    error: str | None = None


def _insert(engine: Engine, table: Any) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING for the engine's dialect (SQLite and PostgreSQL)."""
    if engine.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if engine.dialect.name == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    raise StoreError(f"monitoring needs SQLite or PostgreSQL, not {engine.dialect.name}")


# Ingest refuses times outside this range; events a store took before it did (a milliseconds or garbage
# timestamp) are left out of windows instead of making every window report fail on them.
_SHOWABLE_TIME = events.c.ts.between(0.0, MAX_TIMESTAMP)


class MonitorStore:
    """Monitoring tables on a store URL; cheap to open, safe to share between ingest, worker and readers."""

    def __init__(self, target: str | None = None, *, must_exist: bool = False) -> None:
        self.store = Store(target, must_exist=must_exist)  # must_exist: readers never create a store at a typo
        self.url = self.store.url
        self.safe_url = self.store.safe_url  # what is printed: the password hidden
        self.engine: Engine = self.store.engine
        try:
            monitor_metadata.create_all(self.engine)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot create the monitoring tables in {self.safe_url}: {exc}") from exc

    def close(self) -> None:
        self.store.close()

    # ---------------------------------------------------------------------------------------- ingest

    def enqueue(self, batch: Sequence[tuple[Event, Decision]]) -> int:
        """Persist events with their sampling decisions in one transaction; returns how many were new.

        A request id seen before is accepted and ignored (an SDK retry after a lost reply must not duplicate).
        """
        if not batch:
            return 0
        now = time.time()
        rows = [_event_row(e, d, now) for e, d in batch]
        with self.engine.begin() as conn:  # RETURNING counts inserted rows on every driver (rowcount may not)
            res = conn.execute(_insert(self.engine, events).returning(events.c.id), rows)
            return len(res.all())

    # ----------------------------------------------------------------------------------------- queue

    def claim(self, worker: str, limit: int = 64, lease_s: float = 60.0) -> list[Claimed]:
        """Lease up to `limit` sampled events that are pending or whose lease expired (oldest first)."""
        now = time.time()
        ready = (events.c.state == "pending") | ((events.c.state == "leased") & (events.c.lease_until < now))
        ids = select(events.c.id).where(ready).order_by(events.c.id).limit(limit).with_for_update(skip_locked=True)
        stmt = (
            update(events)
            .where(events.c.id.in_(ids.scalar_subquery()))
            .values(state="leased", lease_owner=worker, lease_until=now + lease_s, attempts=events.c.attempts + 1)
            .returning(events.c.id, events.c.payload, events.c.inclusion_prob, events.c.attempts)
        )
        with self.engine.begin() as conn:
            rows = conn.execute(stmt).all()
        out = [Claimed(r[0], Event.model_validate_json(r[1]), float(r[2]), int(r[3])) for r in rows]
        out.sort(key=lambda c: c.row_id)
        return out

    def complete(self, worker: str, done: Sequence[GradeResult]) -> int:
        """Store results (first one per request id wins) and mark their events done; returns rows inserted."""
        if not done:
            return 0
        now = time.time()
        rows = [
            {
                "request_id": r.request_id,
                "app": r.app,
                "ts": r.ts,
                "status": r.status,
                "value": r.value,
                "inclusion_prob": r.inclusion_prob,
                "scores_json": json.dumps(r.scores, ensure_ascii=False),
                "error": r.error,
                "worker": worker,
                "graded_at": now,
            }
            for r in done
        ]
        with self.engine.begin() as conn:
            res = conn.execute(_insert(self.engine, results).returning(results.c.request_id), rows)
            inserted = len(res.all())
            conn.execute(
                update(events)
                .where(events.c.request_id.in_([r.request_id for r in done]))
                .values(state="done", lease_owner=None, lease_until=None)
            )
        return inserted

    def release(self, request_ids: Sequence[str]) -> None:
        """Give leased events back (a transient failure): another claim will pick them up."""
        if request_ids:
            with self.engine.begin() as conn:
                conn.execute(
                    update(events)
                    .where(events.c.request_id.in_(list(request_ids)), events.c.state == "leased")
                    .values(state="pending", lease_owner=None, lease_until=None)
                )

    # ----------------------------------------------------------------------------------------- reads

    def counts(self, app: str | None = None) -> dict[str, int]:
        """Events per queue state, and results."""
        q = select(events.c.state, func.count()).group_by(events.c.state)
        r = select(func.count()).select_from(results)
        if app is not None:
            q = q.where(events.c.app == app)
            r = r.where(results.c.app == app)
        with self.engine.connect() as conn:
            out = {str(s): int(n) for s, n in conn.execute(q)}
            out["results"] = int(conn.execute(r).scalar_one())
        for k in ("pending", "leased", "done", "skipped"):
            out.setdefault(k, 0)
        out["events"] = sum(out[k] for k in ("pending", "leased", "done", "skipped"))
        return out

    def apps(self) -> list[str]:
        with self.engine.connect() as conn:
            return [str(a) for (a,) in conn.execute(select(events.c.app).distinct().order_by(events.c.app))]

    def time_range(self, app: str | None = None) -> tuple[float, float] | None:
        q = select(func.min(events.c.ts), func.max(events.c.ts)).where(_SHOWABLE_TIME)
        if app is not None:
            q = q.where(events.c.app == app)
        with self.engine.connect() as conn:
            lo, hi = conn.execute(q).one()
        return None if lo is None else (float(lo), float(hi))

    def iter_window_rows(self, app: str | None, start: float, end: float, batch: int = 5000) -> Iterator[Any]:
        """Every event in [start, end) joined with its result, streamed in time order (memory stays flat)."""
        q: Select[Any] = (
            select(
                events.c.request_id,
                events.c.app,
                events.c.ts,
                events.c.sampled,
                events.c.inclusion_prob,
                events.c.reason,
                events.c.latency_ms,
                events.c.is_error,
                events.c.cost_usd,
                events.c.prompt_version,
                results.c.status,
                results.c.scores_json,
            )
            .select_from(events.outerjoin(results, results.c.request_id == events.c.request_id))
            .where(events.c.ts >= start, events.c.ts < end, _SHOWABLE_TIME)
            .order_by(events.c.ts, events.c.id)
        )
        if app is not None:
            q = q.where(events.c.app == app)
        with self.engine.connect() as conn:
            yield from conn.execution_options(yield_per=batch).execute(q).mappings()

    def questions(self, app: str | None, start: float, end: float, limit: int = 2000) -> list[str]:
        """Request texts of events in a window (evenly thinned to `limit`), for input-drift tests."""
        q = select(events.c.payload).where(events.c.ts >= start, events.c.ts < end).order_by(events.c.id)
        if app is not None:
            q = q.where(events.c.app == app)
        with self.engine.connect() as conn:
            payloads = [p for (p,) in conn.execute(q)]
        step = max(1, len(payloads) // limit)
        return [Event.model_validate_json(p).question for p in payloads[::step][:limit]]

    def get_events(self, request_ids: Sequence[str]) -> dict[str, Event]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(events.c.request_id, events.c.payload).where(events.c.request_id.in_(list(request_ids)))
            ).all()
        return {str(r[0]): Event.model_validate_json(r[1]) for r in rows}

    def session_events(self, app: str, session_id: str) -> list[Event]:
        """Every event of one chat session (any order; `assemble_sessions` orders them by turn)."""
        q = select(events.c.payload).where(events.c.app == app, events.c.session_id == session_id)
        with self.engine.connect() as conn:
            return [Event.model_validate_json(p) for (p,) in conn.execute(q)]

    def idle_sessions(self, cutoff: float, limit: int = 500) -> list[tuple[str, str, float]]:
        """(app, session_id, last event time) of sessions silent since before `cutoff` and not closed yet."""
        closed = select(events.c.session_id).where(
            events.c.reason == "always:session_end", events.c.session_id.is_not(None)
        )
        q = (
            select(events.c.app, events.c.session_id, func.max(events.c.ts))
            .where(events.c.session_id.is_not(None), events.c.session_id.not_in(closed))
            .group_by(events.c.app, events.c.session_id)
            .having(func.max(events.c.ts) < cutoff)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [(str(a), str(s), float(t)) for a, s, t in conn.execute(q)]

    def failed_results(self, app: str | None = None, since: float | None = None, limit: int = 5000) -> list[Any]:
        """Failed graded events (newest first) with their payloads and scores."""
        q = (
            select(results.c.request_id, results.c.ts, results.c.scores_json, events.c.payload)
            .select_from(results.join(events, events.c.request_id == results.c.request_id))
            .where(results.c.status == "failed")
            .order_by(results.c.ts.desc())
            .limit(limit)
        )
        if app is not None:
            q = q.where(results.c.app == app)
        if since is not None:
            q = q.where(results.c.ts >= since)
        with self.engine.connect() as conn:
            return list(conn.execute(q).mappings())

    def result_for(self, request_ids: Sequence[str]) -> dict[str, Any]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(results).where(results.c.request_id.in_(list(request_ids)))).mappings()
            return {str(r["request_id"]): r for r in rows}

    def promoted(self) -> dict[str, list[str]]:
        """request id -> datasets it was promoted into."""
        out: dict[str, list[str]] = {}
        with self.engine.connect() as conn:
            for rid, ds in conn.execute(select(promotions.c.request_id, promotions.c.dataset)):
                out.setdefault(str(rid), []).append(str(ds))
        return out

    def record_promotions(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            with self.engine.begin() as conn:
                conn.execute(_insert(self.engine, promotions), list(rows))

    # ---------------------------------------------------------------------------------------- alerts

    def last_alert_time(self, dedupe_key: str) -> float | None:
        with self.engine.connect() as conn:
            value = conn.execute(select(func.max(alerts.c.fired_at)).where(alerts.c.dedupe_key == dedupe_key)).scalar()
        return None if value is None else float(value)

    def add_alert(self, row: dict[str, Any]) -> int:
        with self.engine.begin() as conn:
            res = conn.execute(alerts.insert().values(**row).returning(alerts.c.id))
            return int(res.scalar_one())

    def due_alerts(self, now: float, limit: int = 100) -> list[Any]:
        q = (
            select(alerts)
            .where(alerts.c.state == "pending", alerts.c.next_attempt <= now)
            .order_by(alerts.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return list(conn.execute(q).mappings())

    def update_alert(self, alert_id: int, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(alerts).where(alerts.c.id == alert_id).values(**values))

    def list_alerts(self, app: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        q = select(alerts).order_by(alerts.c.fired_at.desc(), alerts.c.id.desc()).limit(limit)
        if app is not None:
            q = q.where(alerts.c.app == app)
        with self.engine.connect() as conn:
            rows = conn.execute(q).mappings().all()
        return [{**dict(r), "payload": json.loads(r["payload"])} for r in rows]


def _event_row(e: Event, d: Decision, now: float) -> dict[str, Any]:
    return {
        "request_id": e.request_id,
        "app": e.app,
        "ts": e.timestamp,
        "received_at": now,
        "stratum": d.stratum,
        "sampled": d.sampled,
        "inclusion_prob": d.inclusion_prob,
        "reason": d.reason,
        "state": "pending" if d.sampled else "skipped",
        "attempts": 0,
        "latency_ms": e.latency_ms,
        "is_error": e.error is not None,
        "cost_usd": e.cost_usd,
        "prompt_version": e.prompt_version,
        "session_id": e.session_id,
        "payload": e.model_dump_json(exclude_none=True),
    }


def new_worker_id() -> str:
    return f"w-{uuid.uuid4().hex[:10]}"
