"""Statistics: agreement with human labels (and, later, significance tests and intervals)."""

from evalwheel.stats.agreement import Agreement, LabelStats, agreement, cohen_kappa, confusion_matrix

__all__ = ["Agreement", "LabelStats", "agreement", "cohen_kappa", "confusion_matrix"]
