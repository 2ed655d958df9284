"""Typer command functions `replay_command` and `chat_command`, mounted by the main CLI as
`evalwheel replay` and `evalwheel chat`.

They live here rather than in `evalwheel.cli` so the Study Mode product owns its own surface; this
module never imports `evalwheel.cli` (that would be circular once the commands are mounted there).
Exit codes follow DESIGN.md: 0 ok, 2 bad input or configuration, 3 some session x arm failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from evalwheel import eventloop
from evalwheel.cli_options import RequestTimeoutOption, check_model_option
from evalwheel.datasets.sessions import load_sessions
from evalwheel.fileio import FileWriteError, check_writable, refuse_overwriting_input, refuse_writing_into_input
from evalwheel.graders.pedagogy.dimensions.report import arm_dimension_rows
from evalwheel.graders.pedagogy.session import ConfigError, EvaluationConfig, load_config
from evalwheel.models.base import GenerateConfig, Model, ModelConfigError
from evalwheel.studymode.chat import console_reader, default_session_id, run_chat, save_session
from evalwheel.studymode.paired import PairedComparison
from evalwheel.studymode.prompting import (
    Arm,
    ArmError,
    memory_summary,
    parse_arm,
    parse_arms,
    register_overlay_file,
)
from evalwheel.studymode.replay import (
    ArmSummary,
    ReplayEvent,
    ReplayReport,
    replay_sessions,
    report_as_json,
    work_units,
)
from evalwheel.termio import fail
from evalwheel.types import CheckName, LearnerProfile, Session

EXIT_BAD_INPUT, EXIT_RUN_ERRORS = 2, 3
LEVELS = ("beginner", "intermediate", "advanced")

out = Console()
err = Console(stderr=True)


_fail = fail


def default_model() -> str:
    """`local`, or `openai:gpt-4o-mini` when OPENAI_API_KEY is set (the registry's default)."""
    from evalwheel.models.registry import default_model_name

    return default_model_name()


def resolve_model(name: str, cache: bool, max_concurrency: int, timeout_s: float | None = None) -> Model:
    """Look the model up in the registry (imported lazily: the registry ships separately); `timeout_s` is the
    total limit per request (`--timeout`).

    Tests replace this function to inject a scripted model.
    """
    try:
        from evalwheel.models.registry import get_model
        from evalwheel.models.reliability import Timeouts
    except ImportError as exc:
        raise ModelConfigError(f"the model registry is not available ({exc}); cannot load model {name!r}") from None
    return get_model(name, cache=cache, max_concurrency=max_concurrency, timeouts=Timeouts.total(timeout_s))


def _load_sessions_or_exit(paths: list[Path], skip_invalid: bool, *, can_skip: bool = True) -> list[Session]:
    """`can_skip=False` for commands without --skip-invalid (chat --memory), so the hint names no missing option."""
    report = load_sessions(paths)
    for e in report.errors:
        err.print(f"[red]invalid[/] {escape(str(e))}", highlight=False, soft_wrap=True)
    if report.errors and not skip_invalid:
        hint = "fix them or pass --skip-invalid" if can_skip else "fix them"
        raise _fail(f"{len(report.errors)} invalid session file(s); {hint}")
    if not report.sessions:
        raise _fail("no sessions found in " + ", ".join(map(str, paths)))
    return report.sessions


def progress_bar(disable: bool) -> Progress:
    """The progress bar of the long Study Mode commands (on stderr, gone when done)."""
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=disable,
    )


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.0f}%"


def ab_tables(report: ReplayReport) -> list[Table]:
    """Two A/B tables: one row per arm (fidelity with CI, escalation, cost), then pass rate per check."""
    summary = Table(title=f"Study Mode replay — model {report.model or '(none)'}")
    summary.add_column("arm", no_wrap=True, min_width=10)
    for col in ("n", "fidelity [95% CI]", "escalated", "errors", "tokens in/out", "ms/turn"):
        summary.add_column(col, justify="right", overflow="fold")
    for s in report.summaries:
        lat = "—" if s.mean_turn_latency_ms is None else f"{s.mean_turn_latency_ms:.0f}"
        summary.add_row(
            s.arm,
            f"{s.graded}/{s.sessions}",
            s.fidelity.format(),
            f"{_pct(s.escalation_rate)} ({s.escalated})",
            str(s.errors),
            f"{s.usage.prompt_tokens}/{s.usage.completion_tokens}",
            lat,
        )
    dims = arm_dimension_rows([s.arm for s in report.summaries], [s.dimensions for s in report.summaries])
    paired = [paired_table(report.paired)] if report.paired else []
    return [summary, check_table(report.summaries), *paired, dims]


