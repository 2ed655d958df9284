"""Graders: pure async functions of (sample, output, ctx) -> Score, registered by name."""

from evalwheel.graders import deterministic as deterministic
from evalwheel.graders import model as model
from evalwheel.graders import openai_evals as openai_evals
from evalwheel.graders import pedagogy as pedagogy
from evalwheel.graders.registry import GraderContext, GraderFn, get_grader, grader, registered_graders

__all__ = ["GraderContext", "GraderFn", "get_grader", "grader", "registered_graders"]
