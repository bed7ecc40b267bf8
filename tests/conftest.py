"""Shared fixtures: database URLs for SQLite and a real PostgreSQL server.

``db_url`` is parametrized over both backends.  PostgreSQL tests create a fresh
database per test session and drop it afterwards.  Without a server they skip
with a hint, except under CI (``CI=true``) where a missing server is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _pg_admin_url() -> str:
    return os.environ.get("FLEETCAST_TEST_DATABASE_URL", DEFAULT_PG)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA} (clone with ../shared beside the repo)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session; dropped at the end."""
    from sqlalchemy import create_engine, text

    from gateway.db import normalize_url, temporary_database

    admin = normalize_url(_pg_admin_url())
    try:
        engine = create_engine(
            admin, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
        )
        with engine.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means "no server"
        msg = (
            f"PostgreSQL not reachable at {admin.render_as_string(hide_password=True)} "
            f"({exc.__class__.__name__}); "
            "start it or set FLEETCAST_TEST_DATABASE_URL to enable the PostgreSQL tests"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    engine.dispose()
    with temporary_database(admin, "fleetcast_test") as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL on each backend: a SQLite file under tmp_path, or the test PostgreSQL DB.

    PostgreSQL tests share one database per session: tests that need isolation
    should use unique ids (they do: every payment key/id is random).
    """
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fleetcast.db'}"
    return str(request.getfixturevalue("postgres_url"))
