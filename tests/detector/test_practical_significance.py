"""A few milliseconds on a busy host are not a fault; +300 ms is (the demo's false replaces).

The demo's nodes answer in ~7 ms (p50) and ~25 ms (p99), from a handful of
requests per 2-second window.  On a loaded 2-core host one node's quantiles move
a few milliseconds (several times over in ``1 + x``) relative to its peers, or a
single request stalls for a second and the latency-aware balancer then routes
around the node for a few windows.  The shipped model, with the live loop's
hysteresis (3 of 4), must not call either a fault, and must still find a real
+300 ms latency fault, also when the balancer routes around the slow node.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import numpy as np
import pytest

from detector import NodeDetector
from detector.types import Anomaly

T0 = datetime(2026, 11, 27, 6, 0)
STEP = timedelta(seconds=2)
NODES = ("node-1", "node-2", "node-3", "node-4")
WINDOWS = 80
FROM = 40  # the changed behaviour of node-2 starts here

Override = Callable[[int], dict[str, float]]


def healthy(rng: np.random.Generator) -> dict[str, float]:
    rps = float(rng.uniform(4.0, 7.0))
    return {
        "rps": rps,
        "error_rate": 0.0,
        "latency_p50_ms": float(rng.uniform(1.0, 2.0)),
        "latency_p99_ms": float(rng.uniform(8.0, 12.0)),
        "inflight": 0.0,
        "cpu_percent": float(round(1 + 0.5 * rps + rng.uniform(0, 1))),
        "rss_mb": 79.5 + float(rng.normal(0, 0.05)),
        "loop_lag_ms": float(rng.uniform(0.0, 1.0)),
    }


def run(override: Override) -> tuple[list[str], list[Anomaly]]:
    """Feed the live-configured default model; the nodes ever anomalous, first anomalies."""
    model = NodeDetector.default().set_params(k=3, n=4)
    rng = np.random.default_rng(11)
    anomalous: list[str] = []
    first: list[Anomaly] = []
    for i in range(WINDOWS):
        window = {node: healthy(rng) for node in NODES}
        if i >= FROM:
            window["node-2"].update(override(i - FROM))
        result = model.step(T0 + i * STEP, window, members=NODES)
        first += [a for a in result.anomalies if a.node not in anomalous]
        anomalous += [a.node for a in result.anomalies if a.node not in anomalous]
    return anomalous, first


def a_few_ms_slower(_: int) -> dict[str, float]:
    # p50 1.5 -> 6 ms, p99 10 -> 40 ms: 3-4x in 1 + x, but +5 / +30 ms
    return {"latency_p50_ms": 6.0, "latency_p99_ms": 40.0}


def one_stalled_request(k: int) -> dict[str, float]:
    # one request takes 1.75 s, then the balancer routes around the node for a while
    if k == 0:
        return {"rps": 0.5, "latency_p50_ms": 1750.0, "latency_p99_ms": 2485.0, "cpu_percent": 0}
    if k < 6:
        return {"rps": 0.0, "latency_p50_ms": 0.0, "latency_p99_ms": 0.0, "cpu_percent": 0}
    return {}


def plus_300_ms(_: int) -> dict[str, float]:
    return {"latency_p50_ms": 301.5, "latency_p99_ms": 310.0, "inflight": 2.0}


def plus_300_ms_routed_around(k: int) -> dict[str, float]:
    # the balancer derates the slow node: a few slow requests, then probes now and then
    if k % 3 == 0:
        return {"rps": 1.0, "latency_p50_ms": 305.0, "latency_p99_ms": 395.0, "cpu_percent": 1}
    return {"rps": 0.0, "latency_p50_ms": 0.0, "latency_p99_ms": 0.0, "cpu_percent": 0}


@pytest.mark.parametrize(
    "override", [a_few_ms_slower, one_stalled_request], ids=["few-ms", "one-stalled-request"]
)
def test_small_or_one_off_latency_is_not_a_fault(override: Override) -> None:
    anomalous, _ = run(override)
    assert anomalous == []


@pytest.mark.parametrize(
    "override", [plus_300_ms, plus_300_ms_routed_around], ids=["steady", "routed-around"]
)
def test_plus_300_ms_is_found_on_the_slow_node_only(override: Override) -> None:
    anomalous, first = run(override)
    assert anomalous == ["node-2"]
    assert first[0].since <= T0 + (FROM + 6) * STEP  # within a few windows of the fault
    assert {"latency_p50_ms", "latency_p99_ms"} & set(first[0].top_metrics)
