"""Scrape parsing and windows: the metric names the detector's model depends on."""

from __future__ import annotations

import socket

import pytest
from prometheus_client import generate_latest

from controller.observe import (
    WINDOW_METRICS,
    balancer_rps,
    histogram_quantile,
    node_window,
    parse_balancer_metrics,
    parse_node_metrics,
    scrape,
)
from gateway.metrics import NodeMetrics


def exposition(metrics: NodeMetrics) -> str:
    return generate_latest(metrics.registry).decode()


def test_window_from_two_scrapes_of_a_real_node_registry() -> None:
    m = NodeMetrics(memory_limit_bytes=512 * 2**20)
    m.observe("/metrics", 200, 0.001)  # scrapes are not load
    prev = parse_node_metrics("n1", exposition(m), at=100.0)
    for _ in range(98):
        m.observe("/payments", 201, 0.02)
    m.observe("/payments", 500, 0.6)
    m.observe("/payments", 503, 0.6)
    m.observe("/healthz", 200, 0.001)
    m.inflight.set(3)
    m.rss.set(200e6)
    m.loop_lag.set(0.004)
    cur = parse_node_metrics("n1", exposition(m), at=110.0)
    w = node_window(prev, cur)
    assert tuple(w.metrics) == WINDOW_METRICS
    assert w.metrics["rps"] == pytest.approx(10.0)
    assert w.metrics["error_rate"] == pytest.approx(0.02)
    assert 10 <= w.metrics["latency_p50_ms"] <= 25
    assert 500 <= w.metrics["latency_p99_ms"] <= 750
    assert w.metrics["inflight"] == 3 and w.metrics["rss_mb"] == pytest.approx(200)
    assert w.metrics["loop_lag_ms"] == pytest.approx(4)
    assert w.memory_limit_bytes == 512 * 2**20


def test_counter_reset_counts_from_zero() -> None:
    m = NodeMetrics(memory_limit_bytes=2**20)
    for _ in range(50):
        m.observe("/payments", 201, 0.01)
    prev = parse_node_metrics("n1", exposition(m), at=0.0)
    fresh = NodeMetrics(memory_limit_bytes=2**20)  # the process restarted
    for _ in range(5):
        fresh.observe("/payments", 201, 0.01)
    w = node_window(prev, parse_node_metrics("n1", exposition(fresh), at=5.0))
    assert w.metrics["rps"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("q", "expected"),
    [(0.5, 0.15), (0.9, 0.19), (1.0, 0.2)],
)
def test_histogram_quantile_interpolates(q: float, expected: float) -> None:
    buckets = ((0.1, 0.0), (0.2, 10.0), (float("inf"), 10.0))
    assert histogram_quantile(q, buckets) == pytest.approx(expected)


def test_balancer_rate() -> None:
    text0 = 'fleetcast_lb_requests_total{backend="a",status="201"} 10\n'
    text1 = ('fleetcast_lb_requests_total{backend="a",status="201"} 40\n'
             'fleetcast_lb_requests_total{backend="b",status="502"} 10\n')
    a, b = parse_balancer_metrics(text0, 0.0), parse_balancer_metrics(text1, 2.0)
    assert balancer_rps(a, b) == pytest.approx(20.0)
    assert b.errors == 10 and b.per_backend == {"a": 40, "b": 10}


def test_unreachable_and_hanging_nodes_are_absent() -> None:
    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(8)  # accepts at the kernel level, never answers
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    dead_port = closed.getsockname()[1]
    closed.close()
    try:
        nodes, lb = scrape(
            {"hung": f"http://127.0.0.1:{hung.getsockname()[1]}",
             "dead": f"http://127.0.0.1:{dead_port}"},
            f"http://127.0.0.1:{dead_port}",
            timeout=0.3,
        )
    finally:
        hung.close()
    assert nodes == {} and lb is None
