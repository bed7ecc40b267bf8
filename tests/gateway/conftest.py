"""Helpers for the gateway tests: free ports, valid bodies, an in-process node app."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gateway.node import create_app
from gateway.settings import NodeSettings

TOKEN = "test-admin-token"

VALID_BODY: dict[str, Any] = {
    "merchant_id": "acme_store",
    "amount_minor": 1250,
    "currency": "USD",
    "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2031, "cvc": "123"},
    "description": "order 42",
}


def body(**changes: Any) -> dict[str, Any]:
    """A valid payment body with some fields replaced (``card__cvc="1"`` for nested)."""
    out = copy.deepcopy(VALID_BODY)
    for name, value in changes.items():
        if name.startswith("card__"):
            out["card"][name[6:]] = value
        else:
            out[name] = value
    return out


@pytest.fixture
def node_client(tmp_path: Path) -> Iterator[TestClient]:
    settings = NodeSettings(
        node_id="node-t", database_url=f"sqlite:///{tmp_path / 'node.db'}",
        admin_token=TOKEN, fault_injection=True, processing_latency_ms=0,
    )
    with TestClient(create_app(settings)) as client:
        yield client
