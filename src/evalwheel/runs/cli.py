"""`evalwheel run SPEC` and `evalwheel runs list`: execute an eval spec, gate it, report it.

Exit codes (DESIGN.md): 0 all gates pass, 1 a gate failed, 2 bad input or config, 3 too many run errors.
With several replay arms, each arm is its own run; only the arms in `solver.gate_arms` (default: all) count
toward the exit code, the others are reported for comparison.
"""

from __future__ import annotations

import contextlib
import json
import shlex
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from evalwheel.cli_options import RequestTimeoutOption, check_model_option
from evalwheel.termio import fail

if TYPE_CHECKING:
    from evalwheel.gates import ExitCode, GateReport, GraderCounts, RunSummary
    from evalwheel.runs.dataset_source import PreparedDataset
    from evalwheel.runs.engine import Progress as EngineProgress
    from evalwheel.runs.spec import EvalSpec

# Start-up rule: this module is imported for `evalwheel run --help`, so the engine, store (SQLAlchemy), HTTP
# client (aiohttp) and graders are imported inside the functions that use them, not here.

out = Console()
err = Console(stderr=True)


def bad_input_errors() -> tuple[type[Exception], ...]:
    """The exceptions that mean bad input or configuration (exit 2); imported only when something failed."""
    from evalwheel.datasets.lock import GoldenLockError, LockFileError
    from evalwheel.datasets.samples import InvalidDatasetError
    from evalwheel.fileio import FileReadError
    from evalwheel.gates import GateConfigError
    from evalwheel.models.base import ModelConfigError
    from evalwheel.runs.executors import ExecutorError
    from evalwheel.runs.partition import PartitionChoiceError
    from evalwheel.runs.spec import SpecError
    from evalwheel.solvers.python import SolverImportError
    from evalwheel.solvers.recorded import RecordedOutputsError
    from evalwheel.store import StoreError
    from evalwheel.studymode.prompting import ArmError

    return (
        PartitionChoiceError,
        FileReadError,
        SpecError,
        InvalidDatasetError,
        GoldenLockError,
        LockFileError,
        GateConfigError,
        StoreError,
        ModelConfigError,
        SolverImportError,
        RecordedOutputsError,
        ArmError,
        ExecutorError,
    )


_fail = fail

PARTIAL_NOTE = "partial: --limit left samples unrun; never picked as SPEC@latest or the default baseline"


def _progress_bar(enabled: bool, label: str) -> tuple[AbstractContextManager[Any], EngineProgress]:
    """A rich progress bar on stderr and the engine hooks that drive it. Disabled (`--no-progress`, `--json`):
    no bar at all, and no-op hooks. Why: a disabled rich bar still updated its task for every result (about
    3 us each) and imported rich.progress (start-up, issue 15).

    The bar appears when the engine starts executing samples (its `start` hook), not before: a run that the
    preflight refuses prints its one error message, not an empty bar followed by it."""
    from evalwheel.runs.engine import Progress as EngineProgress

    if not enabled:
        return contextlib.nullcontext(), EngineProgress()
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    bar = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )
    task = bar.add_task(label, total=None, status="")
    tally = {"passed": 0, "failed": 0, "unscored": 0, "error": 0}
    shown = contextlib.ExitStack()  # stops the live display when the run ends, if it was ever started

    def start(total: int) -> None:
        if not bar.live.is_started:
            shown.enter_context(bar)
        bar.update(task, total=total)

    def advance(result: Any) -> None:
        tally[result.status] += 1
        text = " ".join(f"{k[0]}:{v}" for k, v in tally.items() if v)
        bar.update(task, advance=1, status=text)

    return shown, EngineProgress(start=start, advance=advance)


def _partition_table(summary: RunSummary, title: str) -> Table:
    table = Table(title=title)
    for col in ("partition", "samples", "passed", "failed", "unscored", "errors", "pass rate (95% CI)"):
        table.add_column(col, justify="left" if col == "partition" else "right")
    for name, p in [*summary.partitions.items(), ("all", summary.overall)]:
        table.add_row(
            name, str(p.samples), str(p.passed), str(p.failed), str(p.unscored), str(p.errors), p.interval.format(3)
        )
    return table


