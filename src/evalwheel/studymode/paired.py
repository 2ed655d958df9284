"""Arm B against arm A on the same sessions (or personas): the paired statistics of an A/B table.

Fidelity is compared with the Wilcoxon signed-rank test and "no answer revealed" with McNemar's test, both
from `evalwheel.stats.compare` (paired by id, differences B − A).
"""

from __future__ import annotations

from pydantic import ConfigDict

from evalwheel.basemodel import EvalwheelModel
from evalwheel.stats.intervals import Interval, TestResult
from evalwheel.types import CheckName, SessionEvaluation

REVEAL_CHECK = CheckName.NO_DIRECT_ANSWER_INITIALLY.value


class PairedComparison(EvalwheelModel):
    """Arm B against the baseline arm A, paired by session or persona id (differences are B − A)."""

    model_config = ConfigDict(extra="forbid")

    baseline: str
    arm: str
    n_pairs: int
    fidelity_a: Interval
    fidelity_b: Interval
    fidelity_diff: Interval
    fidelity_test: TestResult
    no_reveal_a: Interval
    no_reveal_b: Interval
    no_reveal_diff: Interval
    no_reveal_test: TestResult
    verdict: str


def paired_comparison(
    baseline: str, arm: str, evals_a: dict[str, SessionEvaluation], evals_b: dict[str, SessionEvaluation]
) -> PairedComparison:
    """B vs A over the ids both arms graded: fidelity (Wilcoxon) and no-reveal (McNemar), paired."""
    from evalwheel.stats.compare import Outcome, compare_runs  # numpy/scipy: only when a report is built

    shared = sorted(set(evals_a) & set(evals_b))

    def outcomes(evals: dict[str, SessionEvaluation]) -> list[Outcome]:
        out: list[Outcome] = []
        for pid in shared:
            e = evals[pid]
            reveal = next((s.passed for s in e.checks if s.name == REVEAL_CHECK), None)
            out.append(Outcome(sample_id=pid, passed=reveal, value=e.fidelity))
        return out

    cmp = compare_runs(outcomes(evals_a), outcomes(evals_b), min_n=max(1, min(20, len(shared))), min_overlap=0.0)
    scores = cmp.scores
    empty = Interval(estimate=None, low=None, high=None, n=0, confidence=0.95, method="none")
    return PairedComparison(
        baseline=baseline,
        arm=arm,
        n_pairs=len(shared),
        fidelity_a=scores.mean_a if scores else empty,
        fidelity_b=scores.mean_b if scores else empty,
        fidelity_diff=scores.diff if scores else empty,
        fidelity_test=scores.test
        if scores
        else TestResult(name="wilcoxon-signed-rank", statistic=None, p_value=None),
        no_reveal_a=cmp.pass_fail.rate_a,
        no_reveal_b=cmp.pass_fail.rate_b,
        no_reveal_diff=cmp.pass_fail.diff,
        no_reveal_test=cmp.pass_fail.test,
        verdict=cmp.verdict,
    )
