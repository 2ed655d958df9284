"""Process exit codes of a gated run, and which one wins when several apply.

Precedence is 2 > 3 > 1 > 0: bad input or config means no number in the run can be trusted, so it is
reported first; too many run errors means the quality figures are artifacts of crashes, so they outrank a
failed quality gate; a failed gate outranks success.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    GATE_FAILED = 1
    BAD_INPUT = 2
    TOO_MANY_ERRORS = 3


_PRECEDENCE = {ExitCode.OK: 0, ExitCode.GATE_FAILED: 1, ExitCode.TOO_MANY_ERRORS: 2, ExitCode.BAD_INPUT: 3}


def worst(codes: Iterable[ExitCode]) -> ExitCode:
    """The code that wins under the documented precedence (OK for no codes)."""
    return max(codes, key=_PRECEDENCE.__getitem__, default=ExitCode.OK)
