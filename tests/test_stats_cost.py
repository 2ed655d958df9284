"""Business cost model: presets, hand-computed breakdowns, FP/FN rates from labels, A-vs-B deltas."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from evalwheel.stats import PRESETS, CostModel, business_cost, cost_delta, error_rates, preset


def test_presets_are_data_with_documented_numbers() -> None:
    assert set(PRESETS) == {"tutoring", "support_desk"}
    tutoring = preset("tutoring")
    assert (tutoring.cost_per_false_positive, tutoring.cost_per_false_negative, tutoring.cost_per_session) == (
        5.0,
        20.0,
        0.25,
    )
    desk = preset("support_desk")
    assert (desk.cost_per_false_positive, desk.cost_per_false_negative, desk.cost_per_session) == (20.0, 6.0, 0.03)
    assert "churn" in desk.description and desk.currency == "USD"


def test_tutoring_breakdown_by_hand() -> None:
    # 1,000 sessions, 10% FP at $5, 5% FN at $20, $0.25 per session: 500 + 1,000 + 250 = 1,750.
    cost = business_cost(preset("tutoring"), fp_rate=0.10, fn_rate=0.05, sessions=1000)
    assert cost.false_positive_cost == pytest.approx(500.0)
    assert cost.false_negative_cost == pytest.approx(1000.0)
    assert cost.processing_cost == pytest.approx(250.0)
    assert cost.total == pytest.approx(1750.0) and cost.per_session == pytest.approx(1.75)
    # The spec's tutoring example uses 10,000 sessions: every component scales linearly.
    assert business_cost(preset("tutoring"), 0.10, 0.05, sessions=10_000).total == pytest.approx(17_500.0)


def test_support_desk_breakdown_by_hand() -> None:
    # 4% wrong answers let through at $20 = 800; 10% needless escalations at $6 = 600; 1,000 x $0.03 = 30.
    cost = business_cost(preset("support_desk"), fp_rate=0.04, fn_rate=0.10)
    assert cost.sessions == 1000 and cost.model == "support_desk"
    assert (cost.false_positive_cost, cost.false_negative_cost) == pytest.approx((800.0, 600.0))
    assert cost.total == pytest.approx(1430.0)


def test_overrides_are_validated() -> None:
    custom = preset("tutoring", cost_per_session=1.0, name="tutoring-gpu")
    assert custom.cost_per_session == 1.0 and custom.cost_per_false_negative == 20.0 and custom.name == "tutoring-gpu"
    assert PRESETS["tutoring"].cost_per_session == 0.25  # the preset itself is untouched
    with pytest.raises(ValueError, match=r"unknown cost model 'legal'.*support_desk"):
        preset("legal")
    with pytest.raises(ValidationError, match="cost_per_false_positive"):
        preset("tutoring", cost_per_false_positive=-1)
    with pytest.raises(ValidationError, match="cost_per_fp"):
        preset("tutoring", cost_per_fp=3)
    own = CostModel(name="mine", cost_per_false_positive=1, cost_per_false_negative=2, cost_per_session=0)
    assert business_cost(own, 0.5, 0.5, sessions=10).total == pytest.approx(15.0)


def test_error_rates_from_predictions_and_human_labels() -> None:
    predicted = [True, True, False, False, True, None, True]
    human = [True, False, True, False, False, True, None]
    rates = error_rates(predicted, human)
    # Scored pairs: (T,T) TP, (T,F) FP, (F,T) FN, (F,F) TN, (T,F) FP; two pairs skipped for None.
    assert rates.n == 5 and rates.skipped == 2
    assert (rates.true_positives, rates.false_positives, rates.false_negatives, rates.true_negatives) == (1, 2, 1, 1)
    assert rates.fp_rate == pytest.approx(0.4) and rates.fn_rate == pytest.approx(0.2)
    empty = error_rates([None], [True])
    assert empty.n == 0 and empty.fp_rate == 0.0
    with pytest.raises(ValueError, match="aligned"):
        error_rates([True], [True, False])


def test_cost_delta_between_runs() -> None:
    tutoring = preset("tutoring")
    delta = cost_delta(tutoring, (0.10, 0.05), (0.05, 0.05), sessions=1000)
    # A: 500 + 1,000 + 250 = 1,750. B: 250 + 1,000 + 250 = 1,500.
    assert delta.a.total == pytest.approx(1750.0) and delta.b.total == pytest.approx(1500.0)
    assert delta.delta == pytest.approx(-250.0) and delta.delta_per_session == pytest.approx(-0.25)
    assert delta.summary.startswith("B saves 250.00 USD per 1,000 sessions")
    # A candidate with better error rates but a dearer model: B = 250 + 1,000 + 500 = 1,750 -> no difference.
    dear = preset("tutoring", cost_per_session=0.5)
    same = cost_delta(tutoring, (0.10, 0.05), (0.05, 0.05), model_b=dear)
    assert same.delta == pytest.approx(0.0) and same.summary.startswith("A and B cost the same")
    worse = cost_delta(tutoring, error_rates([True, False], [True, False]), error_rates([True, True], [True, False]))
    assert worse.delta == pytest.approx(1000 * 0.5 * 5) and worse.summary.startswith("B costs 2,500.00 USD more")
    with pytest.raises(ValueError, match="currency"):
        cost_delta(tutoring, (0, 0), (0, 0), model_b=preset("tutoring", currency="EUR"))


def test_invalid_rates_are_rejected() -> None:
    model = preset("tutoring")
    with pytest.raises(ValueError, match="fp_rate must be a share"):
        business_cost(model, 1.2, 0.0)
    with pytest.raises(ValueError, match="cannot exceed 1"):
        business_cost(model, 0.7, 0.4)
    with pytest.raises(ValueError, match="sessions"):
        business_cost(model, 0.1, 0.1, sessions=-5)
