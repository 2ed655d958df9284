"""Solvers produce an output for a sample: a prompt on a model, the user's Python function, recorded outputs,
or a Study Mode session replayed under an arm."""

from evalwheel.solvers.base import SolverContext, SolverFn
from evalwheel.solvers.build import build_solver

__all__ = ["SolverContext", "SolverFn", "build_solver"]
