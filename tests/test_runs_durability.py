"""Nothing acknowledged is lost: store failures stop the run (exit 3), resume finishes it; leases; changed specs.

"Acknowledged" = committed to the store (runs/writer.py). The store is made unavailable for real: a separate
process opens the SQLite file and holds a write transaction (BEGIN IMMEDIATE), the way another writer or a
stuck tool would, once the run has made some progress.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from evalwheel.cli import app
from evalwheel.runs.dataset_source import prepare_dataset
from evalwheel.runs.engine import Progress, execute, plan_run
from evalwheel.runs.lease import RunLease, RunLeasedError
from evalwheel.runs.spec import load_spec
from evalwheel.runs.writer import StoreUnavailableError, WritePolicy, commit_with_retry
from evalwheel.store import Store
from evalwheel.types import RunInfo, SampleResult
from test_runs_engine import write_project

runner = CliRunner()

# Waits until `trigger` has `n` lines (the solver logs every call), then holds SQLite's write lock until killed.
LOCKER = """
import sqlite3, sys, time
db, trigger, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
while True:
    try:
        if len(open(trigger).read().split()) >= n:
            break
    except FileNotFoundError:
        pass
    time.sleep(0.01)
conn = sqlite3.connect(db, timeout=30, isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(600)
"""


def start_locker(db: Path, trigger: Path, n: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", LOCKER, str(db), str(trigger), str(n)], stdout=subprocess.PIPE, text=True
    )


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def calls(tmp: Path) -> Counter[str]:
    log = tmp / "calls.log"
    return Counter(log.read_text().split()) if log.exists() else Counter()


def stored_ids(db: Path) -> set[str]:
    with sqlite3.connect(db, timeout=30) as conn:
        return {r[0] for r in conn.execute("SELECT sample_id FROM results")}


async def run_until_store_gives_up(
    plan: Any, spec: Any, store: Store, acknowledged: list[str], **options: Any
) -> StoreUnavailableError:
    """Execute `plan` with a writer that gives up after 1.5 s of an unavailable store, recording every
    acknowledged sample id; the run must stop with StoreUnavailableError, which is returned."""
    with pytest.raises(StoreUnavailableError) as info:
        await execute(
            plan,
            prepare_dataset(spec.dataset_path),
            store,
            write_policy=WritePolicy(retry_base_s=0.05, retry_max_s=0.2, give_up_after_s=1.5),
            progress=Progress(advance=lambda r: acknowledged.append(r.sample_id)),
            **options,
        )
    return info.value


@pytest.fixture
def runner_heap_frozen() -> Any:
    """Move the objects the test session has accumulated out of the collector's reach for one test.

    Why: late in a full suite the pytest process holds millions of objects, and a full collection of them can
    stop any event loop for ~0.5 s; that is the test runner's heap, not the store freezing the loop, which is
    what the timing assertion is about. The run's own objects are still collected as usual."""
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


@pytest.mark.usefixtures("runner_heap_frozen")
async def test_locked_store_stops_the_run_without_freezing_the_loop_and_resume_finishes(tmp_path: Path) -> None:
    n = 40
    spec_path = write_project(tmp_path, n=n, delay=0.05)
    db = tmp_path / "runs.sqlite"
    spec = load_spec(spec_path)
    store = Store(db, busy_timeout_s=0.1)
    acknowledged: list[str] = []
    locker = start_locker(db, tmp_path / "calls.log", 10)
    gaps: list[float] = []

    async def ticker() -> None:  # the event loop must keep turning while the store is locked
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.02)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    tick = asyncio.create_task(ticker())
    plan = plan_run(spec)
    started = time.perf_counter()
    try:
        error = await run_until_store_gives_up(plan, spec, store, acknowledged)
    finally:
        tick.cancel()
        await plan.aclose()
    elapsed = time.perf_counter() - started
    assert locker.stdout is not None and locker.stdout.readline().strip() == "locked"
    assert "stayed unavailable" in str(error) and "database is locked" in str(error)
    assert error.run_id is not None and error.committed == len(acknowledged)
    assert elapsed < 10, f"the run should stop promptly, took {elapsed:.1f} s"
    assert max(gaps) < 0.5, f"the event loop froze for {max(gaps):.2f} s while the store was locked"
    stop(locker)
    assert 0 < len(acknowledged) < n
    assert set(acknowledged) <= stored_ids(db)  # every acknowledged result is in the store
    before = calls(tmp_path)
    run_id = error.run_id
    run = store.get_run(run_id)
    assert run.status == "running" or "stopped" in run.metadata
    plan = plan_run(spec)
    try:
        again = await execute(plan, prepare_dataset(spec.dataset_path), store, resume=run_id)
    finally:
        await plan.aclose()
    assert again.skipped == len(stored_ids(db)) - again.executed and again.executed == n - again.skipped
    assert len(stored_ids(db)) == n and store.count_results(run_id) == n
    after = calls(tmp_path)
    for sid in acknowledged:
        assert after[sid] == before[sid] == 1, f"{sid} was acknowledged, yet recomputed by the resume"
    assert store.get_run(run_id).status == "finished"