def grader_table(graders: Mapping[str, GraderCounts], title: str = "graders") -> Table:
    """Each grader's verdict counts next to the agreement figure it was measured at ("not calibrated" if none)."""
    from evalwheel.calibration.shipped import agreement_text

    table = Table(title=title)
    for col in ("grader", "passed", "failed", "unscored", "agreement with humans"):
        table.add_column(
            col, justify="left" if col in ("grader", "agreement with humans") else "right", overflow="fold"
        )
    for name, g in graders.items():
        table.add_row(escape(name), str(g.passed), str(g.failed), str(g.unscored), escape(agreement_text(g.agreement)))
    return table


def _gate_table(report: GateReport) -> Table:
    table = Table(title="gates")
    for col in ("gate", "status", "measured", "threshold", "message"):
        table.add_column(col, overflow="fold")
    colours = {"passed": "green", "failed": "red", "skipped": "yellow", "report-only": "yellow"}
    for g in report.gates:
        measured = "" if g.measured is None else f"{g.measured:.3f}"
        threshold = "" if g.threshold is None else f"{g.comparison} {g.threshold:.3f}"
        table.add_row(g.name, f"[{colours[g.status]}]{g.status}[/]", measured, threshold, g.message)
    return table


def _write(path: Path | None, render: Callable[[], str | Iterable[str]]) -> None:
    """Write a report atomically (the JUnit report streamed as chunks); an unwritable path is exit 2. `render`
    runs only when a path was asked for: the JUnit writer is imported on first use (start-up, issue 15)."""
    if path is None:
        return
    from evalwheel.fileio import write_text_atomic

    write_text_atomic(path, render())


def _check_reports(
    spec: EvalSpec, spec_path: Path, store: str | None, arms: list[str | None], reports: dict[str, Path | None]
) -> None:
    """FileWriteError (exit 2) before anything runs for a report path that cannot be written or that names one of
    the run's inputs. Why: `--markdown spec.yaml` or `--junit runs.sqlite` replaced that file after the run (the
    spec, the dataset, the whole store gone, exit 0), and `--junit DIR` failed only once the run was paid for."""
    from evalwheel.fileio import check_writable, refuse_overwriting_input

    if not any(reports.values()):
        return
    inputs = _input_files(spec, spec_path, store)
    for option, path in reports.items():
        for a in arms:
            target = _suffixed(path, a, len(arms) > 1)
            if target is not None:
                refuse_overwriting_input(target, inputs, option=option)
                check_writable(target, what=option)


def _input_files(spec: EvalSpec, spec_path: Path, store: str | None) -> list[Path]:
    """The files a run reads or writes, besides its reports: spec, dataset, lock, solver files, grader files, store."""
    from evalwheel.project import sqlite_file

    files = [spec_path, spec.dataset_path, spec.lock_path]
    if spec.solver.path:
        files.append(spec.resolve(spec.solver.path))
    if spec.solver.function and ".py:" in spec.solver.function:
        files.append(spec.resolve(spec.solver.function.rsplit(":", 1)[0]))
    files += [spec.resolve(f) for g in spec.graders for f in (g.config_file, g.calibration) if f]
    target = store or (spec.store if not spec.store or "://" in spec.store else spec.resolve(spec.store))
    with contextlib.suppress(ValueError):  # an unreadable evalwheel.yaml is reported when the store is opened
        store_file = sqlite_file(target)
        files += [store_file] if store_file else []
    return files


def _suffixed(path: Path | None, arm: str | None, many: bool) -> Path | None:
    if path is None or not many or arm is None:
        return path
    safe = arm.replace(":", "-")
    return path.with_name(f"{path.stem}.{safe}{path.suffix}")


