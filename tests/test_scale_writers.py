"""Concurrent writers on one store (SQLite and PostgreSQL): two runs in parallel lose and duplicate nothing."""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from pathlib import Path

import pytest
import yaml

from evalwheel.runs.api import run_eval
from evalwheel.store import Store

pytestmark = pytest.mark.slow  # two full runs per case, on each backend: 4-9 s


def recorded_project(tmp: Path, n: int = 40) -> Path:
    """A recorded-output spec: every third answer is wrong, two partitions, gates on both."""
    rows, outputs = [], []
    for i in range(n):
        part = "golden" if i < 5 else "distribution"
        rows.append({"id": f"s{i:03d}", "partition": part, "input": f"q{i}", "reference": f"a{i}"})
        outputs.append({"id": f"s{i:03d}", "output": f"a{i}" if i % 3 else "wrong"})
    (tmp / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp / "outputs.jsonl").write_text("".join(json.dumps(o) + "\n" for o in outputs))
    spec = {
        "name": "ray-recorded",
        "dataset": "data.jsonl",
        "solver": {"type": "recorded", "path": "outputs.jsonl"},
        "graders": [{"name": "exact"}, {"name": "contains", "gate": False}],
        "gates": {"distribution": {"min_pass_rate": 0.5}},
        "concurrency": 4,
        "epochs": 2,
    }
    (tmp / "spec.yaml").write_text(yaml.safe_dump(spec))
    return tmp / "spec.yaml"


async def test_two_runs_writing_at_once_lose_nothing(tmp_path: Path, store_url: str) -> None:
    spec = recorded_project(tmp_path, n=300)
    store = Store(store_url)
    a, b = await asyncio.gather(
        run_eval(spec, store=store, baseline="none"), run_eval(spec, store=Store(store_url), baseline="none")
    )
    for r in (a, b):
        stored = Counter((x.sample_id, x.epoch) for x in store.iter_results(r.run_id, with_output=False))
        assert len(stored) == 600 and set(stored.values()) == {1}
        assert r.outcome.run.status == "finished"
    fa, fb = a.summary.figures(), b.summary.figures()
    fa.pop("run_id"), fb.pop("run_id")
    assert fa == fb


def test_runs_from_two_threads_with_their_own_loops(tmp_path: Path, store_url: str) -> None:
    """Two processes' worth of writers: separate event loops, connection pools and transactions."""
    spec = recorded_project(tmp_path, n=200)
    ids: list[str] = []

    def one() -> None:
        ids.append(asyncio.run(run_eval(spec, store=Store(store_url), baseline="none")).run_id)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store = Store(store_url)
    assert len(ids) == 2
    assert [len(list(store.iter_results(i, with_output=False))) for i in ids] == [400, 400]
