"""Is run B better or worse than run A? Significance, effect size and a deploy verdict for two eval runs.

A pass rate moving from 72% to 68% between two runs of 50 samples is usually noise; the same move over
5,000 samples usually is not. `compare_runs` answers "regression, improvement or nothing?" with the
test that fits the data, the size of the effect, and how big an effect this n could have detected at all,
so a "no change" is never read as "proven equal" when the sample was simply too small.

Design choices (each the textbook default for its case):

- Pairing. Outcomes are matched by `sample_id`. When (nearly) every id appears in both runs the runs are
  compared sample by sample, which removes between-sample variance and is far more sensitive; otherwise
  the runs are compared as independent samples. An id whose content changed between the runs' dataset
  versions (both `sample_hash`es known and different) is left out of both runs, as the baseline gate does:
  its two verdicts answer different questions.
- Pass/fail, paired: McNemar's test on the discordant pairs. Exact two-sided binomial test when there are
  fewer than 25 discordant pairs (where the chi-square approximation is poor), chi-square with Edwards'
  continuity correction above that. CI on the difference: Newcombe's hybrid score interval for paired
  proportions (his method 10, 1998), built from Wilson intervals.
- Pass/fail, unpaired: pooled two-proportion z-test, or Fisher's exact test when an expected cell count
  is below 5. CI: Newcombe's hybrid score interval for independent proportions (method 10, 1998).
- Scores, paired: Wilcoxon signed-rank test on the per-sample differences (no normality assumption;
  scores from graders are often bounded and skewed) and a seeded paired-bootstrap CI on the mean
  difference. Effect size: Cohen's d_z (mean difference / SD of differences).
- Scores, unpaired: Welch's t-test (no equal-variance assumption) with its Welch–Satterthwaite CI.
  Effect size: Cohen's d with the pooled SD.
- Differences are always B − A: positive means the candidate is better.
- Unscored outcomes (`passed=None`) are counted and reported but never treated as fails.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from pydantic import ConfigDict, Field

from evalwheel.basemodel import EvalwheelModel
from evalwheel.stats.intervals import Interval, TestResult, mean_ci, proportion_ci
from evalwheel.types import content_changed


def _scipy_stats() -> Any:
    """scipy.stats, imported on first use: it costs ~0.5 s of start-up that most commands never need."""
    from scipy import stats

    return stats


Verdict = Literal["regression", "improvement", "no_change", "significant_but_trivial", "insufficient_data"]

EXACT_MCNEMAR_BELOW = 25
"""Discordant-pair count under which McNemar uses the exact binomial test instead of chi-square."""

FISHER_MIN_EXPECTED = 5.0
"""Smallest expected cell count for which the two-proportion z-test is trusted; below it, Fisher's exact."""


class Outcome(EvalwheelModel):
    """One sample's result in a run: `passed=None` is unscored (error, unparsable judge) and `value` optional."""

    model_config = ConfigDict(extra="forbid")

    sample_id: str
    passed: bool | None = None
    value: float | None = Field(default=None, allow_inf_nan=False)
    sample_hash: str = Field("", description="the sample's content hash; empty when unknown")


class EffectSize(EvalwheelModel):
    """A standardised effect (B − A) with its name: `cohen_h`, `cohen_d` or `cohen_dz`; None if undefined."""

    model_config = ConfigDict(extra="forbid")

    name: str
    value: float | None


class MinimumDetectableEffect(EvalwheelModel):
    """The smallest true difference this design detects with `power` at two-sided `alpha`.

    `effect` is in the standardised unit of `effect_name`; `difference` is the same effect translated into
    the section's own unit (pass-rate fraction, or score units). None when it cannot be computed (n = 0,
    or no achievable pass rate is that far from the baseline).
    """

    model_config = ConfigDict(extra="forbid")

    effect_name: str
    effect: float | None
    difference: float | None
    power: float
    alpha: float


class Discordant(EvalwheelModel):
    """McNemar's discordant pairs: samples only A passed (`a_only`) and only B passed (`b_only`)."""

    model_config = ConfigDict(extra="forbid")

    a_only: int
    b_only: int
    both_pass: int
    both_fail: int


