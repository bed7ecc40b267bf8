"""The REST API against a controller on the in-memory pool (contract in DESIGN.md)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from controller.api import create_app
from controller.live_models import ForecastKeeper
from tests.controller.test_loop import Rig

AUTH = {"Authorization": "Bearer test-token-123"}


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(tmp_path, f"sqlite:///{tmp_path / 'ctl.db'}")
    r.controller.recover(r.clock.now)
    r.controller.ensure_initial_nodes(r.clock.now)
    r.observer.rps = 5.0
    r.ticks(3)
    yield r
    r.store.close()


@pytest.fixture
def client(rig: Rig) -> TestClient:
    return TestClient(create_app(rig.controller))


def test_health_metrics_and_docs(client: TestClient) -> None:
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["ticks"] == 3
    metrics = client.get("/metrics").text
    assert "fleetcast_controller_ticks_total" in metrics
    assert 'fleetcast_controller_nodes{state="ready"} 2.0' in metrics
    assert "fleetcast_controller_tick_seconds_bucket" in metrics
    assert client.get("/docs").status_code == 200
    assert "/nodes/{node_id}/drain" in client.get("/openapi.json").json()["paths"]


def test_forecast_503_says_why_then_answers(rig: Rig, client: TestClient) -> None:
    response = client.get("/forecast", params={"horizon": 3})
    assert response.status_code == 503
    assert "load points" in response.json()["detail"]
    keeper = ForecastKeeper(1.0, min_points=20, background=False)
    keeper.seed([(rig.clock.now - timedelta(seconds=60 - i), 10 + 3 * math.sin(i / 4))
                 for i in range(60)])
    rig.controller.forecasts = keeper
    body = client.get("/forecast", params={"horizon": 4}).json()
    assert set(body) == {"generated_at", "step_seconds", "model", "points"}
    assert body["step_seconds"] == 1.0 and len(body["points"]) == 4
    point = body["points"][0]
    assert set(point) == {"timestamp", "mean", "lo80", "hi80", "lo95", "hi95"}
    assert point["lo95"] <= point["lo80"] <= point["mean"] <= point["hi80"] <= point["hi95"]


def test_forecast_from_a_model_that_saw_no_recent_load_is_503_not_the_past(
    rig: Rig, client: TestClient
) -> None:
    # after a restart the model holds only the stored history: before, /forecast served
    # its steps (already past) as the load ahead until the first tick
    keeper = ForecastKeeper(1.0, min_points=20, background=False)
    keeper.seed([(rig.clock.now - timedelta(seconds=65 - i), 10 + 3 * math.sin(i / 4))
                 for i in range(60)])
    rig.controller.forecasts = keeper
    response = client.get("/forecast", params={"horizon": 4})
    assert response.status_code == 503
    assert "seen no load since" in response.json()["detail"] and "(6 s ago)" in response.json()[
        "detail"]
    keeper.add(rig.clock.now, 11.0)  # the first tick's load bridges the gap
    assert client.get("/forecast", params={"horizon": 4}).status_code == 200


@pytest.mark.parametrize(("path", "params", "name"), [
    ("/forecast", {"horizon": 0}, "horizon"),
    ("/forecast", {"horizon": 100000}, "horizon"),
    ("/forecast", {"horizon": "soon"}, "horizon"),
    ("/decisions", {"limit": 0}, "limit"),
    ("/decisions", {"limit": 5000}, "limit"),
])
def test_query_bounds_give_422_naming_the_parameter(client: TestClient, path: str,
                                                    params: dict[str, object], name: str) -> None:
    response = client.get(path, params=params)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", name]


def test_nodes_and_decisions(rig: Rig, client: TestClient) -> None:
    nodes = client.get("/nodes").json()
    assert [n["id"] for n in nodes] == ["node-1", "node-2"]
    assert set(nodes[0]) == {"id", "url", "state", "since", "weight", "inflight",
                             "anomaly_score"}
    assert nodes[0]["state"] == "ready"
    rig.observer.rps = 40.0
    rig.ticks(1)
    decisions = client.get("/decisions", params={"limit": 2}).json()
    assert len(decisions) == 2
    assert set(decisions[0]) == {"at", "kind", "node_id", "reason", "details"}
    assert decisions[0]["kind"] == "scale_out" and decisions[0]["at"] >= decisions[1]["at"]


def test_anomalies(rig: Rig, client: TestClient) -> None:
    rig.ticks(2)  # past the warm-up
    rig.scripted.bad = {"node-2"}
    rig.ticks(1)
    (anomaly,) = client.get("/anomalies").json()
    assert anomaly["node_id"] == "node-2" and anomaly["state"] == "open"
    assert anomaly["top_metrics"] == ["latency_p99_ms"] and anomaly["score"] == 0.9


def test_drain_needs_the_token_and_a_known_ready_node(rig: Rig, client: TestClient) -> None:
    assert client.post("/nodes/node-1/drain").status_code == 401
    assert client.post("/nodes/node-1/drain",
                       headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.post("/nodes/node-9/drain", headers=AUTH).status_code == 404
    response = client.post("/nodes/node-1/drain", headers=AUTH)
    assert response.status_code == 202
    assert response.json() == {"node_id": "node-1", "state": "draining",
                               "replacement": ["node-3"]}
    assert client.post("/nodes/node-1/drain", headers=AUTH).status_code == 409
    assert client.get("/decisions", params={"limit": 1}).json()[0]["kind"] == "drain"
