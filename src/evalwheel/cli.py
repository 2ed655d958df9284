"""The `evalwheel` command line: one sub-command per verb.

Exit codes (DESIGN.md): 0 success, 1 a gate failed, 2 bad input or config (the message names the file,
field and cause), 3 too many run errors.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.rule import Rule
from rich.table import Table

from evalwheel import __version__, termio
from evalwheel.cli_lazy import lazy_group
from evalwheel.termio import unwrap_when_piped

if TYPE_CHECKING:
    from evalwheel.datasets.sessions import LoadReport
    from evalwheel.graders.pedagogy.session import EvaluationConfig
    from evalwheel.types import Session, SessionEvaluation

# Sub-commands are imported when invoked, not when the CLI starts (start-up budget: `evalwheel run --help` and
# the start of a run < 0.6 s). name -> ("module:attr", one-line help shown by `evalwheel --help`); an attr named
# `load_*` is a loader function. Add new sub-commands here rather than importing their modules at the top.
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("evalwheel.runs.cli:run_command", "Run an eval spec: solve and grade every sample, apply the gates."),
    "runs": ("evalwheel.cli:load_runs_app", "Stored runs."),
    "compare": ("evalwheel.runs.compare_cli:compare_command", "Compare two runs with a significance test."),
    "dataset": ("evalwheel.datasets.cli:dataset_app", "Validate sample datasets and lock the golden set."),
    "agree": ("evalwheel.cli:load_agree_app", "Alias of `calibrate` for mrbench, mathdial and sessions."),
    "calibrate": (
        "evalwheel.cli:load_calibrate_app",
        "Measure graders against human labels: mrbench|mathdial|sessions|pairwise|faithfulness|similarity|GRADER.",
    ),
    "replay": ("evalwheel.studymode.cli:replay_command", "Replay recorded sessions under each arm and compare."),
    "chat": ("evalwheel.studymode.cli:chat_command", "Chat with the Study Mode tutor in the terminal."),
    "simulate": ("evalwheel.studymode.simulate_cli:simulate_command", "Simulated learners talk to each arm."),
    "study-web": ("evalwheel.studymode.web_cli:study_web_command", "Serve the learner-facing Study Mode web chat."),
    "monitor": ("evalwheel.monitor.cli:monitor_app", "Production monitoring: ingest, grade a sample, drift."),
    "grade": ("evalwheel.grade.cli:grade_command", "Batch-grade logged events or sessions (JSONL/Parquet), no solver."),
    "import": ("evalwheel.integrations.cli:import_app", "Import evals defined elsewhere (OpenAI Evals)."),
    "init": ("evalwheel.init.cli:init_command", "Scaffold a new eval project (spec, dataset + lock, CI workflow)."),
    "data": ("evalwheel.data.cli:data_app", "Labelled dev data shipped with evalwheel (for agree / calibrate)."),
    "review": ("evalwheel.review.cli:review_app", "The human QA queue: reviewers, labels, agreement."),
    "serve": ("evalwheel.web.cli:serve_command", "Serve the review workspace (dashboard and review queue)."),
}


def load_runs_app() -> Any:
    from evalwheel.runs.cli import runs_app
    from evalwheel.runs.show import show_command

    if not any(c.name == "show" for c in runs_app.registered_commands):
        runs_app.command("show")(show_command)
    return runs_app


def load_agree_app() -> Any:
    from evalwheel.agreement.cli import agree_app

    if not any(c.name == "sessions" for c in agree_app.registered_commands):
        agree_app.command("sessions")(agree_sessions)
    return agree_app


def load_calibrate_app() -> Any:
    """`calibrate` is the one verb for agreement; importing agreement.cli adds its mrbench / mathdial."""
    from evalwheel.calibration.cli import calibrate_app

    load_agree_app()
    if not any(c.name == "sessions" for c in calibrate_app.registered_commands):
        calibrate_app.command("sessions")(agree_sessions)
    return calibrate_app


EXIT_OK, EXIT_GATE, EXIT_BAD_INPUT, EXIT_RUN_ERRORS = 0, 1, 2, 3

app = typer.Typer(
    name="evalwheel",
    help="Eval-driven development for LLM apps: grade Study Mode tutoring sessions, measure graders against humans.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: rich's help rendering costs ~0.2 s of start-up (evalwheel.cli_lazy.plain_help)
    cls=lazy_group(LAZY_COMMANDS),
)
out = Console()
err = Console(stderr=True)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _root(
    _version: Annotated[
        bool,
        typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Eval-driven development for LLM apps: grade Study Mode tutoring sessions, measure graders against humans."""
    unwrap_when_piped()