class PassFailSection(EvalwheelModel):
    """Comparison of pass rates. Rates are over the outcomes the test used, so `diff` = rate_b − rate_a."""

    model_config = ConfigDict(extra="forbid")

    n_a: int = Field(description="scored outcomes of A used by the test")
    n_b: int = Field(description="scored outcomes of B used by the test")
    unscored_a: int
    unscored_b: int
    excluded_pairs: int = Field(0, description="paired mode: matched samples left out because one side is unscored")
    rate_a: Interval
    rate_b: Interval
    diff: Interval
    test: TestResult
    effect_size: EffectSize
    mde: MinimumDetectableEffect
    discordant: Discordant | None = None
    verdict: Verdict
    summary: str


class ScoreSection(EvalwheelModel):
    """Comparison of numeric scores (`Outcome.value`); `diff` is the mean of B − A (paired) or mean B − mean A."""

    model_config = ConfigDict(extra="forbid")

    n_a: int
    n_b: int
    mean_a: Interval
    mean_b: Interval
    diff: Interval
    test: TestResult
    effect_size: EffectSize
    mde: MinimumDetectableEffect
    verdict: Verdict
    summary: str


class Comparison(EvalwheelModel):
    """The full A-vs-B comparison handed to the CLI and reports."""

    model_config = ConfigDict(extra="forbid")

    n_a: int
    n_b: int
    n_paired: int = Field(description="sample ids present in both runs with unchanged content")
    changed_content: int = Field(
        0, description="sample ids in both runs whose content (sample_hash) changed: left out of the comparison"
    )
    paired: bool
    pairing_note: str
    alpha: float
    confidence: float
    min_n: int
    trivial_diff: float
    pass_fail: PassFailSection
    scores: ScoreSection | None
    verdict: Verdict
    recommendation: str
    notes: list[str] = Field(default_factory=list)


# ---------------------------------------------------------------- primitive tests and effect sizes

NOISE = 1e-12
"""Relative spread (range / magnitude) under which values count as constant: float rounding, not variation."""


def sample_sd(values: Sequence[float]) -> float | None:
    """Sample SD (ddof 1), exactly 0.0 when the values are equal up to float rounding; None below n = 2.

    Why: [0.6] * 30 has a floating-point variance of 1e-32, and B = A + 0.1 gives differences 0.1 ± 1e-16.
    Taken at face value, such noise made Cohen's d come out near 1e15, skipped the zero-variance handling of
    Welch's test (so scipy printed a 'catastrophic cancellation' warning) and shrank the MDE to 1e-16.
    """
    x = np.asarray(values, dtype=float)
    if x.size < 2:
        return None
    scale = max(1.0, float(np.max(np.abs(x))))
    if float(np.ptp(x)) <= NOISE * scale:
        return 0.0
    return float(x.std(ddof=1))


def noise_free_difference(a: float, b: float) -> float:
    """b − a, exactly 0.0 when the two differ only by float rounding.

    Why: the same scores computed in another order ((x + 0.3) − 0.3 against x) differ by 1e-17 on most
    samples; Wilcoxon ranks any non-zero difference, so identical scores came out a 'significant regression
    of 0' and `compare` exited 1.
    """
    d = b - a
    return 0.0 if abs(d) <= NOISE * max(1.0, abs(a), abs(b)) else d


def mcnemar_test(a_only: int, b_only: int) -> TestResult:
    """McNemar's test from the discordant counts.

    Exact two-sided binomial (statistic = the smaller discordant count) when a_only + b_only < 25;
    otherwise chi-square with continuity correction, (|b − c| − 1)² / (b + c) on 1 df. With no discordant
    pairs the runs agree on every sample: p = 1.
    """
    if a_only < 0 or b_only < 0:
        raise ValueError(f"discordant counts must be >= 0, got {a_only}, {b_only}")
    n = a_only + b_only
    if n == 0:
        return TestResult(name="mcnemar-exact", statistic=0.0, p_value=1.0)
    if n < EXACT_MCNEMAR_BELOW:
        p = float(_scipy_stats().binomtest(min(a_only, b_only), n, 0.5).pvalue)
        return TestResult(name="mcnemar-exact", statistic=float(min(a_only, b_only)), p_value=min(1.0, p))
    chi2 = (abs(a_only - b_only) - 1.0) ** 2 / n
    return TestResult(name="mcnemar-chi2-cc", statistic=chi2, p_value=float(_scipy_stats().chi2.sf(chi2, 1)), df=1.0)


