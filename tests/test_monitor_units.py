"""Monitor building blocks without a server: events, sessions, sampler, re-weighted windows, drift tests."""

from __future__ import annotations

import random

import pytest
from pydantic import ValidationError

from evalwheel.monitor.config import ConfigError, MonitorConfig, SamplerConfig, load_monitor_config
from evalwheel.monitor.drift import adjust, compare_windows
from evalwheel.monitor.events import Event, assemble_sessions
from evalwheel.monitor.sampler import Sampler, unit_hash
from evalwheel.monitor.windows import aggregate


def ev(i: int, **kw: object) -> Event:
    return Event.model_validate({"request_id": f"r{i}", "app": "a", "input": f"q{i}", "timestamp": 1000.0 + i, **kw})


def test_event_requires_ids_and_an_input() -> None:
    with pytest.raises(ValidationError) as info:
        Event.model_validate({"request_id": "x", "app": "a"})
    assert "needs `input` or a non-empty `messages`" in str(info.value)
    with pytest.raises(ValidationError) as info:
        Event.model_validate({"app": "a", "input": "hi"})
    assert "request_id" in str(info.value)
    e = Event.model_validate({"request_id": "x", "app": "a", "messages": [{"role": "user", "content": "hello"}]})
    assert e.question == "hello"
    assert e.to_sample().input == "hello"


def test_turn_events_assemble_into_sessions_in_turn_order() -> None:
    events = [
        ev(2, session_id="s1", turn=1, input="and then?", output="What do you think comes next?"),
        ev(1, session_id="s1", turn=0, input="help me factor x^2-1", output="What do you notice about x^2-1?"),
        ev(3, input="no session"),
    ]
    [s] = assemble_sessions(events, domain="math")
    assert s.session_id == "s1" and s.prompt == "help me factor x^2-1"
    assert [t.role for t in s.trajectory] == ["user", "assistant", "user", "assistant"]
    assert s.trajectory[2].content == "and then?"
    assert s.metadata["events"] == ["r1", "r2"]


def test_sampler_rates_always_rules_and_reproducible_coin() -> None:
    cfg = SamplerConfig(strata=["metadata.route"], default_rate=0.2, rates={"billing": 0.5})
    s = Sampler(cfg)
    decisions = [s.decide(ev(i, metadata={"route": "billing" if i % 2 else "faq"})) for i in range(4000)]
    billing = [d for d in decisions if d.stratum == "billing"]
    faq = [d for d in decisions if d.stratum == "faq"]
    assert all(d.inclusion_prob == 0.5 for d in billing) and all(d.inclusion_prob == 0.2 for d in faq)
    assert abs(sum(d.sampled for d in billing) / len(billing) - 0.5) < 0.05
    assert abs(sum(d.sampled for d in faq) / len(faq) - 0.2) < 0.05
    # the coin is the request id's hash: the same event always gets the same decision
    assert Sampler(cfg).decide(ev(7, metadata={"route": "faq"})).sampled == (unit_hash("r7") < 0.2)
    always = Sampler(SamplerConfig(default_rate=0.0, always={"input_patterns": ["(?i)refund"]}))
    assert always.decide(ev(1, input="I want a REFUND")).reason.startswith("always:pattern")
    assert always.decide(ev(2, error="timeout")).reason == "always:error"
    assert always.decide(ev(3, feedback={"score": -1})).reason == "always:negative_feedback"
    assert always.decide(ev(4)).sampled is False


def test_sampler_oversamples_thin_strata_and_flags_slow_requests() -> None:
    s = Sampler(SamplerConfig(strata=["metadata.k"], default_rate=0.05, min_per_hour=30))
    ds = [s.decide(ev(i, metadata={"k": "thin" if i % 50 == 0 else "fat"})) for i in range(2000)]
    thin = [d for d in ds if d.stratum == "thin"]
    # 40 thin events in this hour: its rate is raised to ~30 / (events so far), not left at 0.05
    assert all(d.inclusion_prob >= 0.75 for d in thin) and {d.reason for d in thin} == {"thin_stratum"}
    fat = [d for d in ds if d.stratum == "fat"][700:]
    assert {d.inclusion_prob for d in fat} == {0.05}
    lat = Sampler(SamplerConfig(default_rate=0.0))
    for i in range(300):
        lat.decide(ev(i, latency_ms=100.0 + i % 10))
    assert lat.p95 is not None and lat.p95 < 120
    assert lat.decide(ev(999, latency_ms=5000.0)).reason == "always:latency_p95"


def test_budget_caps_graded_events_per_hour() -> None:
    s = Sampler(SamplerConfig(default_rate=1.0, budget={"events_per_hour": 10}))
    ds = [s.decide(ev(i)) for i in range(50)]
    assert sum(d.sampled for d in ds) == 10
    assert {d.reason for d in ds[10:]} == {"budget_exhausted"}


