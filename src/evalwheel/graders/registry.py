"""The grader registry: graders are pure async functions registered by name.

A grader has no state of its own; everything it needs arrives as arguments (the sample, the output and
a context with configuration and, later, models). That keeps graders trivially parallel and makes a
grader's verdict a function of its inputs, which is what caching and resuming rely on.
"""

from __future__ import annotations

import importlib
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


# Where each built-in grader is defined, so a run imports only the graders it uses (exact names, then name
# prefixes). A name not listed here still works: the lookup falls back to importing every built-in package.
_BUILTIN_MODULES: dict[str, str] = {
    "exact": "evalwheel.graders.deterministic.strings",
    "contains": "evalwheel.graders.deterministic.strings",
    "regex": "evalwheel.graders.deterministic.strings",
    "json_valid": "evalwheel.graders.deterministic.json_graders",
    "json_schema": "evalwheel.graders.deterministic.json_graders",
    "token_f1": "evalwheel.graders.deterministic.overlap",
    "bleu": "evalwheel.graders.deterministic.overlap",
    "rouge": "evalwheel.graders.deterministic.overlap",
    "semantic_similarity": "evalwheel.graders.deterministic.semantic",
    "constraints": "evalwheel.graders.deterministic.constraints",
    "faithfulness": "evalwheel.graders.model.faithfulness",
    "judge.rubric": "evalwheel.graders.model.judge",
    "judge.pairwise": "evalwheel.graders.model.pairwise",
    "openai.grader": "evalwheel.graders.openai_evals",
    "studymode.fidelity": "evalwheel.graders.pedagogy.graders",
    "studymode.dimensions": "evalwheel.graders.pedagogy.dimensions.graders",
    "studymode.accuracy_judged": "evalwheel.graders.pedagogy.dimensions.graders",
}
_BUILTIN_PREFIXES: tuple[tuple[str, str], ...] = (
    ("studymode.dimension.", "evalwheel.graders.pedagogy.dimensions.graders"),
    ("studymode.", "evalwheel.graders.pedagogy.llm"),
    ("pedagogy.", "evalwheel.graders.pedagogy.response.graders"),
)
_BUILTIN_PACKAGES = (
    "evalwheel.graders.deterministic",
    "evalwheel.graders.model.judge",  # the package's re-exports are lazy: import each grader's module
    "evalwheel.graders.model.pairwise",
    "evalwheel.graders.model.faithfulness",
    "evalwheel.graders.openai_evals",
    "evalwheel.graders.pedagogy",
)


def builtin_module(name: str) -> str | None:
    """The module expected to register built-in grader `name`, or None if the tables do not know it."""
    module = _BUILTIN_MODULES.get(name)
    if module is None:
        module = next((m for prefix, m in _BUILTIN_PREFIXES if name.startswith(prefix)), None)
    return module


def load_builtin_graders() -> None:
    """Import (and so register) every built-in grader."""
    for package in _BUILTIN_PACKAGES:
        importlib.import_module(package)


def get_grader(name: str) -> GraderFn:
    fn = _REGISTRY.get(name)
    if fn is None and (module := builtin_module(name)) is not None:
        importlib.import_module(module)
        fn = _REGISTRY.get(name)
    if fn is None:
        load_builtin_graders()
        fn = _REGISTRY.get(name)
    if fn is None:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise KeyError(f"unknown grader {name!r} (registered: {known})")
    return fn


def registered_graders() -> list[str]:
    load_builtin_graders()
    return sorted(_REGISTRY)
