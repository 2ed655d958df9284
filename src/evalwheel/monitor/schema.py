"""The monitoring tables, on their own MetaData so the run store's schema stays the run store's.

They live in the same database as the runs (the store URL), created on open. Every accepted event is a row
of `mon_events` (sampled or not: volume, latency and error rates need the whole population); the sampled ones
are the queue (`state` pending -> leased -> done). `mon_results` is keyed by request id, which is what makes
grading idempotent: a result is inserted at most once, whichever worker finishes first.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

monitor_metadata = MetaData()

_ID = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements only INTEGER PRIMARY KEY

events = Table(
    "mon_events",
    monitor_metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("request_id", String(200), nullable=False, unique=True),
    Column("app", String(200), nullable=False),
    Column("ts", Float, nullable=False),
    Column("received_at", Float, nullable=False),
    Column("stratum", String(400), nullable=False),
    Column("sampled", Boolean, nullable=False),
    Column("inclusion_prob", Float, nullable=False),
    Column("reason", String(200), nullable=False),
    Column("state", String(16), nullable=False),  # pending | leased | done | skipped
    Column("lease_owner", String(100)),
    Column("lease_until", Float),
    Column("attempts", Integer, nullable=False, default=0),
    Column("latency_ms", Float),
    Column("is_error", Boolean, nullable=False),
    Column("cost_usd", Float),
    Column("prompt_version", String(200)),
    Column("session_id", String(200)),
    Column("payload", Text, nullable=False),
    Index("ix_mon_events_state_id", "state", "id"),
    Index("ix_mon_events_app_ts", "app", "ts"),
)

results = Table(
    "mon_results",
    monitor_metadata,
    Column("request_id", String(200), primary_key=True),
    Column("app", String(200), nullable=False),
    Column("ts", Float, nullable=False),
    Column("status", String(16), nullable=False),  # passed | failed | unscored | error
    Column("value", Float),
    Column("inclusion_prob", Float, nullable=False),
    Column("scores_json", Text, nullable=False),
    Column("error", Text),
    Column("worker", String(100)),
    Column("graded_at", Float, nullable=False),
    Index("ix_mon_results_app_ts", "app", "ts"),
)

alerts = Table(
    "mon_alerts",
    monitor_metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("rule", String(200), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("app", String(200), nullable=False),
    Column("dedupe_key", String(400), nullable=False),
    Column("fired_at", Float, nullable=False),
    Column("message", Text, nullable=False),
    Column("payload", Text, nullable=False),
    Column("state", String(16), nullable=False),  # pending | delivered | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt", Float, nullable=False),
    Column("last_error", Text),
    Index("ix_mon_alerts_key", "dedupe_key", "fired_at"),
    Index("ix_mon_alerts_state", "state", "next_attempt"),
)

promotions = Table(
    "mon_promotions",
    monitor_metadata,
    Column("request_id", String(200), primary_key=True),
    Column("dataset", String(1000), primary_key=True),
    Column("sample_id", String(300), nullable=False),
    Column("partition", String(32), nullable=False),
    Column("root_cause", Text, nullable=False),
    Column("promoted_at", Float, nullable=False),
)
