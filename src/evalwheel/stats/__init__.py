"""Statistics: agreement with human labels, intervals, run-vs-run significance tests and the cost model."""

from evalwheel.stats.agreement import Agreement, LabelStats, agreement, cohen_kappa, confusion_matrix
from evalwheel.stats.compare import Comparison, Outcome, compare_runs
from evalwheel.stats.cost import (
    PRESETS,
    CostBreakdown,
    CostDelta,
    CostModel,
    ErrorRates,
    business_cost,
    cost_delta,
    error_rates,
    preset,
)

__all__ = [
    "PRESETS",
    "Agreement",
    "Comparison",
    "CostBreakdown",
    "CostDelta",
    "CostModel",
    "ErrorRates",
    "LabelStats",
    "Outcome",
    "agreement",
    "business_cost",
    "cohen_kappa",
    "compare_runs",
    "confusion_matrix",
    "cost_delta",
    "error_rates",
    "preset",
]
