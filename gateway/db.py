"""One way to open a database, for every fleetcast component.

Nodes on one host share a single SQLite file, and the controller's store reuses
the same function, so the settings that make that safe live here once: WAL so
readers never block the writer, a busy timeout so writers queue instead of
failing, and ``BEGIN IMMEDIATE`` so a transaction takes the write lock up front
(a deferred transaction that upgrades from read to write can fail at once with
"database is locked", which the busy timeout does not cover).  PostgreSQL goes
through psycopg 3; a plain ``postgresql://`` URL is rewritten to use it.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url

SQLITE_BUSY_TIMEOUT_MS = 10_000


def normalize_url(url: str | URL) -> URL:
    """Parse ``url``; route PostgreSQL through psycopg 3 whatever driver was named."""
    parsed = make_url(url) if isinstance(url, str) else url
    if parsed.get_backend_name() in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def is_sqlite(url: str | URL) -> bool:
    return normalize_url(url).get_backend_name() == "sqlite"


def make_engine(
    url: str | URL,
    *,
    pool_size: int = 5,
    busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS,
    echo: bool = False,
    **kwargs: Any,
) -> Engine:
    """Create an engine for ``url`` with the pragmas/pooling fleetcast relies on.

    SQLite: WAL, ``synchronous=NORMAL`` (durable across process crashes, which is
    what a killed node is), foreign keys on, busy timeout, ``BEGIN IMMEDIATE``.
    The parent directory of a file database is created if missing.
    PostgreSQL: psycopg 3, pre-ping, a small pool (``pool_size``).
    """
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        connect_args = dict(kwargs.pop("connect_args", {}))
        connect_args.setdefault("check_same_thread", False)
        connect_args.setdefault("timeout", busy_timeout_ms / 1000)
        engine = create_engine(parsed, echo=echo, connect_args=connect_args, **kwargs)
        _install_sqlite_hooks(engine, busy_timeout_ms)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", pool_size)
    kwargs.setdefault("max_overflow", pool_size)
    return create_engine(parsed, echo=echo, **kwargs)


def _install_sqlite_hooks(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module so that the
        # "begin" hook below decides how a transaction starts.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA temp_store=MEMORY")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


@contextlib.contextmanager
def temporary_database(admin_url: str | URL, prefix: str = "fleetcast_tmp") -> Iterator[str]:
    """A fresh PostgreSQL database on ``admin_url``'s server, dropped (sessions and all) after.

    For tests and benchmarks that need a real server without touching its data:
    yields the new database's URL (password included, for child processes).
    """
    admin = normalize_url(admin_url)
    engine = create_engine(admin, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        with engine.connect() as conn:
            conn.execute(text(f'create database "{name}"'))
        try:
            yield admin.set(database=name).render_as_string(hide_password=False)
        finally:
            with engine.connect() as conn:
                conn.execute(
                    text(
                        "select pg_terminate_backend(pid) from pg_stat_activity "
                        "where datname = :n and pid <> pg_backend_pid()"
                    ),
                    {"n": name},
                )
                conn.execute(text(f'drop database if exists "{name}"'))
    finally:
        engine.dispose()
