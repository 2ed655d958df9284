"""The worker with an LLM judge (the scripted judge server, an HTTP test double), error isolation and retries,
and drift against an offline run as the baseline."""

from __future__ import annotations

import json

from evalwheel.graders.registry import grader
from evalwheel.monitor.config import MonitorConfig
from evalwheel.monitor.events import Event
from evalwheel.monitor.queue import Decision, MonitorStore
from evalwheel.monitor.service import window_reports
from evalwheel.monitor.worker import Worker
from evalwheel.store import Store
from evalwheel.types import RunInfo, SampleResult, Score
from scripted_judge import ScriptedJudge, judge


@grader("test.monitor_flaky")
async def _flaky(sample, output, ctx):  # type: ignore[no-untyped-def]
    if "boom" in str(output.text):
        raise RuntimeError("grader bug")
    return Score(name="ok", value=1.0, passed=True)


def _enqueue(st: MonitorStore, texts: list[str]) -> None:
    st.enqueue(
        [
            (
                Event(request_id=f"e{i}", app="a", input="q", output=t, timestamp=1000.0 + i),
                Decision("a", True, 1.0, "t"),
            )
            for i, t in enumerate(texts)
        ]
    )


async def test_judge_grader_scores_and_unscored_on_garbage(store_url: str) -> None:
    st = MonitorStore(store_url)
    _enqueue(st, ["answer one", "answer two", "answer three"])
    replies = [json.dumps({"reason": "fine", "score": 4}), json.dumps({"reason": "poor", "score": 1})]
    replies += ["garbage"] * 3
    async with ScriptedJudge(replies) as srv:
        cfg = MonitorConfig.model_validate(
            {
                "graders": [
                    {"name": "judge.rubric", "config": {"judge_model": judge(srv), "scale_max": 4, "max_repairs": 2}}
                ]
            }
        )
        w = Worker(st, cfg, concurrency=1)
        assert await w.drain() == 3
    assert w.stats.by_status == {"passed": 1, "failed": 1, "unscored": 1}  # an unparseable judge is unscored
    [win] = [r.window for r in window_reports(st, cfg, size_s=3600)]
    assert win.graders["judge.rubric"].graded == 3 and win.graders["judge.rubric"].unscored == 1
    assert win.judge_mean is not None and 0.0 <= win.judge_mean <= 1.0


async def test_a_raising_grader_is_retried_then_stored_as_error(store_url: str) -> None:
    st = MonitorStore(store_url)
    _enqueue(st, ["fine", "boom", "fine too"])
    cfg = MonitorConfig.model_validate({"graders": [{"name": "test.monitor_flaky"}], "max_attempts": 3})
    w = Worker(st, cfg)
    await w.drain()
    assert w.stats.retried == 2 and w.stats.errors == 1
    res = st.result_for(["e0", "e1", "e2"])
    assert [res[k]["status"] for k in ("e0", "e1", "e2")] == ["passed", "error", "passed"]
    assert "grader bug" in res["e1"]["error"]


def test_drift_against_an_offline_run(store_url: str) -> None:
    url = store_url
    store = Store(url)
    store.create_run(RunInfo(run_id="off1", spec_name="support", status="finished"))
    score = {"name": "c.rule", "metadata": {"grader": "c"}}
    store.add_results(
        [
            SampleResult(
                run_id="off1",
                sample_id=f"s{i}",
                partition="distribution",
                status="passed",
                scores=[Score(**score, passed=True)],  # type: ignore[arg-type]
            )
            for i in range(200)
        ]
    )
    st = MonitorStore(url)
    batch = []
    for i in range(200):
        e = Event(request_id=f"e{i}", app="a", input="q", output="x", timestamp=1000.0 + i)
        batch.append((e, Decision("a", True, 1.0, "t")))
    st.enqueue(batch)
    from evalwheel.monitor.queue import GradeResult

    st.complete(
        "w",
        [
            GradeResult(
                f"e{i}", "a", 1000.0 + i, "passed" if i % 4 else "failed", None, 1.0, [{**score, "passed": bool(i % 4)}]
            )
            for i in range(200)
        ],
    )
    [wd] = window_reports(st, MonitorConfig(), size_s=3600, baseline="run:off1")
    assert wd.drift is not None and wd.drift.baseline == "run:off1"
    assert {m.metric for m in wd.drift.drifted} >= {"pass_rate", "pass_rate:c"}
