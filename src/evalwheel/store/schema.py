"""The run store's tables (SQLAlchemy 2.0 Core).

Two tables are enough: `runs` (one row per execution of a spec under one arm) and `results` (one row per
sample x epoch). Scores and outputs are stored as JSON text rather than normalised tables because they are
read back whole, and a flat row keeps each result a single INSERT, which is what lets the engine write
every result the moment it completes without slowing the run down.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, ForeignKey, Index, Integer, MetaData, String, Table, Text, UniqueConstraint

SCHEMA_VERSION = 2  # 2: the lease columns on `runs` (see MIGRATIONS)

metadata = MetaData()

runs = Table(
    "runs",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("spec_name", String(200), nullable=False, index=True),
    Column("spec_hash", String(64), nullable=False, default=""),
    Column("dataset_hash", String(64), nullable=False, default=""),
    Column("arm", String(100), nullable=True),
    Column("model", String(300), nullable=True),
    Column("status", String(20), nullable=False),
    Column("started_at", String(40), nullable=False),
    Column("finished_at", String(40), nullable=True),
    Column("metadata_json", Text, nullable=False, default="{}"),
    # The lease: which process is executing the run (host:pid:token) and until when (unix seconds) unless it
    # renews it. A second `--resume` of a leased run is refused; an expired lease can be taken over.
    Column("lease_owner", String(200), nullable=True),
    Column("lease_expires_at", Float, nullable=True),
    Column("lease_heartbeat_at", Float, nullable=True),
)

results = Table(
    "results",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(64), ForeignKey("runs.run_id"), nullable=False),
    Column("sample_id", String(300), nullable=False),
    Column("epoch", Integer, nullable=False, default=0),
    Column("partition", String(20), nullable=False),
    Column("status", String(10), nullable=False),
    Column("value", Float, nullable=True),
    Column("sample_hash", String(64), nullable=False, default=""),
    Column("tags_json", Text, nullable=False, default="[]"),
    Column("scores_json", Text, nullable=False, default="[]"),
    Column("output_json", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("cost_usd", Float, nullable=False, default=0.0),
    Column("created_at", String(40), nullable=False),
    UniqueConstraint("run_id", "sample_id", "epoch", name="uq_result_sample_epoch"),
)
Index("ix_results_run", results.c.run_id, results.c.id)

meta = Table(
    "evalwheel_meta",
    metadata,
    Column("key", String(50), primary_key=True),
    Column("value", String(200), nullable=False),
)

# Columns added to existing tables, by the schema version that introduced them: opening an older store adds
# them (nullable, so existing rows stay valid) and records the new version.
MIGRATIONS: dict[int, list[tuple[Table, str]]] = {
    2: [(runs, "lease_owner"), (runs, "lease_expires_at"), (runs, "lease_heartbeat_at")],
}