def _p(x: float | None) -> str:
    return "—" if x is None else ("<0.001" if x < 0.001 else f"{x:.3f}")


def paired_table(paired: Sequence[PairedComparison]) -> Table:
    """Every arm against the first, paired by session/persona: Δ fidelity (Wilcoxon), Δ no-reveal (McNemar)."""
    table = Table(title=f"paired vs {escape(paired[0].baseline)} (B − A)" if paired else "paired")
    table.add_column("arm", no_wrap=True)
    cols = (
        "pairs",
        "Δ fidelity [95% CI]",
        "Wilcoxon p",
        "no reveal A → B",
        "Δ no reveal [95% CI]",
        "McNemar p",
        "verdict",
    )
    for col in cols:
        table.add_column(col, justify="right", no_wrap=True)
    for c in paired:
        table.add_row(
            escape(c.arm),
            str(c.n_pairs),
            c.fidelity_diff.format(),
            _p(c.fidelity_test.p_value),
            f"{_pct(c.no_reveal_a.estimate)} → {_pct(c.no_reveal_b.estimate)}",
            c.no_reveal_diff.format(),
            _p(c.no_reveal_test.p_value),
            c.verdict,
        )
    return table


def check_table(summaries: Sequence[ArmSummary]) -> Table:
    """Pass rate of every check per arm (passed/scored, unscored in brackets)."""
    checks = Table(title="pass rate per check (passed/scored; unscored in brackets)")
    checks.add_column("check", no_wrap=True)
    for s in summaries:
        checks.add_column(s.arm, justify="right", no_wrap=True)
    for name in [c.value for c in CheckName]:
        row = [name]
        for s in summaries:
            c = s.checks.get(name)
            if c is None:
                row.append("—")
                continue
            cell = f"{_pct(c.rate.estimate)} {c.passed}/{c.passed + c.failed}"
            row.append(cell + (f" [{c.unscored}]" if c.unscored else ""))
        checks.add_row(*row, end_section=False)
    return checks


async def _replay_with_progress(
    sessions: list[Session],
    arms: list[Arm],
    model: Model | None,
    out_dir: Path,
    config: GenerateConfig,
    max_turns: int | None,
    concurrency: int,
    eval_config: EvaluationConfig,
    show_progress: bool,
) -> ReplayReport:
    total = sum(work_units(s, a, max_turns) for s in sessions for a in arms)
    with progress_bar(disable=not show_progress) as progress:
        task = progress.add_task("replaying tutor turns", total=total)
        counts = {"ok": 0, "skipped": 0, "error": 0}

        def on_event(ev: ReplayEvent) -> None:
            progress.advance(task, ev.advance)
            if ev.status is not None:
                counts[ev.status] += 1
                progress.update(
                    task,
                    description=f"replaying ({counts['ok']} done, {counts['skipped']} resumed, "
                    f"{counts['error']} failed)",
                )

        try:
            return await replay_sessions(
                sessions,
                arms,
                model,
                out_dir,
                config=config,
                max_turns=max_turns,
                concurrency=concurrency,
                eval_config=eval_config,
                on_event=on_event,
            )
        finally:
            if model is not None:
                await model.aclose()


ModelOption = Annotated[
    str,
    typer.Option(
        "--model",
        help="local, local-small, openai:<model> or http(s)://host:port/v1#<model> "
        "[default: local, or openai:gpt-4o-mini when OPENAI_API_KEY is set]",
    ),
]


