"""The compare page's content: what `evalwheel compare` computes, plus the samples that flipped."""

from __future__ import annotations

from pydantic import BaseModel

from evalwheel.runs.compare_cli import comparison_rows, resolve_run, run_outcomes
from evalwheel.stats.compare import Comparison, compare_runs
from evalwheel.store import Store
from evalwheel.types import RunInfo
from evalwheel.web.queries import _cache

FLIP_LIMIT = 200


class CompareView(BaseModel):
    a: RunInfo
    b: RunInfo
    comparison: Comparison
    rows: list[list[str]]
    cost_a: float
    cost_b: float
    broke: list[str]  # passed in A, failed in B
    fixed: list[str]  # failed in A, passed in B
    broke_total: int
    fixed_total: int


def compare_view(store: Store, ref_a: str, ref_b: str) -> CompareView:
    a, b = resolve_run(store, ref_a), resolve_run(store, ref_b)

    def build() -> CompareView:
        out_a, out_b = run_outcomes(store, a.run_id), run_outcomes(store, b.run_id)
        cmp = compare_runs(out_a, out_b)
        pa = {o.sample_id: o.passed for o in out_a}
        broke = [o.sample_id for o in out_b if o.passed is False and pa.get(o.sample_id) is True]
        fixed = [o.sample_id for o in out_b if o.passed is True and pa.get(o.sample_id) is False]
        return CompareView(
            a=a,
            b=b,
            comparison=cmp,
            rows=comparison_rows(cmp),
            cost_a=store.run_cost(a.run_id),
            cost_b=store.run_cost(b.run_id),
            broke=broke[:FLIP_LIMIT],
            fixed=fixed[:FLIP_LIMIT],
            broke_total=len(broke),
            fixed_total=len(fixed),
        )

    key = (
        "compare",
        a.run_id,
        a.status,
        store.count_results(a.run_id),
        b.run_id,
        b.status,
        store.count_results(b.run_id),
    )
    return _cache.get(key, build)