def _rows(n: int, seed: int = 1) -> list[dict[str, object]]:
    """A population with a rare stratum that fails often, sampled at very different rates per stratum."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        rare = rng.random() < 0.1
        p = 0.9 if rare else 0.05  # the rare stratum is heavily oversampled
        fail_rate = 0.5 if rare else 0.05
        sampled = rng.random() < p
        passed = rng.random() >= fail_rate
        rows.append(
            {
                "ts": 1000.0 + i * 0.01,
                "is_error": False,
                "latency_ms": 10.0,
                "cost_usd": 0.0,
                "prompt_version": None,
                "sampled": sampled,
                "reason": "stratum",
                "inclusion_prob": p,
                "status": ("passed" if passed else "failed") if sampled else None,
                "scores_json": f'[{{"name": "c", "passed": {str(passed).lower()}, "metadata": {{"grader": "c"}}}}]',
            }
        )
    return rows


def test_window_rates_are_reweighted_to_the_population() -> None:
    rows = _rows(40_000)
    [w] = list(aggregate(rows, "a", 1000.0, 10_000.0))
    truth = 0.1 * 0.5 + 0.9 * 0.95  # population pass rate = 0.905
    assert w.pass_rate.raw_rate is not None and w.pass_rate.estimate is not None
    assert abs(w.pass_rate.raw_rate - truth) > 0.1  # raw rate over graded events is badly biased
    assert abs(w.pass_rate.estimate - truth) < 0.02  # the 1/p weighted estimate is not
    assert w.pass_rate.low is not None and w.pass_rate.high is not None
    assert w.pass_rate.low <= truth <= w.pass_rate.high
    assert w.pass_rate.n_eff < w.graded  # unequal weights cost effective sample size
    assert w.graders["c"].estimate == pytest.approx(w.pass_rate.estimate)


def test_holm_adjustment_and_drift_detection() -> None:
    assert adjust([0.01, 0.04, 0.03], "holm") == pytest.approx([0.03, 0.06, 0.06])
    assert adjust([0.01, 0.5], "bonferroni") == pytest.approx([0.02, 1.0])
    base = next(iter(aggregate(_rows(4000, 1), "a", 1000.0, 10_000.0)))
    same = next(iter(aggregate(_rows(4000, 2), "a", 1000.0, 10_000.0)))
    report = compare_windows(base, same, alpha=0.01)
    assert not report.drifted, report
    worse_rows = _rows(4000, 3)
    for r in worse_rows[::3]:
        if r["status"] == "passed":
            r["status"] = "failed"
    worse = next(iter(aggregate(worse_rows, "a", 1000.0, 10_000.0)))
    report = compare_windows(base, worse, alpha=0.01)
    assert "pass_rate" in {m.metric for m in report.drifted}
    assert all(m.p_adjusted is not None and m.p_adjusted >= (m.p_value or 0) for m in report.metrics)


def test_monitor_config_errors_name_the_field(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "m.yaml"
    bad.write_text("sampler: {default_rate: 2}\nalerts: {rules: [{name: x, kind: nope}]}\n")
    with pytest.raises(ConfigError) as info:
        load_monitor_config(bad)
    assert "sampler.default_rate" in str(info.value) and "alerts.rules.0.kind" in str(info.value)
    assert isinstance(load_monitor_config(None), MonitorConfig)


def test_newest_windows_alone_match_the_full_history(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from evalwheel.monitor.queue import Decision, GradeResult, MonitorStore
    from evalwheel.monitor.service import window_reports

    st = MonitorStore(str(tmp_path / "m.sqlite"))
    rng = random.Random(5)
    batch, done = [], []
    for i in range(3000):
        e = ev(i, timestamp=10_000.0 + i, latency_ms=rng.uniform(50, 150))
        batch.append((e, Decision("a", True, 0.5, "stratum")))
        passed = rng.random() < (0.95 if i < 1800 else 0.7)
        scores = [{"name": "c", "passed": passed, "metadata": {"grader": "c"}}]
        done.append(GradeResult(e.request_id, "a", e.timestamp, "passed" if passed else "failed", None, 0.5, scores))
    st.enqueue(batch)
    st.complete("w", done)
    cfg = MonitorConfig.model_validate({"windows": {"size_s": 300}})
    for mode in ("first", "previous"):
        full = window_reports(st, cfg, baseline=mode)
        recent = window_reports(st, cfg, baseline=mode, last=3)
        assert len(recent) == 3
        for a, b in zip(full[-3:], recent, strict=True):
            assert a.window.model_dump() == b.window.model_dump()
            assert a.drift is not None and b.drift is not None
            assert a.drift.model_dump() == b.drift.model_dump()
        last_drift = full[-1].drift
        assert last_drift is not None
        # against the first window (95%) the 70% tail drifts; against the previous (also 70%) it does not
        assert any(m.metric == "pass_rate" for m in last_drift.drifted) == (mode == "first")
