"""Agreement of the deterministic checks with the expert labels carried by seed sessions.

Only sessions with `labels` take part, and per check only the sessions where both the expert and the
check gave a verdict (pass/fail): "not applicable" on either side is counted separately, never folded
into a pass or a fail.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from evalwheel.graders.pedagogy.session import EvaluationConfig, evaluate_session
from evalwheel.stats.agreement import Agreement, agreement
from evalwheel.types import CheckName, FailureMode, Session


def _verdict(passed: bool | None) -> str | None:
    return None if passed is None else ("pass" if passed else "fail")


class TaxonomyAgreement(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n: int
    micro_f1: float
    per_label: dict[str, Agreement]


class SessionAgreement(BaseModel):
    """Per-check agreement, taxonomy agreement and escalation agreement on labelled sessions."""

    model_config = ConfigDict(extra="forbid")

    sessions: int
    checks: dict[str, Agreement]
    not_applicable_mismatch: dict[str, int]
    taxonomy: TaxonomyAgreement
    escalate: Agreement
    disagreements: list[dict[str, str]]


def session_agreement(sessions: Sequence[Session], config: EvaluationConfig | None = None) -> SessionAgreement:
    labelled = [s for s in sessions if s.labels is not None]
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
    return SessionAgreement(
        sessions=len(labelled),
        checks={name: agreement(gold[name], pred[name], ["pass", "fail"]) for name in gold},
        not_applicable_mismatch=na_mismatch,
        taxonomy=TaxonomyAgreement(
            n=len(labelled) * len(tax_gold),
            micro_f1=micro,
            per_label={m: agreement(tax_gold[m], tax_pred[m], ["yes", "no"]) for m in tax_gold},
        ),
        escalate=agreement(esc_gold, esc_pred, ["yes", "no"]),
        disagreements=disagreements,
    )
