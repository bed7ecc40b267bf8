"""The two peers the detector is judged against, run through the same alert logic.

* ``robust_z``: per node and metric, the modified z-score against the node's own
  training median and MAD (MeanAD·1.2533 when the MAD is 0, after Iglewicz &
  Hoaglin); a window is flagged when any metric has ``|z| > 3.5``.
* ``envoy``: Envoy's outlier-detection rules on a windowed error metric (a
  metric whose name contains ``error``, values in 0..1): *consecutive errors*
  (``consecutive_5xx = 5``: with error rate p over n requests in a window the
  expected number of runs of 5 failures is ``n·(1-p)·p^5``; flagged when ≥ 1, or
  when p ≥ 0.5 without a request-rate metric), and *success-rate outlier* (hosts
  with ≥ 100 requests, at least ``minimum_hosts`` of them — 3 here, Envoy's
  default 5 would disable it in small pools — a host is an outlier below
  ``mean - 1.9·stdev`` of the success rates).  Latency and resources are
  invisible to these rules by design.

Raw flags go through the same hysteresis/fleet-guard tracker as the detector,
so the comparison is between scores, not alerting plumbing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detector.features import nanmedian
from detector.frame import Cube

MODIFIED_Z_LIMIT = 3.5
SUCCESS_RATE_STDEV_FACTOR = 1.9
CONSECUTIVE_5XX = 5
REQUEST_VOLUME = 100
MINIMUM_HOSTS = 3


@dataclass(frozen=True)
class PeerFlags:
    name: str
    applicable: bool
    scores: np.ndarray  # (T, N)
    flagged: np.ndarray  # (T, N) bool
    top: np.ndarray  # (T, N) int metric index of the strongest evidence
    reason: str = ""


def robust_z(cube: Cube, train_until: np.datetime64) -> PeerFlags:
    train = cube.values[cube.timestamps < train_until]
    med, _ = nanmedian(train, axis=0)  # (N, M)
    mad, _ = nanmedian(np.abs(train - med), axis=0)
    abs_dev = np.abs(train - med)
    count = np.sum(np.isfinite(abs_dev), axis=0)
    mean_ad = np.nansum(abs_dev, axis=0) / np.maximum(count, 1)
    spread = np.where(mad > 0, 1.4826 * mad, 1.253314 * mean_ad)
    spread = np.where(spread > 0, spread, np.nan)
    z = np.abs(cube.values - med) / spread
    z = np.nan_to_num(z, nan=0.0)
    scores = z.max(axis=2) if z.shape[2] else np.zeros(z.shape[:2])
    top = z.argmax(axis=2) if z.shape[2] else np.zeros(z.shape[:2], dtype=int)
    return PeerFlags("robust_z", True, scores, scores > MODIFIED_Z_LIMIT, top)


def _find(metrics: tuple[str, ...], *needles: str) -> int | None:
    for i, name in enumerate(metrics):
        if any(n in name.lower() for n in needles):
            return i
    return None


def envoy(cube: Cube, step_seconds: float) -> PeerFlags:
    t, n = cube.values.shape[:2]
    err_i = _find(cube.metrics, "error", "5xx")
    empty = np.zeros((t, n))

    def not_applicable(reason: str) -> PeerFlags:
        return PeerFlags("envoy", False, empty, empty.astype(bool), empty.astype(int), reason)

    if err_i is None:
        return not_applicable("no error-rate metric (name containing 'error')")
    p = cube.values[:, :, err_i]
    finite = p[np.isfinite(p)]
    if len(finite) and (finite.min() < 0 or finite.max() > 1):
        return not_applicable(f"metric {cube.metrics[err_i]!r} is not a rate in 0..1")
    rps_i = _find(cube.metrics, "rps", "request")
    requests = cube.values[:, :, rps_i] * step_seconds if rps_i is not None else None
    with np.errstate(invalid="ignore"):
        if requests is not None:
            consecutive = np.nan_to_num(requests * (1 - p) * p**CONSECUTIVE_5XX) >= 1.0
            eligible = np.nan_to_num(requests) >= REQUEST_VOLUME
        else:
            consecutive = np.nan_to_num(p) >= 0.5
            eligible = np.isfinite(p)
        success = np.where(eligible & np.isfinite(p), 1.0 - p, np.nan)
        valid = np.isfinite(success)
        hosts = valid.sum(axis=1)
        filled = np.where(valid, success, 0.0)
        mean = filled.sum(axis=1) / np.maximum(hosts, 1)
        std = np.sqrt(
            (np.where(valid, success - mean[:, None], 0.0) ** 2).sum(axis=1) / np.maximum(hosts, 1)
        )
        limit = mean - SUCCESS_RATE_STDEV_FACTOR * std
        outlier = (hosts[:, None] >= MINIMUM_HOSTS) & (
            np.nan_to_num(success, nan=1.0) < limit[:, None]
        )
    flagged = consecutive | outlier
    scores = np.nan_to_num(p)
    return PeerFlags("envoy", True, scores, flagged, np.full((t, n), err_i))
