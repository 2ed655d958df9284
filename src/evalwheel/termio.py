"""Terminal output rules shared by every command.

Rich lays tables out for the terminal's width, and for 80 columns when it cannot find one. Piped into a file
or `| cat`, that cut columns (`answe`) and folded ids mid-word in output meant for scripts and logs. Off a
TTY there is no width to respect, so the output gets as much as it needs; `COLUMNS` set by the user wins.
"""

from __future__ import annotations

import os
import sys

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