async def test_a_store_locked_at_the_start_is_waited_for_then_reported(tmp_path: Path) -> None:
    spec_path = write_project(tmp_path, n=4)
    db = tmp_path / "runs.sqlite"
    Store(db)  # the file and schema exist; now another process takes the write lock before the run starts
    (tmp_path / "go").write_text("x")
    spec = load_spec(spec_path)
    store = Store(db, busy_timeout_s=0.1)

    async def run(policy: WritePolicy) -> object:
        plan = plan_run(spec)
        try:
            return await execute(plan, prepare_dataset(spec.dataset_path), store, write_policy=policy)
        finally:
            await plan.aclose()

    locker = start_locker(db, tmp_path / "go", 1)
    try:
        assert locker.stdout is not None and locker.stdout.readline().strip() == "locked"
        with pytest.raises(StoreUnavailableError, match="while creating the run") as info:
            await run(WritePolicy(retry_base_s=0.05, give_up_after_s=0.5))
        assert info.value.run_id is None and store.list_runs() == []
        locker_done = asyncio.get_running_loop().run_in_executor(None, lambda: (time.sleep(0.5), stop(locker)))
        outcome = await run(WritePolicy(retry_base_s=0.05, give_up_after_s=10.0))  # the lock clears in time
        await locker_done
    finally:
        stop(locker)
    assert outcome.run.status == "finished" and store.count_results(outcome.run.run_id) == 4  # type: ignore[attr-defined]


def test_cli_exits_3_with_the_resume_command_when_the_store_stays_locked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("evalwheel.runs.writer.DEFAULT_POLICY", WritePolicy(retry_base_s=0.05, give_up_after_s=1.0))
    monkeypatch.setattr("evalwheel.store.store.DEFAULT_BUSY_TIMEOUT_S", 0.1)
    spec_path = write_project(tmp_path, n=30, delay=0.05)
    locker = start_locker(tmp_path / "runs.sqlite", tmp_path / "calls.log", 6)
    try:
        res = runner.invoke(app, ["run", str(spec_path), "--no-progress"])
    finally:
        stop(locker)
    assert res.exit_code == 3, res.output
    text = " ".join(res.output.split())
    assert "stayed unavailable" in text and "--resume" in text and "acknowledged (committed)" in text