def run_command(
    spec_path: Annotated[Path, typer.Argument(metavar="SPEC", help="Eval spec (YAML).")],
    arm: Annotated[
        list[str] | None, typer.Option("--arm", help="Replay arm(s) to run (default: all in the spec).")
    ] = None,
    resume: Annotated[
        str | None, typer.Option("--resume", metavar="RUN_ID", help="Continue a run; finished samples are skipped.")
    ] = None,
    retry_errors: Annotated[
        bool, typer.Option("--retry-errors", help="With --resume: run errored samples again.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="With --resume: resume even though the spec or dataset changed.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Estimate calls, tokens, cost and time; run nothing.")
    ] = False,
    store_target: Annotated[
        str | None,
        typer.Option("--store", help="SQLAlchemy URL or SQLite file (default: spec's, else .evalwheel/runs.sqlite)."),
    ] = None,
    baseline: Annotated[
        str, typer.Option("--baseline", metavar="RUN_ID|latest|none", help="Baseline for the regression gate.")
    ] = "latest",
    junit: Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML here.")] = None,
    markdown: Annotated[
        Path | None, typer.Option("--markdown", help="Write a PR-comment markdown summary here.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object per run instead of tables.")] = False,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Run at most N (sample, epoch) units.")] = None,
    cache: Annotated[bool, typer.Option("--cache/--no-cache", help="Use the persistent model-response cache.")] = True,
    judges: Annotated[
        bool, typer.Option("--judges/--no-judges", help="--no-judges skips LLM-judge graders (fast, free pass).")
    ] = True,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Progress bar on stderr.")] = True,
    partition: Annotated[
        list[str] | None,
        typer.Option("--partition", help="Run only this partition (repeatable), e.g. --partition golden."),
    ] = None,
    otel_endpoint: Annotated[
        str | None,
        typer.Option(
            "--otel-endpoint",
            metavar="URL",
            help="Export spans over OTLP/HTTP (e.g. http://127.0.0.1:4318); OTEL_EXPORTER_OTLP_* also work.",
        ),
    ] = None,
    timeout: RequestTimeoutOption = None,
    connect_timeout: Annotated[
        float | None, typer.Option("--connect-timeout", min=0.001, metavar="S", help="Connect time limit.")
    ] = None,
    first_byte_timeout: Annotated[
        float | None,
        typer.Option("--first-byte-timeout", min=0.001, metavar="S", help="Cut a request with no reply byte by then."),
    ] = None,
    hedge: Annotated[
        bool | None,
        typer.Option("--hedge/--no-hedge", help="Send a second request for stragglers past the recent p95 latency."),
    ] = None,
    deadline: Annotated[
        float | None,
        typer.Option("--deadline", min=0.001, metavar="S", help="Stop the run cleanly after S seconds (exit 3)."),
    ] = None,
    executor: Annotated[
        str, typer.Option("--executor", metavar="local|ray", help="Where samples run: this process, or a Ray cluster.")
    ] = "local",
    address: Annotated[
        str | None,
        typer.Option("--address", metavar="auto|ray://HOST:PORT", help="Ray cluster (default: start a local one)."),
    ] = None,
) -> None:
    """Run an eval spec: solve and grade every sample, store each result as it completes, apply the gates."""
    from evalwheel import tracing
    from evalwheel.gates import gates_from_spec, worst
    from evalwheel.runs.dataset_source import prepare_dataset
    from evalwheel.runs.partition import scope_partitions
    from evalwheel.runs.spec import SpecError, load_spec

    if retry_errors and resume is None:
        raise _fail("--retry-errors needs --resume RUN_ID")
    if otel_endpoint is not None:
        if not otel_endpoint.startswith(("http://", "https://")):
            raise _fail(f"--otel-endpoint {otel_endpoint!r}: expected an http(s):// URL (OTLP/HTTP)")
        tracing.configure(otel_endpoint)
    if force and resume is None:
        raise _fail("--force needs --resume RUN_ID")
    try:
        spec = load_spec(spec_path).with_run_settings(
            connect_s=connect_timeout,
            first_byte_s=first_byte_timeout,
            total_s=timeout,
            hedge=hedge,
            deadline_s=deadline,
        )
        target_model = (spec.solver.model or "").strip()  # as get_model reads it
        if target_model:  # its form is checked before a store or a run row exists
            check_model_option(target_model, f"{spec_path}: solver.model")
        gates_from_spec(  # validated now so that a bad `gates:` fails before any sample runs
            spec.model_dump(mode="json", exclude_none=True), spec_path, spec.base_dir
        )
        dataset = prepare_dataset(
            spec.dataset_path, spec.lock_path, require_lock=spec.dataset.require_lock, root=spec.data_root
        )
        dataset = scope_partitions(dataset, partition)
        arms: list[str | None] = (
            list(arm) if arm else (list(spec.solver.arms) if spec.solver.type == "replay" else [None])
        )
        if resume is not None and len(arms) > 1:
            raise SpecError("--resume continues one run: pick its arm with --arm")
        _check_reports(spec, spec_path, store_target, arms, {"--junit": junit, "--markdown": markdown})
        if dry_run:
            from evalwheel.runs.estimate import estimate_run  # the Study Mode stack, for replay estimates

            estimates = [estimate_run(spec, dataset, a, cache=cache, judges=judges, limit=limit) for a in arms]
            _print_estimates(estimates, as_json)
            return
    except bad_input_errors() as exc:
        raise _fail(str(exc)) from None
    opts = RunOptions(
        resume=resume,
        retry_errors=retry_errors,
        force=force,
        limit=limit,
        cache=cache,
        judges=judges,
        show_progress=progress and not as_json,
        baseline=baseline,
        junit=junit,
        markdown=markdown,
        as_json=as_json,
        many=len(arms) > 1,
        executor=executor,
        address=address,
    )
    codes: list[ExitCode] = []
    payloads: list[dict[str, Any]] = []
    for a in arms:
        code, payload = _run_arm(spec, spec_path, dataset, store_target, a, opts)
        payloads.append(payload)
        if a is None or spec.solver.gate_arms is None or a in spec.solver.gate_arms:
            codes.append(code)
    if as_json:
        out.print_json(json.dumps(payloads[0] if len(payloads) == 1 else payloads))
    raise typer.Exit(int(worst(codes)))


@dataclass(frozen=True)
class RunOptions:
    """The command-line choices that apply to every arm's run."""

    resume: str | None
    retry_errors: bool
    limit: int | None
    force: bool
    cache: bool
    judges: bool
    show_progress: bool
    baseline: str
    junit: Path | None
    markdown: Path | None
    as_json: bool
    many: bool
    executor: str = "local"
    address: str | None = None


def _run_arm(
    spec: EvalSpec,
    spec_path: Path,
    dataset: PreparedDataset,
    store: str | None,  # opened by run_eval after the preflight probe (start-up: SQLAlchemy is imported then)
    arm: str | None,
    opts: RunOptions,
) -> tuple[ExitCode, dict[str, Any]]:
    from evalwheel import eventloop, gates
    from evalwheel.gates import ExitCode
    from evalwheel.runs.api import run_eval
    from evalwheel.runs.executors import get_executor
    from evalwheel.runs.writer import RunStoppedError

    label = spec.name + (f" [{arm}]" if arm else "")
    bar, hooks = _progress_bar(opts.show_progress, escape(label))
    try:
        with bar:
            result = eventloop.run(
                run_eval(
                    spec,
                    arm=arm,
                    store=store,
                    dataset=dataset,
                    resume=opts.resume,
                    retry_errors=opts.retry_errors,
                    force=opts.force,
                    limit=opts.limit,
                    cache=opts.cache,
                    judges=opts.judges,
                    baseline=opts.baseline,
                    progress=hooks,
                    executor=get_executor(opts.executor, opts.address),
                )
            )
    except bad_input_errors() as exc:
        raise _fail(str(exc)) from None
    except RunStoppedError as exc:
        if exc.run_id is None:  # the store was down before the run could be recorded
            raise _fail(f"the run could not start: {exc}; nothing was run", ExitCode.TOO_MANY_ERRORS) from None
        resume_hint = _resume_command(spec_path, arm, exc.run_id, store)
        raise _fail(
            f"run {exc.run_id} stopped: {exc}. The {exc.committed} results acknowledged (committed) in this "
            f"execution are stored; finish the run with `{resume_hint}`",
            ExitCode.TOO_MANY_ERRORS,
        ) from None
    outcome, summary, report, cost = result.outcome, result.summary, result.report, result.cost
    for warning in result.warnings:
        err.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True)
    run_id = outcome.run.run_id
    _write(_suffixed(opts.junit, arm, opts.many), lambda: gates.iter_junit_xml(report, summary))
    _write(
        _suffixed(opts.markdown, arm, opts.many),
        lambda: gates.markdown_summary(report, summary, cost=cost, title=label),
    )
    payload = {
        "run_id": run_id,
        "spec": spec.name,
        "arm": arm,
        "status": outcome.run.status,
        "executed": outcome.executed,
        "skipped": outcome.skipped,
        "cost_usd": outcome.cost_usd,
        "budget_exhausted": outcome.budget_exhausted,
        "wall_s": outcome.wall_s,
        "summary": summary.figures(),
        "gates": report.model_dump(mode="json"),
        "exit_code": int(report.exit_code),
        "cost_model": None if cost is None else cost.model_dump(mode="json"),
    }
    if not opts.as_json:
        verb = "resumed" if outcome.resumed else "ran"
        out.print(
            f"[bold]{escape(label)}[/]: {verb} run [cyan]{run_id}[/] — {outcome.executed} executed, {outcome.skipped} "
            f"already done, cost ${outcome.cost_usd:.4f}, {outcome.wall_s:.1f} s"
            + (" [red](budget exhausted: run interrupted)[/]" if outcome.budget_exhausted else "")
            + (f" [yellow]({PARTIAL_NOTE})[/]" if outcome.run.status == "partial" else ""),
            highlight=False,
        )
        out.print(_partition_table(summary, escape(f"{label} — results")))
        if summary.overall.graders:
            out.print(grader_table(summary.overall.graders))
        out.print(_gate_table(report))
        if cost is not None:
            out.print(cost.markdown().replace("**", ""), highlight=False)
        gating = arm is None or spec.solver.gate_arms is None or arm in spec.solver.gate_arms
        verdict = f"exit code {int(report.exit_code)}" if gating else "reported only (not in solver.gate_arms)"
        unfinished = outcome.budget_exhausted or outcome.run.status != "finished"
        hint = _resume_command(spec_path, arm, run_id, store) if unfinished else _show_command(run_id, store)
        out.print(
            escape(f"{verdict}; resume with `{hint}`" if unfinished else f"{verdict}; see it with `{hint}`"),
            highlight=False,
            soft_wrap=True,
        )
    return report.exit_code, payload


