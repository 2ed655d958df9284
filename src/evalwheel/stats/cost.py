"""What a grader's (or a system's) mistakes cost in money, per N sessions.

An eval reports "false-positive rate 6%, false-negative rate 11%"; a product owner decides on dollars.
The model here is deliberately linear and transparent — each session has some chance of being a false
positive (a bad step or answer let through as good) and of being a false negative (a good one flagged
or blocked as bad), each with its own price, plus a fixed processing cost per session:

    cost(N) = N · fp_rate · cost_per_false_positive
            + N · fn_rate · cost_per_false_negative
            + N · cost_per_session

Rates here are shares of *all* sessions (FP / n and FN / n), not the conditional FP / (FP + TN): the
cost is incurred per session, so the frequency over sessions is what multiplies the price.

Positive = "pass / good". Two presets ship (override any field with `preset(name, **overrides)`):

- `tutoring` (Study Mode). FP = a poor learning step judged good: $5 of a learner's study time wasted.
  FN = a useful step judged bad, discouraging the learner or withholding help that would have worked:
  $20 of lost learning (the figures of the tutoring business model in the spec). Per session $0.25:
  about $0.05 of model compute for a 20-turn session on a hosted mid-size model plus sampled human
  oversight, 5% of sessions reviewed for 8 minutes at $30/h = $0.20.
- `support_desk` (customer-support RAG assistant). FP = a wrong or unsupported answer delivered as
  good: $20 — the customer comes back (one agent-handled contact ≈ $6, a typical chat/email cost),
  the repeat contact takes longer because the customer is now frustrated (≈ $4 extra handling time),
  and expected churn (1% chance of losing a customer worth $1,000 lifetime value = $10). FN = a correct
  answer flagged as bad and escalated to a human agent needlessly: $6, one agent-handled contact.
  Per session $0.03: retrieval plus a ~3k-token answer on a hosted mid-size model (≈ $0.01) and sampled
  online grading (≈ $0.02). These are illustrative industry-order figures, not measurements: replace
  them with your own contact costs and customer value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

from pydantic import ConfigDict, Field, model_validator

from evalwheel.basemodel import EvalwheelModel


class CostModel(EvalwheelModel):
    """Prices of one application's mistakes, in `currency` per event."""

    model_config = ConfigDict(extra="forbid")

    name: str
    cost_per_false_positive: float = Field(ge=0, allow_inf_nan=False)
    cost_per_false_negative: float = Field(ge=0, allow_inf_nan=False)
    cost_per_session: float = Field(ge=0, allow_inf_nan=False)
    currency: str = "USD"
    description: str = ""


PRESETS: dict[str, CostModel] = {
    "tutoring": CostModel(
        name="tutoring",
        cost_per_false_positive=5.0,
        cost_per_false_negative=20.0,
        cost_per_session=0.25,
        description=(
            "Study Mode tutoring: FP = poor learning step judged good ($5 of wasted study time); "
            "FN = useful step judged bad ($20 of missed learning); per session $0.25 = $0.05 compute "
            "+ $0.20 sampled human oversight (5% of sessions x 8 min at $30/h)."
        ),
    ),
    "support_desk": CostModel(
        name="support_desk",
        cost_per_false_positive=20.0,
        cost_per_false_negative=6.0,
        cost_per_session=0.03,
        description=(
            "Customer-support assistant: FP = wrong answer delivered ($6 repeat contact + $4 extra handling "
            "+ $10 expected churn, 1% of a $1,000 customer); FN = good answer needlessly escalated to an "
            "agent ($6 per contact); per session $0.03 = $0.01 model + $0.02 sampled online grading."
        ),
    ),
}


def preset(name: str, /, **overrides: Any) -> CostModel:
    """A named preset with some fields replaced (validated like any CostModel); `name=` renames the copy."""
    try:
        base = PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown cost model {name!r}; presets: {', '.join(sorted(PRESETS))}") from None
    return CostModel.model_validate({**base.model_dump(), **overrides})


class ErrorRates(EvalwheelModel):
    """False-positive/negative counts and their shares of the compared sessions."""

    model_config = ConfigDict(extra="forbid")

    n: int = Field(ge=0, description="sessions with both a prediction and a human label")
    skipped: int = Field(0, ge=0, description="sessions left out: prediction or label missing (unscored)")
    true_positives: int = 0
    true_negatives: int = 0
    false_positives: int = 0
    false_negatives: int = 0
    fp_rate: float = Field(ge=0, le=1, description="false positives / n")
    fn_rate: float = Field(ge=0, le=1, description="false negatives / n")

    @model_validator(mode="after")
    def _rates_fit(self) -> ErrorRates:
        if self.fp_rate + self.fn_rate > 1 + 1e-9:
            raise ValueError(f"fp_rate + fn_rate cannot exceed 1, got {self.fp_rate} + {self.fn_rate}")
        return self


