"""Monitoring scale-out on one shared queue: two ingest processes, two workers, one killed with -9; the queue is
the PostgreSQL table (FOR UPDATE SKIP LOCKED) or a Redis stream on a real redis-server (consumer group,
XAUTOCLAIM), the store PostgreSQL in both.

Every accepted event must end with exactly one stored result. The graders call a judge on the fake
OpenAI-compatible server (an HTTP test double, benchmarks/fake_openai_server.py) with 100 ms latency, so a
worker is always holding a leased batch when it is killed; its batch is claimed again when the lease
(2 s here) runs out.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from conftest import PG_URL, ROOT, _drop_postgres_database, _fresh_postgres_database
from redis_helpers import redis_server
from test_monitor_helpers import monitor_server
from test_monitor_server import post

pytestmark = pytest.mark.slow

N = 400


@pytest.fixture
def pg_url() -> Iterator[str]:
    if not PG_URL:
        pytest.skip("EVALWHEEL_TEST_PG_URL not set (CI starts a PostgreSQL server and sets it)")
    url, name = _fresh_postgres_database()
    yield url
    _drop_postgres_database(name)


@pytest.fixture
def judge_url() -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "benchmarks" / "fake_openai_server.py"), "--latency-ms", "100"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("PORT "), line
    yield f"http://127.0.0.1:{int(line.split()[1])}/v1#fake-judge"
    proc.kill()
    proc.wait()


@pytest.fixture(params=["postgres", "redis"])
def queue_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    """None: the store's own queue table; else a redis:// URL of a redis-server started for this test."""
    if request.param == "postgres":
        yield None
        return
    with redis_server(tmp_path) as url:
        yield url


def start_worker(
    store: str, config: Path, name: str, cwd: Path, queue: str | None = None
) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "evalwheel.monitor.cli", "worker", "--store", store, "--config", str(config)]
    cmd += ["--batch", "16", "--lease-s", "2", "--worker-id", name, *(["--queue", queue] if queue else [])]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    log = (cwd / f"{name}.log").open("wb")  # a file, not a pipe nobody reads (a full pipe blocks the worker)
    return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=log)


def test_two_ingest_two_workers_one_killed_every_event_graded_once(
    tmp_path: Path, pg_url: str, judge_url: str, queue_url: str | None
) -> None:
    from sqlalchemy import create_engine, text

    config = tmp_path / "monitor.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "sampler": {"default_rate": 1.0},
                "graders": [
                    {"name": "regex", "config": {"pattern": "answer"}},
                    {"name": "judge.rubric", "gate": False, "config": {"judge_model": judge_url, "scale_max": 4}},
                ],
            }
        )
    )
    db = create_engine(pg_url)

    def scalar(sql: str) -> int:
        with db.connect() as conn:
            return int(conn.execute(text(sql)).scalar() or 0)

    rq = None
    if queue_url is not None:
        import redis

        rq = redis.Redis.from_url(queue_url)

    def held_by_wa() -> int:
        """Events worker wa holds and has not finished: leased rows, or its entries in the stream's pending list."""
        if rq is None:
            return scalar("SELECT count(*) FROM mon_events WHERE state = 'leased' AND lease_owner = 'wa'")
        if not rq.exists("evalwheel:events"):
            return 0
        consumers = rq.xpending("evalwheel:events", "graders").get("consumers") or []
        return sum(int(c["pending"]) for c in consumers if c["name"] == b"wa")

    def redelivered() -> int:
        if rq is None:
            return scalar("SELECT count(*) FROM mon_events WHERE attempts > 1")
        return int(rq.hget("evalwheel:queue-stats", "redelivered") or 0)

    queue_args = ["--queue", queue_url] if queue_url else []
    accepted: list[str] = []
    with (
        monitor_server(pg_url, "--no-worker", "--config", str(config), *queue_args, cwd=tmp_path) as (url_a, _),
        monitor_server(pg_url, "--no-worker", "--config", str(config), *queue_args, cwd=tmp_path) as (url_b, _),
    ):
        workers = {name: start_worker(pg_url, config, name, tmp_path, queue_url) for name in ("wa", "wb")}

        def send(url: str, start: int) -> None:
            for i in range(start, N, 40):  # 20 events per request, the two servers interleaved
                batch = [
                    {"request_id": f"e{j}", "app": "tutor", "input": f"q{j}", "output": "an answer"}
                    for j in range(i, min(i + 20, N))
                ]
                code, body = post(url + "/v1/events", {"events": batch})
                assert code == 202, body
                accepted.extend(e["request_id"] for e in batch)
                time.sleep(0.05)

        senders = [threading.Thread(target=send, args=(u, s)) for u, s in ((url_a, 0), (url_b, 20))]
        for t in senders:
            t.start()
        deadline = time.monotonic() + 120
        while held_by_wa() == 0:
            assert time.monotonic() < deadline, "worker wa never held a lease"
            assert workers["wa"].poll() is None, (tmp_path / "wa.log").read_text()
            time.sleep(0.02)
        workers["wa"].send_signal(signal.SIGKILL)  # mid-batch: its leased events have no results yet
        workers["wa"].wait()
        orphaned = held_by_wa()
        for t in senders:
            t.join()
        deadline = time.monotonic() + 240
        while scalar("SELECT count(*) FROM mon_results") < N:
            assert time.monotonic() < deadline, f"only {scalar('SELECT count(*) FROM mon_results')} of {N} graded"
            assert workers["wb"].poll() is None, (tmp_path / "wb.log").read_text()
            time.sleep(0.2)
        workers["wb"].send_signal(signal.SIGTERM)
        workers["wb"].wait(30)
    assert sorted(accepted) == sorted(f"e{i}" for i in range(N))
    assert orphaned > 0  # the kill really left a leased batch behind
    assert scalar("SELECT count(*) FROM mon_events") == N == scalar("SELECT count(*) FROM mon_events WHERE sampled")
    assert scalar("SELECT count(*) FROM mon_events WHERE state <> 'done'") == 0
    assert (
        scalar("SELECT count(DISTINCT request_id) FROM mon_results") == N == scalar("SELECT count(*) FROM mon_results")
    )
    assert redelivered() >= orphaned  # re-claimed after the lease
    with db.connect() as conn:
        by_worker = dict(conn.execute(text("SELECT worker, count(*) FROM mon_results GROUP BY worker")).all())  # type: ignore[arg-type]
        scores = json.loads(conn.execute(text("SELECT scores_json FROM mon_results LIMIT 1")).scalar_one())
    assert {s["name"] for s in scores} >= {"regex"}
    assert by_worker.get("wb", 0) > 0 and set(by_worker) <= {"wa", "wb"}
    db.dispose()
