"""Peer offsets that follow a lasting shift, so one shift is one alert, not many.

The peer view compares a node with the fleet median net of the node's habitual
offset.  Offsets learnt in ``fit`` are fixed: a node whose level moves for good
(a process that kept 10 MB more memory after a hang cleared, a replica moved to
other hardware) then stands out from its peers in *every* later window.  Its
score sits above the threshold for the rest of the run, and each ordinary blip
that passes the health gate (a p99 spike, which every node shows now and then)
turns into a new alert episode: the node flaps, and while it is flagged the fleet
guard counts it against the next real fault on another node.

What an SRE expects of a shift that lasts is one alert when it starts, then the
node judged against its new level.  So with ``offset_windows = L``, a node's
offset at a window is its *median* distance from the fleet median over the
``L`` windows before it (the current one excluded), once at least half of them
are known; before that, the learnt offset (0 for a node unseen in training).
The median means a shift is adopted only after it has lasted ``L / 2`` windows,
and a fault shorter than that (the first windows, when it must be found, above
all) never moves the offset.  The self view already forgets a shift after half
its 20-window baseline; this makes the peer view forget it too, ``L / 2``
windows later.

A lasting *symptom* is never adopted: on a health metric (``evidence.HEALTH_EFFECTS``)
a rise over the learnt offset as large as the gate's material effect (``1 + x`` 3x
for latency, +5 points of errors, 25 % more RSS, ...) keeps the learnt offset, not
even part of the rise is taken (clipping it there would leave a 4x p99 looking like
1.3x), so a node that keeps serving slowly or with errors stays as far from its
peers as before, while one that merely holds 10 % more memory becomes normal
(``tests/detector/test_offsets.py``).  Without any health metric (NAB's single
``value``, custom metric sets) there is no telling a benign lasting shift from a
lasting fault, so the offsets stay the learnt ones: on realTweets, adopting
shifts after 30 or 60 windows lost a quarter of the labelled bursts (mean F1 over
six training splits 0.38-0.40 instead of 0.49).

The batch form works on the whole (T, N, C) array of channels; ``OffsetMemory``
is the online twin (per node, the raw deviations of its last ``L`` windows),
giving the same numbers window by window.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np

from detector import evidence as E
from detector import features as F


def caps(metrics: tuple[str, ...], channels: int) -> np.ndarray:
    """(C,) the rise over the learnt offset that is a symptom, never adopted (inf: none).

    Channels repeat the metrics once per trailing-mean span (``features.channel_names``).
    """
    per_metric = [E.HEALTH_EFFECTS[m][0] if m in E.HEALTH_EFFECTS else np.inf for m in metrics]
    return np.resize(np.array(per_metric, dtype=float), channels)


def raw_deviation(y: np.ndarray, min_peers: int) -> np.ndarray:
    """(T, N, C) distance from the fleet median, no offsets; NaN with fewer than ``min_peers``."""
    dev, spread = F.peer_deviation(y, None, min_peers)
    return np.where(np.isnan(spread)[:, None, :], np.nan, dev)


def _params(windows: int) -> F.FeatureParams:
    return F.FeatureParams(baseline_windows=windows, baseline_min_windows=max(1, windows // 2))


def trailing_offsets(
    y: np.ndarray,
    learned: np.ndarray,
    windows: int,
    min_peers: int,
    cap: np.ndarray,
    at: np.ndarray | None = None,
) -> np.ndarray:
    """(T', N, C) offsets at every window (or at the indices ``at``) of ``y`` (T, N, C).

    ``learned`` (N, C) fills the windows where the trailing median is not known yet,
    or has risen over it by ``cap`` (C,) or more (:func:`caps`).
    """
    median, _ = F.rolling_baseline(raw_deviation(y, min_peers), _params(windows), at)
    return adopt(median, learned[None, :, :], cap)


def adopt(median: np.ndarray, learned: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """The trailing median where known and less than ``cap`` above the learnt offset."""
    symptom = np.nan_to_num(median - learned, nan=np.inf) >= cap
    return np.where(symptom, learned, median)


class OffsetMemory:
    """Per node, the raw peer deviations of its last ``windows`` windows (NaN when absent)."""

    def __init__(self, windows: int, min_peers: int) -> None:
        self.windows = windows
        self.min_peers = min_peers
        self.past: dict[str, deque[np.ndarray]] = {}

    def offsets(self, nodes: Sequence[str], learned: np.ndarray, cap: np.ndarray) -> np.ndarray:
        """(N, C) offsets for the current window, from the windows before it."""
        stack = np.full((self.windows, *learned.shape), np.nan)
        for i, node in enumerate(nodes):
            past = self.past.get(node)
            if past:
                stack[-len(past) :, i, :] = np.array(past)
        median, _ = F.buffer_baseline(stack, _params(self.windows))
        return adopt(median, learned, cap)

    def update(self, nodes: Sequence[str], y: np.ndarray) -> None:
        """Remember this window's deviations ``y`` (N, C channels); absent nodes get NaN."""
        dev = raw_deviation(y[None], self.min_peers)[0] if len(nodes) else y
        for i, node in enumerate(nodes):
            self.past.setdefault(node, deque(maxlen=self.windows)).append(dev[i])
        present = set(nodes)
        for node in [n for n in self.past if n not in present]:
            past = self.past[node]
            past.append(np.full(y.shape[-1], np.nan))
            if np.all(np.isnan(np.array(past))):
                del self.past[node]

    def resized(self, windows: int, min_peers: int) -> OffsetMemory:
        """The same memory under new settings (a refitted detector carrying on)."""
        new = OffsetMemory(windows, min_peers)
        new.past = {n: deque(p, maxlen=windows) for n, p in self.past.items()}
        return new
