"""Observe the fleet: scrape nodes and the load balancer, turn counters into windows.

Nodes and the load balancer expose Prometheus text on ``/metrics``; counters only
mean something as differences, so a *window* is made from two consecutive
scrapes of the same node: request rate, error rate, latency quantiles from the
histogram bucket deltas, plus the gauges.  The window's metric names are a
contract with the detector's shipped model (``WINDOW_METRICS``).  A node whose
scrape fails or times out is simply absent from the result: being absent is an
observation the detector and planner act on, not an error here.  Nothing in this
module touches the store or the pool, so benchmarks and other tools reuse it.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx
from prometheus_client.parser import text_string_to_metric_families

from detector.synth import LIVE_METRICS

# A window carries exactly the metrics the shipped detector model was trained on.
WINDOW_METRICS = LIVE_METRICS
# Probes and scrapes are not load; counting them would make an idle node look busy.
_NOT_LOAD_ROUTES = frozenset({"/metrics", "/healthz", "/readyz", "/admin", "other"})


@dataclass(frozen=True)
class NodeScrape:
    """The raw counters and gauges of one node at one moment (monotonic seconds)."""

    node_id: str
    at: float
    requests: float = 0.0
    errors: float = 0.0  # status >= 500
    latency_buckets: tuple[tuple[float, float], ...] = ()  # (le, cumulative count), sorted
    inflight: float = 0.0
    cpu_percent: float = 0.0
    rss_bytes: float = 0.0
    memory_limit_bytes: float | None = None
    loop_lag_seconds: float = 0.0


@dataclass(frozen=True)
class BalancerScrape:
    at: float
    requests: float = 0.0
    errors: float = 0.0
    per_backend: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class NodeWindow:
    """One node over one scrape interval: the detector's metrics plus resource limits."""

    node_id: str
    seconds: float
    metrics: Mapping[str, float]  # exactly WINDOW_METRICS
    rss_bytes: float
    memory_limit_bytes: float | None


def _status_is_error(status: str) -> bool:
    return status.isdigit() and int(status) >= 500