@pytest.mark.slow
def test_kill_minus_9_while_the_store_is_unavailable_then_resume(tmp_path: Path) -> None:
    """A real `evalwheel run` retries a locked store; it is killed with SIGKILL during the outage; resume."""
    n = 40
    spec_path = write_project(tmp_path, n=n, delay=0.05)
    db = tmp_path / "runs.sqlite"
    locker = start_locker(db, tmp_path / "calls.log", 10)
    proc = subprocess.Popen(
        [sys.executable, "-m", "evalwheel.cli", "run", str(spec_path), "--no-progress"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert locker.stdout is not None and locker.stdout.readline().strip() == "locked"
        time.sleep(1.5)  # the run is now retrying its commits (default policy: 60 s before it gives up)
        assert proc.poll() is None, "the run should still be retrying the locked store"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        stop(locker)
        if proc.poll() is None:
            proc.kill()
    acknowledged = stored_ids(db)  # committed before the outage
    before = calls(tmp_path)
    assert 0 < len(acknowledged) < n
    assert sum(before.values()) > len(acknowledged)  # results were computed but never acknowledged
    store = Store(db)
    run = store.list_runs()[0]
    res = runner.invoke(app, ["run", str(spec_path), "--no-progress", "--resume", run.run_id])
    assert res.exit_code == 0, res.output
    assert store.count_results(run.run_id) == n
    after = calls(tmp_path)
    for sid in acknowledged:
        assert after[sid] == 1, f"{sid} was acknowledged before the kill, yet recomputed"


def _result(run_id: str, sid: str) -> SampleResult:
    return SampleResult(run_id=run_id, sample_id=sid, partition="golden", status="passed", value=1.0)


def test_commit_retries_transient_failures_and_stops_at_once_on_integrity_errors(store_url: str) -> None:
    store = Store(store_url)
    store.create_run(RunInfo(run_id="r1", spec_name="s", status="running"))
    failures = iter([True, True, False])
    real = store.add_results

    def flaky(batch, costs=None, *, replace=False):  # type: ignore[no-untyped-def]
        if next(failures):
            from sqlalchemy.exc import OperationalError

            raise OperationalError("INSERT", {}, Exception("database is locked"))
        real(batch, costs, replace=replace)

    store.add_results = flaky  # type: ignore[method-assign]
    slept: list[float] = []
    policy = WritePolicy(retry_base_s=0.1, retry_max_s=1.0, give_up_after_s=30.0)
    attempts = commit_with_retry(store, [_result("r1", "a")], [0.0], replace=False, policy=policy, sleep=slept.append)
    assert attempts == 3 and slept == [0.1, 0.2]  # exponential backoff
    store.add_results = real  # type: ignore[method-assign]
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError, match=r"rejected a batch of 1 results.*IntegrityError"):
        commit_with_retry(store, [_result("r1", "a")], [0.0], replace=False, policy=policy)
    assert time.monotonic() - started < 5  # a duplicate is not retried for 30 s
    assert store.count_results("r1") == 1


def test_a_lock_held_by_another_connection_is_retried_then_reported(store_url: str) -> None:
    """Both backends: a transaction elsewhere holds the results table; the writer neither waits forever nor
    gives up at once: it retries, reports the lock after its budget, and commits once the lock is gone."""
    from sqlalchemy import create_engine, text

    store = Store(store_url, busy_timeout_s=0.2)
    store.create_run(RunInfo(run_id="r1", spec_name="s", status="running"))
    other = create_engine(store_url)
    conn = other.connect()
    trans = conn.begin()
    if other.dialect.name == "sqlite":
        conn.execute(text("INSERT INTO evalwheel_meta VALUES ('lock', 'held')"))  # takes the write lock
    else:
        conn.execute(text("LOCK TABLE results IN ACCESS EXCLUSIVE MODE"))
    policy = WritePolicy(retry_base_s=0.05, retry_max_s=0.2, give_up_after_s=1.0)
    started = time.monotonic()
    try:
        with pytest.raises(StoreUnavailableError, match=r"stayed unavailable for .*attempts"):
            commit_with_retry(store, [_result("r1", "a")], [0.0], replace=False, policy=policy)
        assert time.monotonic() - started < 6
    finally:
        trans.rollback()
        conn.close()
        other.dispose()
    assert commit_with_retry(store, [_result("r1", "a")], [0.0], replace=False, policy=policy) == 1
    assert store.count_results("r1") == 1


# ------------------------------------------------------------------------------------------------ leases


def test_lease_blocks_a_second_owner_and_expired_or_dead_owners_are_taken_over(store_url: str) -> None:
    store = Store(store_url)
    store.create_run(RunInfo(run_id="r1", spec_name="s", status="running"))
    first = RunLease.acquire(store, "r1", ttl_s=60)
    with pytest.raises(RunLeasedError, match=r"run r1 is being executed by another process .*pid \d+"):
        RunLease.acquire(store, "r1", ttl_s=60)
    first.release()
    again = RunLease.acquire(store, "r1", ttl_s=60)  # released: free
    again.release()
    # a crashed owner on another machine: refused until its lease expires, then taken over
    assert store.try_lease("r1", "elsewhere:123:abcd", ttl_s=0.5)
    with pytest.raises(RunLeasedError, match="host elsewhere pid 123"):
        RunLease.acquire(store, "r1", ttl_s=60)
    time.sleep(0.6)
    RunLease.acquire(store, "r1", ttl_s=60).release()
    # a dead process on this host: taken over at once, however long its lease still runs
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    assert store.try_lease("r1", f"{socket.gethostname()}:{dead.pid}:dead", ttl_s=3600)
    taken = RunLease.acquire(store, "r1", ttl_s=60)
    assert store.lease_of("r1")[0] == taken.owner
    taken.release()
    assert store.lease_of("r1") == (None, None, None)


async def test_heartbeat_renews_the_lease(store_url: str) -> None:
    store = Store(store_url)
    store.create_run(RunInfo(run_id="r1", spec_name="s", status="running"))
    lease = RunLease.acquire(store, "r1", ttl_s=1.0, heartbeat_s=0.1)
    expires = store.lease_of("r1")[1]
    task = asyncio.create_task(lease.keep())
    await asyncio.sleep(0.35)
    assert (store.lease_of("r1")[1] or 0) > (expires or 0)
    task.cancel()
    lease.release()


async def test_a_run_whose_lease_was_taken_over_stops(tmp_path: Path) -> None:
    from sqlalchemy import update

    from evalwheel.runs.lease import LeaseLostError
    from evalwheel.store.schema import runs

    spec_path = write_project(tmp_path, n=40, delay=0.05)
    spec = load_spec(spec_path)
    store = Store(tmp_path / "runs.sqlite")
    plan = plan_run(spec)

    async def thief() -> None:  # another process takes the run over (as if our heartbeats had stopped)
        while not store.list_runs():
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
        with store.engine.begin() as conn:
            conn.execute(update(runs).values(lease_owner="elsewhere:1:x", lease_expires_at=time.time() + 60))

    steal = asyncio.create_task(thief())
    try:
        with pytest.raises(LeaseLostError, match="another process took the run over") as info:
            await execute(plan, prepare_dataset(spec.dataset_path), store, heartbeat_s=0.1)
    finally:
        await plan.aclose()
        await steal
    assert info.value.run_id is not None and store.count_results(info.value.run_id) < 40
    assert store.lease_of(info.value.run_id)[0] == "elsewhere:1:x"  # ours was not released over theirs


@pytest.mark.slow
def test_second_simultaneous_resume_exits_2(tmp_path: Path) -> None:
    n = 60  # ~6 s of work for the first resume: the second one surely arrives while it runs
    spec_path = write_project(tmp_path, n=n, delay=0.2)
    db = tmp_path / "runs.sqlite"
    res = runner.invoke(app, ["run", str(spec_path), "--no-progress", "--limit", "2"])
    run_id = Store(db).list_runs()[0].run_id
    assert res.exit_code in (0, 1), res.output
    first = subprocess.Popen(
        [sys.executable, "-m", "evalwheel.cli", "run", str(spec_path), "--no-progress", "--resume", run_id],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.time() + 60
        while time.time() < deadline and len(stored_ids(db)) < 4:
            time.sleep(0.05)
        second = runner.invoke(app, ["run", str(spec_path), "--no-progress", "--resume", run_id])
        assert second.exit_code == 2, second.output
        text = " ".join(second.output.split())
        assert f"run {run_id} is being executed by another process" in text and f"pid {first.pid}" in text
        assert first.wait(timeout=120) == 0, first.stderr.read() if first.stderr else ""
    finally:
        if first.poll() is None:
            first.kill()
    assert len(stored_ids(db)) == n


def test_resume_refuses_a_changed_dataset_or_spec_unless_forced(tmp_path: Path) -> None:
    spec_path = write_project(tmp_path, n=6)
    res = runner.invoke(app, ["run", str(spec_path), "--no-progress", "--limit", "3"])
    assert res.exit_code in (0, 1), res.output
    store = Store(tmp_path / "runs.sqlite")
    run_id = store.list_runs()[0].run_id
    data = tmp_path / "data.jsonl"
    data.write_text(data.read_text().replace('"reference": "a5"', '"reference": "changed"'))
    refused = runner.invoke(app, ["run", str(spec_path), "--no-progress", "--resume", run_id])
    assert refused.exit_code == 2, refused.output
    text = " ".join(refused.output.split())
    assert "the dataset (version" in text and "--force" in text
    assert store.count_results(run_id) == 3  # refused before anything ran
    spec_text = spec_path.read_text()
    spec_path.write_text(spec_text.replace("name: exact", "name: contains"))
    both = runner.invoke(app, ["run", str(spec_path), "--no-progress", "--resume", run_id])
    assert both.exit_code == 2 and "the spec (hash" in " ".join(both.output.split())
    spec_path.write_text(spec_text.replace("concurrency: 2", "concurrency: 3"))  # operational: not a change
    forced = runner.invoke(app, ["run", str(spec_path), "--no-progress", "--resume", run_id, "--force"])
    assert forced.exit_code in (0, 1), forced.output
    assert store.count_results(run_id) == 6
    meta = store.get_run(run_id).metadata
    assert len(meta["forced_resumes"]) == 1 and meta["forced_resumes"][0]["dataset_hash"]
    assert runner.invoke(app, ["run", str(spec_path), "--force"]).exit_code == 2  # --force needs --resume


def test_spec_hash_ignores_operational_settings(tmp_path: Path) -> None:
    spec_path = write_project(tmp_path)
    base = load_spec(spec_path).content_hash()
    text = spec_path.read_text()
    spec_path.write_text(text.replace("concurrency: 2", "concurrency: 9"))
    assert load_spec(spec_path).content_hash() == base
    spec_path.write_text(text.replace("function: app.py:answer", "function: app.py:other"))
    assert load_spec(spec_path).content_hash() != base


# ------------------------------------------------------------------------------------------------ schema


def test_a_version_1_store_is_migrated_and_its_runs_resume(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite"
    with sqlite3.connect(db) as conn:  # the version-1 schema, as earlier evalwheel releases wrote it
        conn.executescript(
            """
            CREATE TABLE runs (run_id VARCHAR(64) PRIMARY KEY, spec_name VARCHAR(200) NOT NULL,
              spec_hash VARCHAR(64) NOT NULL, dataset_hash VARCHAR(64) NOT NULL, arm VARCHAR(100),
              model VARCHAR(300), status VARCHAR(20) NOT NULL, started_at VARCHAR(40) NOT NULL,
              finished_at VARCHAR(40), metadata_json TEXT NOT NULL);
            CREATE TABLE evalwheel_meta (key VARCHAR(50) PRIMARY KEY, value VARCHAR(200) NOT NULL);
            INSERT INTO evalwheel_meta VALUES ('schema_version', '1');
            INSERT INTO runs VALUES ('old', 's', '', '', NULL, NULL, 'running', '2026-01-01T00:00:00', NULL, '{}');
            """
        )
    store = Store(db)
    with sqlite3.connect(db) as conn:
        cols = {r[1] for r in conn.execute("PRAGMA table_info(runs)")}
        version = conn.execute("SELECT value FROM evalwheel_meta WHERE key='schema_version'").fetchone()[0]
    assert {"lease_owner", "lease_expires_at", "lease_heartbeat_at"} <= cols and version == "2"
    assert store.lease_of("old") == (None, None, None)
    RunLease.acquire(store, "old").release()
    Store(db)  # opening again is a no-op


async def test_engine_on_both_backends_releases_its_lease(tmp_path: Path, store_url: str) -> None:
    spec_path = write_project(tmp_path, n=12)
    spec = load_spec(spec_path)
    store = Store(store_url)
    plan = plan_run(spec)
    try:
        outcome = await execute(plan, prepare_dataset(spec.dataset_path), store)
    finally:
        await plan.aclose()
    assert outcome.counts == {"passed": 11, "failed": 1} and outcome.executed == 12
    assert store.count_results(outcome.run.run_id) == 12
    assert store.lease_of(outcome.run.run_id) == (None, None, None)
    assert outcome.run.status == "finished" and outcome.run.spec_hash == spec.content_hash()


async def test_the_writer_gathers_results_that_trickle_in_into_few_commits(tmp_path: Path) -> None:
    """Results arriving one by one (as at concurrency 50) are committed tens at a time, not one per commit:
    each commit costs ~1.5 ms of CPU. Each is still acknowledged only once committed."""
    from evalwheel.runs.writer import ResultWriter

    store = Store(str(tmp_path / "w.db"))
    store.create_run(RunInfo(run_id="r1", spec_name="s", status="running"))
    acked: list[int] = []
    writer = ResultWriter(store, policy=WritePolicy(linger_s=0.05), on_commit=lambda b: acked.append(len(b)))
    task = asyncio.create_task(writer.run())
    for i in range(100):  # ~0.1-0.2 s of trickle: without the wait, about one commit per result or two
        await writer.put(_result("r1", f"s{i}"), 0.0)
        await asyncio.sleep(0.001)
    await writer.close()
    await task
    assert sum(acked) == writer.written == store.count_results("r1") == 100
    assert writer.commits <= 10, acked


async def test_closing_the_writer_ends_its_linger_at_once(tmp_path: Path) -> None:
    """The run's last results are committed when the writer is closed, not a full linger later: the end of every
    run used to wait out `linger_s` (here a long one, so the difference cannot be noise)."""
    import time

    from evalwheel.runs.writer import ResultWriter

    store = Store(str(tmp_path / "w.db"))
    store.create_run(RunInfo(run_id="r1", spec_name="s", status="running"))
    writer = ResultWriter(store, policy=WritePolicy(linger_s=5.0))
    task = asyncio.create_task(writer.run())
    await writer.put(_result("r1", "s0"), 0.0)
    await asyncio.sleep(0.05)  # the writer is now lingering for more
    started = time.monotonic()
    await writer.close()
    await task
    assert time.monotonic() - started < 2.0
    assert writer.written == store.count_results("r1") == 1


class PgProxy:
    """A TCP proxy in front of the real PostgreSQL server that can be cut: `down()` resets every open
    connection and stops listening (new connections are refused), `up()` listens on the same port again.
    From the client's side this is the database server going away and coming back."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        import threading

        self.upstream = upstream
        self.port = 0
        self.lock = threading.Lock()
        self.conns: list[socket.socket] = []
        self.listener: socket.socket | None = None
        self.up()

    def up(self) -> None:
        import threading

        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", self.port))
        srv.listen(64)
        self.port = srv.getsockname()[1]
        self.listener = srv
        threading.Thread(target=self._accept, args=(srv,), daemon=True).start()

    def down(self) -> None:
        with self.lock:
            if self.listener is not None:
                self.listener.close()
                self.listener = None
            for conn in self.conns:
                try:
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                conn.close()
            self.conns.clear()

    def _accept(self, srv: socket.socket) -> None:
        import threading

        while True:
            try:
                client, _ = srv.accept()
            except OSError:
                return  # closed by down()
            server = socket.create_connection(self.upstream)
            with self.lock:
                if self.listener is not srv:
                    client.close(), server.close()
                    return
                self.conns += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


@pytest.mark.slow
async def test_postgres_server_going_away_mid_run_stops_clearly_then_resume_finishes(tmp_path: Path) -> None:
    """PostgreSQL disappears mid-run (connections reset, new ones refused): the run stops with an error that
    names the store and the cause; once the server is back, a resume finishes without recomputing anything
    acknowledged."""
    import threading

    from sqlalchemy.engine import make_url

    from conftest import PG_URL, _drop_postgres_database, _fresh_postgres_database

    if not PG_URL:
        pytest.skip("EVALWHEEL_TEST_PG_URL not set (CI starts a PostgreSQL server and sets it)")
    url, name = _fresh_postgres_database()
    real = make_url(url)
    proxy = PgProxy((real.host or "127.0.0.1", real.port or 5432))
    via_proxy = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    n = 40
    spec = load_spec(write_project(tmp_path, n=n, delay=0.05))

    acknowledged: list[str] = []

    def cut_after(k: int) -> None:  # some results committed, others still being computed
        while len(acknowledged) < k:
            time.sleep(0.01)
        proxy.down()

    cutter = threading.Thread(target=cut_after, args=(6,), daemon=True)
    store = Store(via_proxy)
    plan = plan_run(spec)
    try:
        cutter.start()
        error = await run_until_store_gives_up(plan, spec, store, acknowledged)
        await plan.aclose()
        message = str(error)  # names the store (password hidden) and the driver's cause
        assert "stayed unavailable" in message and f":{proxy.port}/" in message and "evalwheel:***@" in message
        assert "OperationalError" in message and "connection" in message.lower()
        run_id = error.run_id
        assert run_id is not None and 0 < len(acknowledged) < n
        proxy.up()  # the server is back
        direct = Store(url)
        assert {r.sample_id for r in direct.iter_results(run_id, with_output=False)} == set(acknowledged)
        before = calls(tmp_path)
        plan = plan_run(spec)
        again = await execute(plan, prepare_dataset(spec.dataset_path), Store(via_proxy), resume=run_id)
        assert again.skipped == len(acknowledged) and again.executed == n - len(acknowledged)
        stored = Counter(r.sample_id for r in direct.iter_results(run_id, with_output=False))
        assert len(stored) == n and set(stored.values()) == {1}
        after = calls(tmp_path)
        assert all(after[sid] == before[sid] == 1 for sid in acknowledged)
        assert direct.get_run(run_id).status == "finished"
    finally:
        await plan.aclose()
        proxy.down()
        _drop_postgres_database(name)
