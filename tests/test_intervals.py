"""Confidence intervals used by the replay A/B table."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as st

from evalwheel.stats.intervals import mean_ci, proportion_ci


def test_t_interval_matches_scipy() -> None:
    xs = [0.5, 0.75, 0.8, 0.6, 1.0, 0.9]
    ci = mean_ci(xs)
    low, high = st.t.interval(0.95, df=len(xs) - 1, loc=np.mean(xs), scale=st.sem(xs))
    assert ci.estimate == pytest.approx(np.mean(xs))
    assert ci.low == pytest.approx(low) and ci.high == pytest.approx(high)
    assert ci.n == 6 and ci.method == "t" and ci.confidence == 0.95
    assert mean_ci(xs, confidence=0.99).low < ci.low  # type: ignore[operator]


def test_degenerate_inputs_never_nan() -> None:
    empty = mean_ci([])
    assert empty.estimate is None and empty.low is None and empty.format() == "—"
    one = mean_ci([0.7])
    assert one.estimate == 0.7 and one.low is None and one.format() == "0.70 (n=1)"
    flat = mean_ci([0.5, 0.5, 0.5])
    assert flat.low == flat.high == 0.5
    with pytest.raises(ValueError, match="finite"):
        mean_ci([0.1, math.nan])
    with pytest.raises(ValueError, match="confidence"):
        mean_ci([0.1, 0.2], confidence=1.5)


def test_bootstrap_is_seeded_and_brackets_the_mean() -> None:
    rng = np.random.default_rng(1)
    xs = list(rng.uniform(0, 1, size=40))
    a, b = mean_ci(xs, method="bootstrap", seed=3), mean_ci(xs, method="bootstrap", seed=3)
    assert a == b
    assert a.low is not None and a.high is not None and a.low < a.estimate < a.high  # type: ignore[operator]
    t = mean_ci(xs)
    assert abs((a.high - a.low) - (t.high - t.low)) < 0.05  # type: ignore[operator]
    with pytest.raises(ValueError, match="unknown interval method"):
        mean_ci(xs, method="jackknife")  # type: ignore[arg-type]


def test_t_interval_coverage_is_about_95_percent() -> None:
    rng = np.random.default_rng(0)
    hits = 0
    for _ in range(2000):
        ci = mean_ci(list(rng.normal(0.6, 0.2, size=12)))
        hits += ci.low <= 0.6 <= ci.high  # type: ignore[operator]
    assert 0.93 <= hits / 2000 <= 0.97


def test_bounds_clip_the_interval() -> None:
    wide = mean_ci([0.2, 1.0])
    assert wide.low is not None and wide.low < 0.0 and wide.high is not None and wide.high > 1.0
    clipped = mean_ci([0.2, 1.0], bounds=(0.0, 1.0))
    assert clipped.low == 0.0 and clipped.high == 1.0 and clipped.estimate == wide.estimate


def test_wilson_proportion() -> None:
    ci = proportion_ci(8, 10)
    assert ci.estimate == 0.8 and ci.method == "wilson"
    assert ci.low == pytest.approx(0.4902, abs=1e-3) and ci.high == pytest.approx(0.9433, abs=1e-3)
    zero, full = proportion_ci(0, 5), proportion_ci(5, 5)
    assert zero.low == 0.0 and 0.0 < zero.high < 1.0  # type: ignore[operator]
    assert full.high == 1.0 and 0.0 < full.low < 1.0  # type: ignore[operator]
    assert proportion_ci(0, 0).estimate is None
    with pytest.raises(ValueError):
        proportion_ci(6, 5)
