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

A ratio alone is not practical significance at a low baseline: with a 7 ms
median and a 25 ms p99, a busy shared host (CPU contention, a lock wait) moves
one node's latency quantiles 3x for a window without anything being wrong with
the node.  So each health metric also has an absolute floor in its own units
(``x - reference`` with the reference at the same log-ratio): latency and
loop lag +50 ms, in-flight +2 requests, CPU +10 points.  The faults this
guards against are far above them (+300 ms latency, a burnt core, 20 % errors).
And one window is not a symptom: a single slow request (a 1.75 s outlier on a
loaded host was enough) makes a window's quantiles extreme, after which a
latency-aware balancer routes around the node for a few seconds, and the
resulting idle windows look unusual too.  So evidence counts only when it
recurs (:func:`carry`): seen in the hysteresis span and in at least
``minimum`` of the node's last ``2 * span`` windows with traffic; a real fault
keeps showing (also in the odd probe a balancer still sends a derated node), a
one-off outlier does not.

``rps`` itself is never evidence: a node serving more is not broken, and one
served less is only suspicious together with a health symptom (a slow node is
routed around after its latency shows, which the hysteresis span carries).
Absence is handled by the tracker.  A model whose metrics include none of the
health metrics (custom metric sets) is not gated.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence

import numpy as np

from detector.features import nanmedian

# metric -> (minimum log1p effect in the bad (upward) direction, peer view counts,
#            minimum absolute excess in the metric's own units)
HEALTH_EFFECTS: dict[str, tuple[float, bool, float]] = {
    "latency_p50_ms": (math.log(3.0), True, 50.0),
    "latency_p99_ms": (math.log(3.0), True, 50.0),
    "loop_lag_ms": (math.log(3.0), True, 50.0),
    "inflight": (math.log(3.0), True, 2.0),
    "error_rate": (0.05, True, 0.0),  # the effect is already about an absolute +5 points
    "cpu_percent": (math.log(2.0), True, 10.0),
    "rss_mb": (math.log(1.25), False, 0.0),  # relative growth is the symptom
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
    for metric, (effect, use_peer, floor) in HEALTH_EFFECTS.items():
        j = index.get(metric)
        if j is None:
            continue
        views = [own[:, :, j]] + ([peer[:, :, j]] if use_peer else [])
        r = index.get(TRAFFIC)
        level = np.exp(y[:, :, j])  # 1 + x for the non-negative health metrics
        for k, view in enumerate(views):
            if metric in LOAD_FOLLOWING and r is not None:
                traffic = (own if k == 0 else peer)[:, :, r]
                view = view - np.fmax(np.nan_to_num(traffic, nan=0.0), 0.0)
            view = np.nan_to_num(view, nan=-np.inf)
            # the reference sits at ``view`` below the node in log1p: x - ref = (1 + x)(1 - e^-view)
            with np.errstate(over="ignore"):
                excess = level * -np.expm1(-view)
            out |= (view >= effect) & (excess >= floor)
    return out


def served(y: np.ndarray, metrics: tuple[str, ...]) -> np.ndarray:
    """(T, N) bool: windows in which the node served requests (all True without ``rps``).

    A window without requests has no latency or error quantiles to judge: it
    neither confirms nor clears an earlier symptom.
    """
    r = metrics.index(TRAFFIC) if TRAFFIC in metrics else None
    if r is None:
        return np.ones(y.shape[:2], dtype=bool)
    return np.nan_to_num(y[:, :, r], nan=0.0) > 0.0


def carry(
    evidence: np.ndarray,
    span: int,
    minimum: int = 1,
    informative: np.ndarray | None = None,
) -> np.ndarray:
    """(T, N): evidence in the current window or any of the ``span - 1`` before it, and,
    with ``minimum`` > 1, in at least ``minimum`` of the node's last ``2 * span``
    *informative* windows (those it served requests in, or showed evidence in).

    Counting over informative windows only lets a slow node that a latency-aware
    balancer only probes now and then (one slow request every ten seconds) still
    count, while a single stalled request followed by normal service never does.
    """
    span = max(1, span)
    count = evidence.astype(int)
    for lag in range(1, span):
        count[lag:] += evidence[:-lag]
    out = count >= 1
    if minimum > 1:
        inform = evidence | (np.ones_like(evidence) if informative is None else informative)
        out &= repeated(evidence, inform, 2 * span) >= minimum
    return out


def repeated(evidence: np.ndarray, informative: np.ndarray, memory: int) -> np.ndarray:
    """(T, N) evidence count over each node's last ``memory`` informative windows up to t."""
    t, n = evidence.shape
    out = np.zeros((t, n), dtype=int)
    for j in range(n):
        at = np.nonzero(informative[:, j])[0]
        if not len(at):
            continue
        csum = np.concatenate([[0], np.cumsum(evidence[at, j].astype(int))])
        k = np.arange(1, len(at) + 1)
        rolling = csum[k] - csum[np.maximum(k - memory, 0)]  # at each informative window
        last = np.searchsorted(at, np.arange(t), side="right") - 1  # latest one <= t
        out[:, j] = np.where(last >= 0, rolling[np.maximum(last, 0)], 0)
    return out


class EvidenceMemory:
    """The online twin of :func:`carry`: what each node showed in its recent windows.

    Per node it keeps the evidence of the ``span - 1`` windows before the current
    one and of its last ``2 * span`` informative windows; ``update`` answers, per
    node, whether the current window counts as health evidence, exactly as
    ``carry(evidence, span, minimum, informative)`` does over a whole history.
    """

    def __init__(self, span: int, minimum: int = 1) -> None:
        self.span = max(1, span)
        self.minimum = minimum
        self.recent: dict[str, deque[bool]] = {}
        self.repeats: dict[str, deque[bool]] = {}

    def update(
        self, nodes: Sequence[str], now: Sequence[bool], informative: Sequence[bool]
    ) -> list[bool]:
        out = []
        for i, node in enumerate(nodes):
            recent = self.recent.setdefault(node, deque(maxlen=max(1, self.span - 1)))
            repeats = self.repeats.setdefault(node, deque(maxlen=2 * self.span))
            if now[i] or informative[i]:
                repeats.append(bool(now[i]))
            ok = bool(now[i]) or (self.span > 1 and any(recent))
            if self.minimum > 1:
                ok = ok and sum(repeats) >= self.minimum
            out.append(ok)
            recent.append(bool(now[i]))
        present = set(nodes)
        for memory in (self.recent, self.repeats):
            for node in [n for n in memory if n not in present]:
                del memory[node]
        return out

    def resized(self, span: int, minimum: int) -> EvidenceMemory:
        """The same memory under new settings (a refitted detector carrying on)."""
        new = EvidenceMemory(span, minimum)
        new.recent = {n: deque(e, maxlen=max(1, new.span - 1)) for n, e in self.recent.items()}
        new.repeats = {n: deque(e, maxlen=2 * new.span) for n, e in self.repeats.items()}
        return new
