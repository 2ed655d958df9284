"""The business cost of a run: its false-positive / false-negative rates against human labels, in dollars.

Human labels come from the dataset: `metadata.human_label` (true = a person judged the output acceptable) or,
for Study Mode sessions graded as recorded (the `human` arm or recorded outputs), the session's expert labels
(acceptable = the expert did not escalate it; without that call, no check labelled as failed). A
regenerated trajectory (base / overlay arms) has no human label: experts labelled the recorded
conversation, not the new one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evalwheel.basemodel import EvalwheelModel
from evalwheel.markdown_text import code_span
from evalwheel.runs.dataset_source import PreparedDataset
from evalwheel.runs.spec import CostModelSpec
from evalwheel.stats.cost import CostBreakdown, ErrorRates, business_cost, error_rates, preset
from evalwheel.types import Sample, Session

if TYPE_CHECKING:
    from evalwheel.store import Store


class RunCost(EvalwheelModel):
    model: str
    rates: ErrorRates | None = None
    cost: CostBreakdown | None = None
    note: str = ""

    def markdown(self) -> str:
        if self.cost is None or self.rates is None:
            return self.note
        c, r = self.cost, self.rates
        return (
            f"Cost model {code_span(self.model, table=False)} on {r.n} human-labelled samples: FP rate "
            f"{r.fp_rate:.3f}, FN rate {r.fn_rate:.3f} → **${c.total:,.2f} per {c.sessions:,} sessions** (FP "
            f"${c.false_positive_cost:,.2f}, FN ${c.false_negative_cost:,.2f}, processing ${c.processing_cost:,.2f})."
        )


def human_label(sample: Sample, arm: str | None) -> bool | None:
    label = sample.metadata.get("human_label")
    if isinstance(label, bool):
        return label
    if isinstance(sample.input, Session) and sample.input.labels is not None and arm in (None, "human"):
        if sample.input.labels.escalate is not None:  # the expert's overall call: needs human QA or not
            return not sample.input.labels.escalate
        checks = sample.input.labels.checks
        if any(v is not None for v in checks.values()):
            return not any(v is False for v in checks.values())
    return None


def run_cost(store: Store, run_id: str, dataset: PreparedDataset, arm: str | None, spec: CostModelSpec) -> RunCost:
    labels = {s.id: lab for s, _ in dataset.iter_samples() if (lab := human_label(s, arm)) is not None}
    model = preset(spec.preset, **spec.overrides)
    if not labels:
        return RunCost(
            model=model.name, note="no human-labelled samples (metadata.human_label): cost model not applied"
        )
    predicted: list[bool | None] = []
    human: list[bool | None] = []
    for r in store.iter_results(run_id, with_output=False):
        if r.sample_id in labels:
            predicted.append(True if r.status == "passed" else False if r.status == "failed" else None)
            human.append(labels[r.sample_id])
    rates = error_rates(predicted, human)
    if rates.n == 0:
        return RunCost(model=model.name, rates=rates, note="no scored result has a human label: cost model not applied")
    return RunCost(
        model=model.name, rates=rates, cost=business_cost(model, rates.fp_rate, rates.fn_rate, spec.sessions)
    )
