"""What callers of the store need without importing SQLAlchemy: its error type and its clock.

Why a separate module: the run engine, writer and lease name `StoreError` and stamp times with `now_iso` at
import time, while `evalwheel run` opens the store only after the preflight probe has gone out, so that
importing SQLAlchemy (the largest import of a run) is not on the path to the first model request.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

# SQLAlchemy's own URL grammar (sqlalchemy.engine.url): `dialect+driver://user:password@host...`, the password
# running from the first ':' after the user to the next '@'.
_PASSWORD = re.compile(r"^(?P<head>[\w+]+://[^:/]*:)[^@]*@")


class StoreError(RuntimeError):
    """The store cannot be opened or a run is unknown (bad input: exit code 2)."""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")  # orders runs started in the same second


def redact_url(target: str) -> str:
    """`target` (a store URL or path) as it may be printed: a password replaced by `***`, like `Store.safe_url`.

    Why: commands print the store they were given in hints (`--resume`, `runs show`) and banners, which end up in
    CI logs and terminals shared on screen. Paths and URLs without a password are returned unchanged."""
    return _PASSWORD.sub(r"\g<head>***@", target) if "://" in target else target
