"""Fleiss' kappa: chance-corrected agreement of a fixed number of raters (e.g. a judge panel) over many items.

numpy only. Degenerate cases are defined explicitly instead of producing NaN (same conventions as
`evalwheel.stats.agreement`):

- no items, or fewer than 2 raters per item: None (agreement is undefined, never a fake 0 or 1);
- expected agreement P_e == 1 (every rater used one and the same category everywhere): 1.0, because the
  observed agreement is then necessarily perfect.

Per item, the observed agreement is P_i = (sum_j n_ij^2 - n) / (n (n - 1)); P_bar is its mean, p_j the
overall share of category j, P_e = sum_j p_j^2, and kappa = (P_bar - P_e) / (1 - P_e).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np


def fleiss_kappa_counts(counts: np.ndarray | Sequence[Sequence[int]]) -> float | None:
    """Fleiss' kappa from an items x categories count matrix; every row must sum to the same rater count."""
    m = np.asarray(counts, dtype=np.float64)
    if m.ndim != 2:
        raise ValueError(f"counts must be a 2-D items x categories matrix, got shape {m.shape}")
    if m.shape[0] == 0:
        return None
    if (m < 0).any():
        raise ValueError("counts must be non-negative")
    per_item = m.sum(axis=1)
    n = float(per_item[0])
    if not np.allclose(per_item, n):
        raise ValueError("every item needs the same number of ratings (drop or impute items with missing raters)")
    if n < 2:
        return None
    p_i = (np.square(m).sum(axis=1) - n) / (n * (n - 1.0))
    p_bar = float(p_i.mean())
    p_j = m.sum(axis=0) / (m.shape[0] * n)
    p_e = float(np.square(p_j).sum())
    if np.isclose(p_e, 1.0):
        return 1.0
    return (p_bar - p_e) / (1.0 - p_e)


def fleiss_kappa(ratings: Sequence[Sequence[Hashable]]) -> float | None:
    """Fleiss' kappa from per-item rating lists, e.g. `[["pass", "pass", "fail"], ["fail", "fail", "fail"]]`."""
    if not ratings:
        return None
    categories = sorted({r for item in ratings for r in item}, key=repr)
    index = {c: i for i, c in enumerate(categories)}
    counts = np.zeros((len(ratings), len(categories)), dtype=np.int64)
    for row, item in enumerate(ratings):
        for r in item:
            counts[row, index[r]] += 1
    return fleiss_kappa_counts(counts)


def pairwise_agreement(ratings: Sequence[Hashable]) -> float | None:
    """Share of rater pairs that agree on one item (None with fewer than 2 ratings)."""
    n = len(ratings)
    if n < 2:
        return None
    _, counts = np.unique(np.array([repr(r) for r in ratings]), return_counts=True)
    return float((counts * (counts - 1)).sum() / (n * (n - 1)))