fail = termio.fail


def load_or_exit(paths: list[Path], skip_invalid: bool) -> LoadReport:
    """Load sessions; report every bad file; exit 2 unless --skip-invalid (then list what was skipped)."""
    from evalwheel.datasets.sessions import load_sessions

    report = load_sessions(paths)
    for e in report.errors:
        err.print(f"[red]invalid[/] {escape(str(e))}", highlight=False, soft_wrap=True)
    if report.errors and not skip_invalid:
        raise fail(f"{len(report.errors)} invalid session file(s); fix them or pass --skip-invalid")
    if report.errors:
        err.print(f"skipped {len(report.errors)} invalid file(s), loaded {len(report.sessions)} session(s)")
    if not report.sessions:
        raise fail("no sessions found in " + ", ".join(map(str, paths)))
    return report


def config_or_exit(config: Path | None, fidelity_threshold: float | None) -> EvaluationConfig:
    from evalwheel.graders.pedagogy.session import ConfigError, load_config

    try:
        cfg = load_config(config)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    if fidelity_threshold is not None:
        cfg = cfg.model_copy(update={"fidelity_threshold": fidelity_threshold})
    return cfg


def _summary(results: list[SessionEvaluation]) -> dict[str, object]:
    from evalwheel.graders.pedagogy.dimensions.report import dimension_means

    scored = [r.fidelity for r in results if r.fidelity is not None]
    taxonomy = Counter(m.value for r in results for m in r.taxonomy)
    return {
        "sessions": len(results),
        "mean_fidelity": round(sum(scored) / len(scored), 4) if scored else None,
        "escalated": sum(r.escalate for r in results),
        "unscored_checks": sum(1 for r in results for s in r.checks if s.passed is None),
        "taxonomy": dict(taxonomy.most_common()),
        "dimension_means": dimension_means(results),
    }


def _results_table(results: list[SessionEvaluation]) -> Table:
    from evalwheel.graders.pedagogy.dimensions.report import dimension_cell

    table = Table(title="Study Mode pedagogical fidelity", show_lines=False)
    table.add_column("session", overflow="fold", min_width=20)
    table.add_column("source", style="dim", no_wrap=True)
    table.add_column("fidelity", justify="right", no_wrap=True)
    table.add_column("failed checks", overflow="fold")
    table.add_column("escalate", no_wrap=True)
    table.add_column("taxonomy", overflow="fold")
    table.add_column("FACEPSL", no_wrap=True)  # the seven dimensions, 0-2 each (README: reviewer dimensions)
    for r in results:
        fid = "—" if r.fidelity is None else f"{r.fidelity:.2f}"
        colour = "green" if (r.fidelity or 0) >= 0.8 else "yellow" if (r.fidelity or 0) >= 0.6 else "red"
        table.add_row(
            escape(r.session_id),
            escape(r.source or ""),
            f"[{colour}]{fid}[/]",
            ", ".join(r.failed_checks),
            "[bold red]yes[/]" if r.escalate else "no",
            ", ".join(m.value for m in r.taxonomy),
            dimension_cell(r),
        )
    return table


def _agreements(results: list[SessionEvaluation]) -> dict[str, dict[str, Any] | None]:
    """Each check's and dimension's agreement note (None: not calibrated), from its Scores' metadata."""
    from evalwheel.calibration.shipped import score_note

    notes: dict[str, dict[str, Any] | None] = {}
    for r in results:
        for s in (*r.checks, *r.dimensions):
            if notes.get(s.name) is None:
                notes[s.name] = score_note(s.metadata)
    return notes