def _resume_command(spec_path: Path, arm: str | None, run_id: str, store: str | None) -> str:
    """The command that finishes a run. `--store` is repeated when one was given: without it the printed command
    looked in the default store, and failed with "no run"."""
    parts = ["evalwheel", "run", str(spec_path), *(["--arm", arm] if arm else []), "--resume", run_id]
    return shlex.join(parts + _store_option(store))


def _show_command(run_id: str, store: str | None) -> str:
    """The command that shows a finished run (with the `--store` it was stored in)."""
    return shlex.join(["evalwheel", "runs", "show", run_id, *_store_option(store)])


def _store_option(store: str | None) -> list[str]:
    """`--store TARGET` for a printed command, its password replaced by *** (hints end up in CI logs)."""
    from evalwheel.store.errors import redact_url

    return ["--store", redact_url(store)] if store else []


def _print_estimates(estimates: list[Any], as_json: bool) -> None:
    if as_json:
        data = [e.model_dump(mode="json") for e in estimates]
        out.print_json(json.dumps(data[0] if len(data) == 1 else data))
        return
    table = Table(title="dry run: estimate (nothing was run)")
    columns = ("arm", "samples", "model calls", "judge calls", "cached", "prompt tok", "completion tok", "cost", "time")
    for col in columns:
        table.add_column(col, justify="right")
    for e in estimates:
        cost = "unknown price" if e.cost_usd is None else f"${e.cost_usd:.4f}"
        table.add_row(
            e.arm or "—",
            str(e.units),
            str(e.model_calls),
            str(e.judge_calls),
            str(e.cached_calls),
            f"{e.prompt_tokens:,}",
            f"{e.completion_tokens:,}",
            cost,
            f"{e.seconds:.0f} s",
        )
    out.print(table)
    for note in dict.fromkeys(n for e in estimates for n in e.notes):  # each note once, in order
        out.print(f"[dim]- {note}[/]", highlight=False)


runs_app = typer.Typer(help="Stored runs.", no_args_is_help=True)


@runs_app.command("list")
def list_runs(
    store_target: Annotated[str | None, typer.Option("--store", help="SQLAlchemy URL or SQLite file.")] = None,
    spec: Annotated[str | None, typer.Option("--spec", help="Only runs of this spec name.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The most recent runs with their status."""
    from evalwheel.store import Store, StoreError

    try:
        store = Store(store_target, must_exist=True)
    except StoreError as exc:
        raise _fail(str(exc)) from None
    with contextlib.closing(store):  # closed before exit: the CLI skips the final collection (evalwheel.closing)
        try:
            runs = store.list_runs(spec)
        except StoreError as exc:
            raise _fail(str(exc)) from None
        if as_json:
            out.print_json(json.dumps([r.model_dump(mode="json") for r in runs]))
            return
        table = Table(title=f"runs in {store.safe_url}")
        for col in ("run id", "spec", "arm", "status", "started", "results"):
            table.add_column(col)
        for r in runs:
            table.add_row(
                r.run_id, r.spec_name, r.arm or "", r.status, r.started_at, str(store.count_results(r.run_id))
            )
    out.print(table)
