"""Settings of a payment node and of the load balancer (pydantic-settings).

Each can be set by keyword (the CLI does) or by environment variable with the
prefix ``FLEETCAST_NODE_`` / ``FLEETCAST_LB_``; the local pool passes the admin
token and database URL to nodes through the environment so they never show up
in ``ps``.  A bad value stops start-up with a message naming the setting.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

DEFAULT_DATABASE_URL = "sqlite:///./var/fleetcast.db"
DEFAULT_CARD_KEY = "fleetcast-dev-card-fingerprint-key"
LEDGER_URL_FORMS = "sqlite:///path/to/file.db or postgresql://user@host:5432/db"


def check_ledger_url(url: str) -> str:
    """A URL the ledger can open: SQLite or PostgreSQL.  The message never repeats the
    URL (it may hold a password)."""
    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError:
        raise PydanticCustomError(
            "database_url", "not a database URL; use {forms}", {"forms": LEDGER_URL_FORMS}
        ) from None
    if backend not in ("sqlite", "postgresql", "postgres"):
        raise PydanticCustomError(
            "database_url", "the ledger runs on SQLite or PostgreSQL, not '{backend}'; use {forms}",
            {"backend": backend, "forms": LEDGER_URL_FORMS})
    return url


class NodeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FLEETCAST_NODE_", extra="forbid")

    node_id: str = Field(default="node-0", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    host: str = "127.0.0.1"
    port: int = Field(default=8101, ge=1, le=65535)
    database_url: str = DEFAULT_DATABASE_URL
    admin_token: str = ""  # empty: every admin route answers 401
    fault_injection: bool = False
    # before processing_latency_ms, whose check reads it
    idempotency_lease_s: float = Field(default=2.0, gt=0)
    processing_latency_ms: float = Field(default=2.0, ge=0, le=60_000)
    max_body_bytes: int = Field(default=16_384, ge=256)
    min_amount_minor: int = Field(default=1, ge=1)
    max_amount_minor: int = Field(default=100_000_000, ge=1)
    fee_percent_bps: int = Field(default=290, ge=0, le=10_000)
    card_hmac_key: str = Field(default=DEFAULT_CARD_KEY, min_length=8)
    memory_limit_mb: int = Field(default=512, ge=16)
    key_retention_hours: float = Field(default=24.0, ge=24.0)
    purge_interval_s: float = Field(default=3600.0, gt=0)
    shutdown_timeout_s: float = Field(default=30.0, gt=0)
    db_pool_size: int = Field(default=4, ge=1)  # PostgreSQL: up to 2× this per node
    log_level: str = "warning"

    @field_validator("database_url")
    @classmethod
    def _ledger_url(cls, url: str) -> str:
        return check_ledger_url(url)

    @field_validator("processing_latency_ms")
    @classmethod
    def _within_the_lease(cls, ms: float, info: ValidationInfo) -> float:
        # a payment still being processed when its claim's lease runs out is taken over
        # by the client's retry and answered 409 itself; retries that keep arriving could
        # then keep taking it over, and the payment would never complete
        lease = info.data.get("idempotency_lease_s")
        if lease is not None and ms >= lease * 1000:
            raise PydanticCustomError(
                "processing_latency_ms",
                f"{ms:g} ms is not shorter than the idempotency lease ({lease:g} s, "
                "idempotency_lease_s): a payment still in processing when its lease ran out "
                "would be taken over by a retry")
        return ms


class BalancerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FLEETCAST_LB_", extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    strategy: Literal[
        "round_robin", "random", "weighted_round_robin", "least_request", "peak_ewma"
    ] = "least_request"
    admin_token: str = ""
    backend_timeout_s: float = Field(default=10.0, gt=0)
    connect_timeout_s: float = Field(default=1.0, gt=0)
    down_backoff_s: float = Field(default=1.0, gt=0)
    max_down_backoff_s: float = Field(default=30.0, gt=0)
    max_connections_per_backend: int = Field(default=64, ge=1)
    max_body_bytes: int = Field(default=65_536, ge=256)
    log_level: str = "warning"
