"""`evalwheel data fetch [DEST]` / `evalwheel data list`: the shipped development data, copied out offline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

data_app = typer.Typer(help="Labelled development data shipped with evalwheel (for agree / calibrate).",
                       no_args_is_help=True)  # fmt: skip
out = Console()
err = Console(stderr=True)


@data_app.command("fetch")
def fetch_command(
    dest: Annotated[Path, typer.Argument(metavar="DEST", help="Folder to copy into (created).")] = Path("data"),
    name: Annotated[list[str] | None, typer.Option("--name", help="Only this set (repeatable).")] = None,
) -> None:
    """Copy the shipped data sets with their licences into DEST (no network)."""
    from evalwheel.data import DataError, fetch

    try:
        written = fetch(dest, name)
    except DataError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None
    for path in written:
        out.print(escape(str(path)), highlight=False)


@data_app.command("list")
def list_command() -> None:
    """The shipped data sets, their files and licences."""
    from evalwheel.data import DATASETS

    for set_name, (files, licence) in DATASETS.items():
        out.print(f"{set_name}: {', '.join(files)} — {escape(licence)}", highlight=False)
