"""Statistics: agreement with human labels, intervals, run-vs-run significance tests and the cost model.

Re-exports are lazy (evalwheel.lazy_exports): the gates import `stats.intervals`, which must not pull in numpy.
The function `agreement` is not re-exported: it shares its name with its module, and the import system would
shadow a lazy export with the submodule; import it from `evalwheel.stats.agreement`.
"""

from typing import TYPE_CHECKING

from evalwheel.lazy_exports import lazy_exports

_EXPORTS = {
    "Agreement": "evalwheel.stats.agreement",
    "LabelStats": "evalwheel.stats.agreement",
    "cohen_kappa": "evalwheel.stats.agreement",
    "confusion_matrix": "evalwheel.stats.agreement",
    "Comparison": "evalwheel.stats.compare",
    "Outcome": "evalwheel.stats.compare",
    "compare_runs": "evalwheel.stats.compare",
    "PRESETS": "evalwheel.stats.cost",
    "CostBreakdown": "evalwheel.stats.cost",
    "CostDelta": "evalwheel.stats.cost",
    "CostModel": "evalwheel.stats.cost",
    "ErrorRates": "evalwheel.stats.cost",
    "business_cost": "evalwheel.stats.cost",
    "cost_delta": "evalwheel.stats.cost",
    "error_rates": "evalwheel.stats.cost",
    "preset": "evalwheel.stats.cost",
}

if TYPE_CHECKING:
    from evalwheel.stats.agreement import Agreement, LabelStats, cohen_kappa, confusion_matrix
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

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

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
    "business_cost",
    "cohen_kappa",
    "compare_runs",
    "confusion_matrix",
    "cost_delta",
    "error_rates",
    "preset",
]
