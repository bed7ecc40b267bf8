"""Node features: two fleet-aware views of every metric, and their attribution.

A node fault shows as a node that differs from its peers *now* or from its own
recent past *more than the fleet does*; a load change moves every node together
and must not look like a fault.  So each metric becomes two standardized
deviations, computed on ``y = sign(x)·log1p(|x|)`` (multiplicative load changes
and per-node scale differences become additive, which makes the features
scale-free):

* ``peer``: ``(y_i - o_i - median_j(y_j - o_j)) / max(1.4826·MAD_j, floor)`` at
  the same window, where ``o_i`` is the node's habitual offset from its peers
  learned in ``fit`` (0 for nodes not seen in training);
* ``self``: ``(d_i - median_j d_j) / max(IQR_i/1.349, floor)`` with
  ``d_i = y_i - median`` of the node's trailing ``baseline_windows`` windows
  (the current one excluded): the node's change net of the fleet's change.

Fewer than ``min_peers`` reporting nodes make the fleet terms meaningless; the
views are then 0 (peer) or not fleet-adjusted (self).  Missing values give 0.
Optionally (``smooth_windows``) every metric also gets channels holding its
trailing means over a few spans, each scored with the same two views, so a
sustained shift shows before any single noisy window would.
A last feature, ``max_abs``, is the largest absolute deviation of the row, so a
metric that was constant in training still moves at least one feature the
Isolation Forest splits on.  Attribution (``top_metrics``): a metric's
contribution is ``max(|peer|, |self|)`` (its largest standardized deviation).

The batch path (rolling windows over a cube) and the online path (a per-node
ring buffer) share every formula here, so both give the same numbers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

IQR_TO_SIGMA = 1.349
MAD_TO_SIGMA = 1.4826
MEAN_AD_TO_SIGMA = 1.2533


@dataclass(frozen=True)
class FeatureParams:
    baseline_windows: int = 20
    baseline_min_windows: int = 5
    peer_floor: float = 0.03
    self_floor: float = 0.03
    min_peers: int = 3
    clip: float = 30.0


def transform(values: np.ndarray) -> np.ndarray:
    """Signed log1p: scale-free for counts/rates/latencies, defined for any real value."""
    return np.sign(values) * np.log1p(np.abs(values))


def nanmedian(values: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Median over a (small) axis ignoring NaN, plus the count of valid values.

    Faster than ``np.nanmedian`` for short axes and silent on all-NaN slices
    (they give NaN).
    """
    if values.shape[axis] == 0:
        shape = values.shape[:axis] + values.shape[axis + 1 :]
        return np.full(shape, np.nan), np.zeros(shape, dtype=int)
    ordered = np.sort(values, axis=axis)  # NaN sort last
    count = np.sum(~np.isnan(values), axis=axis, keepdims=True)
    lo = np.clip((count - 1) // 2, 0, None)
    hi = np.clip(count // 2, 0, None)
    lo = np.minimum(lo, values.shape[axis] - 1)
    hi = np.minimum(hi, values.shape[axis] - 1)
    med = 0.5 * (np.take_along_axis(ordered, lo, axis) + np.take_along_axis(ordered, hi, axis))
    med = np.where(count > 0, med, np.nan)
    return np.squeeze(med, axis=axis), np.squeeze(count, axis=axis)


def smooth_channels(y: np.ndarray, scales: tuple[int, ...]) -> np.ndarray:
    """(T, N, M) → (T, N, M·(1+S)): the values, then their trailing means over each scale.

    Applied to raw values (before the log transform), so a burst of counts keeps
    its weight in the mean.

    A sustained shift (a burst that lasts, a slow leak) stands out in a trailing
    mean long before any single noisy window does.  A mean needs at least 80 % of
    its span present (else NaN, i.e. a neutral feature): a node that just joined
    has no comparable long-run mean yet.
    """
    if not scales:
        return y
    filled = np.nan_to_num(y, nan=0.0)
    valid = (~np.isnan(y)).astype(float)
    zeros = np.zeros((1, *y.shape[1:]))
    csum = np.concatenate([zeros, np.cumsum(filled, axis=0)])
    ccount = np.concatenate([zeros, np.cumsum(valid, axis=0)])
    out = [y]
    for s in scales:
        lo = np.maximum(np.arange(1, y.shape[0] + 1) - s, 0)
        total = csum[1:] - csum[lo]
        count = ccount[1:] - ccount[lo]
        with np.errstate(invalid="ignore", divide="ignore"):
            enough = count >= np.ceil(0.8 * s)  # a young node's short mean is not comparable
            out.append(np.where(enough, total / np.maximum(count, 1), np.nan))
    return np.concatenate(out, axis=2)


def peer_deviation(
    y: np.ndarray, offsets: np.ndarray | None, min_peers: int
) -> tuple[np.ndarray, np.ndarray]:
    """(T, N, M) distance from the fleet median and (T, M) cross-node spread (NaN if too few).

    ``offsets`` (N, M), or (T, N, M) when they change over time (``detector.offsets``).
    """
    if offsets is None:
        adjusted = y
    else:
        adjusted = y - (offsets if offsets.ndim == 3 else offsets[None, :, :])
    med, count = nanmedian(adjusted, axis=1)
    dev = adjusted - med[:, None, :]
    mad, _ = nanmedian(np.abs(dev), axis=1)
    spread = np.where(count >= min_peers, MAD_TO_SIGMA * mad, np.nan)
    return dev, spread


def peer_view(
    y: np.ndarray,
    offsets: np.ndarray | None,
    params: FeatureParams,
    floor: float | np.ndarray | None = None,
) -> np.ndarray:
    """Peer-relative deviation for ``y`` (T, N, M); floor (N, M) or None; offsets as above."""
    dev, spread = peer_deviation(y, offsets, params.min_peers)
    floor = params.peer_floor if floor is None else floor
    z = dev / np.fmax(spread[:, None, :], floor)
    return np.where(np.isnan(spread)[:, None, :], 0.0, z)


def self_view(
    y: np.ndarray,
    base_median: np.ndarray,
    base_spread: np.ndarray,
    params: FeatureParams,
    floor: float | np.ndarray | None = None,
) -> np.ndarray:
    """Deviation from the node's own trailing baseline, net of the fleet's median change."""
    delta = y - base_median
    med, count = nanmedian(delta, axis=1)
    fleet_change = np.where(count >= params.min_peers, med, 0.0)
    spread = np.fmax(base_spread, params.self_floor if floor is None else floor)
    return (delta - fleet_change[:, None, :]) / spread


def rolling_baseline(
    y: np.ndarray, params: FeatureParams, at: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Trailing median and IQR-spread per (node, metric), current window excluded.

    ``y`` is (T, N, M); windows count positions on the time axis, so a window a
    node missed is a NaN inside its trailing window, exactly as in the online
    ring buffer.  ``at`` restricts the work to some time indices (fit samples).
    Quantiles interpolate linearly between the sorted valid values, as
    ``np.nanquantile`` does for the online path.
    """
    w = params.baseline_windows
    t, n, m = y.shape
    index = np.arange(t) if at is None else np.asarray(at, dtype=int)
    padded = np.concatenate([np.full((w, n, m), np.nan), y.reshape(t, n, m)], axis=0)
    med = np.empty((len(index), n, m))
    spread = np.empty((len(index), n, m))
    chunk = max(1, 2_000_000 // max(1, w * n * m))
    offsets = np.arange(w)
    for s in range(0, len(index), chunk):
        rows = index[s : s + chunk]
        windows = np.sort(padded[rows[:, None] + offsets[None, :]], axis=1)  # (K, W, N, M)
        count = np.sum(~np.isnan(windows), axis=1)
        quantiles = []
        for q in (0.5, 0.25, 0.75):
            pos = q * np.maximum(count - 1, 0)
            lo = np.floor(pos).astype(int)
            hi = np.minimum(lo + 1, np.maximum(count - 1, 0))
            a = np.take_along_axis(windows, lo[:, None], axis=1)[:, 0]
            b = np.take_along_axis(windows, hi[:, None], axis=1)[:, 0]
            quantiles.append(
                np.where(count >= params.baseline_min_windows, a + (b - a) * (pos - lo), np.nan)
            )
        med[s : s + chunk] = quantiles[0]
        spread[s : s + chunk] = (quantiles[2] - quantiles[1]) / IQR_TO_SIGMA
    return med, spread


def buffer_baseline(buffer: np.ndarray, params: FeatureParams) -> tuple[np.ndarray, np.ndarray]:
    """Same as :func:`rolling_baseline` for one window from a (W, N, M) ring buffer."""
    enough = np.sum(~np.isnan(buffer), axis=0) >= params.baseline_min_windows
    out_med = np.full(buffer.shape[1:], np.nan)
    out_spread = np.full(buffer.shape[1:], np.nan)
    if enough.any():
        cols = buffer[:, enough]
        q1, med, q3 = np.nanquantile(cols, [0.25, 0.5, 0.75], axis=0)
        out_med[enough] = med
        out_spread[enough] = (q3 - q1) / IQR_TO_SIGMA
    return out_med, out_spread


def assemble(peer: np.ndarray, selfv: np.ndarray, params: FeatureParams) -> np.ndarray:
    """Feature rows (..., 2M + 1): per metric (peer, self), then ``max_abs``."""
    peer = np.clip(np.nan_to_num(peer, nan=0.0), -params.clip, params.clip)
    selfv = np.clip(np.nan_to_num(selfv, nan=0.0), -params.clip, params.clip)
    stacked = np.stack([peer, selfv], axis=-1).reshape(*peer.shape[:-1], -1)
    max_abs = np.max(np.abs(stacked), axis=-1, keepdims=True) if stacked.shape[-1] else stacked
    return np.concatenate([stacked, max_abs], axis=-1)


def channel_names(metrics: tuple[str, ...], scales: tuple[int, ...] = ()) -> tuple[str, ...]:
    return (*metrics, *(f"{m}~{s}" for s in scales for m in metrics))


def feature_names(metrics: tuple[str, ...], scales: tuple[int, ...] = ()) -> tuple[str, ...]:
    channels = channel_names(metrics, scales)
    names = [f"{c}:{view}" for c in channels for view in ("peer", "self")]
    return (*names, "max_abs")


def contributions(features: np.ndarray, n_metrics: int, n_scales: int = 0) -> np.ndarray:
    """Per-metric contribution: the largest ``|peer|``/``|self|`` over its channels (..., M)."""
    channels = n_metrics * (1 + n_scales)
    pairs = np.abs(features[..., : 2 * channels]).reshape(*features.shape[:-1], channels, 2)
    per_channel = pairs.max(axis=-1).reshape(*features.shape[:-1], 1 + n_scales, n_metrics)
    return per_channel.max(axis=-2)


def top_metrics(
    contrib: np.ndarray, metrics: tuple[str, ...], k: int = 3, minimum: float = 1.0
) -> tuple[str, ...]:
    """Up to ``k`` metric names by contribution (those ≥ ``minimum``; at least the first)."""
    if not len(metrics):
        return ()
    order = np.argsort(-contrib, kind="stable")[:k]
    chosen = [metrics[i] for i in order if contrib[i] >= minimum]
    return tuple(chosen) if chosen else (metrics[int(order[0])],)


NODE_SCALE_QUANTILE = 0.9  # per-node envelope: the node's scale is compared at this quantile


def training_envelopes(
    rows: np.ndarray, row_nodes: np.ndarray, nodes: tuple[str, ...], quantile: float,
    *, per_node: bool,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The pooled per-feature envelope of training ``rows`` and, optionally, one per node.

    The pooled envelope (the ``quantile`` of ``|feature|`` over all training rows)
    is set by the noisiest nodes, so a quieter node's large deviation can stay
    inside it.  With ``per_node``, a node's envelope is the pooled one scaled by
    how its own ``|feature|`` compare at the 90th percentile
    (``NODE_SCALE_QUANTILE``): the scale from a quantile a short history
    estimates well, the tail shape from the pool (a node's own 99.9 % quantile of
    a few hundred rows is its maximum).  ``NodeDetector`` leaves it off by
    default: on the tuning fleet it raised recall but added as many false alerts
    (benchmarks/results/detector_nab.md).
    """
    pooled = np.fmax(np.quantile(np.abs(rows), quantile, axis=0), 1.0)
    if not per_node:
        return pooled, {}
    reference = np.fmax(np.quantile(np.abs(rows), NODE_SCALE_QUANTILE, axis=0), 1e-9)
    out: dict[str, np.ndarray] = {}
    for i, node in enumerate(nodes):
        own = np.abs(rows[row_nodes == i])
        if len(own) >= 10:
            ratio = np.quantile(own, NODE_SCALE_QUANTILE, axis=0) / reference
            out[node] = np.fmax(pooled * ratio, 1.0)
    return pooled, out


def row_envelopes(
    pooled: np.ndarray, own: dict[str, np.ndarray], nodes: Iterable[str], row_nodes: np.ndarray
) -> np.ndarray | None:
    """(R, F) envelope of each row from its node index; None: every row uses ``pooled``."""
    if not own:
        return None
    per_node = np.array([own.get(node, pooled) for node in nodes]).reshape(-1, len(pooled))
    return per_node[row_nodes]