def _result_json(result: SessionEvaluation) -> dict[str, Any]:
    """A result as JSON, each check and dimension with its `agreement` next to its verdict."""
    from evalwheel.calibration.shipped import agreement_view, score_note

    data = result.model_dump(mode="json")
    for key, scores in (("checks", result.checks), ("dimensions", result.dimensions)):
        for row, s in zip(data[key], scores, strict=True):
            row["agreement"] = agreement_view(score_note(s.metadata))
    return data


def _agreement_line(notes: dict[str, dict[str, Any] | None]) -> str:
    """'agreement: X macro-F1 0.64 (...); not calibrated: a, b' under the results table."""
    from evalwheel.calibration.shipped import NOT_CALIBRATED, format_note

    measured = [f"{name} {format_note(n)}" for name, n in notes.items() if n]
    missing = [name for name, n in notes.items() if not n]
    parts = measured + ([f"{NOT_CALIBRATED}: {', '.join(missing)}"] if missing else [])
    return "agreement with humans: " + ("; ".join(parts) or "no graders")


def _explain(session: Session, result: SessionEvaluation) -> None:
    from evalwheel.calibration.shipped import agreement_text, score_note
    from evalwheel.graders.pedagogy.dimensions.report import dimensions_table
    from evalwheel.graders.pedagogy.tagger import tag_turn

    rule = Rule(f"[bold]{escape(session.session_id)}[/] ({escape(session.domain)})")
    out.print(rule, width=min(out.width, 120))  # a rule spans the page: off a TTY the page is very wide
    fid = "unscored" if result.fidelity is None else f"{result.fidelity:.3f}"
    out.print(escape(f"fidelity {fid}; escalate: {result.escalate} {result.escalation_reasons or ''}"), highlight=False)
    out.print("taxonomy: " + (", ".join(m.value for m in result.taxonomy) or "none"), highlight=False)
    checks = Table(title="checks", show_lines=True)
    for col in ("check", "verdict", "conf", "agreement", "reason", "evidence"):
        checks.add_column(col, no_wrap=col in ("check", "verdict"))
    for s in result.checks:
        verdict = {True: "[green]pass[/]", False: "[red]fail[/]", None: "[yellow]unscored[/]"}[s.passed]
        evidence = "\n".join(
            f"turn {e.turn_index}: “{e.snippet}”" if e.turn_index is not None else f"“{e.snippet}”" for e in s.evidence
        )
        conf = "" if s.confidence is None else f"{s.confidence:.2f}"
        agreement = escape(agreement_text(score_note(s.metadata)))
        checks.add_row(s.name, verdict, conf, agreement, escape(s.reason), escape(evidence))  # user text, not markup
    out.print(checks)
    out.print(dimensions_table(result))
    turns = Table(title="assistant turns", show_lines=False)
    for col in ("turn", "actions", "questions", "words"):
        turns.add_column(col)
    for i, t in enumerate(session.trajectory):
        if t.role == "assistant":
            tags = tag_turn(t.content, i)
            turns.add_row(
                str(i), ", ".join(sorted(a.value for a in tags.actions)), str(tags.question_count), str(tags.words)
            )
    out.print(turns)


