"""The review workspace's tables, on their own MetaData next to the run store's.

They live in the same database as the runs (one URL for everything a team shares) but on a separate
MetaData, so the run store's schema and its version number are untouched: opening a store for review
simply adds these tables when they are missing.

- `review_items`: one row per result that is worth a human's time, with why (reasons) and how much
  (priority = expected value of a label). The sample input and the output are snapshotted when the item
  is queued, so an exported label is self-contained even after the dataset file moves on.
- `review_reviewers`: named accounts; only the sha256 of each token is kept.
- `review_assignments`: who should label an item (an item can go to two reviewers).
- `review_labels`: one label per (item, reviewer), with the grader verdicts the reviewer saw.
- `review_golden`: approval records for samples promoted to a golden dataset.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

review_metadata = MetaData()

items = Table(
    "review_items",
    review_metadata,
    Column("item_id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(64), nullable=False),
    Column("sample_id", String(300), nullable=False),
    Column("epoch", Integer, nullable=False, default=0),
    Column("spec_name", String(200), nullable=False, default=""),
    Column("arm", String(100), nullable=True),
    Column("partition", String(20), nullable=False, default=""),
    Column("kind", String(20), nullable=False),  # escalated | frontier | spot_check | monitor
    Column("reasons_json", Text, nullable=False, default="[]"),
    Column("priority", Float, nullable=False, default=0.0),
    Column("sample_json", Text, nullable=True),  # Sample snapshot (input, reference, context)
    Column("output_json", Text, nullable=True),
    Column("scores_json", Text, nullable=False, default="[]"),  # grader verdicts when queued
    Column("status", String(10), nullable=False, default="open"),  # open | done | golden
    Column("created_at", String(40), nullable=False),
    UniqueConstraint("run_id", "sample_id", "epoch", name="uq_review_item_result"),
)
Index("ix_review_items_queue", items.c.status, items.c.priority)
Index("ix_review_items_run", items.c.run_id)

reviewers = Table(
    "review_reviewers",
    review_metadata,
    Column("name", String(100), primary_key=True),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("created_at", String(40), nullable=False),
)

assignments = Table(
    "review_assignments",
    review_metadata,
    Column("item_id", Integer, ForeignKey("review_items.item_id"), primary_key=True),
    Column("reviewer", String(100), ForeignKey("review_reviewers.name"), primary_key=True),
    Column("assigned_at", String(40), nullable=False),
)
Index("ix_review_assignments_reviewer", assignments.c.reviewer)

labels = Table(
    "review_labels",
    review_metadata,
    Column("label_id", Integer, primary_key=True, autoincrement=True),
    Column("item_id", Integer, ForeignKey("review_items.item_id"), nullable=False),
    Column("reviewer", String(100), ForeignKey("review_reviewers.name"), nullable=False),
    Column("checks_json", Text, nullable=False, default="{}"),  # check -> pass | fail | na
    Column("dimensions_json", Text, nullable=False, default="{}"),  # dimension -> 0..2 (docs/rubric.md)
    Column("taxonomy_json", Text, nullable=False, default="[]"),
    Column("escalate", Boolean, nullable=True),
    Column("notes", Text, nullable=False, default=""),
    Column("corrected_reply", Text, nullable=True),
    Column("graders_seen_json", Text, nullable=False, default="{}"),  # score name -> grader's verdict shown
    Column("grader_versions_json", Text, nullable=False, default="{}"),  # grader -> version it was graded with
    Column("created_at", String(40), nullable=False),
    UniqueConstraint("item_id", "reviewer", name="uq_review_label_reviewer"),
)
Index("ix_review_labels_item", labels.c.item_id)

golden = Table(
    "review_golden",
    review_metadata,
    Column("item_id", Integer, ForeignKey("review_items.item_id"), primary_key=True),
    Column("dataset", Text, nullable=False),
    Column("golden_sample_id", String(300), nullable=False),
    Column("approved_by_json", Text, nullable=False),
    Column("approval_json", Text, nullable=False),
    Column("approved_at", String(40), nullable=False),
)
