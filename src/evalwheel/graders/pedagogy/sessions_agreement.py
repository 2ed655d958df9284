"""Agreement of the deterministic checks and reviewer dimensions with the expert labels carried by sessions.

Only sessions with `labels` take part, and per check only the sessions where both the expert and the
check gave a verdict (pass/fail): "not applicable" on either side is counted separately, never folded
into a pass or a fail. Dimensions are ordinal (0-2), so their headline figure is quadratic weighted
kappa, with exact agreement and the confusion matrix alongside; pedagogical fidelity's gold level is
derived from the labelled checks, as the rubric defines it.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ConfigDict, Field

from evalwheel.basemodel import EvalwheelModel
from evalwheel.graders.pedagogy.dimensions import fidelity_level
from evalwheel.graders.pedagogy.session import EvaluationConfig, evaluate_session
from evalwheel.stats.agreement import Agreement, agreement, confusion_matrix, weighted_kappa
from evalwheel.types import CheckName, DimensionName, ExpertLabels, FailureMode, Session, SessionEvaluation

SCALE_LABELS = ["0", "1", "2"]


def _verdict(passed: bool | None) -> str | None:
    return None if passed is None else ("pass" if passed else "fail")


class TaxonomyAgreement(EvalwheelModel):
    model_config = ConfigDict(extra="forbid")

    n: int
    micro_f1: float
    per_label: dict[str, Agreement]


class DimensionAgreement(EvalwheelModel):
    """One reviewer dimension against the labels: weighted kappa on the 0-2 scale, exact agreement, confusion."""

    model_config = ConfigDict(extra="forbid")

    n: int
    weighted_kappa: float | None  # quadratic weights
    linear_kappa: float | None
    exact: float | None
    within_one: float | None
    confusion: list[list[int]]  # rows gold 0/1/2, cols grader 0/1/2
    not_applicable_mismatch: int
    unlabelled: int


class SessionAgreement(EvalwheelModel):
    """Per-check, per-dimension, taxonomy and escalation agreement on labelled sessions."""

    model_config = ConfigDict(extra="forbid")

    sessions: int
    checks: dict[str, Agreement]
    dimensions: dict[str, DimensionAgreement] = Field(default_factory=dict)
    not_applicable_mismatch: dict[str, int]
    taxonomy: TaxonomyAgreement
    escalate: Agreement
    disagreements: list[dict[str, str]]


def gold_dimension(labels: ExpertLabels, name: str) -> tuple[bool, int | None]:
    """(labelled?, level) of one dimension in a session's labels; fidelity is derived from the checks."""
    if name == DimensionName.PEDAGOGICAL_FIDELITY.value:
        verdicts = [v for v in labels.checks.values() if v is not None]
        if not verdicts:
            return True, None
        return True, fidelity_level(sum(verdicts) / len(verdicts))
    key = DimensionName(name)
    if key not in labels.dimensions:
        return False, None
    return True, labels.dimensions[key]


def dimension_agreement(
    pairs: Sequence[tuple[ExpertLabels, SessionEvaluation]],
) -> tuple[dict[str, DimensionAgreement], list[dict[str, str]]]:
    """Per-dimension agreement over (labels, evaluation) pairs, and the disagreements with their reasons."""
    out: dict[str, DimensionAgreement] = {}
    disagreements: list[dict[str, str]] = []
    for dim in DimensionName:
        gold: list[str] = []
        pred: list[str] = []
        na = unlabelled = 0
        for labels, result in pairs:
            labelled, level = gold_dimension(labels, dim.value)
            score = next((d for d in result.dimensions if d.name == dim.value), None)
            if not labelled:
                unlabelled += 1
                continue
            ours = None if score is None or score.value is None else int(score.value)
            if level is None or ours is None:
                na += int(level != ours and score is not None)
                continue
            gold.append(str(level))
            pred.append(str(ours))
            if level != ours:
                disagreements.append(
                    {
                        "session_id": result.session_id,
                        "dimension": dim.value,
                        "expert": str(level),
                        "grader": str(ours),
                        "reason": score.reason if score is not None else "",
                    }
                )
        cm = confusion_matrix(gold, pred, SCALE_LABELS)
        n = len(gold)
        out[dim.value] = DimensionAgreement(
            n=n,
            weighted_kappa=weighted_kappa(cm, "quadratic"),
            linear_kappa=weighted_kappa(cm, "linear"),
            exact=sum(g == p for g, p in zip(gold, pred, strict=True)) / n if n else None,
            within_one=sum(abs(int(g) - int(p)) <= 1 for g, p in zip(gold, pred, strict=True)) / n if n else None,
            confusion=cm.tolist(),
            not_applicable_mismatch=na,
            unlabelled=unlabelled,
        )
    return out, disagreements


def session_agreement(sessions: Sequence[Session], config: EvaluationConfig | None = None) -> SessionAgreement:
    labelled = [s for s in sessions if s.labels is not None]
    pairs: list[tuple[ExpertLabels, SessionEvaluation]] = []
    gold: dict[str, list[str]] = {c.value: [] for c in CheckName}
    pred: dict[str, list[str]] = {c.value: [] for c in CheckName}
    na_mismatch = dict.fromkeys(gold, 0)
    tax_gold: dict[str, list[str]] = {m.value: [] for m in FailureMode}
    tax_pred: dict[str, list[str]] = {m.value: [] for m in FailureMode}
    esc_gold: list[str] = []
    esc_pred: list[str] = []
    disagreements: list[dict[str, str]] = []
    tp = fp = fn = 0
    for s in labelled:
        assert s.labels is not None
        result = evaluate_session(s, config)
        pairs.append((s.labels, result))
        by_name = {sc.name: sc for sc in result.checks}
        for name in gold:
            expert = _verdict(s.labels.checks.get(CheckName(name)))
            score = by_name.get(name)
            ours = _verdict(score.passed) if score is not None else None
            if expert is None or ours is None:
                if expert != ours and score is not None:
                    na_mismatch[name] += 1
                continue
            gold[name].append(expert)
            pred[name].append(ours)
            if expert != ours:
                disagreements.append(
                    {
                        "session_id": s.session_id,
                        "check": name,
                        "expert": expert,
                        "grader": ours,
                        "reason": score.reason if score is not None else "",
                    }
                )
        ours_tax = {m.value for m in result.taxonomy}
        gold_tax = {m.value for m in s.labels.taxonomy}
        for mode in tax_gold:
            tax_gold[mode].append("yes" if mode in gold_tax else "no")
            tax_pred[mode].append("yes" if mode in ours_tax else "no")
        tp += len(ours_tax & gold_tax)
        fp += len(ours_tax - gold_tax)
        fn += len(gold_tax - ours_tax)
        if s.labels.escalate is not None:
            esc_gold.append("yes" if s.labels.escalate else "no")
            esc_pred.append("yes" if result.escalate else "no")
    micro = 2 * tp / (2 * tp + fp + fn) if (tp + fp + fn) else 1.0
    dims, dim_disagreements = dimension_agreement(pairs)
    return SessionAgreement(
        sessions=len(labelled),
        checks={name: agreement(gold[name], pred[name], ["pass", "fail"]) for name in gold},
        dimensions=dims,
        not_applicable_mismatch=na_mismatch,
        taxonomy=TaxonomyAgreement(
            n=len(labelled) * len(tax_gold),
            micro_f1=micro,
            per_label={m: agreement(tax_gold[m], tax_pred[m], ["yes", "no"]) for m in tax_gold},
        ),
        escalate=agreement(esc_gold, esc_pred, ["yes", "no"]),
        disagreements=disagreements + dim_disagreements,
    )
