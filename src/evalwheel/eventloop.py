"""The one way a CLI command runs a coroutine: on uvloop when it is installed, else on asyncio's own loop.

Why: a run's own CPU per model call is mostly the event loop and aiohttp's transport (issue 15 measured
0.27 ms per call for a bare aiohttp loop on asyncio's default loop). libuv's loop (uvloop, a dependency on
Linux and macOS) does the same work in about three quarters of that, so every run, monitor and grading
command gets faster without changing a line of its logic. `EVALWHEEL_EVENT_LOOP=asyncio` forces the
standard loop (to rule the loop out when chasing a bug); any other value than `asyncio`/`uvloop`/empty is a
configuration error, not silently ignored.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # asyncio itself is imported when a loop is made: `evalwheel run --help` needs none
    import asyncio

T = TypeVar("T")

ENV_VAR = "EVALWHEEL_EVENT_LOOP"
CHOICES = ("uvloop", "asyncio")


class EventLoopChoiceError(ValueError):
    """EVALWHEEL_EVENT_LOOP names no known loop, or names uvloop where it is not installed."""


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The loop constructor to run on (None: asyncio's default), from EVALWHEEL_EVENT_LOOP and what is installed."""
    choice = os.environ.get(ENV_VAR, "").strip().lower()
    if choice not in ("", *CHOICES):
        raise EventLoopChoiceError(f"{ENV_VAR}={choice!r}: expected one of {', '.join(CHOICES)} (or unset)")
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise EventLoopChoiceError(f"{ENV_VAR}=uvloop but uvloop is not installed (pip install uvloop)") from None
        return None
    return uvloop.new_event_loop


def loop_name() -> str:
    """`uvloop` or `asyncio`: what `run` would use now, for diagnostics and tests."""
    return "asyncio" if loop_factory() is None else "uvloop"


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)` on the loop `loop_factory` picks."""
    try:
        factory = loop_factory()
    except EventLoopChoiceError:
        main.close()  # never started: closed, so no "coroutine was never awaited" warning follows the error
        raise
    import asyncio

    if factory is None:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A fresh loop of the chosen kind, for callers that keep one loop across calls (batch grading, Ray workers)."""
    import asyncio

    factory = loop_factory()
    return asyncio.new_event_loop() if factory is None else factory()