def error_rates(predicted_pass: Sequence[bool | None], human_pass: Sequence[bool | None]) -> ErrorRates:
    """FP/FN rates of predictions against human labels; pairs with a None on either side are skipped."""
    if len(predicted_pass) != len(human_pass):
        raise ValueError(
            f"predicted_pass has {len(predicted_pass)} items but human_pass has {len(human_pass)}; "
            "they must be aligned session by session"
        )
    pairs = [(p, h) for p, h in zip(predicted_pass, human_pass, strict=True) if p is not None and h is not None]
    n = len(pairs)
    tp = sum(p and h for p, h in pairs)
    tn = sum(not p and not h for p, h in pairs)
    fp = sum(p and not h for p, h in pairs)
    fn = sum(h and not p for p, h in pairs)
    return ErrorRates(
        n=n,
        skipped=len(predicted_pass) - n,
        true_positives=tp,
        true_negatives=tn,
        false_positives=fp,
        false_negatives=fn,
        fp_rate=fp / n if n else 0.0,
        fn_rate=fn / n if n else 0.0,
    )


class CostBreakdown(EvalwheelModel):
    """Cost of `sessions` sessions under `model`, by component."""

    model_config = ConfigDict(extra="forbid")

    model: str
    currency: str
    sessions: int
    fp_rate: float
    fn_rate: float
    false_positive_cost: float
    false_negative_cost: float
    processing_cost: float
    total: float
    per_session: float


def _check_rate(name: str, rate: float) -> None:
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"{name} must be a share of sessions in [0, 1], got {rate}")


def business_cost(model: CostModel, fp_rate: float, fn_rate: float, sessions: int = 1000) -> CostBreakdown:
    """Cost of `sessions` sessions: FP and FN events priced per event plus processing per session."""
    _check_rate("fp_rate", fp_rate)
    _check_rate("fn_rate", fn_rate)
    if fp_rate + fn_rate > 1 + 1e-9:
        raise ValueError(f"fp_rate + fn_rate cannot exceed 1 (both are shares of sessions), got {fp_rate + fn_rate}")
    if sessions < 0:
        raise ValueError(f"sessions must be >= 0, got {sessions}")
    fp_cost = sessions * fp_rate * model.cost_per_false_positive
    fn_cost = sessions * fn_rate * model.cost_per_false_negative
    processing = sessions * model.cost_per_session
    total = fp_cost + fn_cost + processing
    return CostBreakdown(
        model=model.name,
        currency=model.currency,
        sessions=sessions,
        fp_rate=fp_rate,
        fn_rate=fn_rate,
        false_positive_cost=fp_cost,
        false_negative_cost=fn_cost,
        processing_cost=processing,
        total=total,
        per_session=total / sessions if sessions else 0.0,
    )


class CostDelta(EvalwheelModel):
    """Costs of baseline A and candidate B; `delta` = B − A (negative: the candidate saves money)."""

    model_config = ConfigDict(extra="forbid")

    a: CostBreakdown
    b: CostBreakdown
    delta: float
    delta_per_session: float
    summary: str


Rates: TypeAlias = ErrorRates | tuple[float, float]


def _as_pair(rates: Rates) -> tuple[float, float]:
    if isinstance(rates, ErrorRates):
        return rates.fp_rate, rates.fn_rate
    return rates


def cost_delta(
    model: CostModel, a_rates: Rates, b_rates: Rates, sessions: int = 1000, *, model_b: CostModel | None = None
) -> CostDelta:
    """Cost of switching from A to B for `sessions` sessions.

    Rates are `ErrorRates` or `(fp_rate, fn_rate)`. `model_b` prices the candidate separately when it
    differs in processing cost (a cheaper or dearer model), with the same or other mistake prices.
    """
    if model_b is not None and model_b.currency != model.currency:
        raise ValueError(f"cannot subtract {model_b.currency} from {model.currency}: use one currency")
    cost_a = business_cost(model, *_as_pair(a_rates), sessions=sessions)
    cost_b = business_cost(model_b or model, *_as_pair(b_rates), sessions=sessions)
    delta = cost_b.total - cost_a.total
    per = f"per {sessions:,} sessions ({cost_b.total:,.2f} vs {cost_a.total:,.2f} {model.currency}, {model.name} model)"
    if delta < 0:
        summary = f"B saves {-delta:,.2f} {model.currency} {per}"
    elif delta > 0:
        summary = f"B costs {delta:,.2f} {model.currency} more {per}"
    else:
        summary = f"A and B cost the same {per}"
    return CostDelta(
        a=cost_a,
        b=cost_b,
        delta=delta,
        delta_per_session=delta / sessions if sessions else 0.0,
        summary=summary,
    )
