"""evalwheel: eval-driven development for LLM applications.

The public API is small and re-exported here; everything else is an implementation detail.
"""

from evalwheel.datasets.samples import Dataset, load_dataset, save_dataset
from evalwheel.datasets.sessions import LoadReport, SessionLoadError, load_session_file, load_sessions
from evalwheel.graders import GraderContext, get_grader, grader, registered_graders
from evalwheel.graders.pedagogy import EvaluationConfig, evaluate_session, tag_session, tag_turn
from evalwheel.runs.api import EvalResult, run_eval
from evalwheel.runs.spec import EvalSpec, load_spec
from evalwheel.solvers import SolverContext
from evalwheel.stats.compare import Comparison, Outcome, compare_runs
from evalwheel.store import Store
from evalwheel.types import (
    CheckName,
    Evidence,
    ExpertLabels,
    FailureMode,
    LearnerProfile,
    Output,
    RunInfo,
    Sample,
    SampleResult,
    Score,
    Session,
    SessionEvaluation,
    Turn,
)

__version__ = "0.1.0"

__all__ = [
    "CheckName",
    "Comparison",
    "Dataset",
    "EvalResult",
    "EvalSpec",
    "EvaluationConfig",
    "Evidence",
    "ExpertLabels",
    "FailureMode",
    "GraderContext",
    "LearnerProfile",
    "LoadReport",
    "Outcome",
    "Output",
    "RunInfo",
    "Sample",
    "SampleResult",
    "Score",
    "Session",
    "SessionEvaluation",
    "SessionLoadError",
    "SolverContext",
    "Store",
    "Turn",
    "__version__",
    "compare_runs",
    "evaluate_session",
    "get_grader",
    "grader",
    "load_dataset",
    "load_session_file",
    "load_sessions",
    "load_spec",
    "registered_graders",
    "run_eval",
    "save_dataset",
    "tag_session",
    "tag_turn",
]
