"""`evalwheel import openai-eval EVAL.json --out DIR`: bring a hosted OpenAI Evals definition home."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

out = Console()
err = Console(stderr=True)

import_app = typer.Typer(help="Import evals defined elsewhere (OpenAI Evals).", no_args_is_help=True)


@import_app.command("openai-eval")
def import_openai_eval_command(
    eval_file: Annotated[Path, typer.Argument(metavar="EVAL.json", help="The evals.create payload (JSON).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for spec.yaml + dataset.jsonl (created).")],
    data: Annotated[
        Path | None,
        typer.Option("--data", help="Items: JSONL of {item, sample} lines, or a runs.create JSON with data_source."),
    ] = None,
    judge_model: Annotated[
        str, typer.Option("--judge-model", help="Model the score_model / label_model graders call.")
    ] = "local",
    model: Annotated[
        str | None, typer.Option("--model", help="Model a `completions` data source calls (default: local).")
    ] = None,
    skip_unsupported: Annotated[
        bool, typer.Option("--skip-unsupported", help="Leave out python/endpoint graders instead of failing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the import report as JSON.")] = False,
) -> None:
    """Convert testing_criteria + data into an evalwheel spec that `evalwheel run` executes offline."""
    from evalwheel.cli_options import check_model_option
    from evalwheel.integrations.openai_eval import OpenAIImportError, import_openai_eval

    # Before anything is written: the names go into spec.yaml unresolved, so a typo only failed at `evalwheel run`.
    check_model_option(judge_model, "--judge-model")
    if model is not None:
        check_model_option(model)
    try:
        report = import_openai_eval(
            eval_file, out_dir, data=data, judge_model=judge_model, model=model, skip_unsupported=skip_unsupported
        )
    except OpenAIImportError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(report.model_dump(mode="json"), indent=2, ensure_ascii=False))
        return
    out.print(
        f"imported {escape(report.name)}: {report.items} items, {len(report.graders)} graders, "
        f"solver {report.solver} -> {escape(report.spec)}",
        highlight=False,
        soft_wrap=True,
    )
    for name, notes in report.approximations.items():
        for note in notes:
            out.print(f"  approximate: {escape(name)}: {escape(note)}", highlight=False, soft_wrap=True)
    for name, why in report.skipped.items():
        out.print(f"  skipped: {escape(name)}: {escape(why)}", highlight=False, soft_wrap=True)
    out.print(f"next: evalwheel run {escape(report.spec)}", highlight=False, soft_wrap=True)
