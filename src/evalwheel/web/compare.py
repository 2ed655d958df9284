"""The compare page's content: what `evalwheel compare` computes, plus the samples that flipped."""

from __future__ import annotations

import threading

from evalwheel.basemodel import EvalwheelModel
from evalwheel.runs.compare_cli import comparison_rows, resolve_run, run_outcomes
from evalwheel.stats.compare import Comparison, changed_ids, compare_runs
from evalwheel.store import Store
from evalwheel.types import RunInfo
from evalwheel.web.queries import _cache

FLIP_LIMIT = 200


class CompareView(EvalwheelModel):
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


_jobs: dict[tuple[object, ...], threading.Thread] = {}
_jobs_lock = threading.Lock()


def _key(store: Store, a: RunInfo, b: RunInfo) -> tuple[object, ...]:
    def part(r: RunInfo) -> tuple[object, ...]:
        n = 0 if r.status == "finished" else store.count_results(r.run_id)
        return (r.run_id, r.status, r.finished_at, n)

    return ("compare", store.url, *part(a), *part(b))


def _build(store: Store, a: RunInfo, b: RunInfo) -> CompareView:
    out_a, out_b = run_outcomes(store, a.run_id), run_outcomes(store, b.run_id)
    cmp = compare_runs(out_a, out_b)
    changed = changed_ids(out_a, out_b)  # a different question under the same id is no flip
    pa = {o.sample_id: o.passed for o in out_a if o.sample_id not in changed}
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


def compare_view(store: Store, ref_a: str, ref_b: str, *, wait_s: float = 0.05) -> CompareView | None:
    """The comparison, or None while it is still being computed in the background (the page says so and
    refreshes): comparing two 10,000-sample runs takes seconds (bootstrap intervals), longer than a page."""
    a, b = resolve_run(store, ref_a), resolve_run(store, ref_b)
    key = _key(store, a, b)
    found = _cache.peek(key)
    if found is not None:
        return found  # type: ignore[no-any-return]
    with _jobs_lock:
        job = _jobs.get(key)
        if job is None:
            job = threading.Thread(target=lambda: _cache.get(key, lambda: _build(store, a, b)), daemon=True)
            _jobs[key] = job
            job.start()
    job.join(wait_s)
    if job.is_alive():
        return None
    with _jobs_lock:
        _jobs.pop(key, None)
    result = _cache.peek(key)
    if result is None:  # the job failed: compute here so the error surfaces as a page
        return _cache.get(key, lambda: _build(store, a, b))
    return result  # type: ignore[no-any-return]
