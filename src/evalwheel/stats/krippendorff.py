"""Krippendorff's alpha for any number of raters, missing ratings allowed.

Cohen's kappa needs exactly two raters who rated the same items; review queues are messier (some items
have one reviewer, some two, a few three). Alpha uses every unit with at least two ratings and compares
observed disagreement with the disagreement expected by chance from the pooled values:

    alpha = 1 - D_o / D_e

computed from the coincidence matrix (each ordered pair of values within a unit counts 1 / (m_u - 1)).
`nominal` treats values as categories; `interval` uses the squared difference (for 1-5 anchored scales).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Literal

Metric = Literal["nominal", "interval"]


def _delta(a: Hashable, b: Hashable, metric: Metric) -> float:
    if metric == "nominal":
        return 0.0 if a == b else 1.0
    return (float(a) - float(b)) ** 2  # type: ignore[arg-type]


def krippendorff_alpha(units: Sequence[Sequence[Hashable | None]], metric: Metric = "nominal") -> float | None:
    """Alpha over units (one list of ratings per item; None = not rated). None when it is undefined: fewer
    than two pairable ratings, or no variation at all in the pooled values (chance disagreement is 0)."""
    weights: dict[tuple[Hashable, Hashable], float] = {}
    for unit in units:
        values = [v for v in unit if v is not None]
        m = len(values)
        if m < 2:
            continue
        for i, a in enumerate(values):
            for j, b in enumerate(values):
                if i != j:
                    weights[(a, b)] = weights.get((a, b), 0.0) + 1.0 / (m - 1)
    if not weights:
        return None
    totals: dict[Hashable, float] = {}
    for (a, _b), w in weights.items():
        totals[a] = totals.get(a, 0.0) + w
    n = sum(totals.values())
    if n <= 1:
        return None
    observed = sum(w * _delta(a, b, metric) for (a, b), w in weights.items()) / n
    values = list(totals)
    expected = sum(totals[a] * totals[b] * _delta(a, b, metric) for a in values for b in values if a != b) / (
        n * (n - 1)
    )
    if expected == 0.0:
        return None
    return 1.0 - observed / expected
