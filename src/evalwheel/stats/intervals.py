"""Confidence intervals for small samples of per-session scores and pass rates.

A/B tables of tutoring arms are read by people deciding whether an overlay change helped; with a dozen
sessions per arm the interval, not the mean, carries that answer, so every mean is reported with one.
Degenerate inputs (no data, one value, zero variance) give explicit results instead of NaN.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import Any, Literal

from pydantic import ConfigDict, Field

from evalwheel.basemodel import EvalwheelModel


def _scipy_stats() -> Any:
    """scipy.stats, imported on first use: it costs ~0.5 s of start-up that most commands never need."""
    from scipy import stats

    return stats


Method = Literal["t", "bootstrap"]


class Interval(EvalwheelModel):
    """A point estimate with its two-sided interval; `low`/`high` are None when undefined (n < 2)."""

    model_config = ConfigDict(extra="forbid")

    estimate: float | None
    low: float | None
    high: float | None
    n: int = Field(ge=0)
    confidence: float
    method: str

    def format(self, digits: int = 2) -> str:
        """Human form used in tables: `0.72 [0.61, 0.83]`, `0.50 (n=1)` or `—`."""
        if self.estimate is None:
            return "—"
        if self.low is None or self.high is None:
            return f"{self.estimate:.{digits}f} (n={self.n})"
        return f"{self.estimate:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def mean_ci(
    values: Sequence[float],
    confidence: float = 0.95,
    method: Method = "t",
    n_boot: int = 10_000,
    seed: int = 0,
    bounds: tuple[float, float] | None = None,
) -> Interval:
    """Mean with a Student-t interval (default) or a percentile bootstrap interval.

    The t-interval is the honest default for a few dozen bounded scores; the bootstrap is offered for
    skewed data. The bootstrap is seeded so a report is reproducible run to run. `bounds` clips the
    interval to the score's possible range (fidelity lives in [0, 1]): with two sessions a t-interval
    can reach past 1, and printing "1.55" would only confuse the reader.
    """
    import numpy as np  # here, not at the top: the gates import this module on every run

    _check_confidence(confidence)
    xs = np.asarray([float(v) for v in values], dtype=float)
    if xs.size and not np.all(np.isfinite(xs)):
        raise ValueError("values must be finite (drop unscored sessions before computing an interval)")
    n = int(xs.size)
    if n == 0:
        return Interval(estimate=None, low=None, high=None, n=0, confidence=confidence, method=method)
    mean = float(xs.mean())
    if n == 1:
        return Interval(estimate=mean, low=None, high=None, n=1, confidence=confidence, method=method)
    if method == "t":
        sem = float(xs.std(ddof=1)) / math.sqrt(n)
        if sem == 0.0:
            low = high = mean
        else:
            tcrit = float(_scipy_stats().t.ppf(0.5 + confidence / 2.0, df=n - 1))
            low, high = mean - tcrit * sem, mean + tcrit * sem
    elif method == "bootstrap":
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, n, size=(n_boot, n))
        means = xs[idx].mean(axis=1)
        alpha = (1.0 - confidence) / 2.0
        low, high = (float(q) for q in np.quantile(means, [alpha, 1.0 - alpha]))
    else:
        raise ValueError(f"unknown interval method {method!r}; use 't' or 'bootstrap'")
    if bounds is not None:
        low, high = max(bounds[0], low), min(bounds[1], high)
    return Interval(estimate=mean, low=low, high=high, n=n, confidence=confidence, method=method)


def proportion_ci(successes: int, n: int, confidence: float = 0.95) -> Interval:
    """Wilson score interval for a pass rate: stays inside [0, 1] and behaves at 0/n and n/n."""
    _check_confidence(confidence)
    if n < 0 or not 0 <= successes <= max(n, 0):
        raise ValueError(f"need 0 <= successes <= n, got {successes}/{n}")
    if n == 0:
        return Interval(estimate=None, low=None, high=None, n=0, confidence=confidence, method="wilson")
    p = successes / n
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)  # stdlib: no scipy import for every gate
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return Interval(
        estimate=p,
        low=0.0 if successes == 0 else max(0.0, centre - half),  # exact at the edges, not 1e-17 off
        high=1.0 if successes == n else min(1.0, centre + half),
        n=n,
        confidence=confidence,
        method="wilson",
    )


class TestResult(EvalwheelModel):
    """A hypothesis test: its name, statistic (None where it has no useful scalar), p-value and df.

    Lives here, beside `Interval`, rather than in `stats.compare`: reports that only carry test results (the Study
    Mode A/B tables) can import it without numpy and scipy.
    """

    model_config = ConfigDict(extra="forbid")

    name: str
    statistic: float | None
    p_value: float | None
    df: float | None = None