def replay_command(
    sessions: Annotated[list[Path], typer.Argument(help="Recorded session files (.json/.jsonl) or folders.")],
    arms: Annotated[
        str, typer.Option("--arms", help="Comma-separated arms: base, overlay:vN, human.")
    ] = "base,overlay:v2,human",
    model: ModelOption = "",
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for one artifact per session x arm.")] = Path(
        "artifacts/replay"
    ),
    max_turns: Annotated[
        int | None, typer.Option("--max-turns", min=1, help="Replay only the first N learner turns.")
    ] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, help="Sessions x arms in flight.")] = 4,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Bypass the model response cache.")] = False,
    timeout: RequestTimeoutOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON instead of tables.")] = False,
    max_tokens: Annotated[int, typer.Option("--max-tokens", min=1, help="Cap on each tutor turn.")] = 512,
    temperature: Annotated[float, typer.Option("--temperature", min=0.0, max=2.0)] = 0.0,
    config: Annotated[Path | None, typer.Option("--config", help="YAML evaluation config for grading.")] = None,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Replay the valid files, list the rest.")
    ] = False,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Replay only the first N sessions (in path order).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count model calls, tokens, time and cost; replay nothing.")
    ] = False,
    overlay_file: Annotated[
        list[Path] | None,
        typer.Option("--overlay-file", help="Your own overlay (markdown): arm overlay:<file name>. Repeatable."),
    ] = None,
) -> None:
    """Replay recorded sessions under each arm, regenerate the tutor turns, grade them, and compare arms.

    Artifacts already complete in --out are reused, so an interrupted run resumes where it stopped.
    """
    model = model or default_model()
    check_model_option(model)  # also for --dry-run and human-only arms, which never resolve it
    try:
        own = [register_overlay_file(f) for f in overlay_file or []]
        if own and arms == "base,overlay:v2,human":  # the default arms: compare the user's overlay instead
            arms = ",".join(["base", *(f"overlay:{n}" for n in own), "human"])
        arm_list = parse_arms(arms)
    except ArmError as exc:
        raise _fail(str(exc)) from None
    try:
        eval_config = load_config(config)
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    try:
        refuse_writing_into_input(out_dir, sessions, option="--out")
    except FileWriteError as exc:
        raise _fail(str(exc)) from None
    loaded = _load_sessions_or_exit(sessions, skip_invalid)
    if limit is not None:
        loaded = loaded[:limit]
    if dry_run:
        _print_replay_estimate(loaded, arm_list, model, max_turns, max_tokens, concurrency, as_json)
        return
    gen = GenerateConfig(max_tokens=max_tokens, temperature=temperature)
    try:
        llm = resolve_model(model, not no_cache, concurrency, timeout) if any(a.uses_model for a in arm_list) else None
        report = eventloop.run(
            _replay_with_progress(loaded, arm_list, llm, out_dir, gen, max_turns, concurrency, eval_config, not as_json)
        )
    except ModelConfigError as exc:
        raise _fail(str(exc)) from None
    except KeyboardInterrupt:
        raise _fail(f"interrupted; artifacts already written in {out_dir} are kept and reused on re-run", 130) from None
    if as_json:
        typer.echo(report_as_json(report))  # plain stdout: rich would wrap long lines and break the JSON
    else:
        for table in ab_tables(report):
            out.print(table)
        out.print(f"artifacts and report.json in {out_dir}", highlight=False)
    for r in report.errors:
        err.print(f"[red]failed[/] {escape(f'{r.session_id} [{r.arm}]: {r.error}')}", highlight=False, soft_wrap=True)
    if report.errors:
        raise typer.Exit(EXIT_RUN_ERRORS)


def _print_replay_estimate(
    loaded: list[Session], arm_list: list[Arm], model: str, max_turns: int | None, max_tokens: int,
    concurrency: int, as_json: bool,
) -> None:  # fmt: skip
    from evalwheel.studymode.replay_plan import estimate_replay

    uses_model = any(a.uses_model for a in arm_list)
    est = estimate_replay(loaded, arm_list, model if uses_model else None, max_turns=max_turns,
                          max_tokens=max_tokens, concurrency=concurrency)  # fmt: skip
    if as_json:
        typer.echo(est.model_dump_json(indent=2))
        return
    cost = "unknown price" if est.cost_usd is None else f"${est.cost_usd:.4f}"
    out.print(
        f"dry run (nothing replayed): {est.sessions} sessions x {len(est.arms)} arms ({', '.join(est.arms)}); "
        f"{est.model_calls} model calls on {est.model or 'no model'}, ~{est.prompt_tokens:,} prompt and <= "
        f"{est.completion_tokens:,} completion tokens, ~{est.seconds:.0f} s, {cost}",
        highlight=False, markup=False, soft_wrap=True,
    )  # fmt: skip
    for note in est.notes:
        out.print(f"- {note}", highlight=False, markup=False)


