"""Calibrate any registered grader against human pass/fail labels (`evalwheel calibrate GRADER --labels FILE`).

The grader runs on every labelled item exactly as it would in an eval (same registry, same `GraderContext`);
its `Score.passed` is compared with the human label. Three outcomes are kept apart, because folding any of
them into another would flatter or smear the figures:

- scored: `passed` is True/False; these make the confusion matrix, precision / recall / macro-F1 and kappa;
- unscored: `passed` is None (the grader could not decide); counted, never treated as a fail;
- errors: the grader raised on that item; counted with the first messages, never treated as a fail.

When the grader also produces a numeric `value`, the value is used twice: ROC-AUC against the labels (how well
the value separates pass from fail at any threshold) and a pass threshold tuned on a seeded dev part with the
agreement reported on the held-out part (`calibrate_threshold`; only when the values take more than two
distinct numbers, since a 1.0 / 0.0 value says no more than the verdict). `value >= threshold` is the pass rule, which
is what every thresholded grader here uses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from pydantic import ConfigDict

from evalwheel.basemodel import EvalwheelModel
from evalwheel.calibration.labels import LabelledCase
from evalwheel.calibration.runner import (
    FAIL,
    PASS,
    Progress,
    ThresholdCalibration,
    _run_all,
    _take,
    calibrate_threshold,
)
from evalwheel.graders.registry import GraderContext, get_grader
from evalwheel.stats.agreement import Agreement, agreement
from evalwheel.types import Score

MAX_EXAMPLES = 3  # error / unscored messages kept in the result, enough to see the cause without a flood


class GraderSetupError(ValueError):
    """The grader failed on the very first item: almost always its configuration, so the run stops."""


class GraderCalibration(EvalwheelModel):
    model_config = ConfigDict(extra="forbid")

    task: str = "grader"
    grader: str
    score_name: str | None = None
    n: int
    scored: int
    unscored: int
    errors: int
    positive_label: str = PASS
    agreement: Agreement  # Score.passed vs the label over the scored items; labels ["pass", "fail"]
    valued: int  # items whose score has a numeric value (those feed roc_auc and the threshold)
    roc_auc: float | None
    threshold: ThresholdCalibration | None  # None: the values take at most two distinct numbers
    unscored_examples: list[str]
    error_examples: list[str]


def roc_auc(values: Sequence[float], labels: Sequence[bool]) -> float | None:
    """Area under the ROC curve of `values` for the positive labels (Mann-Whitney U; ties count half).

    None when either class is missing: the area is then undefined, not 0.5.
    """
    if len(values) != len(labels):
        raise ValueError(f"values and labels differ in length: {len(values)} != {len(labels)}")
    pos = int(sum(1 for x in labels if x))
    neg = len(labels) - pos
    if pos == 0 or neg == 0:
        return None
    from scipy.stats import rankdata  # on first use: scipy.stats adds ~0.5 s to every CLI start

    ranks = rankdata(np.asarray(values, dtype=float))
    rank_sum = float(ranks[np.asarray(labels, dtype=bool)].sum())
    return (rank_sum - pos * (pos + 1) / 2) / (pos * neg)


def _pick(result: Score | list[Score], score_name: str | None, grader: str) -> Score:
    """The score to compare: the named one, or the grader's only / last (combined) score."""
    scores = [result] if isinstance(result, Score) else list(result)
    if not scores:
        raise ValueError(f"grader {grader!r} returned no score")
    if score_name is None:
        return scores[-1]
    for s in scores:
        if s.name == score_name:
            return s
    names = ", ".join(s.name for s in scores)
    raise ValueError(f"grader {grader!r} returned no score named {score_name!r} (it returned: {names})")


async def calibrate_grader(
    items: Sequence[LabelledCase],
    grader: str,
    config: Mapping[str, Any] | None = None,
    *,
    score_name: str | None = None,
    limit: int | None = None,
    concurrency: int = 4,
    dev_fraction: float = 0.5,
    seed: int = 0,
    on_progress: Progress | None = None,
) -> GraderCalibration:
    """Run `grader` on every item and measure its agreement with the human labels.

    The first item is graded alone: if it raises, the grader is misconfigured (or cannot run at all) and
    `GraderSetupError` stops the run instead of counting the same error on every item.
    """
    if not 0.0 < dev_fraction < 1.0:
        raise ValueError(f"dev_fraction must be in (0, 1), got {dev_fraction}")
    todo = _take(items, limit)
    grade = get_grader(grader)  # KeyError names the known graders
    ctx = GraderContext(config=dict(config or {}))

    async def one(item: LabelledCase) -> Score | BaseException:
        sample, output = item.to_sample()
        try:
            return _pick(await grade(sample, output, ctx), score_name, grader)
        except Exception as exc:
            return exc

    results: list[Score | BaseException] = []
    if todo:
        first = await one(todo[0])
        if isinstance(first, BaseException):
            raise GraderSetupError(f"grader {grader!r} failed on item {todo[0].id!r}: {first}") from first
        if on_progress is not None:
            on_progress(1)
        results = [first, *await _run_all(todo[1:], one, concurrency, on_progress)]

    gold: list[str] = []
    pred: list[str] = []
    values: list[float] = []
    value_labels: list[bool] = []
    unscored: list[str] = []
    errors: list[str] = []
    for item, res in zip(todo, results, strict=True):
        if isinstance(res, BaseException):
            errors.append(f"{item.id}: {type(res).__name__}: {res}")
            continue
        if res.passed is None:
            unscored.append(f"{item.id}: {res.reason}")
        else:
            gold.append(PASS if item.label else FAIL)
            pred.append(PASS if res.passed else FAIL)
        if res.value is not None:
            values.append(float(res.value))
            value_labels.append(item.label)
    # Two distinct values carry no more than the verdict itself (contains / exact give 1.0 / 0.0): nothing to tune.
    tunable = len(set(values)) > 2
    return GraderCalibration(
        grader=grader,
        score_name=score_name,
        n=len(todo),
        scored=len(gold),
        unscored=len(unscored),
        errors=len(errors),
        agreement=agreement(gold, pred, [PASS, FAIL]),
        valued=len(values),
        roc_auc=roc_auc(values, value_labels) if values else None,
        threshold=calibrate_threshold(values, value_labels, dev_fraction, seed) if tunable else None,
        unscored_examples=unscored[:MAX_EXAMPLES],
        error_examples=errors[:MAX_EXAMPLES],
    )
