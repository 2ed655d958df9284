"""Which results deserve a human label, and in what order.

A label is worth most where the automatic verdict is least certain and matters most. Each candidate's
priority is an estimate of the expected value of labelling it:

    priority = weight(partition) x (H(p) + floor)

where p is the probability that the result passes implied by every signal about it (each grader's verdict
weighted by its confidence, a judge panel's votes, the verdicts of the other arms / models on the same
sample) and H is the binary entropy in bits: 1.0 when the signals are split evenly, 0 when they all agree
with certainty. `floor` is 0.5 for escalations (someone has to act on them whatever the graders think) and
0 otherwise; spot checks are a small random sample per ISO week (so calibration drift shows up even where
graders are confident) and get a low fixed priority. Golden and regression samples weigh more because a
wrong verdict there moves a release gate.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evalwheel.review.models import QueueCandidate
from evalwheel.store import Store
from evalwheel.types import RunInfo, SampleResult, Score

PARTITION_WEIGHT = {"golden": 2.0, "regression": 1.5, "adversarial": 1.5, "distribution": 1.0}
ESCALATION_FLOOR = 0.5
SPOT_PRIORITY = 0.05
DEFAULT_CONFIDENCE = 0.9  # a verdict that states no confidence (a deterministic check) is trusted this much


def binary_entropy(p: float) -> float:
    if p <= 0.0 or p >= 1.0:
        return 0.0
    return -(p * math.log2(p) + (1 - p) * math.log2(1 - p))


def _grader_of(score: Score) -> str:
    return str(score.metadata.get("grader") or score.name.split(".")[0])


def _signals(result: SampleResult, other_arms: dict[str, bool | None]) -> tuple[list[float], list[str]]:
    """Pass probabilities from every independent signal, and the reasons worth showing a reviewer."""
    probs: list[float] = []
    reasons: list[str] = []
    by_grader: dict[str, list[bool]] = defaultdict(list)
    for s in result.scores:
        if s.passed is None:
            continue
        by_grader[_grader_of(s)].append(s.passed)
        votes = s.metadata.get("votes")
        if isinstance(votes, dict) and votes.get("pass") and votes.get("fail"):
            reasons.append(f"judge panel split on {s.name}: {votes['pass']} pass / {votes['fail']} fail")
            probs.append(int(votes["pass"]) / (int(votes["pass"]) + int(votes["fail"])))
        elif s.metadata.get("stable") is False:
            reasons.append(f"the judge's samples vary on {s.name}")
            probs.append(0.5)
    grader_verdicts = {g: all(v) for g, v in by_grader.items()}
    if len(set(grader_verdicts.values())) > 1:
        passing = sorted(g for g, v in grader_verdicts.items() if v)
        failing = sorted(g for g, v in grader_verdicts.items() if not v)
        reasons.append(f"graders disagree: {', '.join(passing)} pass, {', '.join(failing)} fail")
    gating = [s for s in result.scores if s.passed is not None and "votes" not in s.metadata]
    headline = _headline(gating)
    if headline is not None:
        conf = headline.confidence if headline.confidence is not None else DEFAULT_CONFIDENCE
        probs.append(conf if headline.passed else 1 - conf)
    elif result.status in ("passed", "failed"):  # the result's own verdict is always one of the signals
        probs.append(DEFAULT_CONFIDENCE if result.status == "passed" else 1 - DEFAULT_CONFIDENCE)
    if len(grader_verdicts) > 1:
        probs.extend(DEFAULT_CONFIDENCE if v else 1 - DEFAULT_CONFIDENCE for v in grader_verdicts.values())
    disagreeing = [
        arm
        for arm, passed in other_arms.items()
        if passed is not None and (result.status == "passed") != passed and result.status in ("passed", "failed")
    ]
    if disagreeing:
        reasons.append(
            f"{result.status} here, {'passed' if result.status == 'failed' else 'failed'} in "
            + ", ".join(sorted(disagreeing))
        )
    probs.extend(1.0 if p else 0.0 for p in other_arms.values() if p is not None)
    return probs, reasons


def _headline(scores: Sequence[Score]) -> Score | None:
    """The score that decides a session (Study Mode's fidelity) when there is one, else the least confident."""
    for s in scores:
        if s.name == "pedagogical_fidelity":
            return s
    confident = [s for s in scores if s.confidence is not None]
    return min(confident, key=lambda s: s.confidence or 0.0) if confident else None


def _escalation(result: SampleResult) -> str | None:
    for s in result.scores:
        if s.metadata.get("escalate") is True:
            return f"escalated by {s.name}: {s.reason}"[:300]
    if result.status == "error":
        return f"run error: {(result.error or '')[:200]}"
    return None


def candidate_for(
    result: SampleResult, info: RunInfo, other_arms: dict[str, bool | None], *, spot: bool = False
) -> QueueCandidate | None:
    """The queue entry for one result, or None when nothing about it calls for a human."""
    probs, reasons = _signals(result, other_arms)
    escalated = _escalation(result)
    if escalated:
        reasons.insert(0, escalated)
    p = sum(probs) / len(probs) if probs else 0.5
    uncertainty = binary_entropy(p)
    frontier = [r for r in reasons if r != escalated]
    weight = PARTITION_WEIGHT.get(result.partition, 1.0)
    if escalated:
        kind, priority = "escalated", weight * (uncertainty + ESCALATION_FLOOR)
    elif frontier:
        kind, priority = "frontier", weight * max(uncertainty, 0.1)
    elif spot:
        kind, priority = "spot_check", SPOT_PRIORITY
        reasons.append(f"random spot check for week {_week(datetime.now(UTC))}")
    else:
        return None
    return QueueCandidate(
        run_id=result.run_id,
        sample_id=result.sample_id,
        epoch=result.epoch,
        spec_name=info.spec_name,
        arm=info.arm,
        partition=result.partition,
        kind=kind,
        reasons=reasons,
        priority=round(priority, 6),
        output=None if result.output is None else result.output.model_dump(mode="json", exclude_defaults=True),
        scores=[s.model_dump(mode="json", exclude_defaults=True) for s in result.scores],
    )


def _week(now: datetime) -> str:
    year, week, _ = now.isocalendar()
    return f"{year}-W{week:02d}"


def _verdicts(store: Store, run_id: str) -> dict[str, bool | None]:
    out: dict[str, bool | None] = {}
    for r in store.iter_results(run_id, with_output=False):
        if r.epoch == 0:
            out[r.sample_id] = True if r.status == "passed" else False if r.status == "failed" else None
    return out


def _siblings(store: Store, info: RunInfo) -> dict[str, RunInfo]:
    """The latest finished run of each other arm / model of the same spec: the comparison points."""
    out: dict[str, RunInfo] = {}
    for other in store.list_runs(info.spec_name, limit=200):
        if other.run_id == info.run_id or other.status != "finished":
            continue
        key = other.arm or other.model or other.run_id
        if (other.arm, other.model) == (info.arm, info.model) or key in out:
            continue
        out[key] = other
    return out


def snapshot_samples(info: RunInfo, ids: set[str] | None) -> dict[str, dict[str, Any]]:
    """The dataset's samples for these ids (None: all), with input, reference and context, when the run's
    dataset file is still there."""
    path = info.metadata.get("dataset")
    if (ids is not None and not ids) or not isinstance(path, str) or not Path(path).is_file():
        return {}
    from evalwheel.datasets.samples import iter_hashed_samples

    found: dict[str, dict[str, Any]] = {}
    try:
        for item in iter_hashed_samples(Path(path)):
            if ids is None or item.sample.id in ids:
                found[item.sample.id] = item.sample.model_dump(mode="json", exclude_defaults=True)
    except (ValueError, OSError):
        return found
    return found


def build_candidates(
    store: Store, run_ids: Iterable[str], *, spot_checks: int = 5, seed: int | None = None
) -> list[QueueCandidate]:
    """Queue candidates for the given runs: escalations, the disagreement frontier and weekly spot checks."""
    out: list[QueueCandidate] = []
    week = _week(datetime.now(UTC))
    for run_id in run_ids:
        info = store.get_run(run_id)
        siblings = {key: _verdicts(store, other.run_id) for key, other in _siblings(store, info).items()}
        rng = random.Random(f"{seed if seed is not None else week}:{run_id}")
        chosen: list[QueueCandidate] = []
        confident: list[SampleResult] = []
        n_confident = 0
        for r in store.iter_results(run_id):
            others = {key: v.get(r.sample_id) for key, v in siblings.items() if r.sample_id in v}
            c = candidate_for(r, info, others)
            if c is not None:
                chosen.append(c)
            elif r.status in ("passed", "failed"):
                # reservoir sample (uniform, one pass) of the confident results for the spot check
                n_confident += 1
                if len(confident) < spot_checks:
                    confident.append(r)
                else:
                    j = rng.randrange(n_confident)
                    if j < spot_checks:
                        confident[j] = r
        for r in confident:
            c = candidate_for(r, info, {}, spot=True)
            if c is not None:
                chosen.append(c)
        samples = snapshot_samples(info, {c.sample_id for c in chosen})
        for c in chosen:
            c.sample = samples.get(c.sample_id)
        out.extend(chosen)
    return out


def latest_runs(store: Store, limit: int = 20) -> list[str]:
    """The latest finished run of each (spec, arm, model): what `review sync` looks at by default."""
    seen: set[tuple[str, str | None, str | None]] = set()
    ids: list[str] = []
    for info in store.list_runs(limit=500):
        key = (info.spec_name, info.arm, info.model)
        if info.status != "finished" or key in seen:
            continue
        seen.add(key)
        ids.append(info.run_id)
    return ids[:limit]


def monitor_candidates(url: str, limit: int = 200) -> list[QueueCandidate]:
    """Monitoring failures as review-queue items (kind `monitor`): a failed production call needs a human."""
    from evalwheel.monitor import MonitorStore, failure_candidates

    with closing(MonitorStore(url)) as store:  # a second engine on the URL: closed here, not left to the collector
        failures = failure_candidates(store, limit=limit, embed=False)
    out: list[QueueCandidate] = []
    for f in failures:
        if not f.representative:
            continue
        out.append(
            QueueCandidate(
                run_id=f"monitor:{f.app}"[:64],
                sample_id=f.request_id,
                spec_name=f.app,
                partition="distribution",
                kind="monitor",
                reasons=[f"production failure in window {f.window}: " + ", ".join(f.failed_scores)]
                + ([f"{f.cluster_size} similar failures"] if f.cluster_size > 1 else []),
                priority=round(1.0 + 0.1 * min(f.cluster_size, 10), 6),
                sample={"id": f.request_id, "input": f.input},
                output={"text": f.output} if f.output is not None else None,
                scores=[
                    {"name": str(v.get("name", "?")), "passed": False, "reason": str(v.get("reason", ""))}
                    for v in f.verdicts
                ],
            )
        )
    return out
