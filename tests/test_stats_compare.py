"""Run-vs-run statistics: primitives against textbook values, then the verdict logic of compare_runs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError
from scipy import stats as st

from evalwheel.stats import Outcome, compare_runs
from evalwheel.stats.compare import (
    Discordant,
    cohen_d,
    cohen_dz,
    cohen_h,
    mcnemar_test,
    mde_mean,
    mde_proportion,
    newcombe_diff_ci,
    newcombe_paired_diff_ci,
    two_proportion_test,
    welch_test,
    wilcoxon_test,
)

# ---------------------------------------------------------------- McNemar


def test_mcnemar_chi_square_on_agresti_approval_table() -> None:
    # Agresti, Categorical Data Analysis: presidential approval in two surveys of the same 1,600 people,
    # table (794, 150 / 86, 570). Uncorrected z² = 64²/236 = 17.36; with continuity correction 63²/236.
    res = mcnemar_test(a_only=150, b_only=86)
    assert res.name == "mcnemar-chi2-cc" and res.df == 1
    assert res.statistic == pytest.approx(3969 / 236)  # 16.818
    assert res.p_value == pytest.approx(4.11e-5, rel=1e-2)


def test_mcnemar_exact_for_few_discordant_pairs() -> None:
    # 1 vs 9 discordant: two-sided binomial p = 2 * (C(10,0) + C(10,1)) / 2^10 = 22/1024.
    res = mcnemar_test(1, 9)
    assert res.name == "mcnemar-exact"
    assert res.p_value == pytest.approx(22 / 1024)
    assert mcnemar_test(9, 1).p_value == pytest.approx(22 / 1024)  # symmetric
    assert mcnemar_test(12, 12).p_value == pytest.approx(1.0)
    assert mcnemar_test(0, 0).p_value == 1.0
    assert mcnemar_test(12, 12).name == "mcnemar-exact"  # 24 discordant: still exact
    assert mcnemar_test(12, 13).name == "mcnemar-chi2-cc"  # 25: chi-square
    with pytest.raises(ValueError, match="discordant"):
        mcnemar_test(-1, 3)


# ---------------------------------------------------------------- unpaired proportions


def test_two_proportion_z_matches_hand_computation_and_chi_square() -> None:
    # 48/80 vs 56/70: pooled p = 104/150, se = sqrt(p(1-p)(1/80 + 1/70)), z = 0.2 / se = 2.650.
    res = two_proportion_test(48, 80, 56, 70)
    pooled = 104 / 150
    z = (56 / 70 - 48 / 80) / math.sqrt(pooled * (1 - pooled) * (1 / 80 + 1 / 70))
    assert res.name == "two-proportion-z"
    assert res.statistic == pytest.approx(z) and res.statistic == pytest.approx(2.650, abs=1e-3)
    chi2, p, _, _ = st.chi2_contingency([[48, 32], [56, 14]], correction=False)
    assert res.statistic**2 == pytest.approx(chi2) and res.p_value == pytest.approx(p)


def test_two_proportion_switches_to_fisher_for_small_cells() -> None:
    # 1/10 vs 5/10: P(table) is hypergeometric; two-sided p sums tables no more likely than the observed.
    res = two_proportion_test(1, 10, 5, 10)
    assert res.name == "fisher-exact" and res.statistic is None
    probs = [math.comb(10, k) * math.comb(10, 6 - k) / math.comb(20, 6) for k in range(7)]
    assert res.p_value == pytest.approx(sum(q for q in probs if q <= probs[1] * (1 + 1e-7)))
    assert two_proportion_test(10, 10, 10, 10).p_value == pytest.approx(1.0)  # all pass: no division by zero


def test_newcombe_unpaired_matches_published_examples() -> None:
    # Newcombe (1998) Stat Med 17:873, method 10: 56/70 - 48/80 -> 0.0524 to 0.3339; 9/10 - 3/10 -> 0.1705 to 0.8090.
    ci = newcombe_diff_ci(48, 80, 56, 70)
    assert ci.estimate == pytest.approx(0.2)
    assert ci.low == pytest.approx(0.0524, abs=1e-4) and ci.high == pytest.approx(0.3339, abs=1e-4)
    ci = newcombe_diff_ci(3, 10, 9, 10)
    assert ci.low == pytest.approx(0.1705, abs=1e-4) and ci.high == pytest.approx(0.8090, abs=1e-4)


def test_newcombe_paired_reduces_to_unpaired_when_phi_is_zero_and_narrows_when_positive() -> None:
    # phi = (4*1 - 2*2)/... = 0: the paired interval is the square-and-add of two Wilson intervals of n = 9.
    flat = newcombe_paired_diff_ci(Discordant(both_pass=4, a_only=2, b_only=2, both_fail=1))
    ref = newcombe_diff_ci(6, 9, 6, 9)
    assert flat.low == pytest.approx(ref.low) and flat.high == pytest.approx(ref.high)
    # Highly agreeing runs (phi > 0): much narrower than treating them as independent.
    tight = newcombe_paired_diff_ci(Discordant(both_pass=60, a_only=8, b_only=2, both_fail=30))
    loose = newcombe_diff_ci(68, 100, 62, 100)
    assert tight.estimate == pytest.approx(-0.06)
    assert tight.low is not None and tight.high is not None and loose.low is not None and loose.high is not None
    assert tight.high - tight.low < 0.6 * (loose.high - loose.low)
    assert tight.low < -0.06 < tight.high


def test_newcombe_paired_agrees_with_paired_bootstrap() -> None:
    table = Discordant(both_pass=50, a_only=14, b_only=4, both_fail=32)
    ci = newcombe_paired_diff_ci(table)
    rng = np.random.default_rng(0)
    # Per-pair difference b - a takes -1 (a_only), +1 (b_only) or 0.
    d = np.array([-1] * 14 + [1] * 4 + [0] * 82, dtype=float)
    boots = d[rng.integers(0, 100, size=(20_000, 100))].mean(axis=1)
    lo, hi = np.quantile(boots, [0.025, 0.975])
    assert ci.estimate == pytest.approx(-0.10)
    assert ci.low == pytest.approx(lo, abs=0.015) and ci.high == pytest.approx(hi, abs=0.015)


# ---------------------------------------------------------------- scores


def test_welch_matches_textbook_examples() -> None:
    # The two worked examples of Welch's t-test (Wikipedia): t = -2.46, df = 24.99, p = 0.021 and
    # t = -1.57, df = 9.90, p = 0.149 for A1 - A2; welch_test reports B - A, so the sign flips.
    a1 = [27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4]
    a2 = [27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4]
    res, ci = welch_test(a1, a2)
    assert res.statistic == pytest.approx(2.46, abs=0.005)
    assert res.df == pytest.approx(24.99, abs=0.01) and res.p_value == pytest.approx(0.021, abs=0.001)
    # Hand computation of t and the Welch–Satterthwaite df.
    va, vb = np.var(a1, ddof=1) / 15, np.var(a2, ddof=1) / 15
    assert res.statistic == pytest.approx((np.mean(a2) - np.mean(a1)) / math.sqrt(va + vb))
    assert res.df == pytest.approx((va + vb) ** 2 / (va**2 / 14 + vb**2 / 14))
    tcrit = st.t.ppf(0.975, res.df)
    assert ci.low == pytest.approx(ci.estimate - tcrit * math.sqrt(va + vb))  # type: ignore[operator]

    b1 = [17.2, 20.9, 22.6, 18.1, 21.7, 21.4, 23.5, 24.2, 14.7, 21.8]
    b2 = [21.5, 22.8, 21.0, 23.0, 21.6, 23.6, 22.5, 20.7, 23.4, 21.8]
    b2 += [20.7, 21.7, 21.5, 22.5, 23.6, 21.5, 22.5, 23.5, 21.5, 21.8]
    res, _ = welch_test(b1, b2)
    assert res.statistic == pytest.approx(1.57, abs=0.005)
    assert res.df == pytest.approx(9.90, abs=0.01) and res.p_value == pytest.approx(0.149, abs=0.001)


def test_welch_degenerate_inputs() -> None:
    res, ci = welch_test([0.5, 0.5], [0.5, 0.5])
    assert res.p_value == 1.0 and ci.low == ci.high == 0.0
    res, ci = welch_test([0.5, 0.5], [0.7, 0.7])
    assert res.p_value == 0.0 and ci.estimate == pytest.approx(0.2)
    res, ci = welch_test([0.5], [0.7, 0.9])
    assert res.p_value is None and ci.estimate == pytest.approx(0.3) and ci.low is None


def test_wilcoxon_matches_hollander_wolfe() -> None:
    # Hollander & Wolfe (1973) p. 29, Hamilton depression scores before (x) and after (y) tranquilizer:
    # V = W+ = 40, exact one-sided p = 0.01953, two-sided 0.03906 (= 20/512). scipy reports min(W+, W-) = 5.
    x = [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30]
    y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29]
    res = wilcoxon_test([xi - yi for xi, yi in zip(x, y, strict=True)])
    assert res.statistic == 5.0
    assert res.p_value == pytest.approx(20 / 512)


def test_wilcoxon_rank_sums_on_wikipedia_example_and_zero_differences() -> None:
    # Wikipedia's example: one zero difference is dropped, W+ = 27, W- = 18 over 9 ranks (two tied at 1.5).
    after = [125, 115, 130, 140, 140, 115, 140, 125, 140, 135]
    before = [110, 122, 125, 120, 140, 124, 123, 137, 135, 145]
    res = wilcoxon_test([float(a - b) for a, b in zip(after, before, strict=True)])
    assert res.statistic == 18.0
    assert res.p_value is not None and res.p_value > 0.5
    same = wilcoxon_test([0.0, 0.0, 0.0])
    assert same.p_value == 1.0 and same.statistic == 0.0


def test_effect_sizes_known_values() -> None:
    # Cohen's table of phi = 2 asin sqrt(p): phi(.50) = 1.5708, phi(.40) = 1.3694 -> h = 0.2014.
    assert cohen_h(0.40, 0.50) == pytest.approx(0.2014, abs=1e-4)
    assert cohen_h(0.50, 0.40) == pytest.approx(-0.2014, abs=1e-4)
    assert cohen_h(0.0, 1.0) == pytest.approx(math.pi)
    with pytest.raises(ValueError, match="p_b"):
        cohen_h(0.5, 1.2)
    # Means 3 and 5, both SDs sqrt(2.5): d = 2 / 1.5811 = 1.2649.
    assert cohen_d([1, 2, 3, 4, 5], [3, 4, 5, 6, 7]) == pytest.approx(2 / math.sqrt(2.5))
    assert cohen_d([1, 1], [2, 2]) is None
    assert cohen_dz([1.0, 2.0, 3.0]) == pytest.approx(2.0)  # mean 2, SD 1
    assert cohen_dz([0.5, 0.5]) is None


def test_mde_matches_cohen_power_table_and_hand_computation() -> None:
    # Cohen (1988) table 6.4.1: h = 0.20 needs n = 392 per group at alpha .05 two-sided, power .80.
    mde = mde_proportion(0.5, 392, 392)
    assert mde.effect == pytest.approx(0.20, abs=5e-4)
    # n = 100 per group: h = (1.95996 + 0.84162) * sqrt(2/100) = 0.39620; at p0 = .5 the move is
    # sin²(pi/4 + h/2) - 0.5 = 0.19296 (symmetric, so either direction).
    mde = mde_proportion(0.5, 100, 100)
    assert mde.effect == pytest.approx(0.39620, abs=1e-5)
    assert mde.difference == pytest.approx(0.19296, abs=1e-5)
    # At p0 = 1.0 only a drop is possible, to sin²(pi/2 - h/2) = cos²(h/2): a move of sin²(h/2).
    top = mde_proportion(1.0, 100, 100)
    assert top.difference == pytest.approx(math.sin(0.39620 / 2) ** 2, abs=1e-5)
    assert mde_proportion(0.5, 0, 10).effect is None
    # Paired scores: 2.80158 * sd / sqrt(n) = 2.80158 / 7 for sd 1, n 49.
    assert mde_mean(1.0, 49).difference == pytest.approx(0.40023, abs=1e-5)
    unpaired = mde_mean(1.0, 50, n_b=50, sd_b=1.0)
    assert unpaired.effect_name == "cohen_d" and unpaired.difference == pytest.approx(
        2.80158 * math.sqrt(0.04), abs=1e-4
    )


# ---------------------------------------------------------------- compare_runs verdicts


def _run(passes: list[bool | None], values: list[float] | None = None, prefix: str = "s") -> list[Outcome]:
    return [
        Outcome(sample_id=f"{prefix}{i}", passed=p, value=None if values is None else values[i])
        for i, p in enumerate(passes)
    ]


def test_clear_paired_regression() -> None:
    a = _run([True] * 90 + [False] * 10)
    b = _run([True] * 78 + [False] * 22)  # 12 samples that passed in A fail in B
    cmp = compare_runs(a, b)
    pf = cmp.pass_fail
    assert cmp.paired and cmp.n_paired == 100
    assert pf.discordant is not None and (pf.discordant.a_only, pf.discordant.b_only) == (12, 0)
    assert pf.test.name == "mcnemar-exact" and pf.test.p_value == pytest.approx(2 / 2**12)
    assert pf.diff.estimate == pytest.approx(-0.12) and pf.diff.high is not None and pf.diff.high < 0
    assert pf.rate_a.estimate == 0.9 and pf.rate_b.estimate == 0.78
    assert pf.effect_size.name == "cohen_h" and pf.effect_size.value == pytest.approx(cohen_h(0.9, 0.78))
    assert cmp.verdict == "regression" and cmp.scores is None
    assert cmp.recommendation == "do not deploy: significant regression of 12.0 points in pass rate (p<0.001)"


def test_clear_unpaired_improvement() -> None:
    a = _run([True] * 50 + [False] * 50, prefix="a")
    b = _run([True] * 75 + [False] * 25, prefix="b")
    cmp = compare_runs(a, b)
    assert not cmp.paired and "0 of 100" in cmp.pairing_note
    assert cmp.pass_fail.test.name == "two-proportion-z"
    assert cmp.pass_fail.test.statistic == pytest.approx(3.6515, abs=1e-3)  # 0.25 / sqrt(.625*.375*.02)
    assert cmp.verdict == "improvement" and cmp.recommendation.startswith("deploy: significant improvement of 25.0")


def test_identical_runs_are_no_change_with_mde() -> None:
    passes: list[bool | None] = [i % 3 != 0 for i in range(60)]
    cmp = compare_runs(_run(passes), _run(passes))
    pf = cmp.pass_fail
    assert pf.test.p_value == 1.0 and pf.diff.estimate == 0.0
    assert pf.discordant is not None and pf.discordant.a_only == pf.discordant.b_only == 0
    assert cmp.verdict == "no_change"
    assert pf.mde.difference is not None and 0.2 < pf.mde.difference < 0.3  # 60 pairs detect only big moves
    assert "could go undetected" in cmp.recommendation


def test_tiny_significant_difference_on_huge_n_is_trivial() -> None:
    n = 50_000
    a = _run([True] * 45_000 + [False] * 5_000)
    b = _run([True] * 44_500 + [False] * 5_500)  # 500 regressions, 0 fixes: p ~ 1e-109 but only 1 point
    cmp = compare_runs(a, b)
    assert cmp.pass_fail.test.name == "mcnemar-chi2-cc" and cmp.pass_fail.test.p_value is not None
    assert cmp.pass_fail.test.p_value < 1e-100
    assert cmp.pass_fail.n_a == n
    assert cmp.verdict == "significant_but_trivial"
    assert "below the 2.0-point threshold" in cmp.recommendation
    # The same data with a 0.5-point threshold is a real regression.
    assert compare_runs(a, b, trivial_diff=0.005).verdict == "regression"


def test_below_min_n_is_insufficient_data() -> None:
    a = _run([True] * 10)
    b = _run([False] * 10)
    cmp = compare_runs(a, b)
    assert cmp.verdict == "insufficient_data"
    assert cmp.pass_fail.test.p_value == pytest.approx(2 / 2**10)  # statistics still reported
    assert (
        cmp.recommendation
        == "collect more data before deciding: pass rate: only 10 comparable samples (need at least 20)"
    )
    assert compare_runs(a, b, min_n=10).verdict == "regression"
    empty = compare_runs([], [])
    assert empty.verdict == "insufficient_data" and empty.pass_fail.rate_a.estimate is None


def test_unscored_outcomes_are_counted_not_failed() -> None:
    a = _run([True] * 30 + [None] * 5)
    b = _run([True] * 28 + [None] * 7)
    cmp = compare_runs(a, b)
    pf = cmp.pass_fail
    assert (pf.unscored_a, pf.unscored_b) == (5, 7)
    assert pf.excluded_pairs == 7 and pf.n_a == 28  # pairs where either side is unscored are left out
    assert pf.rate_b.estimate == 1.0 and pf.diff.estimate == 0.0  # None never becomes a fail
    assert any("unscored" in note for note in cmp.notes)


def test_pairing_rules() -> None:
    base = _run([True] * 40)
    dup = [*_run([True] * 39), Outcome(sample_id="s0", passed=True)]
    assert not compare_runs(base, dup).paired
    assert "repeats sample ids" in compare_runs(base, dup).pairing_note
    nearly = _run([True] * 38)  # 38 of 40 shared = 95% -> paired on the 38
    cmp = compare_runs(base, nearly)
    assert cmp.paired and cmp.n_paired == 38 and cmp.pass_fail.n_a == 38
    assert "2 unmatched" in cmp.pairing_note
    half = _run([True] * 20) + _run([True] * 20, prefix="x")
    assert not compare_runs(base, half).paired


def test_score_section_paired_regression_overrides_flat_pass_rate() -> None:
    rng = np.random.default_rng(7)
    va = rng.uniform(0.4, 1.0, size=50)
    vb = va - 0.1 + rng.normal(0, 0.05, size=50)
    passes: list[bool | None] = [True] * 50
    cmp = compare_runs(_run(passes, list(va)), _run(passes, list(vb)))
    sc = cmp.scores
    assert sc is not None and sc.test.name == "wilcoxon-signed-rank"
    assert sc.diff.method == "paired-bootstrap" and sc.diff.estimate == pytest.approx(float(np.mean(vb - va)))
    assert sc.diff.high is not None and sc.diff.high < 0
    assert sc.effect_size.name == "cohen_dz" and sc.effect_size.value == pytest.approx(cohen_dz(list(vb - va)))
    assert cmp.pass_fail.verdict == "no_change" and sc.verdict == "regression"
    assert cmp.verdict == "regression" and "mean score" in cmp.recommendation
    # Seeded: the bootstrap interval is reproducible.
    again = compare_runs(_run(passes, list(va)), _run(passes, list(vb)))
    assert again.scores is not None and again.scores.diff == sc.diff


def test_score_section_unpaired_uses_welch_and_trivial_effect() -> None:
    rng = np.random.default_rng(3)
    va = list(rng.normal(0.50, 0.2, size=20_000))
    vb = list(rng.normal(0.51, 0.2, size=20_000))  # d = 0.05: detectable at this n, but trivial
    a = [Outcome(sample_id=f"a{i}", passed=None, value=v) for i, v in enumerate(va)]
    b = [Outcome(sample_id=f"b{i}", passed=None, value=v) for i, v in enumerate(vb)]
    cmp = compare_runs(a, b)
    sc = cmp.scores
    assert sc is not None and sc.test.name == "welch-t" and sc.effect_size.name == "cohen_d"
    ref = st.ttest_ind(vb, va, equal_var=False)
    assert sc.test.p_value == pytest.approx(ref.pvalue) and sc.test.p_value < 0.05
    assert sc.verdict == "significant_but_trivial"
    assert cmp.pass_fail.verdict == "insufficient_data"  # nothing scored pass/fail
    assert cmp.verdict == "significant_but_trivial"
    # An explicit raw-unit threshold below the observed shift makes it a real improvement.
    assert compare_runs(a, b, trivial_score_diff=0.001).verdict == "improvement"


def test_conflicting_sections_regression_wins() -> None:
    passes_a: list[bool | None] = [False] * 15 + [True] * 45
    passes_b: list[bool | None] = [True] * 60
    va = [0.9] * 60
    vb = [0.9 - 0.01 * (i % 5 + 1) for i in range(60)]
    cmp = compare_runs(_run(passes_a, va), _run(passes_b, vb), trivial_score_diff=0.0)
    assert cmp.pass_fail.verdict == "improvement"
    assert cmp.scores is not None and cmp.scores.verdict == "regression"
    assert cmp.verdict == "regression" and cmp.recommendation.startswith("do not deploy")


def test_bad_inputs_are_rejected_with_the_cause() -> None:
    with pytest.raises(ValidationError, match="value"):
        Outcome(sample_id="x", passed=True, value=math.nan)
    with pytest.raises(ValueError, match="alpha"):
        compare_runs([], [], alpha=1.5)
    with pytest.raises(ValueError, match="min_n"):
        compare_runs([], [], min_n=0)