@app.command()
def evaluate(
    paths: Annotated[list[Path], typer.Argument(help="Session files (.json/.jsonl) or folders.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")] = False,
    out_file: Annotated[Path | None, typer.Option("--out", help="Write one result per line (JSONL).")] = None,
    explain: Annotated[
        str | None, typer.Option("--explain", metavar="SESSION_ID", help="Show every check with its evidence.")
    ] = None,
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="Grade the valid files, list the rest.")] = False,
    config: Annotated[Path | None, typer.Option("--config", help="YAML evaluation config.")] = None,
    fidelity_threshold: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="Escalate below this fidelity.")
    ] = None,
) -> None:
    """Grade recorded Study Mode sessions for pedagogical fidelity (deterministic, offline)."""
    from evalwheel.graders.pedagogy.session import evaluate_session

    cfg = config_or_exit(config, fidelity_threshold)
    report = load_or_exit(paths, skip_invalid)
    sessions = report.sessions
    if explain is not None:
        sessions = [s for s in sessions if s.session_id == explain]
        if not sessions:
            raise fail(f"--explain: no session with id {explain!r} in the given paths")
    results: list[SessionEvaluation] = []
    sink = None
    if out_file is not None:
        from evalwheel.datasets.sessions import iter_session_files
        from evalwheel.fileio import refuse_overwriting_input

        refuse_overwriting_input(out_file, iter_session_files(paths), option="--out")
        try:
            sink = out_file.open("w", encoding="utf-8")
        except OSError as exc:
            raise fail(f"{out_file}: cannot write results: {exc.strerror}") from None
    try:
        for s in sessions:
            r = evaluate_session(s, cfg)
            results.append(r)
            if sink is not None:
                sink.write(r.model_dump_json() + "\n")
                sink.flush()
    finally:
        if sink is not None:
            sink.close()
    summary = _summary(results)
    if as_json:
        payload = {
            "summary": summary,
            "results": [_result_json(r) for r in results],
            "invalid": [{"path": e.path, "json_path": e.json_path, "cause": e.cause} for e in report.errors],
        }
        typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    if explain is not None:
        _explain(sessions[0], results[0])
        return
    out.print(_results_table(results))
    mean = summary["mean_fidelity"]
    taxonomy = Counter(m.value for r in results for m in r.taxonomy)
    top = ", ".join(f"{k}: {v}" for k, v in taxonomy.most_common()) or "none"
    shown = "—" if mean is None else f"{mean:.3f}"
    out.print(
        f"[bold]{len(results)} sessions[/] · mean fidelity {shown} · "
        f"escalated {summary['escalated']} · failures: {top}",
        highlight=False,
    )
    out.print(escape(_agreement_line(_agreements(results))), highlight=False, soft_wrap=True)
    if out_file is not None:
        out.print(f"wrote {len(results)} results to {out_file}")


def _f3(x: float | None) -> str:
    """A figure to 3 decimals, or a dash when there was nothing to compute it on (no labelled pair)."""
    return "—" if x is None else f"{x:.3f}"


def agree_sessions(  # registered as `agree sessions` by load_agree_app
    paths: Annotated[list[Path], typer.Argument(help="Labelled session files or folders.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid")] = False,
    config: Annotated[Path | None, typer.Option("--config", help="YAML evaluation config.")] = None,
) -> None:
    """Agreement of the deterministic checks with the expert labels in the sessions (accuracy, kappa)."""
    from evalwheel.graders.pedagogy.dimensions.report import agreement_table
    from evalwheel.graders.pedagogy.sessions_agreement import session_agreement

    cfg = config_or_exit(config, None)
    report = load_or_exit(paths, skip_invalid)
    table_data = session_agreement(report.sessions, cfg)
    if table_data.sessions == 0:
        raise fail(
            "no labelled sessions in " + ", ".join(map(str, paths)) + "; agreement needs each session's `labels` "
            "(expert verdicts, see docs/rubric.md)"
        )
    if as_json:
        typer.echo(table_data.model_dump_json(indent=2))
        return

    table = Table(title=f"checks vs expert labels ({table_data.sessions} labelled sessions)")
    for col in ("check", "n", "accuracy", "kappa", "macro-F1", "confusion (rows gold pass/fail)"):
        table.add_column(col, justify="right" if col != "check" else "left", no_wrap=col == "check")
    for name, a in table_data.checks.items():
        table.add_row(name, str(a.n), _f3(a.accuracy), _f3(a.kappa), _f3(a.macro_f1), str(a.confusion))
    out.print(table)
    out.print(agreement_table(dict(table_data.dimensions), table_data.sessions))
    t = table_data.taxonomy
    out.print(
        f"taxonomy: micro-F1 {t.micro_f1:.3f} over {t.n} session×label decisions; "
        f"escalate accuracy {_f3(table_data.escalate.accuracy)} (kappa {_f3(table_data.escalate.kappa)})",
        highlight=False,
    )


@app.command()
def version() -> None:
    """Print the evalwheel version."""
    typer.echo(__version__)


def main() -> None:  # pragma: no cover - `python -m evalwheel.cli`
    """The same entry as the installed script (`cli:app`): unreadable or unwritable files are mapped to exit 2 in
    one place, cli_lazy.LazyGroup.invoke, which every command passes through."""
    app()


if __name__ == "__main__":  # `python -m evalwheel.cli` (used by the kill -9 resume test)
    main()