def parse_node_metrics(node_id: str, text: str, at: float) -> NodeScrape:
    requests = errors = inflight = cpu = rss = lag = 0.0
    limit: float | None = None
    buckets: dict[float, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            name, labels, value = s.name, s.labels, float(s.value)
            if name == "fleetcast_node_requests_total":
                if labels.get("route") in _NOT_LOAD_ROUTES:
                    continue
                requests += value
                if _status_is_error(labels.get("status", "")):
                    errors += value
            elif name == "fleetcast_node_request_seconds_bucket":
                if labels.get("route") in _NOT_LOAD_ROUTES:
                    continue
                le = float(labels.get("le", "inf"))
                buckets[le] = buckets.get(le, 0.0) + value
            elif name == "fleetcast_node_inflight":
                inflight = value
            elif name == "fleetcast_node_cpu_percent":
                cpu = value
            elif name == "fleetcast_node_rss_bytes":
                rss = value
            elif name == "fleetcast_node_memory_limit_bytes":
                limit = value if value > 0 else None
            elif name == "fleetcast_node_event_loop_lag_seconds":
                lag = value
    return NodeScrape(
        node_id=node_id,
        at=at,
        requests=requests,
        errors=errors,
        latency_buckets=tuple(sorted(buckets.items())),
        inflight=inflight,
        cpu_percent=cpu,
        rss_bytes=rss,
        memory_limit_bytes=limit,
        loop_lag_seconds=lag,
    )


def parse_balancer_metrics(text: str, at: float) -> BalancerScrape:
    total = errors = 0.0
    per_backend: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name != "fleetcast_lb_requests_total":
                continue
            value = float(s.value)
            total += value
            if _status_is_error(s.labels.get("status", "")):
                errors += value
            backend = s.labels.get("backend", "")
            per_backend[backend] = per_backend.get(backend, 0.0) + value
    return BalancerScrape(at=at, requests=total, errors=errors, per_backend=per_backend)


def histogram_quantile(q: float, buckets: tuple[tuple[float, float], ...]) -> float:
    """Prometheus' histogram_quantile: linear interpolation inside the bucket (seconds)."""
    if not buckets:
        return 0.0
    total = buckets[-1][1]
    if total <= 0:
        return 0.0
    rank = q * total
    prev_le, prev_count = 0.0, 0.0
    for le, count in buckets:
        if count >= rank:
            if math.isinf(le):
                return prev_le  # the best lower bound we know
            width = count - prev_count
            frac = 0.0 if width <= 0 else (rank - prev_count) / width
            return prev_le + (le - prev_le) * frac
        prev_le, prev_count = le, count
    return prev_le


def _bucket_delta(
    prev: tuple[tuple[float, float], ...], cur: tuple[tuple[float, float], ...]
) -> tuple[tuple[float, float], ...]:
    before = dict(prev)
    return tuple((le, max(0.0, c - before.get(le, 0.0))) for le, c in cur)


def node_window(prev: NodeScrape, cur: NodeScrape) -> NodeWindow:
    """The window between two scrapes of one node (a counter reset counts from zero)."""
    seconds = max(cur.at - prev.at, 1e-6)
    reset = cur.requests < prev.requests
    base_req = 0.0 if reset else prev.requests
    base_err = 0.0 if reset else prev.errors
    requests = max(0.0, cur.requests - base_req)
    errors = max(0.0, cur.errors - base_err)
    buckets = (
        cur.latency_buckets if reset else _bucket_delta(prev.latency_buckets, cur.latency_buckets)
    )
    metrics = {
        "rps": requests / seconds,
        "error_rate": errors / requests if requests > 0 else 0.0,
        "latency_p50_ms": 1000.0 * histogram_quantile(0.50, buckets),
        "latency_p99_ms": 1000.0 * histogram_quantile(0.99, buckets),
        "inflight": cur.inflight,
        "cpu_percent": cur.cpu_percent,
        "rss_mb": cur.rss_bytes / 1e6,
        "loop_lag_ms": 1000.0 * cur.loop_lag_seconds,
    }
    return NodeWindow(cur.node_id, seconds, metrics, cur.rss_bytes, cur.memory_limit_bytes)


def windows(
    prev: Mapping[str, NodeScrape], cur: Mapping[str, NodeScrape]
) -> dict[str, NodeWindow]:
    """Windows for nodes present in both scrapes (a new node needs two scrapes)."""
    return {nid: node_window(prev[nid], s) for nid, s in cur.items() if nid in prev}


def balancer_rps(prev: BalancerScrape, cur: BalancerScrape) -> float:
    seconds = max(cur.at - prev.at, 1e-6)
    delta = cur.requests - prev.requests
    return max(0.0, cur.requests if delta < 0 else delta) / seconds


async def _fetch(client: httpx.AsyncClient, url: str, timeout: float) -> tuple[str, float] | None:
    try:
        resp = await asyncio.wait_for(client.get(url, timeout=timeout), timeout)
        if resp.status_code != 200:
            return None
        return resp.text, time.monotonic()
    except (httpx.HTTPError, TimeoutError, OSError):
        return None


async def scrape_async(
    targets: Mapping[str, str],
    balancer_url: str | None,
    *,
    timeout: float = 1.0,
) -> tuple[dict[str, NodeScrape], BalancerScrape | None]:
    """Scrape every node (``{node_id: base_url}``) and the balancer at once."""
    limits = httpx.Limits(max_connections=max(8, len(targets) + 2))
    async with httpx.AsyncClient(limits=limits, trust_env=False) as client:
        node_ids = list(targets)
        jobs = [_fetch(client, f"{targets[n].rstrip('/')}/metrics", timeout) for n in node_ids]
        if balancer_url:
            jobs.append(_fetch(client, f"{balancer_url.rstrip('/')}/metrics", timeout))
        results = await asyncio.gather(*jobs)
    nodes: dict[str, NodeScrape] = {}
    for node_id, res in zip(node_ids, results[: len(node_ids)], strict=True):
        if res is None:
            continue
        try:
            nodes[node_id] = parse_node_metrics(node_id, res[0], res[1])
        except ValueError:
            continue  # garbled exposition: treat like a failed scrape
    lb: BalancerScrape | None = None
    if balancer_url and results[-1] is not None:
        try:
            lb = parse_balancer_metrics(results[-1][0], results[-1][1])
        except ValueError:
            lb = None
    return nodes, lb


def scrape(
    targets: Mapping[str, str], balancer_url: str | None, *, timeout: float = 1.0
) -> tuple[dict[str, NodeScrape], BalancerScrape | None]:
    """Blocking wrapper for callers on a worker thread (the scheduled tick)."""
    return asyncio.run(scrape_async(targets, balancer_url, timeout=timeout))


class Observer:
    """Keeps the previous scrape so each call returns fresh windows and the load rate."""

    def __init__(self, balancer_url: str | None, *, timeout: float = 1.0) -> None:
        self.balancer_url = balancer_url
        self.timeout = timeout
        self._prev_nodes: dict[str, NodeScrape] = {}
        self._prev_lb: BalancerScrape | None = None

    def observe(
        self, targets: Mapping[str, str]
    ) -> tuple[dict[str, NodeWindow], float | None, set[str]]:
        """Return (windows, balancer rps or None, ids that answered this scrape)."""
        nodes, lb = scrape(targets, self.balancer_url, timeout=self.timeout)
        wins = windows(self._prev_nodes, nodes)
        # Keep the last good scrape of a node that missed one, so its next window spans both.
        self._prev_nodes = {
            **{k: v for k, v in self._prev_nodes.items() if k in targets},
            **nodes,
        }
        rps = None
        if lb is not None:
            if self._prev_lb is not None:
                rps = balancer_rps(self._prev_lb, lb)
            self._prev_lb = lb
        return wins, rps, set(nodes)
