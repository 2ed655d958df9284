"""Run an eval spec from Python: the same pipeline as `evalwheel run`, returning objects instead of tables.

from evalwheel import run_eval
result = await run_eval("examples/support/spec.yaml")
result.report.exit_code, result.summary.overall.pass_rate
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import sys
import threading
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from evalwheel.gates import GateReport, RunSummary, evaluate_gates, gates_from_spec, summarize
from evalwheel.gates.summary import SummaryBuilder, SummaryError
from evalwheel.runs.costing import RunCost, run_cost
from evalwheel.runs.dataset_source import PreparedDataset, prepare_dataset
from evalwheel.runs.engine import Progress, RunOutcome, execute, plan_run
from evalwheel.runs.executors import Executor
from evalwheel.runs.preflight import preflight
from evalwheel.runs.spec import EvalSpec, load_spec, spec_from_dict
from evalwheel.types import SampleResult

if TYPE_CHECKING:
    from evalwheel.store import Store

T = TypeVar("T")
STORE_MODULE = "evalwheel.store.store"  # imports SQLAlchemy: the largest import of a run
# How long the preflight probes get to put their requests on the wire before the store's import starts beside
# them (an import holds the GIL, which would delay the first request; a probe needs a few ms to connect and send).
PRELOAD_AFTER_S = 0.02


@dataclass(frozen=True)
class EvalResult:
    outcome: RunOutcome
    summary: RunSummary
    report: GateReport
    cost: RunCost | None
    # inconclusive preflight probes (the run went ahead), gate_scores naming scores no result holds
    warnings: tuple[str, ...] = ()

    @property
    def run_id(self) -> str:
        return self.outcome.run.run_id


def as_spec(spec: EvalSpec | str | Path | dict[str, Any], base_dir: Path | None = None) -> EvalSpec:
    if isinstance(spec, EvalSpec):
        return spec
    if isinstance(spec, dict):
        return spec_from_dict(spec, base_dir=base_dir)
    return load_spec(spec)


def store_for(spec: EvalSpec, override: str | Path | None = None) -> Store:
    """An explicit store wins; else the spec's `store` (a path relative to the spec, or a URL); else the default."""
    from evalwheel.store import Store  # SQLAlchemy: imported when a store is opened, not when a run starts

    if override:
        return Store(override)
    if spec.store:
        return Store(spec.store if "://" in spec.store else spec.resolve(spec.store))
    return Store(None)


def baseline_summary(store: Store, spec: EvalSpec, arm: str | None, run_id: str, choice: str) -> RunSummary | None:
    """`latest` (the newest finished run of this spec and arm), a run id, or `none`."""
    if choice == "none":
        return None
    info = store.latest_run(spec.name, arm, exclude=run_id) if choice == "latest" else store.get_run(choice)
    if info is None:
        return None
    return summarize(store.iter_results(info.run_id, with_output=False))


async def run_eval(
    spec: EvalSpec | str | Path | dict[str, Any],
    *,
    arm: str | None = None,
    store: Store | str | Path | None = None,
    dataset: PreparedDataset | None = None,
    resume: str | None = None,
    retry_errors: bool = False,
    force: bool = False,
    limit: int | None = None,
    cache: bool = True,
    judges: bool = True,
    baseline: str = "latest",
    progress: Progress | None = None,
    executor: Executor | None = None,
) -> EvalResult:
    """Execute one run (one arm) of a spec, then summarise, gate and cost it from the stored results."""
    spec = as_spec(spec)
    gate_config, judge_reqs = gates_from_spec(
        spec.model_dump(mode="json", exclude_none=True), f"{spec.name} spec", spec.base_dir
    )
    dataset = dataset or prepare_dataset(
        spec.dataset_path, spec.lock_path, require_lock=spec.dataset.require_lock, root=spec.data_root
    )
    plan = plan_run(spec, arm, cache=cache, judges=judges)
    live = None if resume is not None else SummaryBuilder()
    opens_store = store is None or isinstance(store, (str, Path))
    st: Store | None = None if opens_store else cast("Store", store)
    try:
        try:
            probing = preflight(spec, plan.models)  # setup errors: exit 2 before a run row exists
            warnings = await (_importing_store_meanwhile(probing) if opens_store else probing)
            # The store is opened after the probe, so SQLAlchemy's import is not on the path to the first model
            # call (start-up target, issue 15); a store that cannot be opened is still exit 2 before any sample.
            if st is None:
                st = store_for(spec, cast("str | Path | None", store))
            if baseline not in ("latest", "none"):  # a mistyped --baseline: exit 2 now, not after the whole run
                st.get_run(baseline)
            outcome = await execute(
                plan,
                dataset,
                st,
                resume=resume,
                retry_errors=retry_errors,
                limit=limit,
                progress=progress if live is None else _folding(progress or Progress(), live),
                force=force,
                executor=executor,
            )
        finally:
            await plan.aclose()
        run_id = outcome.run.run_id
        summary = _live_summary(st, run_id, live)
        base = baseline_summary(st, spec, arm, run_id, baseline)
        report = evaluate_gates(summary, gate_config, baseline=base, judge_requirements=judge_reqs)
        cost = run_cost(st, run_id, dataset, arm, spec.cost_model) if spec.cost_model is not None else None
    finally:
        if opens_store and st is not None:  # ours, not the caller's: closed now, so SQLite folds its log back in
            st.close()
    return EvalResult(outcome, summary, report, cost, (*warnings, *unreturned_gate_scores(spec, summary)))


