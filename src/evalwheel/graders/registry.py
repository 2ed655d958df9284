"""The grader registry: graders are pure async functions registered by name.

A grader has no state of its own; everything it needs arrives as arguments (the sample, the output and
a context with configuration and, later, models). That keeps graders trivially parallel and makes a
grader's verdict a function of its inputs, which is what caching and resuming rely on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from evalwheel.types import Output, Sample, Score


@dataclass(frozen=True)
class GraderContext:
    """Read-only configuration handed to every grader call."""

    config: dict[str, Any] = field(default_factory=dict)


GraderFn = Callable[[Sample, Output, GraderContext], Awaitable[Score | list[Score]]]

_REGISTRY: dict[str, GraderFn] = {}


def grader(name: str) -> Callable[[GraderFn], GraderFn]:
    """Register an async grader under `name` (names are unique; re-registering is a bug)."""

    def register(fn: GraderFn) -> GraderFn:
        if name in _REGISTRY and _REGISTRY[name] is not fn:
            raise ValueError(f"grader {name!r} is already registered")
        _REGISTRY[name] = fn
        return fn

    return register


def _load_builtins() -> None:
    """Register the built-in graders on first lookup: `import evalwheel` no longer imports every grader module
    up front (start-up time), so the registry pulls them in when a name is first asked for."""
    import evalwheel.graders  # noqa: F401  (each grader module registers itself on import)


def get_grader(name: str) -> GraderFn:
    fn = _REGISTRY.get(name)
    if fn is None:
        _load_builtins()
        fn = _REGISTRY.get(name)
    if fn is None:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise KeyError(f"unknown grader {name!r} (registered: {known})")
    return fn


def registered_graders() -> list[str]:
    _load_builtins()
    return sorted(_REGISTRY)
