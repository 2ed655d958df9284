"""The durable queue on SQLite and a real PostgreSQL: persistence, leases, idempotent results, kill -9 of a worker."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from evalwheel.monitor.config import MonitorConfig
from evalwheel.monitor.events import Event
from evalwheel.monitor.queue import Decision, GradeResult, MonitorStore
from evalwheel.monitor.schema import events, results
from evalwheel.monitor.worker import Worker

ROOT = Path(__file__).resolve().parents[1]
CONSTRAINTS = ROOT / "examples" / "support" / "constraints.yaml"


def _batch(n: int, start: int = 0, sampled: bool = True) -> list[tuple[Event, Decision]]:
    return [
        (
            Event(request_id=f"r{i:05d}", app="a", input=f"q{i}", output="hi", timestamp=1000.0 + i),
            Decision("a", sampled, 1.0 if sampled else 0.0, "test"),
        )
        for i in range(start, start + n)
    ]


def test_enqueue_is_idempotent_by_request_id(store_url: str) -> None:
    st = MonitorStore(store_url)
    assert st.enqueue(_batch(10)) == 10
    assert st.enqueue(_batch(10)) == 0  # an SDK retry of a batch whose reply was lost
    assert st.enqueue(_batch(5, start=100, sampled=False)) == 5
    c = st.counts()
    assert (c["events"], c["pending"], c["skipped"]) == (15, 10, 5)
    st.close()


def test_leases_expire_and_results_are_stored_once(store_url: str) -> None:
    st = MonitorStore(store_url)
    st.enqueue(_batch(6))
    first = st.claim("w1", limit=4, lease_s=60)
    assert [c.event.request_id for c in first] == ["r00000", "r00001", "r00002", "r00003"]
    second = st.claim("w2", limit=10, lease_s=0.01)
    assert [c.event.request_id for c in second] == ["r00004", "r00005"]  # leased ones are not handed out again
    time.sleep(0.05)
    third = st.claim("w3", limit=10, lease_s=60)  # w2's lease expired: its events come back
    assert [c.event.request_id for c in third] == ["r00004", "r00005"] and third[0].attempts == 2
    res = [GradeResult(c.event.request_id, "a", 0.0, "passed", 1.0, 1.0, []) for c in third]
    assert st.complete("w3", res) == 2
    assert st.complete("w2", res) == 0  # the slow worker finishing late does not duplicate anything
    assert st.claim("w4") == []
    st.close()


def test_concurrent_claims_never_hand_out_an_event_twice(store_url: str) -> None:
    st = MonitorStore(store_url)
    st.enqueue(_batch(400))
    seen: list[str] = []
    lock = threading.Lock()

    def worker(name: str) -> None:
        local = MonitorStore(store_url)
        while batch := local.claim(name, limit=7, lease_s=600):
            with lock:
                seen.extend(c.event.request_id for c in batch)
        local.close()

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 400 and len(set(seen)) == 400
    st.close()


def test_worker_grades_with_the_spec_graders(store_url: str) -> None:
    st = MonitorStore(store_url)
    good = "Thanks for asking, the answer is in your settings page today.\n\nBest regards,\nTaskHarbor Support"
    batch = [
        (
            Event(request_id=f"g{i}", app="a", input="q", output=good if i % 2 else "No.", timestamp=1.0),
            Decision("a", True, 1.0, "t"),
        )
        for i in range(10)
    ]
    batch.append(
        (Event(request_id="err", app="a", input="q", error="timeout", timestamp=1.0), Decision("a", True, 1.0, "t"))
    )
    st.enqueue(batch)
    cfg = MonitorConfig.model_validate({"graders": [{"name": "constraints", "config_file": str(CONSTRAINTS)}]})
    w = Worker(st, cfg)
    assert asyncio.run(w.drain()) == 11
    assert w.stats.by_status == {"passed": 5, "failed": 5, "unscored": 1}  # an app error is unscored, not failed
    st.close()


WORKER_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from evalwheel.graders.registry import grader
    from evalwheel.types import Score
    from evalwheel.monitor.config import MonitorConfig
    from evalwheel.monitor.queue import MonitorStore
    from evalwheel.monitor.worker import Worker

    @grader("test.slow_pass")
    async def slow(sample, output, ctx):
        await asyncio.sleep(0.02)
        return Score(name="slow", value=1.0, passed=True)

    store = MonitorStore(sys.argv[1])
    cfg = MonitorConfig.model_validate({"graders": [{"name": "test.slow_pass"}]})
    w = Worker(store, cfg, batch=10, lease_s=float(sys.argv[2]), concurrency=2)
    asyncio.run(w.drain())
    print("drained", w.stats.graded, flush=True)
    """
)


def _count(st: MonitorStore, query: object) -> int:
    with st.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())  # type: ignore[call-overload]


@pytest.mark.slow  # two worker processes and a lease expiry: ~12 s
def test_kill_9_worker_mid_queue_loses_nothing_and_grades_once(store_url: str, tmp_path: Path) -> None:
    st = MonitorStore(store_url)
    st.enqueue(_batch(300))
    script = tmp_path / "worker.py"
    script.write_text(WORKER_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    victim = subprocess.Popen([sys.executable, str(script), store_url, "1.0"], env=env)
    deadline = time.monotonic() + 60
    while _count(st, select(func.count()).select_from(results)) < 40:
        assert time.monotonic() < deadline and victim.poll() is None, "the worker did not start grading"
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    graded_before = _count(st, select(func.count()).select_from(results))
    assert 0 < graded_before < 300
    assert _count(st, select(func.count()).where(events.c.state == "leased")) > 0  # its batch was in flight
    time.sleep(1.1)  # the dead worker's lease runs out
    out = subprocess.run(
        [sys.executable, str(script), store_url, "60"], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert _count(st, select(func.count()).select_from(results)) == 300
    assert _count(st, select(func.count(func.distinct(results.c.request_id)))) == 300
    assert _count(st, select(func.count()).where(events.c.state != "done")) == 0
    st.close()