def unreturned_gate_scores(spec: EvalSpec, summary: RunSummary) -> list[str]:
    """A warning per gating grader whose `gate_scores` names a score no result of the run holds.

    Why: such a grader gates on nothing, so every sample it grades is `unscored`, and the only hint used to be a
    golden gate's "no scored samples" (a misspelt score name, or one the grader does not return)."""
    overall = summary.overall
    if overall.n == overall.errors:  # nothing was graded: no evidence either way
        return []
    returned = sorted(overall.graders)
    out = []
    for i, g in enumerate(spec.graders):
        missing = [n for n in g.gate_scores or [] if n not in overall.graders] if g.gate else []
        if missing:
            out.append(
                f"graders[{i}] ({g.name}): gate_scores names {', '.join(map(repr, missing))}, which no result of this "
                f"run holds (scores returned: {', '.join(returned) or 'none'}); it gated nothing"
            )
    return out


def _import_store() -> None:
    with contextlib.suppress(Exception):  # a failed import is raised again, with its traceback, by store_for
        importlib.import_module(STORE_MODULE)


async def _importing_store_meanwhile(probing: Awaitable[T]) -> T:
    """Await the preflight while the store module (SQLAlchemy) is imported in a thread beside it.

    Why: the probes spend most of their time waiting for the endpoint's answer (a model's latency), and the
    store's import (about 0.2-0.3 s of CPU) used to follow them; started once the probes' requests are on the
    wire (`PRELOAD_AFTER_S`), it runs during that wait instead, so neither the first model request nor the
    first sample waits for it. Only the import runs early: the store is still opened (a file or tables
    created) after the preflight passed. If the preflight fails, the import is finished before the error
    propagates, so no thread is left importing while the interpreter exits.
    """
    task = asyncio.ensure_future(probing)
    thread: threading.Thread | None = None
    try:
        done, _ = await asyncio.wait({task}, timeout=PRELOAD_AFTER_S)
        if not done and STORE_MODULE not in sys.modules:
            thread = threading.Thread(target=_import_store, name="evalwheel-store-import", daemon=True)
            thread.start()
        return await task
    except BaseException:
        task.cancel()  # cancelled from outside: the probes go too (a no-op once the preflight has finished)
        if thread is not None:
            thread.join()
        raise


def _folding(progress: Progress, live: SummaryBuilder) -> Progress:
    """`progress`, also folding each acknowledged (committed) result into the run's summary as it arrives.

    Outputs are left out, as when the summary is read back from the store (`with_output=False`), so a fresh
    run's summary is the one `runs show` or a later baseline computes from the stored rows."""

    def advance(result: SampleResult) -> None:
        if live.error is None:  # input the summary refuses is reported by the re-read after the run, as before
            try:
                live.add(result if result.output is None else result.model_copy(update={"output": None}))
            except SummaryError as exc:
                live.error = exc
        progress.advance(result)

    return Progress(start=progress.start, advance=advance)


def _live_summary(store: Store, run_id: str, live: SummaryBuilder | None) -> RunSummary:
    """The summary folded during the run when it holds every stored result of the run (a fresh run: one COUNT
    query checks it); otherwise (a resume: earlier executions' results) the summary re-read from the store."""
    if live is not None and live.error is None and live.overall.n == store.count_results(run_id):
        return live.finish()
    return summarize(store.iter_results(run_id, with_output=False))
