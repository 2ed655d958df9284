"""Study Mode pedagogy graders: the per-turn tagger, the session checks and their registration."""

from evalwheel.graders.pedagogy import llm as llm
from evalwheel.graders.pedagogy.checks import CHECKS, CheckConfig
from evalwheel.graders.pedagogy.graders import studymode_fidelity
from evalwheel.graders.pedagogy.response.graders import RESPONSE_GRADERS
from evalwheel.graders.pedagogy.session import EvaluationConfig, evaluate_session, load_config
from evalwheel.graders.pedagogy.tagger import Action, tag_session, tag_turn

__all__ = [
    "CHECKS",
    "RESPONSE_GRADERS",
    "Action",
    "CheckConfig",
    "EvaluationConfig",
    "evaluate_session",
    "load_config",
    "studymode_fidelity",
    "tag_session",
    "tag_turn",
]
