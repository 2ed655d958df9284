"""The solver protocol: how an output is produced for a sample.

A solver is an async function of (sample, ctx) -> Output. Like graders, solvers keep no state of their own:
the model, the spec's directory and the solver's configuration arrive in the context, so the run engine can
call them concurrently and resume a run without any hidden state to rebuild.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalwheel.models.base import Model
from evalwheel.types import Output, Sample


@dataclass(frozen=True)
class SolverContext:
    """What a solver may use: the target model (None for recorded/human solvers), its config, where the spec lives."""

    model: Model | None = None
    config: dict[str, Any] = field(default_factory=dict)
    base_dir: Path = field(default_factory=Path.cwd)


SolverFn = Callable[[Sample, SolverContext], Awaitable[Output]]
"""A user function may also return a plain `str`; the python solver wraps it into an Output."""
