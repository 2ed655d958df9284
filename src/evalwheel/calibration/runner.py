"""Calibration runners: a judge's figures against human labels.

- `calibrate_pairwise`: the order-swapped pairwise judge (`compare_pair`) on labelled pairs. `accuracy` counts a
  tie (a verdict that flipped with the order) as wrong; `accuracy_ties_half` counts it as half right; both are
  over the scored pairs (unscored pairs are counted separately, never as wrong). Also position consistency,
  the length-bias figure, n, and the agreement (kappa) of the judge's winner A / B / tie with the gold winner.
- `calibrate_faithfulness`: the `faithfulness` grader's `has_hallucinations` against the binary FaithBench
  label (confusion, per-label precision/recall, macro-F1, kappa via `stats.agreement`); items where it is
  undetermined are counted as unscored. The faithfulness score is also threshold-tuned (`calibrate_threshold`).
- `calibrate_threshold`: tune a pass threshold (pass iff score >= threshold) on a seeded dev part by macro-F1
  (ties broken by accuracy, then by the lower threshold) and report the agreement on the held-out part. The
  candidate thresholds are the lowest dev score and the midpoints between neighbouring distinct dev scores.

`limit` takes the first N items; `concurrency` bounds the items judged at once; `on_progress(k)` is called
as items finish.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from pydantic import ConfigDict

import evalwheel.graders.model.faithfulness  # noqa: F401  (registers the `faithfulness` grader)
from evalwheel.basemodel import EvalwheelModel
from evalwheel.calibration.llmbar import LLMBarPair
from evalwheel.datasets.faithbench import FaithBenchItem
from evalwheel.graders.model.pairwise import (
    LabelledPair,
    LengthBias,
    PairVerdict,
    compare_pair,
    length_bias,
    position_consistency,
)
from evalwheel.graders.registry import GraderContext, get_grader
from evalwheel.models.base import Model, ModelError
from evalwheel.stats.agreement import Agreement, agreement
from evalwheel.types import Score

T = TypeVar("T")
R = TypeVar("R")
Progress = Callable[[int], None]
PASS, FAIL = "pass", "fail"
HALLUCINATED, FAITHFUL = "hallucinated", "faithful"


async def _run_all(
    items: Sequence[T], fn: Callable[[T], Awaitable[R]], concurrency: int, on_progress: Progress | None
) -> list[R]:
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency}")
    sem = asyncio.Semaphore(concurrency)

    async def one(item: T) -> R:
        async with sem:
            result = await fn(item)
        if on_progress is not None:
            on_progress(1)
        return result

    return list(await asyncio.gather(*(one(x) for x in items)))


def _take(items: Sequence[T], limit: int | None) -> list[T]:
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    return list(items if limit is None else items[:limit])


# ------------------------------------------------------------------------------------------- threshold


class ThresholdCalibration(EvalwheelModel):
    model_config = ConfigDict(extra="forbid")

    n: int
    n_dev: int
    n_heldout: int
    seed: int
    dev_fraction: float
    threshold: float
    dev: Agreement
    heldout: Agreement


def _pass_fail(scores: Sequence[float], t: float) -> list[str]:
    return [PASS if s >= t else FAIL for s in scores]


def calibrate_threshold(
    scores: Sequence[float], labels: Sequence[bool], dev_fraction: float = 0.5, seed: int = 0
) -> ThresholdCalibration:
    """Tune `pass iff score >= threshold` on a seeded dev part; report agreement on the held-out part.

    `labels[i]` is True when item i should pass. Needs at least 2 items (one per part).
    """
    if len(scores) != len(labels):
        raise ValueError(f"scores and labels differ in length: {len(scores)} != {len(labels)}")
    if not 0.0 < dev_fraction < 1.0:
        raise ValueError(f"dev_fraction must be in (0, 1), got {dev_fraction}")
    n = len(scores)
    if n < 2:
        raise ValueError(f"threshold tuning needs at least 2 scored items, got {n}")
    order = list(range(n))
    random.Random(seed).shuffle(order)
    n_dev = min(max(1, round(n * dev_fraction)), n - 1)
    dev_idx, held_idx = order[:n_dev], order[n_dev:]
    dev_scores = [float(scores[i]) for i in dev_idx]
    dev_gold = [PASS if labels[i] else FAIL for i in dev_idx]
    best: tuple[float, float, float] | None = None
    best_t = dev_scores[0]
    distinct = sorted(set(dev_scores))
    # Candidates: the lowest score (everything passes) and the midpoints between neighbouring dev scores, so
    # the chosen cut lies in a gap of the dev scores rather than on a dev item.
    candidates = [distinct[0]] + [(lo + hi) / 2 for lo, hi in itertools.pairwise(distinct)]
    for t in candidates:
        a = agreement(dev_gold, _pass_fail(dev_scores, t), [PASS, FAIL])
        key = (a.macro_f1 or 0.0, a.accuracy or 0.0, -t)
        if best is None or key > best:
            best, best_t = key, t
    held_scores = [float(scores[i]) for i in held_idx]
    held_gold = [PASS if labels[i] else FAIL for i in held_idx]
    return ThresholdCalibration(
        n=n,
        n_dev=len(dev_idx),
        n_heldout=len(held_idx),
        seed=seed,
        dev_fraction=dev_fraction,
        threshold=best_t,
        dev=agreement(dev_gold, _pass_fail(dev_scores, best_t), [PASS, FAIL]),
        heldout=agreement(held_gold, _pass_fail(held_scores, best_t), [PASS, FAIL]),
    )


# ------------------------------------------------------------------------------------------- pairwise


class PairwiseCalibration(EvalwheelModel):
    model_config = ConfigDict(extra="forbid")

    task: str = "pairwise"
    judge: str
    n: int
    scored: int
    unscored: int
    correct: int
    wrong: int
    ties: int
    accuracy: float | None  # correct / scored (a tie is not correct)
    accuracy_ties_half: float | None  # (correct + ties / 2) / scored
    tie_rate: float | None
    position_consistency: float | None
    length_bias: LengthBias
    # Gold winner vs the judge's (labels A, B, tie) over the scored pairs: the kappa a calibration record keeps.
    agreement: Agreement | None = None


async def calibrate_pairwise(
    pairs: Sequence[LLMBarPair],
    model: Model,
    *,
    limit: int | None = None,
    concurrency: int = 4,
    config: Mapping[str, Any] | None = None,
    on_progress: Progress | None = None,
) -> PairwiseCalibration:
    """Judge every pair in both orders (output_1 is A, output_2 is B) and compare with the labels."""
    todo = _take(pairs, limit)

    async def judge(p: LLMBarPair) -> PairVerdict:
        try:
            return await compare_pair(model, p.input, p.output_1, p.output_2, config)
        except ModelError as exc:  # transport failure after retries: no verdict for this pair, the job goes on
            return PairVerdict(winner=None, consistent=None, first_order=None, second_order=None, failure=str(exc))

    verdicts = await _run_all(todo, judge, concurrency, on_progress)
    scored = [(p, v) for p, v in zip(todo, verdicts, strict=True) if v.winner is not None]
    correct = sum(1 for p, v in scored if v.winner == p.gold)
    ties = sum(1 for _, v in scored if v.winner == "tie")
    k = len(scored)
    labelled = [
        LabelledPair(a=p.output_1, b=p.output_2, gold=p.gold, winner=v.winner)
        for p, v in zip(todo, verdicts, strict=True)
    ]
    return PairwiseCalibration(
        judge=getattr(model, "name", type(model).__name__),
        n=len(todo),
        scored=k,
        unscored=len(todo) - k,
        correct=correct,
        wrong=k - correct - ties,
        ties=ties,
        accuracy=correct / k if k else None,
        accuracy_ties_half=(correct + ties / 2) / k if k else None,
        tie_rate=ties / k if k else None,
        position_consistency=position_consistency(verdicts),
        length_bias=length_bias(labelled),
        agreement=agreement([p.gold for p, _ in scored], [str(v.winner) for _, v in scored], ["A", "B", "tie"]),
    )


# ------------------------------------------------------------------------------------------- faithfulness


class FaithfulnessCalibration(EvalwheelModel):
    model_config = ConfigDict(extra="forbid")

    task: str = "faithfulness"
    judge: str
    n: int
    scored: int
    unscored: int
    positive_label: str = HALLUCINATED
    agreement: Agreement  # has_hallucinations vs the label, over the scored items
    threshold: ThresholdCalibration | None  # faithfulness score tuned as a pass threshold (None: < 2 scores)


async def calibrate_faithfulness(
    items: Sequence[FaithBenchItem],
    model: Model,
    *,
    limit: int | None = None,
    concurrency: int = 4,
    config: Mapping[str, Any] | None = None,
    dev_fraction: float = 0.5,
    seed: int = 0,
    on_progress: Progress | None = None,
) -> FaithfulnessCalibration:
    """Run the `faithfulness` grader on every item and compare `has_hallucinations` with the label."""
    todo = _take(items, limit)
    grade = get_grader("faithfulness")
    ctx = GraderContext(config={**(config or {}), "judge_model": model})

    async def judge(item: FaithBenchItem) -> Score:
        sample, output = item.to_sample()
        try:
            result = await grade(sample, output, ctx)
        except ModelError as exc:  # transport failure after retries: this item is unscored, the job goes on
            return Score(name="faithfulness", value=None, passed=None, reason=f"unscored: judge call failed: {exc}")
        assert isinstance(result, Score)
        return result

    scores = await _run_all(todo, judge, concurrency, on_progress)
    gold: list[str] = []
    pred: list[str] = []
    values: list[float] = []
    faithful_labels: list[bool] = []
    for item, s in zip(todo, scores, strict=True):
        flag = s.metadata.get("has_hallucinations")
        if isinstance(flag, bool):
            gold.append(HALLUCINATED if item.hallucinated else FAITHFUL)
            pred.append(HALLUCINATED if flag else FAITHFUL)
        if s.value is not None:
            values.append(float(s.value))
            faithful_labels.append(not item.hallucinated)
    return FaithfulnessCalibration(
        judge=getattr(model, "name", type(model).__name__),
        n=len(todo),
        scored=len(gold),
        unscored=len(todo) - len(gold),
        agreement=agreement(gold, pred, [HALLUCINATED, FAITHFUL]),
        threshold=calibrate_threshold(values, faithful_labels, dev_fraction, seed) if len(values) >= 2 else None,
    )
