"""The store on SQLite and PostgreSQL: nodes, decisions, samples, forecasts, anomalies."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from controller.lifecycle import NodeState
from controller.planner import Decision
from controller.pools.base import NodeInfo
from controller.store import Store

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(db_url: str) -> Store:
    s = Store(db_url).create_all()
    yield s
    s.close()


def nid() -> str:
    return f"node-{uuid.uuid4().hex[:8]}"


def test_node_state_history(store: Store) -> None:
    node = nid()
    for i, state in enumerate([NodeState.STARTING, NodeState.READY, NodeState.READY,
                               NodeState.DRAINING, NodeState.STOPPED]):
        at = T0 + timedelta(seconds=i)
        store.save_node(NodeInfo(node, "http://127.0.0.1:1", state, at, pid=42), at=at)
    history = store.node_history(node)
    assert [s for _, s, _ in history] == ["starting", "ready", "draining", "stopped"]
    assert node not in {n.id for n in store.nodes()}
    assert node in {n.id for n in store.nodes(include_stopped=True)}
    store.set_drain_reason(node, "fault")
    (rec,) = [n for n in store.nodes(include_stopped=True) if n.id == node]
    assert rec.drain_reason == "fault" and rec.since.tzinfo is not None


def test_decisions_newest_first_with_json_details(store: Store) -> None:
    node = nid()
    store.record_decisions(T0, [Decision("scale_out", None, "first", {"n": 1})], {"load": 1.0})
    store.record_decisions(
        T0 + timedelta(seconds=1),
        [Decision("replace", node, "second", {"score": float("nan"), "when": T0})],
    )
    newest = store.decisions(2)
    assert [d.reason for d in newest] == ["second", "first"]
    assert newest[0].details == {"score": None, "when": T0.isoformat()}
    assert newest[1].inputs == {"load": 1.0}
    assert newest[0].at == T0 + timedelta(seconds=1)


def test_samples_are_downsampled_then_dropped(store: Store) -> None:
    node = nid()
    for s in range(0, 120, 10):
        store.add_samples(T0 + timedelta(seconds=s), [(node, "rps", float(s))])
    now = T0 + timedelta(hours=2)
    store.compact_samples(now, raw_retention=timedelta(hours=1), retention=timedelta(days=1))
    mine = [(at, v) for at, n, m, v in store.samples(node_id=node)]
    assert mine == [(T0, 25.0), (T0 + timedelta(minutes=1), 85.0)]
    store.compact_samples(now + timedelta(days=2), raw_retention=timedelta(hours=1),
                          retention=timedelta(days=1))
    assert store.samples(node_id=node) == []


def test_forecasts_are_scored_online(store: Store) -> None:
    base = T0 + timedelta(days=uuid.uuid4().int % 1000)  # isolate on the shared PG database
    stamps = [base + timedelta(seconds=15 * (i + 1)) for i in range(3)]
    store.record_forecast(base, stamps, [10, 11, 12], [8, 9, 10], [12, 13, 14], [6, 7, 8],
                          [14, 15, 16], "ARIMA(1,0,0)")
    assert store.score_forecasts(stamps[0], 13.0, tolerance=timedelta(seconds=7)) == 1
    acc = store.forecast_accuracy(step=1, since=base)
    assert acc["n"] == 1 and acc["mae"] == pytest.approx(3.0)
    assert acc["coverage80"] == 0.0 and acc["coverage95"] == 1.0


def test_anomaly_episodes_open_and_resolve(store: Store) -> None:
    node = nid()
    store.open_anomaly(node, since=T0, at=T0, score=0.7, top_metrics=["latency_p99_ms"])
    store.open_anomaly(node, since=T0, at=T0 + timedelta(seconds=2), score=0.8,
                       top_metrics=["latency_p99_ms", "inflight"])
    mine = [a for a in store.anomalies(limit=1000) if a.node_id == node]
    assert len(mine) == 1 and mine[0].score == 0.8 and mine[0].state == "open"
    store.resolve_anomalies([], T0 + timedelta(seconds=4))
    (closed,) = [a for a in store.anomalies(limit=1000) if a.node_id == node]
    assert closed.state == "resolved" and closed.top_metrics == ("latency_p99_ms", "inflight")


def test_memory_and_load_series(store: Store) -> None:
    key = f"k-{uuid.uuid4().hex[:6]}"
    assert store.get_memory(key, {}) == {}
    store.set_memory(key, {"recommendations": [[T0, 3]]}, at=T0)
    store.set_memory(key, {"recommendations": []}, at=T0)
    assert store.get_memory(key) == {"recommendations": []}
    base = T0 - timedelta(days=5000 + uuid.uuid4().int % 1000)
    store.add_load(base, 1.0)
    store.add_load(base, 2.0)  # same slot: last value wins
    assert (base, 2.0) in store.load_series()
