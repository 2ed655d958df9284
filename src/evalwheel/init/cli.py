"""`evalwheel init DIR`: scaffold a project, then print the three commands that take it from zero to a gated run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

out = Console()
err = Console(stderr=True)


def init_command(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="New folder for the project (created).")],
    template: Annotated[str, typer.Option("--template", help="support | studymode")] = "support",
    action: Annotated[
        str,
        typer.Option("--action", help="The evalwheel GitHub Action the CI workflow uses (owner/repo@ref)."),
    ] = "OWNER/evalwheel@main",
    as_json: Annotated[bool, typer.Option("--json", help="Print what was written as JSON.")] = False,
) -> None:
    """Scaffold a spec, a small partitioned dataset with its golden lock, grader config and a CI workflow."""
    from evalwheel.init.scaffold import InitError, scaffold

    try:
        result = scaffold(directory, template, action=action)
    except InitError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(result.model_dump(mode="json"), indent=2))
        return
    out.print(f"created {escape(result.directory)} ({result.template} template):", highlight=False)
    for f in result.files:
        out.print(f"  {escape(f)}", highlight=False)
    if "OWNER/" in action:
        out.print("  (set the action in .github/workflows/evalwheel.yml to your evalwheel repository)", highlight=False)
    out.print("next:", highlight=False)
    for command in result.next_commands:
        out.print(f"  {escape(command)}", highlight=False, soft_wrap=True)
