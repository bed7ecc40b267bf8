"""Synthetic gateway fleets: healthy metrics under varying load, and injected faults.

The shipped default model, the tests and the speed benchmark need fleets whose
ground truth is known.  ``healthy_fleet`` draws the eight per-node metrics the
controller derives from the gateway's Prometheus metrics, under a load that
varies (slow swings, random walk, sudden fleet-wide bursts) and is shared by
the nodes with load-balancer imbalance, with heavy-tailed noise on the jumpy
metrics (p99, loop lag, CPU).  ``inject`` then breaks one node in a known way.
Everything is seeded.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

LIVE_METRICS = (
    "rps",
    "error_rate",
    "latency_p50_ms",
    "latency_p99_ms",
    "inflight",
    "cpu_percent",
    "rss_mb",
    "loop_lag_ms",
)


def load_profile(steps: int, rng: np.random.Generator, mean_rps: float = 120.0) -> np.ndarray:
    """Total fleet rps per window: swings up to ~3x, a random walk and bursts."""
    t = np.arange(steps)
    period = rng.uniform(80, 400)
    swing = 1.0 + 0.5 * np.sin(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi))
    walk = np.exp(np.cumsum(rng.normal(0, 0.02, steps)))
    walk /= np.exp(np.log(walk).mean())
    burst = np.ones(steps)
    for _ in range(max(1, steps // 300)):
        at = int(rng.integers(0, steps))
        burst[at : at + int(rng.integers(3, 20))] *= rng.uniform(1.5, 3.0)
    return mean_rps * swing * np.clip(walk, 0.4, 2.5) * burst


def healthy_fleet(
    n_nodes: int = 4,
    steps: int = 400,
    step_seconds: float = 15.0,
    start: datetime | str = "2026-01-01",
    seed: int = 0,
    node_prefix: str = "node-",
    mean_rps: float | None = None,
    metrics: tuple[str, ...] = LIVE_METRICS,
) -> pd.DataFrame:
    """A long-format healthy fleet ``timestamp,node,metric,value``."""
    rng = np.random.default_rng(seed)
    total = load_profile(steps, rng, mean_rps if mean_rps is not None else 30.0 * n_nodes)
    times = pd.Timestamp(start) + pd.to_timedelta(np.arange(steps) * step_seconds, unit="s")
    capacity = rng.uniform(60, 150)  # rps one node serves at 100 % utilization
    base_latency = rng.uniform(3, 20)
    frames = []
    for i in range(n_nodes):
        share = np.exp(rng.normal(0, 0.08, steps) + rng.normal(0, 0.04))  # LB imbalance
        rps = np.maximum(total / n_nodes * share, 0.05)
        util = np.clip(rps / capacity, 0, 0.95)
        requests = np.maximum(rps * step_seconds, 1)
        p50 = base_latency * (1 + 1.5 * util**2) * np.exp(rng.normal(0, 0.08, steps))
        tail = np.exp(np.abs(rng.standard_t(3, steps)) * 0.2)
        p99 = p50 * rng.uniform(2.5, 4.0) * tail * (1 + 2 * util**3)
        inflight = rng.poisson(rps * p50 / 1000.0 * 1.5).astype(float)
        errors = rng.binomial(requests.astype(int), 0.002) / requests
        cpu = np.clip(
            (4 + 70 * util) * np.exp(rng.normal(0, 0.12, steps)) + np.abs(rng.standard_t(3, steps)),
            0,
            100,
        )
        rss = rng.uniform(70, 110) * np.exp(np.cumsum(rng.normal(0, 0.0005, steps))) + rng.normal(
            0, 0.8, steps
        )
        hiccup = np.where(rng.random(steps) < 0.01, rng.uniform(2, 4, steps), 1.0)  # GC pauses
        lag = (0.3 + 4 * util**2) * np.exp(rng.normal(0, 0.25, steps)) * hiccup
        series = {
            "rps": rps,
            "error_rate": errors,
            "latency_p50_ms": p50,
            "latency_p99_ms": p99,
            "inflight": inflight,
            "cpu_percent": cpu,
            "rss_mb": rss,
            "loop_lag_ms": lag,
        }
        for metric in metrics:
            values = (
                series[metric]
                if metric in series
                else rng.normal(100, 5, steps) * (total / total.mean())
            )
            frames.append(
                pd.DataFrame(
                    {
                        "timestamp": times,
                        "node": f"{node_prefix}{i}",
                        "metric": metric,
                        "value": values,
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


def inject(
    frame: pd.DataFrame,
    node: str,
    metric: str,
    start: datetime | str,
    end: datetime | str | None = None,
    factor: float = 1.0,
    add: float = 0.0,
) -> pd.DataFrame:
    """Return a copy with ``value * factor + add`` for one node's metric in [start, end)."""
    out = frame.copy()
    mask = (
        (out["node"] == node)
        & (out["metric"] == metric)
        & (out["timestamp"] >= pd.Timestamp(start))
    )
    if end is not None:
        mask &= out["timestamp"] < pd.Timestamp(end)
    out.loc[mask, "value"] = out.loc[mask, "value"] * factor + add
    return out
