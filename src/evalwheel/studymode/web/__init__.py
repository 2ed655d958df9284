"""The learner-facing Study Mode web chat: a FastAPI router (`/study`) and a standalone app around it."""

from evalwheel.studymode.web.router import study_router
from evalwheel.studymode.web.service import StudyError, StudyService

__all__ = ["StudyError", "StudyService", "study_router"]
