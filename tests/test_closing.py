"""Stores are closed explicitly, so a CLI process may skip the interpreter's final collection (evalwheel.closing).

The CLI freezes its heap at exit (a 500-sample run spent 0.15-0.25 s in that last collection). Anything a
reference cycle kept alive is then never finalized, so every store and cache must be closed by its owner or by
the `close_all` exit hook; otherwise SQLite leaves its write-ahead log beside the file.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from tests.test_runs_live_summary import write_project

from evalwheel.runs.api import run_eval
from evalwheel.runs.spec import load_spec
from evalwheel.store import Store

ROOT = Path(__file__).resolve().parents[1]


def wal(db: Path) -> Path:
    return db.with_name(db.name + "-wal")


async def test_run_eval_closes_the_store_it_opened(tmp_path: Path) -> None:
    spec = write_project(tmp_path, n=12, epochs=1)
    result = await run_eval(load_spec(spec), baseline="none")
    assert not wal(tmp_path / "runs.sqlite").exists()  # closed: the log was folded into the file
    reopened = Store(tmp_path / "runs.sqlite")
    try:
        assert reopened.count_results(result.outcome.run.run_id) == 12
    finally:
        reopened.close()


async def test_run_eval_leaves_a_store_it_was_given_open(tmp_path: Path) -> None:
    spec = write_project(tmp_path, n=6, epochs=1)
    store = Store(tmp_path / "mine.sqlite")
    try:
        result = await run_eval(load_spec(spec), store=store, baseline="none")
        assert store.count_results(result.outcome.run.run_id) == 6  # still usable: the caller owns it
    finally:
        store.close()


EXIT_SCRIPT = """
import sys
from evalwheel import closing
from evalwheel.store import Store
from evalwheel.types import RunInfo

store = Store(sys.argv[1])
if sys.argv[2] != "dropped":
    store.cycle = store  # only the cyclic collector could finalize it
store.create_run(RunInfo(run_id="r1", spec_name="exit"))
if sys.argv[2] != "tracked":
    closing.untrack(store)
if sys.argv[2] == "dropped":
    del store  # dropped without close(): its engine (which SQLAlchemy's own cycles keep alive) is disposed now
closing.freeze_heap_at_exit()
"""


@pytest.mark.parametrize("mode", ["tracked", "untracked", "dropped"])
def test_a_frozen_exit_still_closes_tracked_and_dropped_stores(tmp_path: Path, mode: str) -> None:
    db = tmp_path / "runs.sqlite"
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(EXIT_SCRIPT), str(db), mode], capture_output=True, text=True, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr
    # Without the exit hook (untracked) the store's finalizer still disposes its engine at exit, and a store
    # dropped unclosed is disposed at once; before either, an unclosed connection left its log behind.
    assert not wal(db).exists()
    store = Store(db)
    try:
        assert store.get_run("r1") is not None  # committed either way (WAL mode); only the file layout differs
    finally:
        store.close()


def test_a_cli_run_exits_with_its_store_in_one_file(tmp_path: Path) -> None:
    spec = write_project(tmp_path, n=10, epochs=1)
    cmd = [sys.executable, "-m", "evalwheel.cli", "run", str(spec), "--no-progress", "--baseline", "none"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode in (0, 1), proc.stderr  # 1: the spec's gates may fail; the run itself completed
    assert not wal(tmp_path / "runs.sqlite").exists()
    store = Store(tmp_path / "runs.sqlite")
    try:
        (run,) = store.list_runs()
        assert store.count_results(run.run_id) == 10
    finally:
        store.close()
