"""Terminal output rules shared by every command: page width off a TTY, and the one way to refuse bad input.

Rich lays tables out for the terminal's width, and for 80 columns when it cannot find one. Piped into a file
or `| cat`, that cut columns (`answe`) and folded ids mid-word in output meant for scripts and logs. Off a
TTY there is no width to respect, so the output gets as much as it needs; `COLUMNS` set by the user wins.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import typer

PIPED_COLUMNS = "1000"


def unwrap_when_piped() -> None:
    """Give rich consoles a wide page when stdout is not a terminal (consoles read COLUMNS when they render)."""
    if "COLUMNS" in os.environ or "--help" in sys.argv:  # help pages keep their terminal-sized layout
        return
    try:
        tty = sys.stdout.isatty()
    except (AttributeError, ValueError):
        tty = False
    if not tty:
        os.environ["COLUMNS"] = PIPED_COLUMNS


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print `error: <message>` on stderr and return the Exit to raise (2: bad input).

    The message is printed as text, never as rich markup: messages quote paths, user input and hints such as
    `pip install 'evalwheel[ray]'`, and a `[...]` in them was swallowed as a style tag, or (`[/x]`) raised a
    MarkupError traceback in place of the error."""
    import typer
    from rich.console import Console
    from rich.markup import escape

    Console(stderr=True).print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)
