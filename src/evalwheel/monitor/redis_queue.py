"""The monitoring queue on a Redis stream: `monitor serve|worker --queue redis://HOST:PORT/DB`.

Same interface as the database queue (`MonitorStore.enqueue / claim / complete / release`), so the ingest
server and the worker do not change. What moves to Redis is only the hand-off: the events table, the results
and every read (windows, drift, the web workspace) stay in the store, because they are queries, not a queue.

- enqueue: the events are committed to the store first (as before: that is what "accepted" means), then
  every sampled event of the batch is XADDed to the stream with its payload. Sampled events are added even
  if the store already had them: an ingest process killed between the commit and the XADD never replied
  202, so the client sends the batch again, and this re-send must reach the stream.
- claim: XAUTOCLAIM takes entries that another consumer has held longer than the lease (a worker killed with
  -9 never acknowledges), then XREADGROUP reads new ones; one consumer group, one consumer per worker id.
- complete: results are inserted with ON CONFLICT DO NOTHING and the events marked done in one transaction
  (exactly as the database queue), then the entries are XACKed and XDELed. A worker killed between the commit
  and the XACK has its entries claimed again, graded again, and the second insert is a no-op: every accepted
  event has exactly one result.
- release: the entry is re-added with its attempt count, and the old one acknowledged.

The database's `state` column goes pending -> done (there is no `leased` in the store: in-flight entries are
the stream's pending list, `XPENDING`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from evalwheel.monitor.events import Event
from evalwheel.monitor.queue import Claimed, Decision, GradeResult, MonitorStore, _event_row, _insert
from evalwheel.monitor.schema import events
from evalwheel.store import StoreError

STREAM = "evalwheel:events"
GROUP = "graders"
STATS = "evalwheel:queue-stats"  # a hash: `redelivered` counts entries claimed again after a lease ran out


class RedisQueueStore(MonitorStore):
    """A MonitorStore whose queue is a Redis stream (consumer group `graders`)."""

    def __init__(self, target: str | None, queue_url: str, *, stream: str = STREAM) -> None:
        super().__init__(target)
        try:
            import redis
        except ImportError:  # pragma: no cover - depends on the environment
            raise StoreError("--queue redis://... needs the redis client: pip install 'evalwheel[redis]'") from None
        self.queue_url = queue_url
        self.stream = stream
        self.redis: Any = redis.Redis.from_url(queue_url, socket_timeout=30, health_check_interval=30)
        try:
            self.redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise StoreError(f"--queue {queue_url}: {exc}") from None
        except redis.RedisError as exc:
            raise StoreError(f"--queue {queue_url}: cannot reach Redis: {exc}") from None
        # request id -> [(stream entry id, attempts)] held by this process (a re-sent event can have two entries)
        self._entries: dict[str, list[tuple[bytes, int]]] = {}

    def close(self) -> None:
        self.redis.close()
        super().close()

    def enqueue(self, batch: Sequence[tuple[Event, Decision]]) -> int:
        if not batch:
            return 0
        now = time.time()
        rows = [_event_row(e, d, now) for e, d in batch]
        with self.engine.begin() as conn:
            new = len(conn.execute(_insert(self.engine, events).returning(events.c.id), rows).all())
        pipe = self.redis.pipeline(transaction=False)
        for row in rows:
            if row["state"] == "pending":
                fields = {"rid": row["request_id"], "p": row["payload"], "ip": row["inclusion_prob"], "a": 0}
                pipe.xadd(self.stream, fields)
        pipe.execute()
        return new

    def claim(self, worker: str, limit: int = 64, lease_s: float = 60.0) -> list[Claimed]:
        """Entries idle past the lease first (a dead worker's), then new ones."""
        idle_ms = max(1, int(lease_s * 1000))
        _, stale, _ = self.redis.xautoclaim(self.stream, GROUP, worker, idle_ms, "0-0", count=limit)
        stale = [(eid, f) for eid, f in stale if f]  # entries deleted since are returned without fields
        delivered: dict[bytes, int] = {}
        if stale:
            self.redis.hincrby(STATS, "redelivered", len(stale))
            for p in self.redis.xpending_range(self.stream, GROUP, "-", "+", 10 * limit + 100, worker):
                delivered[p["message_id"]] = int(p["times_delivered"])
        fresh: list[tuple[bytes, dict[bytes, bytes]]] = []
        if len(stale) < limit:
            read = self.redis.xreadgroup(GROUP, worker, {self.stream: ">"}, count=limit - len(stale))
            fresh = read[0][1] if read else []
        out: list[Claimed] = []
        for eid, f in [*stale, *fresh]:
            attempts = int(f[b"a"]) + delivered.get(eid, 1)
            event = Event.model_validate_json(f[b"p"])
            held = self._entries.setdefault(event.request_id, [])
            if eid not in [e for e, _ in held]:
                held.append((eid, attempts))
            ms, seq = eid.split(b"-")
            out.append(Claimed(int(ms) * 10_000 + int(seq), event, float(f[b"ip"]), attempts))
        return out

    def complete(self, worker: str, done: Sequence[GradeResult]) -> int:
        inserted = super().complete(worker, done)  # results ON CONFLICT DO NOTHING + events done, one transaction
        ids = [eid for r in done for eid, _ in self._entries.pop(r.request_id, [])]
        if ids:
            pipe = self.redis.pipeline(transaction=False)
            pipe.xack(self.stream, GROUP, *ids)
            pipe.xdel(self.stream, *ids)
            pipe.execute()
        return inserted

    def release(self, request_ids: Sequence[str]) -> None:
        """Re-add the entries (attempt count kept) and acknowledge the old ones: claimable at once."""
        held = [self._entries.pop(rid) for rid in request_ids if rid in self._entries]
        if not held:
            return
        old = [eid for copies in held for eid, _ in copies]
        entries = {eid: f for eid, f in self.redis.xrange(self.stream, min(old), max(old)) if eid in set(old)}
        pipe = self.redis.pipeline(transaction=True)
        for copies in held:  # one new entry per event, however many copies were held
            attempts = max(a for _, a in copies)
            f = next((entries[eid] for eid, _ in copies if eid in entries), None)
            if f is not None:
                pipe.xadd(self.stream, {b"rid": f[b"rid"], b"p": f[b"p"], b"ip": f[b"ip"], b"a": attempts})
        pipe.xack(self.stream, GROUP, *old)
        pipe.xdel(self.stream, *old)
        pipe.execute()

    def queue_stats(self) -> dict[str, Any]:
        """Stream length, entries in flight (pending list) and redeliveries so far."""
        pending = self.redis.xpending(self.stream, GROUP)
        stats = {k.decode(): int(v) for k, v in self.redis.hgetall(STATS).items()}
        return {
            "stream": int(self.redis.xlen(self.stream)),
            "in_flight": int(pending["pending"]),
            "redelivered": stats.get("redelivered", 0),
            "by_consumer": {c["name"].decode(): int(c["pending"]) for c in pending.get("consumers") or []},
        }


def open_monitor_store(store: str | None, queue: str | None, *, must_exist: bool = False) -> MonitorStore:
    """The store's own queue, or a Redis stream when `queue` is a redis:// URL (`must_exist`: see Store)."""
    if queue is None:
        return MonitorStore(store, must_exist=must_exist)
    if not queue.startswith(("redis://", "rediss://", "unix://")):
        raise StoreError(f"--queue {queue!r}: expected redis://HOST:PORT/DB (or leave it out to queue in the store)")
    return RedisQueueStore(store, queue)