def two_proportion_test(x_a: int, n_a: int, x_b: int, n_b: int) -> TestResult:
    """Independent pass rates: pooled z-test (statistic z for B − A), or Fisher's exact for small cells."""
    if n_a <= 0 or n_b <= 0:
        raise ValueError(f"both groups need n > 0, got {n_a} and {n_b}")
    total = n_a + n_b
    passes = x_a + x_b
    expected = [n * k / total for n in (n_a, n_b) for k in (passes, total - passes)]
    if min(expected) < FISHER_MIN_EXPECTED:
        table = [[x_a, n_a - x_a], [x_b, n_b - x_b]]
        p = float(_scipy_stats().fisher_exact(table, alternative="two-sided").pvalue)
        return TestResult(name="fisher-exact", statistic=None, p_value=min(1.0, p))
    pooled = passes / total
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    z = (x_b / n_b - x_a / n_a) / se
    return TestResult(name="two-proportion-z", statistic=z, p_value=float(2 * _scipy_stats().norm.sf(abs(z))))


def cohen_h(p_a: float, p_b: float) -> float:
    """Cohen's h = 2·asin√p_b − 2·asin√p_a: the arcsine-scale difference whose variance is ~1/n per group."""
    for name, p in (("p_a", p_a), ("p_b", p_b)):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{name} must be a proportion in [0, 1], got {p}")
    return 2 * math.asin(math.sqrt(p_b)) - 2 * math.asin(math.sqrt(p_a))