def chat_command(
    model: ModelOption = "",
    arm: Annotated[str, typer.Option("--arm", help="base or overlay:vN.")] = "overlay:v2",
    name: Annotated[str | None, typer.Option("--name", help="Learner's name.")] = None,
    level: Annotated[str | None, typer.Option("--level", help="beginner, intermediate or advanced.")] = None,
    goal: Annotated[list[str] | None, typer.Option("--goal", help="A learning goal (repeatable).")] = None,
    knows: Annotated[
        list[str] | None, typer.Option("--knows", help="A concept the learner already knows (repeatable).")
    ] = None,
    memory: Annotated[
        list[Path] | None, typer.Option("--memory", help="Earlier session files to summarise as memory.")
    ] = None,
    domain: Annotated[str, typer.Option("--domain", help="Domain recorded in the saved session.")] = "general",
    session_id: Annotated[str | None, typer.Option("--session-id", help="Id of the saved session.")] = None,
    save: Annotated[Path | None, typer.Option("--out", help="Where to save the session JSON.")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Bypass the model response cache.")] = False,
    max_tokens: Annotated[int, typer.Option("--max-tokens", min=1, help="Cap on each tutor turn.")] = 512,
    temperature: Annotated[float, typer.Option("--temperature", min=0.0, max=2.0)] = 0.0,
    monitor: Annotated[
        str | None,
        typer.Option("--monitor", metavar="URL", help="Also log the session to a monitor (evalwheel monitor serve)."),
    ] = None,
    overlay_file: Annotated[
        Path | None, typer.Option("--overlay-file", help="Chat under your own overlay (markdown file).")
    ] = None,
    timeout: RequestTimeoutOption = None,
) -> None:
    """Chat with the Study Mode tutor in the terminal (streamed); /quit ends and saves the session."""
    model = model or default_model()
    try:
        if overlay_file is not None:
            own = register_overlay_file(overlay_file)
            arm = f"overlay:{own}" if arm == "overlay:v2" else arm
        chosen = parse_arm(arm)
    except ArmError as exc:
        raise _fail(str(exc)) from None
    if not chosen.uses_model:
        raise _fail("--arm human has no model to chat with; use base or overlay:vN")
    if level is not None and level not in LEVELS:
        raise _fail(f"--level must be one of {', '.join(LEVELS)}, got {level!r}")
    learner = None
    if name or level or goal or knows:
        learner = LearnerProfile.model_validate(
            {"name": name, "level": level, "goals": goal or [], "known_concepts": knows or []}
        )
    summary = memory_summary(_load_sessions_or_exit(memory, skip_invalid=False, can_skip=False)) if memory else None
    sid = session_id or default_session_id()
    path = save or Path(f"{sid}.json")
    check_writable(path, what="--out")  # before the conversation, not after it: a chat that cannot be saved is lost
    refuse_overwriting_input(path, memory or [], option="--out")
    gen = GenerateConfig(max_tokens=max_tokens, temperature=temperature)

    async def run(llm: Model) -> Session | None:
        try:
            return await run_chat(
                llm, chosen, console_reader(out), out, learner, summary, gen, session_id=sid, domain=domain
            )
        finally:
            await llm.aclose()

    try:
        session = eventloop.run(run(resolve_model(model, not no_cache, 1, timeout)))
    except ModelConfigError as exc:
        raise _fail(str(exc)) from None
    if session is None:
        out.print("nothing to save (no messages).")
        return
    save_session(session, path)
    out.print(f"saved {len(session.trajectory)} turns to {path}; grade it with: evalwheel evaluate {path}")
    if monitor is not None:
        from evalwheel.monitor.sdk import log_session

        sent = log_session(monitor, session, prompt_version=chosen.name)
        out.print(f"logged the session to {monitor}: {sent['sent']} event(s), {sent['dropped_refused']} refused")
