"""What callers of the store need without importing SQLAlchemy: its error type and its clock.

Why a separate module: the run engine, writer and lease name `StoreError` and stamp times with `now_iso` at
import time, while `evalwheel run` opens the store only after the preflight probe has gone out, so that
importing SQLAlchemy (the largest import of a run) is not on the path to the first model request.
"""

from __future__ import annotations

from datetime import UTC, datetime


class StoreError(RuntimeError):
    """The store cannot be opened or a run is unknown (bad input: exit code 2)."""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")  # orders runs started in the same second
