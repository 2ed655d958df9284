"""evalwheel: eval-driven development for LLM applications.

The public API is small and re-exported here; everything else is an implementation detail.
"""

from evalwheel.datasets.sessions import LoadReport, SessionLoadError, load_session_file, load_sessions
from evalwheel.graders import GraderContext, get_grader, grader, registered_graders
from evalwheel.graders.pedagogy import EvaluationConfig, evaluate_session, tag_session, tag_turn
from evalwheel.types import (
    CheckName,
    Evidence,
    ExpertLabels,
    FailureMode,
    LearnerProfile,
    Output,
    Sample,
    Score,
    Session,
    SessionEvaluation,
    Turn,
)

__version__ = "0.1.0"

__all__ = [
    "CheckName",
    "EvaluationConfig",
    "Evidence",
    "ExpertLabels",
    "FailureMode",
    "GraderContext",
    "LearnerProfile",
    "LoadReport",
    "Output",
    "Sample",
    "Score",
    "Session",
    "SessionEvaluation",
    "SessionLoadError",
    "Turn",
    "__version__",
    "evaluate_session",
    "get_grader",
    "grader",
    "load_session_file",
    "load_sessions",
    "registered_graders",
    "tag_session",
    "tag_turn",
]
