"""`evalwheel simulate`: the on-policy A/B of tutoring arms against simulated learners, as tables or JSON.

Exit codes: 0 ok, 2 bad input (persona file, arm, model), 3 some persona × arm failed, 130 on Ctrl-C.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.markup import escape
from rich.table import Table

from evalwheel import eventloop
from evalwheel.graders.pedagogy.session import ConfigError, load_config
from evalwheel.models.base import GenerateConfig, Model, ModelConfigError
from evalwheel.studymode import cli as sm_cli
from evalwheel.studymode.cli import ModelOption, _fail, check_table, default_model, err, out, paired_table
from evalwheel.studymode.guard import GuardConfig
from evalwheel.studymode.learners import LLMLearner, PersonaError, ScriptedLearner, load_personas
from evalwheel.studymode.prompting import ArmError, parse_arms

if TYPE_CHECKING:  # the simulator pulls in numpy/scipy statistics: imported when the command runs
    from evalwheel.studymode.simulate import SimulationReport

EXIT_RUN_ERRORS = 3


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.0f}%"


def simulation_tables(report: SimulationReport) -> list[Table]:
    """Per-arm table, per-check table, and the paired comparison of every arm with the first one."""
    s = report.settings
    arms = Table(title=f"Study Mode simulation — tutor {s.tutor_model}, learner {s.learner}, {s.turns} learner turns")
    arms.add_column("arm", no_wrap=True)
    for col in (
        "n",
        "fidelity [95% CI]",
        "no reveal",
        "escalated",
        "guard fired",
        "calls/turn",
        "out tok/turn",
        "ms/turn",
    ):
        arms.add_column(col, justify="right", no_wrap=True)
    for a in report.summaries:
        reveal = a.checks.get("no_direct_answer_initially")
        turns = a.tutor_turns or 1
        arms.add_row(
            escape(a.arm),
            f"{a.graded}/{a.sessions}",
            a.fidelity.format(),
            "—" if reveal is None else f"{_pct(reveal.rate.estimate)} {reveal.passed}/{reveal.passed + reveal.failed}",
            f"{_pct(a.escalation_rate)} ({a.escalated})",
            f"{a.guard_fired_turns}/{a.tutor_turns} turns",
            f"{a.model_calls / turns:.2f}",
            f"{a.usage.completion_tokens / turns:.0f}",
            "—" if a.mean_turn_latency_ms is None else f"{a.mean_turn_latency_ms:.0f}",
        )
    tables = [arms, check_table(report.summaries)]
    if report.paired:
        tables.append(paired_table(report.paired))
    return tables


def simulate_command(
    arms: Annotated[str, typer.Option("--arms", help="Comma-separated model arms; the first is the baseline.")] = (
        "base,overlay:v2,overlay:v3"
    ),
    learners: Annotated[
        str, typer.Option("--learners", help="Persona file (YAML/JSON), or 'default' for the shipped set.")
    ] = "default",
    turns: Annotated[int, typer.Option("--turns", min=1, max=20, help="Learner turns per session.")] = 3,
    model: ModelOption = "",
    learner: Annotated[
        Literal["llm", "scripted"],
        typer.Option("--learner", help="llm: a model plays the student; scripted: deterministic."),
    ] = "llm",
    learner_model: Annotated[
        str | None, typer.Option("--learner-model", help="Model that plays the student [default: --model].")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Only the first N personas.")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for one artifact per persona x arm.")] = Path(
        "artifacts/simulate"
    ),
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, help="Conversations in flight.")] = 2,
    max_tokens: Annotated[int, typer.Option("--max-tokens", min=1, help="Cap on each tutor turn.")] = 200,
    learner_max_tokens: Annotated[int, typer.Option("--learner-max-tokens", min=1)] = 60,
    max_regenerations: Annotated[
        int, typer.Option("--max-regenerations", min=0, max=5, help="Guard: regenerations before the rewrite.")
    ] = 1,
    turn_timeout: Annotated[
        float | None,
        typer.Option("--turn-timeout", min=0.1, help="Seconds per turn; a timeout saves the session as truncated."),
    ] = None,
    temperature: Annotated[float, typer.Option("--temperature", min=0.0, max=2.0)] = 0.0,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Bypass the model response cache.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    config: Annotated[Path | None, typer.Option("--config", help="YAML evaluation config for grading.")] = None,
) -> None:
    """Simulated learners talk to each arm; grade, compare arms paired by persona (on-policy A/B).

    Artifacts already complete in --out with the same settings are reused, so a re-run resumes.
    """
    from evalwheel.studymode.simulate import SimEvent, SimulationSettings, simulate

    model = model or default_model()
    try:
        arm_list = parse_arms(arms)
    except ArmError as exc:
        raise _fail(str(exc)) from None
    if any(not a.uses_model for a in arm_list):
        raise _fail("simulate needs model arms (base, overlay:vN, +guard): the human arm has no tutor to simulate")
    try:
        personas = load_personas(learners)
    except PersonaError as exc:
        raise _fail(str(exc)) from None
    try:
        eval_config = load_config(config)
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    personas = personas[:limit] if limit else personas
    gen = GenerateConfig(max_tokens=max_tokens, temperature=temperature)
    learner_gen = GenerateConfig(max_tokens=learner_max_tokens, temperature=temperature)
    guard = GuardConfig(max_regenerations=max_regenerations)

    async def run() -> SimulationReport:
        tutor = sm_cli.resolve_model(model, not no_cache, concurrency)
        student_model: Model | None = None
        try:
            if learner == "llm":
                lm = learner_model or model
                student_model = tutor if lm == model else sm_cli.resolve_model(lm, not no_cache, concurrency)
                student: LLMLearner | ScriptedLearner = LLMLearner(student_model, learner_gen)
            else:
                student = ScriptedLearner()
            settings = SimulationSettings(
                turns=turns,
                tutor_model=tutor.name,
                learner=student.name,
                tutor_config=gen.model_dump(mode="json"),
                learner_config=learner_gen.model_dump(mode="json") if learner == "llm" else None,
                turn_timeout_s=turn_timeout,
                guard=guard.model_dump(mode="json"),
            )
            total = len(personas) * len(arm_list) * turns
            with sm_cli.progress_bar(disable=as_json) as progress:
                task = progress.add_task("simulating tutor turns", total=total)

                def on_event(ev: SimEvent) -> None:
                    progress.advance(task, ev.advance)

                return await simulate(
                    personas,
                    arm_list,
                    tutor,
                    student,
                    out_dir,
                    settings,
                    gen,
                    concurrency=concurrency,
                    eval_config=eval_config,
                    on_event=on_event,
                    guard=guard,
                )
        finally:
            await tutor.aclose()
            if student_model is not None and student_model is not tutor:
                await student_model.aclose()

    try:
        report = eventloop.run(run())
    except ModelConfigError as exc:
        raise _fail(str(exc)) from None
    except KeyboardInterrupt:
        raise _fail(f"interrupted; artifacts already written in {out_dir} are kept and reused on re-run", 130) from None
    if as_json:
        typer.echo(json.dumps(report.model_dump(mode="json"), indent=2))
    else:
        for table in simulation_tables(report):
            out.print(table)
        out.print(f"artifacts and simulation.json in {escape(str(out_dir))}", highlight=False)
    for r in report.errors:
        err.print(
            f"[red]failed[/] {escape(r.persona_id)} [{escape(r.arm)}]: {escape(r.error or '')}",
            highlight=False,
            soft_wrap=True,
        )
    if report.errors:
        raise typer.Exit(EXIT_RUN_ERRORS)
