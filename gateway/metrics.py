"""Prometheus metrics of a payment node, under the names the controller scrapes.

The detector learns what a healthy node looks like from exactly these series,
so the names are a contract (see DESIGN.md and the controller's scraper):
``fleetcast_node_requests_total{route,status}``, ``fleetcast_node_request_seconds{route}``,
``fleetcast_node_inflight``, ``fleetcast_node_cpu_percent``, ``fleetcast_node_rss_bytes``,
``fleetcast_node_memory_limit_bytes`` and ``fleetcast_node_event_loop_lag_seconds``.
Each app gets its own registry, so several apps can live in one test process.
"""

from __future__ import annotations

import asyncio
import time

import psutil
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0,
)


class NodeMetrics:
    def __init__(self, memory_limit_bytes: int) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "fleetcast_node_requests", "Requests by route and status", ["route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "fleetcast_node_request_seconds", "Request latency", ["route"],
            buckets=LATENCY_BUCKETS, registry=r,
        )
        self.inflight = Gauge("fleetcast_node_inflight", "Requests being served", registry=r)
        self.cpu = Gauge("fleetcast_node_cpu_percent", "Process CPU percent", registry=r)
        self.rss = Gauge("fleetcast_node_rss_bytes", "Resident set size", registry=r)
        self.memory_limit = Gauge(
            "fleetcast_node_memory_limit_bytes", "Configured soft memory limit", registry=r
        )
        self.loop_lag = Gauge(
            "fleetcast_node_event_loop_lag_seconds", "Event-loop scheduling lag", registry=r
        )
        self.memory_limit.set(memory_limit_bytes)
        self._process = psutil.Process()
        self._process.cpu_percent(None)  # prime: the first call always returns 0

    def observe(self, route: str, status: int, seconds: float) -> None:
        self.requests.labels(route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def sample_process(self, *, cpu: bool = True) -> None:
        # CPU % is "since the previous call", so only the 1 s sampler reads it;
        # a scrape would otherwise shorten the window and make it noisy.
        if cpu:
            self.cpu.set(self._process.cpu_percent(None))
        self.rss.set(self._process.memory_info().rss)

    async def run_sampler(self, interval_s: float = 1.0) -> None:
        """Sample CPU/RSS and measure event-loop lag (how late a sleep wakes up)."""
        while True:
            start = time.perf_counter()
            await asyncio.sleep(interval_s)
            self.loop_lag.set(max(0.0, time.perf_counter() - start - interval_s))
            self.sample_process()
