"""The Redis Streams queue on a real redis-server: the same claim / complete / release contract as the table."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from evalwheel.monitor.events import Event
from evalwheel.monitor.queue import Decision, GradeResult
from redis_helpers import redis_server


@pytest.fixture
def opened(tmp_path: Path) -> Iterator[Callable[[], Any]]:
    """Opens a RedisQueueStore per process it stands for (ingest, each worker), all on one store and stream."""
    from evalwheel.monitor.redis_queue import RedisQueueStore

    stores: list[RedisQueueStore] = []
    with redis_server(tmp_path) as url:

        def new() -> RedisQueueStore:
            stores.append(RedisQueueStore(str(tmp_path / "mon.sqlite"), url))
            return stores[-1]

        yield new
        for s in stores:
            s.close()


def _batch(n: int, start: int = 0) -> list[tuple[Event, Decision]]:
    return [
        (Event(request_id=f"r{i}", app="a", input="q", output="o"), Decision("s", i % 2 == 0, 0.5, "rate"))
        for i in range(start, start + n)
    ]


def _done(claimed: list[Any], worker: str) -> list[GradeResult]:
    return [GradeResult(c.event.request_id, "a", 0.0, "passed", 1.0, c.inclusion_prob, []) for c in claimed]


def test_claims_lease_redelivery_release_and_exactly_once_results(opened: Callable[[], Any]) -> None:
    ingest, wa, wb, wc = opened(), opened(), opened(), opened()
    assert ingest.enqueue(_batch(10)) == 10
    assert ingest.enqueue(_batch(4)) == 0  # an SDK retry: nothing new in the store (re-sent to the stream)
    a = wa.claim("wa", 4, lease_s=0.2)
    assert [(c.event.request_id, c.attempts) for c in a] == [("r0", 1), ("r2", 1), ("r4", 1), ("r6", 1)]
    first = wb.claim("wb", 100, lease_s=0.2)
    assert [c.event.request_id for c in first] == ["r8", "r0", "r2"]  # new entries only: wa's are still leased
    time.sleep(0.3)  # wa "died": its lease runs out
    b = wb.claim("wb", 100, lease_s=0.2)  # wa's four, and its own three (idle past the lease too): r0, r2 twice
    assert {c.event.request_id for c in b} == {"r0", "r2", "r4", "r6", "r8"} and max(c.attempts for c in b) == 2
    wb.release(["r0"])  # a transient grader failure: back in the queue at once, attempt count kept
    again = wc.claim("wc", 100, lease_s=60)
    assert [(c.event.request_id, c.attempts) for c in again] == [("r0", 3)]
    rest = [c for c in b if c.event.request_id != "r0"]
    assert wb.complete("wb", _done(rest, "wb")) == 4  # r2, r4, r6, r8 (and the re-sent copies of r0, r2)
    assert wc.complete("wc", _done(again, "wc")) == 1
    assert wa.complete("wa", _done(a, "wa")) == 0  # the "dead" worker finishing late stores nothing twice
    counts = ingest.counts()
    assert counts["results"] == 5 == counts["done"] and counts["skipped"] == 5 and counts["pending"] == 0
    stats = ingest.queue_stats()
    assert stats["redelivered"] == 7 and stats["in_flight"] == 0 and stats["stream"] == 0  # 4 of wa's, 3 of wb's


def test_bad_queue_url_is_a_clear_store_error(tmp_path: Path) -> None:
    from evalwheel.monitor.redis_queue import open_monitor_store
    from evalwheel.store import StoreError

    with pytest.raises(StoreError, match="expected redis://"):
        open_monitor_store(str(tmp_path / "m.sqlite"), "amqp://x")
    pytest.importorskip("redis")
    with pytest.raises(StoreError, match="cannot reach Redis"):
        open_monitor_store(str(tmp_path / "m.sqlite"), "redis://127.0.0.1:1/0")
