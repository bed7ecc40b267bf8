"""The node's HTTP behaviour: replays, conflicts, health, drain, metrics, fault injection."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gateway.ledger import Claim
from tests.gateway.conftest import TOKEN, body
from tests.ports import free_port

AUTH = {"Authorization": f"Bearer {TOKEN}"}
METRIC_NAMES = (
    "fleetcast_node_requests_total", "fleetcast_node_request_seconds_bucket",
    "fleetcast_node_inflight", "fleetcast_node_cpu_percent", "fleetcast_node_rss_bytes",
    "fleetcast_node_memory_limit_bytes", "fleetcast_node_event_loop_lag_seconds",
)


def test_same_key_same_body_replays_with_header(node_client: TestClient) -> None:
    first = node_client.post("/payments", json=body(), headers={"Idempotency-Key": "r-1"})
    second = node_client.post("/payments", json=body(), headers={"Idempotency-Key": "r-1"})
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers


def test_same_key_other_body_is_422(node_client: TestClient) -> None:
    node_client.post("/payments", json=body(), headers={"Idempotency-Key": "r-2"})
    other = node_client.post("/payments", json=body(amount_minor=99),
                             headers={"Idempotency-Key": "r-2"})
    assert other.status_code == 422
    assert other.json()["detail"][0]["field"] == "Idempotency-Key"


def test_same_key_in_flight_is_409(node_client: TestClient) -> None:
    state = node_client.app.state.node  # type: ignore[attr-defined]
    from gateway.node import request_fingerprint
    from gateway.schemas import parse_payment

    parsed = parse_payment(body(), today=date.today())
    claim = state.ledger.claim("r-3", request_fingerprint(parsed, state.card_key), "other-node")
    assert isinstance(claim, Claim)
    response = node_client.post("/payments", json=body(), headers={"Idempotency-Key": "r-3"})
    assert response.status_code == 409
    assert response.headers["Retry-After"] == "1"


def test_unknown_payment_is_404(node_client: TestClient) -> None:
    assert node_client.get("/payments/pay_nope").status_code == 404


def test_health_ready_and_drain(node_client: TestClient) -> None:
    health = node_client.get("/healthz").json()
    assert health["status"] == "ok" and health["node_id"] == "node-t"
    assert isinstance(health["pid"], int)
    assert node_client.get("/readyz").status_code == 200
    assert node_client.post("/admin/drain").status_code == 401
    assert node_client.post("/admin/drain", headers=AUTH).status_code == 200
    ready = node_client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["status"] == "draining"
    # still serves what reaches it while draining
    paid = node_client.post("/payments", json=body(), headers={"Idempotency-Key": "r-4"})
    assert paid.status_code == 201


def test_metrics_use_the_contract_names(node_client: TestClient) -> None:
    node_client.post("/payments", json=body(), headers={"Idempotency-Key": "r-5"})
    text = node_client.get("/metrics").text
    for name in METRIC_NAMES:
        assert name in text, name
    assert 'fleetcast_node_requests_total{route="/payments",status="201"}' in text
    assert 'le="0.001"' in text and 'le="10.0"' in text


def test_fault_routes_need_the_token(node_client: TestClient) -> None:
    fault = {"kind": "latency", "params": {"ms": 5}, "duration_s": 5}
    assert node_client.post("/admin/faults", json=fault).status_code == 401
    assert node_client.post("/admin/faults", json=fault,
                            headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert node_client.delete("/admin/faults").status_code == 401
    assert node_client.post("/admin/faults", json=fault, headers=AUTH).status_code == 200
    assert node_client.delete("/admin/faults", headers=AUTH).status_code == 200


def test_a_trailing_slash_is_404_not_a_redirect(node_client: TestClient) -> None:
    # a 307 to /payments reached clients through the balancer without its Location
    response = node_client.post("/payments/", json={}, follow_redirects=False)
    assert response.status_code == 404


def test_fault_request_is_validated(node_client: TestClient) -> None:
    bad = node_client.post("/admin/faults", json={"kind": "meltdown"}, headers=AUTH)
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "kind"
    bad = node_client.post("/admin/faults", json={"kind": "cpu", "duration_s": -1}, headers=AUTH)
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "duration_s"
    # each kind's params are checked (a negative latency was taken as 0, a typo ignored)
    for params, says in [({"ms": -5}, "latency param 'ms' must be from 0 to 600000, got -5"),
                         ({"msec": 5}, "latency takes no param 'msec' (its params: ms, "
                                       "jitter_ms)")]:
        bad = node_client.post("/admin/faults", json={"kind": "latency", "params": params},
                               headers=AUTH)
        assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "params"
        assert bad.json()["detail"][0]["msg"] == says
    bad = node_client.post("/admin/faults", json={"kind": "errors", "params": {"fraction": 2}},
                           headers=AUTH)
    assert bad.status_code == 422 and "from 0 to 1, got 2" in bad.json()["detail"][0]["msg"]
    assert node_client.get("/admin/faults", headers=AUTH).json()["fault"] is None


def test_fault_injection_disabled_is_403(tmp_path: object) -> None:
    from gateway.node import create_app
    from gateway.settings import NodeSettings

    settings = NodeSettings(database_url=f"sqlite:///{tmp_path}/n.db", admin_token=TOKEN)
    with TestClient(create_app(settings)) as client:
        response = client.post("/admin/faults", json={"kind": "crash"}, headers=AUTH)
        assert response.status_code == 403


def test_errors_fault_answers_500_and_expires(node_client: TestClient) -> None:
    fault = {"kind": "errors", "params": {"fraction": 1.0}, "duration_s": 0.3}
    assert node_client.post("/admin/faults", json=fault, headers=AUTH).status_code == 200
    failed = node_client.post("/payments", json=body(), headers={"Idempotency-Key": "r-6"})
    assert failed.status_code == 500
    time.sleep(0.35)
    ok = node_client.post("/payments", json=body(), headers={"Idempotency-Key": "r-6"})
    assert ok.status_code == 201  # nothing was charged by the failed attempt


def test_latency_fault_delays_payments(node_client: TestClient) -> None:
    fault = {"kind": "latency", "params": {"ms": 150}, "duration_s": 5}
    node_client.post("/admin/faults", json=fault, headers=AUTH)
    started = time.perf_counter()
    node_client.post("/payments", json=body(), headers={"Idempotency-Key": "r-7"})
    assert time.perf_counter() - started >= 0.15
    assert node_client.get("/admin/faults").json()["fault"]["kind"] == "latency"
    node_client.delete("/admin/faults", headers=AUTH)
    assert node_client.get("/admin/faults").json()["fault"] is None


def test_memory_fault_grows_and_clears(node_client: TestClient) -> None:
    state = node_client.app.state.node  # type: ignore[attr-defined]
    fault = {"kind": "memory", "params": {"mb_per_s": 50}, "duration_s": 5}
    node_client.post("/admin/faults", json=fault, headers=AUTH)
    deadline = time.monotonic() + 5
    while state.faults.leaked_bytes <= 5 * 1024 * 1024 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert state.faults.leaked_bytes > 5 * 1024 * 1024
    node_client.delete("/admin/faults", headers=AUTH)
    assert state.faults.leaked_bytes == 0


def test_database_outage_is_503_and_retry_safe(tmp_path: Path) -> None:
    from gateway.node import create_app
    from gateway.settings import NodeSettings

    db = tmp_path / "n.db"
    settings = NodeSettings(database_url=f"sqlite:///{db}", admin_token=TOKEN,
                            processing_latency_ms=0)
    with TestClient(create_app(settings)) as client:
        state = client.app.state.node  # type: ignore[attr-defined]
        with state.engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE gw_idempotency_keys")  # a broken database
        response = client.post("/payments", json=body(), headers={"Idempotency-Key": "db-1"})
        assert response.status_code == 503
        assert response.json()["detail"].startswith("database unavailable")


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql://app:secret@db/ledger", "the ledger runs on SQLite or PostgreSQL, not 'mysql'"),
        ("ledger.db", "not a database URL"),
    ],
)
def test_node_with_a_database_url_it_cannot_use_says_so(tmp_path: Path, url: str,
                                                        says: str) -> None:
    # Before: a 40-line traceback ending in "ModuleNotFoundError: No module named
    # 'MySQLdb'" or sqlalchemy's ArgumentError, and the local pool quoted that line.
    env = {**os.environ, "FLEETCAST_NODE_DATABASE_URL": url,
           "FLEETCAST_NODE_PORT": str(free_port())}
    out = subprocess.run([sys.executable, "-m", "gateway.node"], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr.startswith(f"fleetcast node: FLEETCAST_NODE_DATABASE_URL: {says}")
    assert "Traceback" not in out.stderr and "secret" not in out.stderr
    assert "sqlite:///" in out.stderr and "postgresql://" in out.stderr


@pytest.mark.postgres
def test_payment_id_with_a_nul_is_404_on_postgresql(postgres_url: str) -> None:
    # GET /payments/a%00b was 503 "database unavailable: PostgreSQL text
    # fields cannot contain NUL (0x00) bytes" (with Retry-After) instead of not found.
    from gateway.node import create_app
    from gateway.settings import NodeSettings

    settings = NodeSettings(node_id="node-g", database_url=postgres_url,
                            processing_latency_ms=0)
    with TestClient(create_app(settings)) as client:
        key = {"Idempotency-Key": os.urandom(8).hex()}
        created = client.post("/payments", json=body(), headers=key).json()
        assert client.get(f"/payments/{created['id']}").json() == created
        for bad in ("a%00b", created["id"] + "%00", "%C3%A9"):
            response = client.get(f"/payments/{bad}")
            assert response.status_code == 404, (bad, response.text)
            assert response.json()["detail"][0]["field"] == "payment_id"


@pytest.mark.postgres
def test_database_outage_is_logged_by_the_node(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Before: every payment was a 503 "database unavailable" and the node's log stayed
    # empty, so an operator reading it could not tell why the fleet answered 503.
    from sqlalchemy import create_engine, text

    from gateway.db import temporary_database
    from gateway.node import create_app
    from gateway.settings import NodeSettings
    from tests.conftest import _pg_admin_url

    admin = create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    try:
        with temporary_database(_pg_admin_url(), "fleetcast_outage") as url:
            name = url.rsplit("/", 1)[1]
            settings = NodeSettings(node_id="node-o", database_url=url, processing_latency_ms=0)
            with TestClient(create_app(settings)) as client:
                ok = client.post("/payments", json=body(), headers={"Idempotency-Key": "o-1"})
                assert ok.status_code == 201
                with admin.connect() as conn:
                    conn.execute(text(f'alter database "{name}" allow_connections false'))
                    conn.execute(text("select pg_terminate_backend(pid) from pg_stat_activity "
                                      "where datname = :n"), {"n": name})
                try:
                    with caplog.at_level("WARNING", logger="fleetcast.node"):
                        failed = client.post("/payments", json=body(),
                                             headers={"Idempotency-Key": "o-2"})
                finally:
                    with admin.connect() as conn:
                        conn.execute(text(f'alter database "{name}" allow_connections true'))
                assert failed.status_code == 503
                # the client is told to retry, not where the database lives
                assert name not in failed.text and "127.0.0.1" not in failed.text
                [line] = [r.getMessage() for r in caplog.records if r.name == "fleetcast.node"]
                assert line.startswith("node node-o: database unavailable (1 request answered "
                                       "503 since the last report): ")
                assert name in line  # PostgreSQL's own words: which database refused
    finally:
        admin.dispose()


def test_database_errors_are_logged_once_per_interval(tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    from gateway.node import DB_LOG_INTERVAL_S, NodeState
    from gateway.settings import NodeSettings

    state = NodeState(NodeSettings(node_id="node-l",
                                   database_url=f"sqlite:///{tmp_path / 'l.db'}"))
    with caplog.at_level("WARNING", logger="fleetcast.node"):
        for now in (100.0, 101.0, 102.0, 100.0 + DB_LOG_INTERVAL_S):
            state.report_database_error("server closed the connection", now=now)
    lines = [r.getMessage() for r in caplog.records if r.name == "fleetcast.node"]
    assert lines == [
        "node node-l: database unavailable (1 request answered 503 since the last report): "
        "server closed the connection",
        "node node-l: database unavailable (3 requests answered 503 since the last report): "
        "server closed the connection",
    ]
    state.engine.dispose()


def test_admin_token_with_non_ascii_characters_is_401(node_client: TestClient) -> None:
    # hmac.compare_digest raised TypeError on the latin-1 header: a 500.
    wrong = {"Authorization": "Bearer café".encode("latin-1")}
    assert node_client.post("/admin/drain", headers=wrong).status_code == 401
    assert node_client.request("DELETE", "/admin/faults", headers=wrong).status_code == 401
    assert node_client.get("/readyz").status_code == 200  # not drained


def test_admin_refusals_say_why(tmp_path: Path) -> None:
    # Before, every refusal said "admin token required (Authorization: Bearer)", also on
    # a node started without a token, where no header could ever be accepted.
    from gateway.node import create_app
    from gateway.settings import NodeSettings

    settings = NodeSettings(database_url=f"sqlite:///{tmp_path / 'a.db'}", admin_token="",
                            fault_injection=True)
    with TestClient(create_app(settings)) as client:
        off = client.post("/admin/drain", headers=AUTH)
        assert off.status_code == 401
        assert off.json()["detail"] == (
            "admin routes are off: no admin token is configured "
            "(fleetcast node --admin-token or FLEETCAST_NODE_ADMIN_TOKEN)")
    settings = NodeSettings(database_url=f"sqlite:///{tmp_path / 'b.db'}", admin_token=TOKEN,
                            fault_injection=True)
    with TestClient(create_app(settings)) as client:
        wrong = client.post("/admin/drain", headers={"Authorization": "Bearer nope"})
        assert wrong.json()["detail"] == (
            "admin token does not match (Authorization: Bearer <token>)")
        missing = client.request("DELETE", "/admin/faults")
        assert missing.json()["detail"] == "admin token required (Authorization: Bearer <token>)"
        assert client.post("/admin/drain", headers=AUTH).status_code == 200


def test_processing_must_fit_in_the_idempotency_lease() -> None:
    from pydantic import ValidationError

    from gateway.settings import NodeSettings

    with pytest.raises(ValidationError, match="processing_latency_ms\n  2000 ms is not shorter "
                       r"than the idempotency lease \(2 s, idempotency_lease_s\)"):
        NodeSettings(processing_latency_ms=2000)
    assert NodeSettings(processing_latency_ms=1500).processing_latency_ms == 1500
    assert NodeSettings(processing_latency_ms=3000, idempotency_lease_s=5).idempotency_lease_s == 5
