"""evalwheel: eval-driven development for LLM applications.

The public API is small and re-exported here; everything else is an implementation detail.
"""

from typing import TYPE_CHECKING

from evalwheel.lazy_exports import lazy_exports

# Re-exports are resolved on first use (PEP 562), so `import evalwheel` - and every `evalwheel` command, which
# imports this package first - does not pay for sqlalchemy, aiohttp, numpy and every grader up front.
_EXPORTS: dict[str, str] = {
    "CheckName": "evalwheel.types",
    "Comparison": "evalwheel.stats.compare",
    "Dataset": "evalwheel.datasets.samples",
    "EvalResult": "evalwheel.runs.api",
    "EvalSpec": "evalwheel.runs.spec",
    "EvaluationConfig": "evalwheel.graders.pedagogy",
    "Evidence": "evalwheel.types",
    "ExpertLabels": "evalwheel.types",
    "FailureMode": "evalwheel.types",
    "GraderContext": "evalwheel.graders",
    "LearnerProfile": "evalwheel.types",
    "LoadReport": "evalwheel.datasets.sessions",
    "Outcome": "evalwheel.stats.compare",
    "Output": "evalwheel.types",
    "RunInfo": "evalwheel.types",
    "Sample": "evalwheel.types",
    "SampleResult": "evalwheel.types",
    "Score": "evalwheel.types",
    "Session": "evalwheel.types",
    "SessionEvaluation": "evalwheel.types",
    "SessionLoadError": "evalwheel.datasets.sessions",
    "SolverContext": "evalwheel.solvers",
    "Store": "evalwheel.store",
    "Turn": "evalwheel.types",
    "compare_runs": "evalwheel.stats.compare",
    "evaluate_session": "evalwheel.graders.pedagogy",
    "get_grader": "evalwheel.graders",
    "grader": "evalwheel.graders",
    "load_dataset": "evalwheel.datasets.samples",
    "load_session_file": "evalwheel.datasets.sessions",
    "load_sessions": "evalwheel.datasets.sessions",
    "load_spec": "evalwheel.runs.spec",
    "registered_graders": "evalwheel.graders",
    "run_eval": "evalwheel.runs.api",
    "save_dataset": "evalwheel.datasets.samples",
    "tag_session": "evalwheel.graders.pedagogy",
    "tag_turn": "evalwheel.graders.pedagogy",
}

if TYPE_CHECKING:  # the same names, eagerly, for type checkers and IDEs
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


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

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
