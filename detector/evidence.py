"""Direction-aware health evidence: a node is faulty only if it serves *worse*.

The Isolation Forest scores how unusual a node's window is, in any direction
and on any metric.  Unusual is not the same as faulty: when the load changes
fast or nodes join or leave, a least-request balancer hands some healthy node a
very different share of the traffic for a while, and its ``rps``, ``cpu`` and
in-flight count (and, with a handful of requests per window, its latency
quantiles) then stand out from its peers and its own past although it serves
fine.  So a raw flag only counts when the node also shows *health evidence* in
the hysteresis span (the current window or one of the ``n - 1`` before it):
at least one health metric is materially worse, in its bad direction, than its
peers' median now or than its own trailing baseline net of the fleet's change.
The effects are differences of ``log1p`` values (ratios of ``1 + x``; about an
absolute difference for small rates), so the rule stays scale-free:

* latency p50/p99, event-loop lag, in-flight: ``1 + x`` at least 3x;
* error rate: at least about +5 points;
* CPU: at least 2x *net of the node's traffic share* (log-ratio of cpu minus
  the positive log-ratio of rps: CPU that follows its requests is not a fault);
* RSS: grown by at least 25 % over its own baseline (resource growth; nodes
  differ in size, so the peer view does not count).

``rps`` itself is never evidence: a node serving more is not broken, and one
served less is only suspicious together with a health symptom (a slow node is
routed around after its latency shows, which the hysteresis span carries).
Absence is handled by the tracker.  A model whose metrics include none of the
health metrics (custom metric sets) is not gated.
"""

from __future__ import annotations

import math

import numpy as np

from detector.features import nanmedian

# metric -> (minimum log1p effect in the bad (upward) direction, peer view counts)
HEALTH_EFFECTS: dict[str, tuple[float, bool]] = {
    "latency_p50_ms": (math.log(3.0), True),
    "latency_p99_ms": (math.log(3.0), True),
    "loop_lag_ms": (math.log(3.0), True),
    "inflight": (math.log(3.0), True),
    "error_rate": (0.05, True),
    "cpu_percent": (math.log(2.0), True),
    "rss_mb": (math.log(1.25), False),
}
TRAFFIC = "rps"
LOAD_FOLLOWING = ("cpu_percent",)


def gated(metrics: tuple[str, ...]) -> bool:
    """True when the metric set has at least one health metric to gate on."""
    return any(m in HEALTH_EFFECTS for m in metrics)


def health_evidence(
    y: np.ndarray, base_median: np.ndarray, metrics: tuple[str, ...], min_peers: int
) -> np.ndarray:
    """(T, N) bool: some health metric materially worse than peers or own baseline.

    ``y`` (T, N, M) holds ``log1p`` values of the raw metrics, ``base_median``
    (T, N, M) each node's trailing median of them (NaN while too short).
    """
    t, n, _ = y.shape
    if not gated(metrics):
        return np.ones((t, n), dtype=bool)
    peer_med, count = nanmedian(y, axis=1)
    peer = np.where((count >= min_peers)[:, None, :], y - peer_med[:, None, :], np.nan)
    delta = y - base_median
    fleet_change, fcount = nanmedian(delta, axis=1)
    fleet_change = np.where(fcount >= min_peers, fleet_change, 0.0)
    own = delta - fleet_change[:, None, :]
    index = {m: j for j, m in enumerate(metrics)}
    out = np.zeros((t, n), dtype=bool)
    for metric, (effect, use_peer) in HEALTH_EFFECTS.items():
        j = index.get(metric)
        if j is None:
            continue
        views = [own[:, :, j]] + ([peer[:, :, j]] if use_peer else [])
        r = index.get(TRAFFIC)
        for k, view in enumerate(views):
            if metric in LOAD_FOLLOWING and r is not None:
                traffic = (own if k == 0 else peer)[:, :, r]
                view = view - np.fmax(np.nan_to_num(traffic, nan=0.0), 0.0)
            out |= np.nan_to_num(view, nan=-np.inf) >= effect
    return out


def carry(evidence: np.ndarray, span: int) -> np.ndarray:
    """(T, N): evidence in the current window or any of the ``span - 1`` before it."""
    out = evidence.copy()
    for lag in range(1, max(1, span)):
        out[lag:] |= evidence[:-lag]
    return out