def cohen_d(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Cohen's d for independent groups: (mean_b − mean_a) / pooled SD. None if undefined (n < 2 or SD 0)."""
    if len(a) < 2 or len(b) < 2:
        return None
    xa, xb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    sd_a, sd_b = sample_sd(a) or 0.0, sample_sd(b) or 0.0
    pooled_var = ((xa.size - 1) * sd_a**2 + (xb.size - 1) * sd_b**2) / (xa.size + xb.size - 2)
    if pooled_var == 0:
        return None
    return float((xb.mean() - xa.mean()) / math.sqrt(pooled_var))


def cohen_dz(diffs: Sequence[float]) -> float | None:
    """Cohen's d_z for paired data: mean difference / SD of the differences. None if n < 2 or SD is 0."""
    if len(diffs) < 2:
        return None
    sd = sample_sd(diffs)
    return None if not sd else float(np.mean(np.asarray(diffs, dtype=float))) / sd


def _z_sum(alpha: float, power: float) -> float:
    return float(_scipy_stats().norm.ppf(1 - alpha / 2) + _scipy_stats().norm.ppf(power))


def mde_proportion(
    baseline: float | None, n_a: int, n_b: int, *, alpha: float = 0.05, power: float = 0.8
) -> MinimumDetectableEffect:
    """Minimum detectable difference in pass rate, via Cohen's h.

    h_mde = (z_{1−α/2} + z_{power}) · √(1/n_a + 1/n_b)      (arcsine variance is 1/n per group)

    e.g. n_a = n_b = 392, α = 0.05, power 0.8 gives h = 0.200 (Cohen's table 6.4.1). The h is converted to
    pass-rate points around the baseline rate p₀ = rate of A: p = sin²(asin√p₀ ± h/2); the larger of the
    two achievable moves is reported, so that changes smaller than `difference` in either direction may go
    undetected. For paired data the same formula is used with n_a = n_b = pairs: pairing of positively
    correlated runs only adds sensitivity, so this is a conservative (upper) figure there.
    """
    if n_a <= 0 or n_b <= 0:
        return MinimumDetectableEffect(effect_name="cohen_h", effect=None, difference=None, power=power, alpha=alpha)
    h = _z_sum(alpha, power) * math.sqrt(1 / n_a + 1 / n_b)
    diff: float | None = None
    if baseline is not None:
        phi = 2 * math.asin(math.sqrt(baseline))
        moves = [abs(math.sin(t / 2) ** 2 - baseline) for t in (phi + h, phi - h) if 0.0 <= t <= math.pi]
        diff = max(moves) if moves else None
    return MinimumDetectableEffect(effect_name="cohen_h", effect=h, difference=diff, power=power, alpha=alpha)


def mde_mean(
    sd: float | None,
    n: int,
    *,
    n_b: int | None = None,
    sd_b: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
) -> MinimumDetectableEffect:
    """Minimum detectable mean difference (normal approximation).

    Paired (n_b None):   MDE = (z_{1−α/2} + z_{power}) · sd_diff / √n,   effect d_z = (z + z) / √n
    Unpaired:            MDE = (z_{1−α/2} + z_{power}) · √(sd_a²/n_a + sd_b²/n_b),  d = (z + z) · √(1/n_a + 1/n_b)
    The normal quantiles slightly understate the MDE of a t-test for very small n.
    """
    k = _z_sum(alpha, power)
    if n_b is None:
        if n <= 0:
            return MinimumDetectableEffect(
                effect_name="cohen_dz", effect=None, difference=None, power=power, alpha=alpha
            )
        diff = None if sd is None else k * sd / math.sqrt(n)
        return MinimumDetectableEffect(
            effect_name="cohen_dz", effect=k / math.sqrt(n), difference=diff, power=power, alpha=alpha
        )
    if n <= 0 or n_b <= 0:
        return MinimumDetectableEffect(effect_name="cohen_d", effect=None, difference=None, power=power, alpha=alpha)
    diff = None if sd is None or sd_b is None else k * math.sqrt(sd**2 / n + sd_b**2 / n_b)
    return MinimumDetectableEffect(
        effect_name="cohen_d", effect=k * math.sqrt(1 / n + 1 / n_b), difference=diff, power=power, alpha=alpha
    )


def newcombe_diff_ci(x_a: int, n_a: int, x_b: int, n_b: int, confidence: float = 0.95) -> Interval:
    """CI for p_b − p_a of independent proportions: Newcombe's hybrid score method (1998, method 10).

    Combines the two Wilson intervals (square-and-add), so it stays inside [−1, 1] and behaves at 0/n.
    Newcombe's worked example 56/70 − 48/80 gives 0.0524 to 0.3339.
    """
    ra, rb = proportion_ci(x_a, n_a, confidence), proportion_ci(x_b, n_b, confidence)
    if ra.estimate is None or rb.estimate is None:
        return Interval(estimate=None, low=None, high=None, n=n_a + n_b, confidence=confidence, method="newcombe")
    pa, la, ua = ra.estimate, _req(ra.low), _req(ra.high)
    pb, lb, ub = rb.estimate, _req(rb.low), _req(rb.high)
    d = pb - pa
    low = d - math.sqrt((pb - lb) ** 2 + (ua - pa) ** 2)
    high = d + math.sqrt((ub - pb) ** 2 + (pa - la) ** 2)
    return Interval(
        estimate=d, low=max(-1.0, low), high=min(1.0, high), n=n_a + n_b, confidence=confidence, method="newcombe"
    )


def newcombe_paired_diff_ci(table: Discordant, confidence: float = 0.95) -> Interval:
    """CI for p_b − p_a of paired proportions: Newcombe's hybrid score method for paired data (1998, method 10).

    Like the unpaired version, but the two Wilson half-widths are combined with the phi correlation of the
    2×2 table, so strongly agreeing runs get the narrow interval they deserve. phi is taken as 0 when a
    margin of the table is empty (Newcombe's convention).
    """
    n11, n10, n01, n00 = table.both_pass, table.a_only, table.b_only, table.both_fail
    n = n11 + n10 + n01 + n00
    if n == 0:
        return Interval(estimate=None, low=None, high=None, n=0, confidence=confidence, method="newcombe-paired")
    ra, rb = proportion_ci(n11 + n10, n, confidence), proportion_ci(n11 + n01, n, confidence)
    pa, la, ua = _req(ra.estimate), _req(ra.low), _req(ra.high)
    pb, lb, ub = _req(rb.estimate), _req(rb.low), _req(rb.high)
    margins = (n11 + n10) * (n01 + n00) * (n11 + n01) * (n10 + n00)
    phi = 0.0 if margins == 0 else (n11 * n00 - n10 * n01) / math.sqrt(margins)
    phi = max(-1.0, min(1.0, phi))
    d = pb - pa
    low = d - math.sqrt(max(0.0, (pb - lb) ** 2 - 2 * phi * (pb - lb) * (ua - pa) + (ua - pa) ** 2))
    high = d + math.sqrt(max(0.0, (ub - pb) ** 2 - 2 * phi * (ub - pb) * (pa - la) + (pa - la) ** 2))
    return Interval(
        estimate=d, low=max(-1.0, low), high=min(1.0, high), n=n, confidence=confidence, method="newcombe-paired"
    )


def wilcoxon_test(diffs: Sequence[float]) -> TestResult:
    """Wilcoxon signed-rank test on paired differences (zeros dropped, scipy's exact/normal choice).

    The statistic is scipy's: the smaller of the positive- and negative-rank sums. All-zero differences
    mean the runs scored every sample identically: p = 1 (scipy would warn and divide by zero).
    """
    d = np.asarray(diffs, dtype=float)
    if d.size == 0 or np.all(d == 0):
        return TestResult(
            name="wilcoxon-signed-rank", statistic=0.0 if d.size else None, p_value=1.0 if d.size else None
        )
    res = _scipy_stats().wilcoxon(d, zero_method="wilcox")
    return TestResult(name="wilcoxon-signed-rank", statistic=float(res.statistic), p_value=float(res.pvalue))


def welch_test(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> tuple[TestResult, Interval]:
    """Welch's t-test of mean_b − mean_a with its Welch–Satterthwaite CI on the difference.

    Zero variance in both groups is handled explicitly: equal constants give p = 1, different constants a
    deterministic difference (p = 0) — scipy would return NaN for both.
    """
    xa, xb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    n = int(xa.size + xb.size)
    if xa.size < 2 or xb.size < 2:
        diff = float(xb.mean() - xa.mean()) if xa.size and xb.size else None
        return (
            TestResult(name="welch-t", statistic=None, p_value=None),
            Interval(estimate=diff, low=None, high=None, n=n, confidence=confidence, method="welch"),
        )
    diff = float(xb.mean() - xa.mean())
    if sample_sd(a) == 0 and sample_sd(b) == 0:
        p = 1.0 if noise_free_difference(float(xa.mean()), float(xb.mean())) == 0 else 0.0
        return (
            TestResult(name="welch-t", statistic=None, p_value=p),
            Interval(estimate=diff, low=diff, high=diff, n=n, confidence=confidence, method="welch"),
        )
    with warnings.catch_warnings():  # one constant group: scipy warns of precision loss, the result is sound
        warnings.simplefilter("ignore", RuntimeWarning)
        res = _scipy_stats().ttest_ind(xb, xa, equal_var=False)
        ci = res.confidence_interval(confidence_level=confidence)
    return (
        TestResult(name="welch-t", statistic=float(res.statistic), p_value=float(res.pvalue), df=float(res.df)),
        Interval(estimate=diff, low=float(ci.low), high=float(ci.high), n=n, confidence=confidence, method="welch"),
    )


def _req(x: float | None) -> float:
    if x is None:  # pragma: no cover - proportion_ci returns bounds whenever n > 0
        raise AssertionError("interval bound missing for n > 0")
    return x


# ---------------------------------------------------------------- verdicts and wording


def _fmt_p(p: float | None) -> str:
    if p is None:
        return "p=n/a"
    return "p<0.001" if p < 0.001 else f"p={p:.3f}"


def _decide(n: int, min_n: int, p: float | None, diff: float | None, trivial: bool, alpha: float) -> Verdict:
    if n < min_n or p is None or diff is None:
        return "insufficient_data"
    if p >= alpha:
        return "no_change"
    if trivial:
        return "significant_but_trivial"
    return "improvement" if diff > 0 else "regression"


def _describe(
    verdict: Verdict, what: str, amount: str, p: float | None, mde: str, n: int, min_n: int, threshold: str
) -> str:
    if verdict == "insufficient_data":
        return f"{what}: only {n} comparable samples (need at least {min_n})"
    if verdict == "no_change":
        return f"no significant change in {what} ({amount}, {_fmt_p(p)}); changes under {mde} could go undetected"
    if verdict == "significant_but_trivial":
        return f"{what} changed by {amount} ({_fmt_p(p)}): significant but below the {threshold} threshold"
    kind = "improvement" if verdict == "improvement" else "regression"
    return f"significant {kind} of {amount} in {what} ({_fmt_p(p)})"


def _points(x: float | None) -> str:
    return "n/a" if x is None else f"{abs(x) * 100:.1f} points"


def _signed_points(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 100:+.1f} points"


# ---------------------------------------------------------------- sections


def _pass_fail(
    a: Sequence[Outcome],
    b: Sequence[Outcome],
    paired_ids: list[str] | None,
    *,
    min_n: int,
    trivial_diff: float,
    alpha: float,
    confidence: float,
    power: float,
) -> PassFailSection:
    unscored_a = sum(o.passed is None for o in a)
    unscored_b = sum(o.passed is None for o in b)
    table: Discordant | None = None
    excluded = 0
    if paired_ids is not None:
        by_a = {o.sample_id: o.passed for o in a}
        by_b = {o.sample_id: o.passed for o in b}
        pairs = [(by_a[i], by_b[i]) for i in paired_ids]
        scored = [(x, y) for x, y in pairs if x is not None and y is not None]
        excluded = len(pairs) - len(scored)
        table = Discordant(
            a_only=sum(x and not y for x, y in scored),
            b_only=sum(y and not x for x, y in scored),
            both_pass=sum(x and y for x, y in scored),
            both_fail=sum(not x and not y for x, y in scored),
        )
        n_a = n_b = n = len(scored)
        x_a, x_b = table.both_pass + table.a_only, table.both_pass + table.b_only
        test = (
            mcnemar_test(table.a_only, table.b_only) if n else TestResult(name="mcnemar", statistic=None, p_value=None)
        )
        diff = newcombe_paired_diff_ci(table, confidence)
    else:
        pa = [o.passed for o in a if o.passed is not None]
        pb = [o.passed for o in b if o.passed is not None]
        n_a, n_b, n = len(pa), len(pb), min(len(pa), len(pb))
        x_a, x_b = sum(pa), sum(pb)
        test = (
            two_proportion_test(x_a, n_a, x_b, n_b)
            if n
            else TestResult(name="two-proportion", statistic=None, p_value=None)
        )
        diff = newcombe_diff_ci(x_a, n_a, x_b, n_b, confidence)
    rate_a, rate_b = proportion_ci(x_a, n_a, confidence), proportion_ci(x_b, n_b, confidence)
    h = None if rate_a.estimate is None or rate_b.estimate is None else cohen_h(rate_a.estimate, rate_b.estimate)
    mde = mde_proportion(rate_a.estimate, n_a, n_b, alpha=alpha, power=power)
    d = diff.estimate
    trivial = d is not None and abs(d) < trivial_diff
    verdict = _decide(n, min_n, test.p_value, d, trivial, alpha)
    summary = _describe(
        verdict,
        "pass rate",
        _signed_points(d) if verdict == "no_change" else _points(d),
        test.p_value,
        _points(mde.difference),
        n,
        min_n,
        f"{trivial_diff * 100:.1f}-point",
    )
    return PassFailSection(
        n_a=n_a,
        n_b=n_b,
        unscored_a=unscored_a,
        unscored_b=unscored_b,
        excluded_pairs=excluded,
        rate_a=rate_a,
        rate_b=rate_b,
        diff=diff,
        test=test,
        effect_size=EffectSize(name="cohen_h", value=h),
        mde=mde,
        discordant=table,
        verdict=verdict,
        summary=summary,
    )


def _scores(
    a: Sequence[Outcome],
    b: Sequence[Outcome],
    paired_ids: list[str] | None,
    *,
    min_n: int,
    trivial_score_diff: float | None,
    trivial_effect: float,
    alpha: float,
    confidence: float,
    power: float,
    seed: int,
) -> ScoreSection | None:
    if paired_ids is not None:
        by_a = {o.sample_id: o.value for o in a}
        by_b = {o.sample_id: o.value for o in b}
        pairs = [(va, vb) for i in paired_ids if (va := by_a[i]) is not None and (vb := by_b[i]) is not None]
        if not pairs:
            return None
        va_list, vb_list = [p[0] for p in pairs], [p[1] for p in pairs]
        diffs = [noise_free_difference(x, y) for x, y in pairs]
        n_a = n_b = n = len(pairs)
        test = wilcoxon_test(diffs)
        diff = mean_ci(diffs, confidence=confidence, method="bootstrap", seed=seed)
        diff = diff.model_copy(update={"method": "paired-bootstrap"})
        effect = EffectSize(name="cohen_dz", value=cohen_dz(diffs))
        sd = sample_sd(diffs)
        mde = mde_mean(sd, n, alpha=alpha, power=power)
    else:
        va_list = [o.value for o in a if o.value is not None]
        vb_list = [o.value for o in b if o.value is not None]
        if not va_list or not vb_list:
            return None
        n_a, n_b, n = len(va_list), len(vb_list), min(len(va_list), len(vb_list))
        test, diff = welch_test(va_list, vb_list, confidence)
        effect = EffectSize(name="cohen_d", value=cohen_d(va_list, vb_list))
        sd_a, sd_b = sample_sd(va_list), sample_sd(vb_list)
        mde = mde_mean(sd_a, n_a, n_b=n_b, sd_b=sd_b, alpha=alpha, power=power)
    d = diff.estimate
    if trivial_score_diff is not None:
        trivial = d is not None and abs(d) < trivial_score_diff
        threshold = f"{trivial_score_diff:g}-unit"
    else:
        trivial = effect.value is not None and abs(effect.value) < trivial_effect
        threshold = f"|{effect.name}| {trivial_effect:g}"
    verdict = _decide(n, min_n, test.p_value, d, trivial, alpha)
    d_shown = None if d is None else (0.0 if abs(d) < 1e-12 else d)  # float noise must not print as 1e-20
    amount = "n/a" if d_shown is None else (f"{d_shown:+.3g}" if verdict == "no_change" else f"{abs(d_shown):.3g}")
    mde_text = "n/a" if mde.difference is None else f"{mde.difference:.3g}"
    summary = _describe(verdict, "mean score", amount, test.p_value, mde_text, n, min_n, threshold)
    return ScoreSection(
        n_a=n_a,
        n_b=n_b,
        mean_a=mean_ci(va_list, confidence=confidence),
        mean_b=mean_ci(vb_list, confidence=confidence),
        diff=diff,
        test=test,
        effect_size=effect,
        mde=mde,
        verdict=verdict,
        summary=summary,
    )


def _pairing(a: Sequence[Outcome], b: Sequence[Outcome], min_overlap: float) -> tuple[list[str] | None, int, str]:
    """Return (matched ids in A's order or None for unpaired, number of shared ids, why)."""
    ids_a, ids_b = [o.sample_id for o in a], [o.sample_id for o in b]
    set_a, set_b = set(ids_a), set(ids_b)
    shared = [i for i in ids_a if i in set_b]
    if len(set_a) != len(ids_a) or len(set_b) != len(ids_b):
        which = "A" if len(set_a) != len(ids_a) else "B"
        return None, len(set(shared)), f"unpaired: run {which} repeats sample ids, so samples cannot be matched 1:1"
    larger = max(len(set_a), len(set_b))
    overlap = len(shared) / larger if larger else 0.0
    if not shared or overlap < min_overlap:
        return (
            None,
            len(shared),
            (
                f"unpaired: only {len(shared)} of {larger} sample ids are in both runs "
                f"({overlap:.0%} < {min_overlap:.0%})"
            ),
        )
    dropped = len(set_a) + len(set_b) - 2 * len(shared)
    note = f"paired on {len(shared)} shared sample ids"
    return shared, len(shared), note + (f" ({dropped} unmatched outcomes left out)" if dropped else "")


def _overall(sections: list[PassFailSection | ScoreSection]) -> tuple[Verdict, str]:
    """Combine section verdicts conservatively: any regression blocks deployment."""
    order: tuple[tuple[Verdict, str], ...] = (
        ("regression", "do not deploy"),
        ("improvement", "deploy"),
        ("significant_but_trivial", "deploy if the change is wanted for other reasons"),
        ("no_change", "no detectable difference; decide on other merits"),
        ("insufficient_data", "collect more data before deciding"),
    )
    for verdict, lead in order:
        hits = [s.summary for s in sections if s.verdict == verdict]
        if hits:
            return verdict, f"{lead}: " + "; ".join(hits)
    raise AssertionError("a comparison always has a pass/fail section")  # pragma: no cover


def changed_ids(a: Sequence[Outcome], b: Sequence[Outcome]) -> set[str]:
    """Sample ids in both runs whose content changed between them (`types.content_changed`, the gate's rule)."""
    hash_a = {o.sample_id: o.sample_hash for o in a if o.sample_hash}
    return {o.sample_id for o in b if content_changed(hash_a.get(o.sample_id, ""), o.sample_hash)}


def nothing_comparable(n_changed: int) -> str:
    return (
        f"nothing comparable: all {n_changed} sample ids the runs share changed content between their dataset "
        "versions (sample_hash differs), so their verdicts answer different questions. Rerun both on the same "
        "dataset version."
    )


def compare_runs(
    a: Sequence[Outcome],
    b: Sequence[Outcome],
    *,
    min_n: int = 20,
    trivial_diff: float = 0.02,
    alpha: float = 0.05,
    confidence: float = 0.95,
    seed: int = 0,
    power: float = 0.8,
    min_overlap: float = 0.9,
    trivial_score_diff: float | None = None,
    trivial_effect: float = 0.2,
) -> Comparison:
    """Compare baseline run A with candidate run B.

    `trivial_diff` is in pass-rate fraction (0.02 = 2 points): a significant change smaller than that is
    `significant_but_trivial`. Scores have no common unit, so their triviality threshold is
    `trivial_score_diff` in score units when given, else a standardised effect below `trivial_effect`
    (Cohen's "small", 0.2). Runs are paired when every id is unique and the shared ids cover at least
    `min_overlap` of the larger run. A section with fewer than `min_n` comparable samples is
    `insufficient_data`; statistics are still reported for it. Ids whose content changed between the runs
    (`changed_ids`) are left out of both and counted in `changed_content`; when every shared id changed, nothing
    is tested and the verdict is `insufficient_data` with a "nothing comparable" recommendation.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if not 0.0 < power < 1.0:
        raise ValueError(f"power must be in (0, 1), got {power}")
    if min_n < 1:
        raise ValueError(f"min_n must be >= 1, got {min_n}")
    if trivial_diff < 0:
        raise ValueError(f"trivial_diff must be >= 0, got {trivial_diff}")
    changed = changed_ids(a, b)
    if changed:
        a = [o for o in a if o.sample_id not in changed]
        b = [o for o in b if o.sample_id not in changed]
    paired_ids, n_shared, note = _pairing(a, b, min_overlap)
    if changed and not n_shared:  # every shared id changed: tests would compare two unrelated sets of questions
        paired_ids, note = [], nothing_comparable(len(changed))
    elif changed:
        note += f"; {len(changed)} sample ids left out because their content changed between the runs' datasets"
    pass_fail = _pass_fail(
        a, b, paired_ids, min_n=min_n, trivial_diff=trivial_diff, alpha=alpha, confidence=confidence, power=power
    )
    scores = _scores(
        a,
        b,
        paired_ids,
        min_n=min_n,
        trivial_score_diff=trivial_score_diff,
        trivial_effect=trivial_effect,
        alpha=alpha,
        confidence=confidence,
        power=power,
        seed=seed,
    )
    sections: list[PassFailSection | ScoreSection] = [pass_fail] + ([scores] if scores is not None else [])
    verdict, recommendation = _overall(sections)
    if changed and not n_shared:
        recommendation = note
    notes: list[str] = []
    if pass_fail.unscored_a or pass_fail.unscored_b:
        notes.append(
            f"unscored outcomes (excluded from the pass/fail test): A {pass_fail.unscored_a}, B {pass_fail.unscored_b}"
        )
    if pass_fail.excluded_pairs:
        notes.append(f"{pass_fail.excluded_pairs} matched samples left out of McNemar: unscored in one run")
    return Comparison(
        n_a=len(a),
        n_b=len(b),
        n_paired=n_shared,
        changed_content=len(changed),
        paired=paired_ids is not None,
        pairing_note=note,
        alpha=alpha,
        confidence=confidence,
        min_n=min_n,
        trivial_diff=trivial_diff,
        pass_fail=pass_fail,
        scores=scores,
        verdict=verdict,
        recommendation=recommendation,
        notes=notes,
    )
