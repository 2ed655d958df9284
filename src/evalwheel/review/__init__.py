"""The human QA loop: a queue ordered by the expected value of a label, named reviewers, labels in the
store, inter-annotator and grader-vs-human agreement, export to calibration JSONL, golden promotion."""

from evalwheel.review.agreement import GraderAgreement, RaterAgreement, consensus, grader_vs_human, inter_annotator
from evalwheel.review.export import export_labels, labelled_items_for, load_store_labels
from evalwheel.review.golden import disagreements, promote_to_golden
from evalwheel.review.models import DIMENSIONS, Label, LabelInput, QueueCandidate, ReviewItem
from evalwheel.review.queue import build_candidates, latest_runs
from evalwheel.review.store import ReviewError, ReviewStore

__all__ = [
    "DIMENSIONS",
    "GraderAgreement",
    "Label",
    "LabelInput",
    "QueueCandidate",
    "RaterAgreement",
    "ReviewError",
    "ReviewItem",
    "ReviewStore",
    "build_candidates",
    "consensus",
    "disagreements",
    "export_labels",
    "grader_vs_human",
    "inter_annotator",
    "labelled_items_for",
    "latest_runs",
    "load_store_labels",
    "promote_to_golden",
]
