"""The controller store's tables (SQLAlchemy Core).

Kept apart from the queries in ``controller.store`` so the schema reads as one
page: nodes and their state history, decisions, metric samples, the load series,
issued forecasts, anomalies and the planner's memory.  All timestamps are stored
as naive UTC and come back timezone-aware (``UTCDateTime``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    TypeDecorator,
)


class UTCDateTime(TypeDecorator[datetime]):
    """Naive UTC in the database, aware UTC in Python (SQLite keeps no zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


metadata = MetaData()

nodes_t = Table(
    "ctl_nodes",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("url", String(255), nullable=False),
    Column("state", String(16), nullable=False),
    Column("since", UTCDateTime, nullable=False),
    Column("pid", Integer),
    Column("replaces", String(64)),
    Column("drain_reason", String(32)),
    Column("launched_at", UTCDateTime, nullable=False),
)
node_states_t = Table(
    "ctl_node_states",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("node_id", String(64), nullable=False, index=True),
    Column("state", String(16), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("reason", String(255)),
)
decisions_t = Table(
    "ctl_decisions",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("node_id", String(64)),
    Column("reason", String(1000), nullable=False),
    Column("details", JSON, nullable=False),
    Column("inputs", JSON),
)
samples_t = Table(
    "ctl_metric_samples",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("node_id", String(64), nullable=False),
    Column("metric", String(64), nullable=False),
    Column("value", Float, nullable=False),
    Column("resolution_s", Integer, nullable=False, default=0),  # 0 = raw scrape
    Index("ix_ctl_samples_at", "resolution_s", "at"),
)
load_t = Table(
    "ctl_load",
    metadata,
    Column("at", UTCDateTime, primary_key=True),
    Column("rps", Float, nullable=False),
)
forecasts_t = Table(
    "ctl_forecasts",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("issued_at", UTCDateTime, nullable=False),
    Column("target_at", UTCDateTime, nullable=False, index=True),
    Column("step", Integer, nullable=False),
    Column("model", String(128), nullable=False),
    Column("mean", Float, nullable=False),
    Column("lo80", Float, nullable=False),
    Column("hi80", Float, nullable=False),
    Column("lo95", Float, nullable=False),
    Column("hi95", Float, nullable=False),
    Column("actual", Float),
)
anomalies_t = Table(
    "ctl_anomalies",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("node_id", String(64), nullable=False, index=True),
    Column("since", UTCDateTime, nullable=False),
    Column("last_seen", UTCDateTime, nullable=False),
    Column("score", Float, nullable=False),
    Column("top_metrics", JSON, nullable=False),
    Column("state", String(16), nullable=False),  # open | resolved | fleet
)
memory_t = Table(
    "ctl_memory",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", JSON, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
