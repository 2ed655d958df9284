"""A fresh run's summary is folded from its results as they are committed (runs/api.py, issue 15 speed).

It must be exactly the summary re-read from the store (what `runs show`, a later baseline or `compare` see),
without re-reading the run; a resume, whose earlier results were committed by another execution, re-reads.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from evalwheel.gates import summarize
from evalwheel.runs.api import run_eval
from evalwheel.runs.spec import load_spec
from evalwheel.store import Store

SOLVER = """
from evalwheel.types import Output

async def answer(sample, ctx):
    if sample.metadata.get("explode"):
        raise RuntimeError("boom in the user's app")
    if sample.metadata.get("wrong"):
        return "nope"
    return Output(text=sample.reference, latency_ms=12.5)
"""


def write_project(tmp: Path, n: int = 30, epochs: int = 2) -> Path:
    lines = []
    for i in range(n):
        meta = {"wrong": i % 5 == 1, "explode": i % 7 == 3}
        part = "golden" if i < 4 else "distribution"
        row = {"id": f"s{i:03d}", "partition": part, "input": f"q{i}", "reference": f"a{i}", "metadata": meta}
        lines.append(json.dumps(row))
    (tmp / "data.jsonl").write_text("\n".join(lines) + "\n")
    (tmp / "app.py").write_text(SOLVER)
    spec = {
        "name": "live-summary",
        "dataset": "data.jsonl",
        "solver": {"type": "python", "function": "app.py:answer"},
        "graders": [{"name": "exact"}],
        "gates": {"golden": {"min_pass_rate": 0.5}, "max_error_rate": 0.5},
        "epochs": epochs,
        "concurrency": 4,
        "store": "runs.sqlite",
    }
    (tmp / "spec.yaml").write_text(yaml.safe_dump(spec))
    return tmp / "spec.yaml"


def count_rereads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    original = Store.iter_results

    def spy(self: Store, run_id: str, **kw: object):  # type: ignore[no-untyped-def]
        calls.append(run_id)
        return original(self, run_id, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(Store, "iter_results", spy)
    return calls


async def test_fresh_run_summary_equals_the_stored_one_without_rereading(
    tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = load_spec(write_project(tmp_path))
    rereads = count_rereads(monkeypatch)
    result = await run_eval(spec, store=store_url, baseline="none")
    assert rereads == []  # folded while the run committed, not read back
    store = Store(store_url)
    stored = summarize(store.iter_results(result.run_id, with_output=False))
    assert result.summary == stored
    assert result.summary.figures() == stored.figures()
    counts = result.summary.overall
    assert (counts.n, counts.samples) == (60, 30)  # 30 samples x 2 epochs
    assert counts.errors > 0 and counts.failed > 0 and counts.passed > 0
    assert {s.sample_id for s in result.summary.failing_samples()} == {s.sample_id for s in stored.failing_samples()}
    assert result.summary.failing_samples()  # the run really has failures and errors to compare


async def test_resume_rereads_the_stored_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = load_spec(write_project(tmp_path, n=12, epochs=1))
    first = await run_eval(spec, baseline="none", limit=5)  # interrupted by the limit: 5 of 12 stored
    assert first.summary.overall.samples == 5
    rereads = count_rereads(monkeypatch)
    resumed = await run_eval(spec, baseline="none", resume=first.run_id)
    assert rereads == [first.run_id]  # earlier executions' results come from the store
    assert resumed.summary.overall.samples == 12
    store = Store(spec.resolve("runs.sqlite"))
    assert resumed.summary == summarize(store.iter_results(first.run_id, with_output=False))
