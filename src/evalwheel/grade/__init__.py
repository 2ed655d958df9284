"""Batch grading of logged data (no solver): `evalwheel grade LOGS --graders CONFIG`, locally or on Ray."""

from evalwheel.grade.api import GradeOutcome, grade_logs
from evalwheel.grade.batch import Graded, LocalGrader, RayGrader
from evalwheel.grade.logs import LogsError

__all__ = ["GradeOutcome", "Graded", "LocalGrader", "LogsError", "RayGrader", "grade_logs"]
