"""The prompt solver against the fake OpenAI-compatible server (a test double for the HTTP protocol):
outputs stored, the cached re-run, the dry-run estimate counting cached calls, server errors isolated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalwheel.runs.api import run_eval
from evalwheel.runs.dataset_source import prepare_dataset
from evalwheel.runs.estimate import estimate_run
from evalwheel.runs.preflight import PROBE_MESSAGES
from evalwheel.runs.spec import spec_from_dict
from evalwheel.store import Store
from evalwheel.types import SampleResult
from scripted_judge import ScriptedJudge


def project(tmp: Path, base_url: str, n: int = 6) -> dict[str, object]:
    rows = [
        {"id": f"p{i}", "partition": "distribution", "input": f"word{i}", "reference": f"echo: word{i}"}
        for i in range(n)
    ]
    (tmp / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return {
        "name": "prompt-test",
        "dataset": "d.jsonl",
        "solver": {"type": "prompt", "model": f"{base_url}#fake", "template": "Say {input}", "max_tokens": 16},
        "graders": [{"name": "exact"}],
        "gates": {"distribution": {"min_pass_rate": 1.0}},
        "store": "runs.sqlite",
        "concurrency": 3,
    }


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVALWHEEL_CACHE_DIR", str(tmp_path / "cache"))


async def test_prompt_solver_cached_rerun_and_dry_run(tmp_path: Path) -> None:
    def reply(body: dict[str, object]) -> str:
        messages = body["messages"]
        assert isinstance(messages, list)
        return "echo: " + str(messages[-1]["content"]).removeprefix("Say ")

    async with ScriptedJudge(fn=reply) as srv:
        raw = project(tmp_path, srv.base_url)
        spec = spec_from_dict(raw, base_dir=tmp_path)
        first = await run_eval(spec)
        assert first.summary.overall.passed == 6 and first.report.exit_code == 0
        calls_after_first = len(solver_calls(srv))
        assert calls_after_first == 6
        est = estimate_run(spec, prepare_dataset(spec.dataset_path), None)
        assert est.cached_calls == 6 and est.model_calls == 0
        second = await run_eval(spec)
        assert len(solver_calls(srv)) == calls_after_first  # every answer came from the cache
        outputs = [r.output for r in stored_results(second.run_id, tmp_path)]
        assert all(o is not None and o.cached for o in outputs)


def solver_calls(srv: ScriptedJudge) -> list[dict[str, object]]:
    """The requests the runs made, without the one preflight probe per run (runs/preflight.py)."""
    probe = [m.model_dump() for m in PROBE_MESSAGES]
    return [b for b in srv.bodies if b["messages"] != probe]


def stored_results(run_id: str, tmp: Path) -> list[SampleResult]:
    return list(Store(tmp / "runs.sqlite").iter_results(run_id))


async def test_server_errors_are_isolated_and_exit_3(tmp_path: Path) -> None:
    async with ScriptedJudge(script=["500"] * 100) as srv:
        raw = project(tmp_path, srv.base_url, n=3)
        spec = spec_from_dict(raw, base_dir=tmp_path)
        result = await run_eval(spec, cache=False)
    assert result.summary.overall.errors == 3
    assert int(result.report.exit_code) == 3
    stored = stored_results(result.run_id, tmp_path)
    assert all(r.status == "error" and "500" in (r.error or "") for r in stored)


async def test_budget_stops_scheduling_new_samples(tmp_path: Path) -> None:
    """A priced model (gpt-4o-mini's list price) and a budget of a few calls: the run stops, says so,
    and keeps what it did; resuming with a larger budget finishes it."""
    async with ScriptedJudge(fn=lambda body: "word " * 200) as srv:
        raw = project(tmp_path, srv.base_url, n=30)
        raw["solver"]["model"] = f"{srv.base_url}#gpt-4o-mini"  # type: ignore[index]
        raw["concurrency"] = 1
        raw["budget"] = {"max_usd": 0.0003}  # 200 output tokens at $0.60/M = $0.00012 per call
        spec = spec_from_dict(raw, base_dir=tmp_path)
        first = await run_eval(spec, cache=False)
        assert first.outcome.budget_exhausted and first.outcome.run.status == "interrupted"
        assert 2 <= first.outcome.executed <= 4 and len(solver_calls(srv)) == first.outcome.executed
        assert first.outcome.cost_usd >= 0.0003
        raw["budget"] = {"max_usd": 1.0}
        more = await run_eval(spec_from_dict(raw, base_dir=tmp_path), cache=False, resume=first.run_id)
    assert more.outcome.skipped == first.outcome.executed
    assert more.summary.overall.n == 30 and more.outcome.run.status == "finished"
