"""Graders: pure async functions of (sample, output, ctx) -> Score, registered by name.

Importing this package does not import the graders themselves (start-up time: the Study Mode graders alone
compile hundreds of cue patterns): `get_grader(name)` imports the module that defines a built-in grader when
its name is first looked up, and `registered_graders()` / `load_builtin_graders()` import them all.
"""

from evalwheel.graders.registry import (
    GraderContext,
    GraderFn,
    get_grader,
    grader,
    load_builtin_graders,
    registered_graders,
)

__all__ = ["GraderContext", "GraderFn", "get_grader", "grader", "load_builtin_graders", "registered_graders"]
