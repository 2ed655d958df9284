"""Agreement between a grader's labels and human (gold) labels: accuracy, macro-F1, Cohen's kappa, confusion.

Implemented with numpy so that measuring agreement needs no scikit-learn at run time. Results match
scikit-learn's `accuracy_score`, `f1_score(average="macro")` and `cohen_kappa_score` on
non-degenerate inputs; the degenerate cases are defined explicitly instead of producing NaN/warnings:

- n == 0: accuracy, macro_f1 and kappa are None (nothing was compared; never a fake 0 or 1).
- A label in `labels` that occurs in neither gold nor pred has no defined F1 and is left out of the
  macro average (`per_label[label].f1` is None). A label that occurs in gold but is never predicted
  (or vice versa) has F1 = 0 and *does* count: missing a rare class is a real failure.
- Cohen's kappa when the expected agreement p_e is 1 (both raters used one and the same label for
  every item): kappa is undefined (0 / 0), so None, with the reason in `kappa_note`. Why not 1.0: a label
  set where the humans used one class only cannot show that the grader tells the classes apart, and a 1.0
  passed every `min_agreement` gate. The same holds for the weighted kappa (expected disagreement 0).
- Kappa is otherwise (p_o - p_e) / (1 - p_e); e.g. a grader that always says "pass" against gold that
  is mixed gets kappa 0.0, and systematic disagreement gives negative values down to -1.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import ConfigDict

from evalwheel.basemodel import EvalwheelModel


class LabelStats(EvalwheelModel):
    """Per-label precision/recall/F1 (None where the denominator is 0) and gold support."""

    model_config = ConfigDict(extra="forbid")

    precision: float | None
    recall: float | None
    f1: float | None
    support: int
    predicted: int


class Agreement(EvalwheelModel):
    """Agreement of `pred` with `gold`. `confusion[i][j]` counts gold == labels[i] and pred == labels[j]."""

    model_config = ConfigDict(extra="forbid")

    n: int
    labels: list[str]
    accuracy: float | None
    macro_f1: float | None
    kappa: float | None
    confusion: list[list[int]]
    per_label: dict[str, LabelStats]
    kappa_note: str | None = None  # why `kappa` is None when items were compared (see the module docstring)


def _ratio(num: float, den: float) -> float | None:
    return None if den == 0 else float(num / den)


def confusion_matrix(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    """Counts with rows = gold, cols = pred, in `labels` order."""
    index = {label: i for i, label in enumerate(labels)}
    cm = np.zeros((len(labels), len(labels)), dtype=np.int64)
    if len(gold):
        rows = np.fromiter((index[g] for g in gold), dtype=np.int64, count=len(gold))
        cols = np.fromiter((index[p] for p in pred), dtype=np.int64, count=len(pred))
        np.add.at(cm, (rows, cols), 1)
    return cm


def cohen_kappa(cm: np.ndarray) -> float | None:
    """Cohen's kappa from a confusion matrix; None when it is empty or when p_e == 1 (undefined: one class)."""
    n = float(cm.sum())
    if n == 0:
        return None
    p_o = float(np.trace(cm)) / n
    p_e = float(cm.sum(axis=1) @ cm.sum(axis=0)) / (n * n)
    if np.isclose(p_e, 1.0):
        return None
    return (p_o - p_e) / (1.0 - p_e)


def kappa_undefined_reason(cm: np.ndarray, labels: Sequence[str]) -> str | None:
    """Why kappa is None for a non-empty confusion matrix (both raters used a single class), else None."""
    used = [labels[int(i)] for i in np.flatnonzero(cm.sum(axis=1) + cm.sum(axis=0))]
    if len(used) != 1:
        return None
    return (
        f"kappa undefined: humans and grader used one class only ({used[0]!r}), so chance agreement is 1; "
        "label items of both classes to measure it"
    )


def agreement(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str] | None = None) -> Agreement:
    """Compare two label sequences of equal length.

    `labels` fixes the order (and the label set) of the confusion matrix; it defaults to the sorted
    union of both sequences. A value outside an explicit `labels` raises ValueError, because silently
    dropping it would change n behind the caller's back.
    """
    gold = [str(g) for g in gold]
    pred = [str(p) for p in pred]
    if len(gold) != len(pred):
        raise ValueError(f"gold and pred differ in length: {len(gold)} != {len(pred)}")
    if labels is None:
        label_list = sorted(set(gold) | set(pred))
    else:
        label_list = list(dict.fromkeys(str(x) for x in labels))
        unknown = sorted((set(gold) | set(pred)) - set(label_list))
        if unknown:
            raise ValueError(f"labels not in {label_list}: {unknown}")
    cm = confusion_matrix(gold, pred, label_list)
    n = len(gold)
    tp = np.diag(cm).astype(float)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    per_label: dict[str, LabelStats] = {}
    f1s: list[float] = []
    for i, label in enumerate(label_list):
        precision = _ratio(tp[i], predicted[i])
        recall = _ratio(tp[i], support[i])
        f1 = _ratio(2 * tp[i], support[i] + predicted[i])  # None iff the label never occurs at all
        if f1 is not None:
            f1s.append(f1)
        per_label[label] = LabelStats(
            precision=precision, recall=recall, f1=f1, support=int(support[i]), predicted=int(predicted[i])
        )
    return Agreement(
        n=n,
        labels=label_list,
        accuracy=_ratio(float(tp.sum()), n),
        macro_f1=float(np.mean(f1s)) if f1s and n else None,
        kappa=cohen_kappa(cm),
        confusion=cm.tolist(),
        per_label=per_label,
        kappa_note=kappa_undefined_reason(cm, label_list),
    )


def weighted_kappa(cm: np.ndarray, weights: str = "quadratic") -> float | None:
    """Cohen's weighted kappa for ordinal labels (confusion rows = gold, cols = pred, in scale order).

    Disagreements cost (|i - j| / (k - 1)) ** p, p = 2 for "quadratic" and 1 for "linear", so a 0-vs-2
    disagreement on a 0-2 scale counts four times a 0-vs-1 one (quadratic). Matches scikit-learn's
    `cohen_kappa_score(weights=...)` on non-degenerate input; None for an empty matrix and when the expected
    disagreement is 0 (both raters used a single identical label: undefined, as for `cohen_kappa`).
    """
    n = float(cm.sum())
    k = cm.shape[0]
    if n == 0 or k < 2:
        return None
    power = {"quadratic": 2, "linear": 1}[weights]
    idx = np.arange(k)
    w = (np.abs(idx[:, None] - idx[None, :]) / (k - 1)) ** power
    expected = np.outer(cm.sum(axis=1), cm.sum(axis=0)) / n
    denom = float((w * expected).sum())
    if np.isclose(denom, 0.0):
        return None
    return 1.0 - float((w * cm).sum()) / denom
