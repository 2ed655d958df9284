"""Window aggregates: what happened in each time slice, with pass rates re-weighted to the population.

Every event is counted for volume, errors, latency and cost. Only sampled events are graded, and they were
sampled with unequal probabilities (thin strata and always-sample rules oversampled), so a raw pass rate over
graded events is biased toward whatever was oversampled. Each graded event therefore carries weight 1/p, its
inclusion probability's inverse, and a rate is the Hajek estimate sum(w * pass) / sum(w). Its interval is a
Wilson interval on Kish's effective sample size n_eff = (sum w)^2 / sum(w^2), which equals n when all
weights are equal and shrinks as they spread.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from pydantic import Field

from evalwheel.basemodel import EvalwheelModel
from evalwheel.stats.intervals import proportion_ci

JUDGE_PREFIXES = ("judge", "faithfulness", "studymode.judge")  # graders whose score is a judge's verdict
HALLUCINATION_GRADERS = ("faithfulness",)


class RateStat(EvalwheelModel):
    """A pass rate: raw over graded events, and re-weighted by 1/inclusion probability (`estimate`)."""

    graded: int = 0
    passed: int = 0
    failed: int = 0
    unscored: int = 0
    raw_rate: float | None = None
    estimate: float | None = None
    low: float | None = None
    high: float | None = None
    n_eff: float = 0.0


class WindowReport(EvalwheelModel):
    app: str | None
    start: float
    end: float
    start_iso: str
    volume: int = 0
    sampled: int = 0
    graded: int = 0
    errors: int = 0
    error_rate: float | None = None
    latency_p50: float | None = None
    latency_p95: float | None = None
    latency_p99: float | None = None
    cost_usd: float = 0.0
    pass_rate: RateStat = Field(default_factory=RateStat)
    graders: dict[str, RateStat] = Field(default_factory=dict)
    judge_mean: float | None = None
    judge_p10: float | None = None
    hallucination_rate: float | None = None
    prompt_versions: dict[str, int] = Field(default_factory=dict)
    sample_reasons: dict[str, int] = Field(default_factory=dict)
    # raw per-event values, kept for drift tests (not serialised in reports)
    judge_values: list[float] = Field(default_factory=list, exclude=True)
    latencies: list[float] = Field(default_factory=list, exclude=True)


class _Acc:
    """Weighted pass/fail counts for one rate."""

    __slots__ = ("fail", "graded", "passed", "sw", "sw2", "swp", "unscored")

    def __init__(self) -> None:
        self.graded = self.passed = self.fail = self.unscored = 0
        self.sw = self.sw2 = self.swp = 0.0

    def add(self, outcome: bool | None, weight: float) -> None:
        self.graded += 1
        if outcome is None:
            self.unscored += 1
            return
        self.passed += outcome
        self.fail += not outcome
        self.sw += weight
        self.sw2 += weight * weight
        self.swp += weight * outcome

    def stat(self) -> RateStat:
        scored = self.passed + self.fail
        if scored == 0:
            return RateStat(graded=self.graded, unscored=self.unscored)
        est = self.swp / self.sw
        n_eff = self.sw * self.sw / self.sw2
        k = max(1, round(n_eff))
        ci = proportion_ci(min(k, max(0, round(est * k))), k)
        return RateStat(
            graded=self.graded,
            passed=self.passed,
            failed=self.fail,
            unscored=self.unscored,
            raw_rate=self.passed / scored,
            estimate=est,
            low=ci.low,
            high=ci.high,
            n_eff=n_eff,
        )


def _pct(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    idx = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[idx]


def grader_outcomes(scores: list[dict[str, Any]]) -> dict[str, bool | None]:
    """Per grader: False if any of its scores failed, None if none was scored, else True."""
    out: dict[str, bool | None] = {}
    for s in scores:
        name = str(s.get("metadata", {}).get("grader", s.get("name")))
        passed = s.get("passed")
        if passed is False:
            out[name] = False
        elif passed is True and out.get(name) is not False:
            out[name] = True
        else:
            out.setdefault(name, None)
    return out


class _WindowAcc:
    def __init__(self, app: str | None, start: float, end: float) -> None:
        self.report = WindowReport(app=app, start=start, end=end, start_iso=iso(start))
        self.overall = _Acc()
        self.graders: dict[str, _Acc] = {}
        self.halluc = _Acc()

    def add(self, row: Any) -> None:
        r = self.report
        r.volume += 1
        r.errors += bool(row["is_error"])
        if row["latency_ms"] is not None:
            r.latencies.append(float(row["latency_ms"]))
        r.cost_usd += float(row["cost_usd"] or 0.0)
        if row["prompt_version"] is not None:
            r.prompt_versions[row["prompt_version"]] = r.prompt_versions.get(row["prompt_version"], 0) + 1
        if not row["sampled"]:
            return
        r.sampled += 1
        r.sample_reasons[row["reason"]] = r.sample_reasons.get(row["reason"], 0) + 1
        if row["status"] is None:
            return
        r.graded += 1
        weight = 1.0 / max(float(row["inclusion_prob"]), 1e-9)
        status = row["status"]
        self.overall.add(None if status in ("unscored", "error") else status == "passed", weight)
        scores = json.loads(row["scores_json"] or "[]")
        for name, outcome in grader_outcomes(scores).items():
            self.graders.setdefault(name, _Acc()).add(outcome, weight)
            if name in HALLUCINATION_GRADERS:
                self.halluc.add(None if outcome is None else not outcome, weight)
        for s in scores:
            meta = s.get("metadata", {})
            if str(meta.get("grader", "")).startswith(JUDGE_PREFIXES) and s.get("value") is not None:
                # judges on different scales compare on their normalised [0, 1] value when they report one
                r.judge_values.append(float(meta.get("normalized", s["value"])))

    def finish(self) -> WindowReport:
        r = self.report
        r.error_rate = r.errors / r.volume if r.volume else None
        lat = sorted(r.latencies)
        r.latency_p50, r.latency_p95, r.latency_p99 = _pct(lat, 0.5), _pct(lat, 0.95), _pct(lat, 0.99)
        r.pass_rate = self.overall.stat()
        r.graders = {k: v.stat() for k, v in sorted(self.graders.items())}
        if r.judge_values:
            jv = sorted(r.judge_values)
            r.judge_mean = sum(jv) / len(jv)
            r.judge_p10 = _pct(jv, 0.10)
        h = self.halluc.stat()
        r.hallucination_rate = h.estimate
        return r


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def aggregate(rows: Iterable[Any], app: str | None, start: float, size_s: float) -> Iterator[WindowReport]:
    """Fold time-ordered rows into consecutive windows of `size_s` seconds aligned to `start`."""
    acc: _WindowAcc | None = None
    for row in rows:
        idx = int((float(row["ts"]) - start) // size_s)
        w_start = start + idx * size_s
        if acc is None or acc.report.start != w_start:
            if acc is not None:
                yield acc.finish()
            acc = _WindowAcc(app, w_start, w_start + size_s)
        acc.add(row)
    if acc is not None:
        yield acc.finish()


def compute_windows(
    store: Any, app: str | None = None, size_s: float = 300.0, start: float | None = None, end: float | None = None
) -> list[WindowReport]:
    """Windows over [start, end) (default: all stored events), aligned to multiples of `size_s`."""
    span = store.time_range(app)
    if span is None:
        return []
    lo = start if start is not None else math.floor(span[0] / size_s) * size_s
    hi = end if end is not None else span[1] + 1e-6
    return list(aggregate(store.iter_window_rows(app, lo, hi), app, lo, size_s))


def run_baseline(store_target: str | None, run_id: str) -> WindowReport:
    """An offline run as a drift baseline: its results' pass rates (all weights 1; a run grades everything)."""
    from evalwheel.store import Store

    store = Store(store_target)
    try:
        info = store.get_run(run_id)
        acc = _WindowAcc(info.spec_name, 0.0, 0.0)
        for res in store.iter_results(run_id, with_output=False):
            scores = [s.model_dump(mode="json", exclude_defaults=True) for s in res.scores]
            acc.add(
                {
                    "is_error": res.status == "error",
                    "latency_ms": None,
                    "cost_usd": 0.0,
                    "prompt_version": None,
                    "sampled": True,
                    "reason": "offline_run",
                    "status": res.status,
                    "inclusion_prob": 1.0,
                    "scores_json": json.dumps(scores),
                }
            )
    finally:
        store.close()
    return acc.finish()
