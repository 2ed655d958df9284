"""Solvers produce an output for a sample: a prompt on a model, the user's Python function, recorded outputs,
or a Study Mode session replayed under an arm.

Re-exports are lazy (evalwheel.lazy_exports): importing `evalwheel.solvers.prompt` must not import the replay
solver and with it the Study Mode graders.
"""

from typing import TYPE_CHECKING

from evalwheel.lazy_exports import lazy_exports

_EXPORTS = {
    "SolverContext": "evalwheel.solvers.base",
    "SolverFn": "evalwheel.solvers.base",
    "build_solver": "evalwheel.solvers.build",
}

if TYPE_CHECKING:
    from evalwheel.solvers.base import SolverContext, SolverFn
    from evalwheel.solvers.build import build_solver

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

__all__ = ["SolverContext", "SolverFn", "build_solver"]
