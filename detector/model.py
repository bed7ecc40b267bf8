"""``NodeDetector``: an Isolation Forest over fleet-relative node features.

The estimator follows scikit-learn's manner: ``__init__`` only stores
parameters, ``fit(history)`` learns (``metrics_``, ``offsets_``, ``forest_``,
``threshold_``, ``metadata_``) and returns ``self``.  ``score`` rates every
(timestamp, node) of a long frame in one vectorised pass; ``step`` is the online
form the control loop calls once per scrape window, keeping per-node trailing
baselines and hysteresis state; ``localize`` returns the current anomalies.
The threshold is the ``threshold_quantile`` of the training scores, so the
raw false-flag rate on healthy data is about ``1 - threshold_quantile`` per
node-window before hysteresis thins it out further.  With learned offsets
(stable node identities), a node whose own training scores run hotter gets its
own, higher threshold (``node_thresholds_``), so one noisy node does not spend
the whole fleet's false-alert budget.  A node is flagged after ``k`` of its last
``n`` windows; the optional one-window level (``immediate_ratio``) is off by
default (why: detector/README.md, "Hysteresis").
"""

from __future__ import annotations

import platform
from collections import deque
from collections.abc import Iterable, Mapping
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from sklearn.base import BaseEstimator
from sklearn.ensemble import IsolationForest

from detector import evidence as E
from detector import features as F
from detector import offsets as O
from detector import store
from detector.frame import Cube, DetectorInputError, to_cube, validate_long
from detector.hysteresis import HysteresisParams, Observation, Tracker
from detector.types import Anomaly, StepResult

MODEL_FORMAT = store.MODEL_FORMAT
DEFAULT_MODEL = "default.joblib"


class NotFittedError(RuntimeError):
    """The detector was used before ``fit`` (or ``load``)."""


class NodeDetector(BaseEstimator):
    """Find the misbehaving node of a fleet from per-node metric windows."""

    def __init__(
        self,
        n_estimators: int = 100,
        max_samples: int = 256,
        threshold_quantile: float = 0.995,
        baseline_windows: int = 20,
        baseline_min_windows: int = 5,
        peer_floor: float = 0.03,
        self_floor: float = 0.03,
        min_peers: int = 3,
        k: int = 2,
        n: int = 3,
        clear_after: int = 3,
        absent_windows: int = 3,
        forget_after: int = 20,
        max_ejection_percent: float = 10.0,
        learn_offsets: bool = True,
        offset_windows: int | None = 60,
        top_k: int = 3,
        envelope_quantile: float = 0.999,
        learned_floor_fraction: float = 0.5,
        immediate_ratio: float | None = None,
        smooth_windows: tuple[int, ...] = (),
        per_node_threshold: bool = True,
        per_node_envelope: bool = False,
        health_gate: bool = True,
        evidence_windows: int = 2,
        max_train_rows: int = 100_000,
        random_state: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.threshold_quantile = threshold_quantile
        self.baseline_windows = baseline_windows
        self.baseline_min_windows = baseline_min_windows
        self.peer_floor = peer_floor
        self.self_floor = self_floor
        self.min_peers = min_peers
        self.k = k
        self.n = n
        self.clear_after = clear_after
        self.absent_windows = absent_windows
        self.forget_after = forget_after
        self.max_ejection_percent = max_ejection_percent
        self.learn_offsets = learn_offsets
        self.offset_windows = offset_windows
        self.top_k = top_k
        self.envelope_quantile = envelope_quantile
        self.learned_floor_fraction = learned_floor_fraction
        self.immediate_ratio = immediate_ratio
        self.smooth_windows = smooth_windows
        self.per_node_threshold = per_node_threshold
        self.per_node_envelope = per_node_envelope
        self.health_gate = health_gate
        self.evidence_windows = evidence_windows
        self.max_train_rows = max_train_rows
        self.random_state = random_state

    # ------------------------------------------------------------------ params
    @property
    def feature_params(self) -> F.FeatureParams:
        return F.FeatureParams(
            baseline_windows=self.baseline_windows,
            baseline_min_windows=self.baseline_min_windows,
            peer_floor=self.peer_floor,
            self_floor=self.self_floor,
            min_peers=self.min_peers,
        )

    @property
    def scales(self) -> tuple[int, ...]:
        """Trailing-mean spans (windows) added as extra channels of every metric."""
        return tuple(int(s) for s in (self.smooth_windows or ()) if int(s) > 1)

    @property
    def n_channels(self) -> int:
        return len(self.metrics_) * (1 + len(self.scales))

    def _channels(self, values: np.ndarray) -> np.ndarray:
        return F.transform(F.smooth_channels(values, self.scales))

    @property
    def hysteresis_params(self) -> HysteresisParams:
        return HysteresisParams(
            k=self.k,
            n=self.n,
            clear_after=self.clear_after,
            absent_windows=self.absent_windows,
            forget_after=self.forget_after,
            max_ejection_percent=self.max_ejection_percent,
        )

    def _check_fitted(self) -> None:
        if not hasattr(self, "forest_"):
            raise NotFittedError("NodeDetector is not fitted: call fit() or load() first")

    # ---------------------------------------------------------------- training
    def fit(self, history: pd.DataFrame) -> NodeDetector:
        """Learn from healthy (mostly healthy) long-format history."""
        if not 0.5 <= self.threshold_quantile < 1.0:
            raise ValueError("threshold_quantile must be in [0.5, 1)")
        self.hysteresis_params  # noqa: B018 - validates k/n/... early
        frame = validate_long(history, source="history")
        cube = to_cube(frame)
        self.metrics_ = cube.metrics
        y = self._channels(cube.values)
        self.offsets_ = self._learn_offsets(cube, y) if self.learn_offsets else {}
        # features (and trailing baselines) only at a sample of windows: the forest
        # sees at most ``max_train_rows`` rows anyway
        rng = np.random.default_rng(self.random_state)
        windows = len(cube.timestamps)
        per_window = max(1.0, float(cube.present.sum(axis=1).mean())) if windows else 1.0
        wanted = max(1, int(self.max_train_rows / per_window))
        at = (
            np.arange(windows) if windows <= wanted else np.sort(rng.choice(windows, wanted, False))
        )
        baseline = F.rolling_baseline(y, self.feature_params, at)
        self.scales_ = self._learn_scales(cube, y, y[at], baseline)
        offsets = self._peer_offsets(cube.nodes, y, at)
        rows = self._features(cube.nodes, y[at], baseline, offsets)[cube.present[at]]
        row_nodes = np.nonzero(cube.present[at])[1]
        if len(rows) < 10:
            raise DetectorInputError(
                f"history: only {len(rows)} node-windows; need at least 10 to fit"
            )
        self.forest_ = IsolationForest(
            n_estimators=self.n_estimators,
            max_samples=min(self.max_samples, len(rows)),
            random_state=self.random_state,
        ).fit(rows)
        self.envelope_, self.node_envelopes_ = F.training_envelopes(
            rows, row_nodes, cube.nodes, self.envelope_quantile,
            per_node=self.learn_offsets and getattr(self, "per_node_envelope", False),
        )
        train_scores = self._raw_scores(rows, self._row_envelopes(cube.nodes, row_nodes))
        self.threshold_ = float(np.quantile(train_scores, self.threshold_quantile))
        middle = float(np.median(train_scores))
        self.immediate_ = (
            middle + self.immediate_ratio * (self.threshold_ - middle)
            if self.immediate_ratio
            else float("inf")
        )
        self.node_thresholds_ = (
            self._learn_node_thresholds(cube.nodes, row_nodes, train_scores, middle)
            if self.learn_offsets and self.per_node_threshold
            else {}
        )
        self.metadata_ = {
            "format": MODEL_FORMAT,
            "features": list(F.feature_names(self.metrics_, self.scales)),
            "metrics": list(self.metrics_),
            "threshold": self.threshold_,
            "threshold_quantile": self.threshold_quantile,
            "immediate_threshold": self.immediate_,
            "node_thresholds": {n: t for n, (t, _) in self.node_thresholds_.items()},
            "training_range": [
                str(pd.Timestamp(cube.timestamps[0])),
                str(pd.Timestamp(cube.timestamps[-1])),
            ],
            "training_nodes": list(cube.nodes),
            "training_windows": int(len(cube.timestamps)),
            "training_rows": int(cube.present.sum()),
            "versions": {
                "python": platform.python_version(),
                "scikit-learn": sklearn.__version__,
                "numpy": np.__version__,
                "pandas": pd.__version__,
            },
        }
        self.reset()
        return self

    def _learn_node_thresholds(
        self,
        nodes: tuple[str, ...],
        row_nodes: np.ndarray,
        train_scores: np.ndarray,
        middle: float,
    ) -> dict[str, tuple[float, float]]:
        """(threshold, immediate) for nodes whose own training scores run hotter.

        The fleet-wide threshold is one quantile of all training scores, so a
        node that is habitually noisier than the rest (a low-count series, a
        flaky replica) spends most of the false-flag budget by itself.  Like the
        offsets, this judges a known node against its own history: its
        threshold is the same quantile of its own training scores when that is
        higher than the fleet's (never lower, so a quiet node is not made
        touchier).  Nodes unseen in training use the fleet threshold.
        """
        out: dict[str, tuple[float, float]] = {}
        for i, node in enumerate(nodes):
            own = train_scores[row_nodes == i]
            if len(own) < 10:
                continue
            threshold = float(np.quantile(own, self.threshold_quantile))
            if threshold > self.threshold_:
                immediate = (
                    middle + self.immediate_ratio * (threshold - middle)
                    if self.immediate_ratio
                    else float("inf")
                )
                out[node] = (threshold, immediate)
        return out

    def _row_envelopes(self, nodes: Iterable[str], row_nodes: np.ndarray) -> np.ndarray | None:
        """(R, F) envelope of each row from its node index; None: all use the pooled one."""
        own = getattr(self, "node_envelopes_", {})
        return F.row_envelopes(self.envelope_, own, nodes, row_nodes)

    def thresholds_for(self, nodes: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
        """(N,) flag and immediate thresholds for these nodes (per-node where learned)."""
        own = getattr(self, "node_thresholds_", {})
        pairs = [own.get(node, (self.threshold_, self.immediate_)) for node in nodes]
        arr = np.array(pairs, dtype=float).reshape(-1, 2)
        return arr[:, 0], arr[:, 1]

    def _raw_scores(self, rows: np.ndarray, envelope: np.ndarray | None = None) -> np.ndarray:
        """Isolation Forest anomaly score plus the log-excess over the training envelope.

        Isolation depth saturates at the edge of the training data: a row ten
        times beyond the largest training value isolates no faster than the
        largest one.  Adding ``log1p(max(0, max_f |x_f| / envelope_f - 1))`` keeps
        the score growing with the size of the deviation.
        """
        if not len(rows):
            return np.zeros(0)
        env = self.envelope_ if envelope is None else envelope
        excess = np.max(np.abs(rows) / env, axis=1) - 1.0
        return -self.forest_.score_samples(rows) + np.log1p(np.maximum(excess, 0.0))

    def _learn_scales(
        self,
        cube: Cube,
        y: np.ndarray,
        y_sampled: np.ndarray,
        baseline: tuple[np.ndarray, np.ndarray],
    ) -> dict[str, Any]:
        """Typical spreads per metric (they set the learned floors).

        A spread that collapses by chance (nodes agreeing at night, a flat or
        low-count series) must not turn a small wobble into a huge z.  The floor
        is ``learned_floor_fraction`` of the typical spread seen in training:
        the median cross-node MAD for the peer view, the median trailing spread
        for the self view; where that median is 0 (mostly-constant metrics such
        as a small in-flight count) the mean absolute deviation × 1.2533 is used.
        """
        m = y.shape[2]
        dev, peer_spread = F.peer_deviation(y, self._offsets_for(cube.nodes), self.min_peers)
        base_med, base_spread = baseline
        scales: dict[str, Any] = {}
        for view, spread, deviation in (
            ("peer", peer_spread, dev),
            ("self", base_spread.reshape(-1, m), (y_sampled - base_med).reshape(-1, m)),
        ):
            typical, _ = F.nanmedian(spread.reshape(-1, m), axis=0)
            absdev = np.abs(deviation.reshape(-1, m))
            count = np.sum(np.isfinite(absdev), axis=0)
            mean_ad = F.MEAN_AD_TO_SIGMA * np.nansum(absdev, axis=0) / np.maximum(count, 1)
            typical = np.where(np.nan_to_num(typical) > 0, typical, mean_ad)
            scales[view] = np.nan_to_num(typical, nan=0.0)
        # nodes unseen in training get no offset, so their floor is the raw cross-node spread
        _, raw_spread = F.peer_deviation(y, None, self.min_peers)
        raw, _ = F.nanmedian(raw_spread, axis=0)
        scales["peer_unseen"] = np.fmax(scales["peer"], np.nan_to_num(raw, nan=0.0))
        return scales

    def _floors(self, nodes: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
        """(N, C) floors of the peer and self spreads for these nodes (C channels)."""
        m = self.n_channels
        unseen = self.scales_.get("peer_unseen", self.scales_["peer"])
        peer = np.array(
            [self.scales_["peer"] if node in self.offsets_ else unseen for node in nodes]
        ).reshape(-1, m)
        selfs = np.broadcast_to(self.scales_["self"], peer.shape)
        frac = self.learned_floor_fraction
        return np.fmax(self.peer_floor, frac * peer), np.fmax(self.self_floor, frac * selfs)

    def _learn_offsets(self, cube: Cube, y: np.ndarray) -> dict[str, np.ndarray]:
        """Each node's habitual (median) distance from the fleet median, per metric."""
        med, count = F.nanmedian(y, axis=1)
        dev = np.where((count >= self.min_peers)[:, None, :], y - med[:, None, :], np.nan)
        node_offsets, _ = F.nanmedian(dev, axis=0)  # (N, M)
        return {node: np.nan_to_num(node_offsets[i], nan=0.0) for i, node in enumerate(cube.nodes)}

    def _offsets_for(self, nodes: Iterable[str]) -> np.ndarray:
        zero = np.zeros(self.n_channels)
        return np.array([self.offsets_.get(node, zero) for node in nodes]).reshape(
            -1, self.n_channels
        )

    @property
    def _offset_windows(self) -> int:
        """Windows of the trailing peer offsets; 0: the learnt ones only (older models, and
        metrics without health ones: no telling a benign lasting shift from a fault)."""
        return int(getattr(self, "offset_windows", None) or 0) if E.gated(self.metrics_) else 0

    def _peer_offsets(
        self, nodes: tuple[str, ...], y: np.ndarray, at: np.ndarray | None = None
    ) -> np.ndarray:
        """Offsets following a lasting shift (T', N, C) (detector/offsets.py), or the learnt."""
        learned = self._offsets_for(nodes)
        if not self._offset_windows:
            return learned
        cap = O.caps(self.metrics_, self.n_channels)
        return O.trailing_offsets(y, learned, self._offset_windows, self.min_peers, cap, at)

    def _features(
        self,
        nodes: tuple[str, ...],
        y: np.ndarray,
        baseline: tuple[np.ndarray, np.ndarray] | None = None,
        offsets: np.ndarray | None = None,
    ) -> np.ndarray:
        params = self.feature_params
        peer_floor, self_floor = self._floors(nodes)
        offsets = self._peer_offsets(nodes, y) if offsets is None else offsets
        peer = F.peer_view(y, offsets, params, peer_floor)
        base_med, base_spread = baseline if baseline is not None else F.rolling_baseline(y, params)
        selfv = F.self_view(y, base_med, base_spread, params, self_floor)
        return F.assemble(peer, selfv, params)

    # ----------------------------------------------------------------- scoring
    def score_cube(self, cube: Cube) -> tuple[np.ndarray, np.ndarray]:
        """Scores (T, N) (NaN where absent) and per-metric contributions (T, N, M)."""
        self._check_fitted()
        x = self._features(cube.nodes, self._channels(cube.values))
        present = cube.present
        scores = np.full(present.shape, np.nan)
        if present.any():
            row_nodes = np.nonzero(present)[1]
            scores[present] = self._raw_scores(
                x[present], self._row_envelopes(cube.nodes, row_nodes)
            )
        return scores, F.contributions(x, len(self.metrics_), len(self.scales))

    def evidence_cube(self, cube: Cube) -> np.ndarray:
        """(T, N) health evidence within the hysteresis span (all True without the gate)."""
        self._check_fitted()
        t, n = cube.present.shape
        if not getattr(self, "health_gate", False):
            return np.ones((t, n), dtype=bool)
        y = F.transform(cube.values)
        base_med, _ = F.rolling_baseline(y, self.feature_params)
        now = E.health_evidence(y, base_med, self.metrics_, self.min_peers)
        return E.carry(now, self.n, self._evidence_windows, E.served(y, self.metrics_))

    @property
    def _evidence_windows(self) -> int:
        """Windows of the hysteresis span that must show health evidence (older models: 1)."""
        return int(getattr(self, "evidence_windows", 1))

    def cube(self, windows: pd.DataFrame) -> Cube:
        self._check_fitted()
        frame = validate_long(windows, source="windows")
        return to_cube(frame, metrics=self.metrics_)

    def score(self, windows: pd.DataFrame) -> pd.DataFrame:
        """Per (timestamp, node): ``score``, raw ``flagged`` and ``top_metrics`` (no hysteresis).

        Trailing baselines are computed inside ``windows``: pass enough history
        (``baseline_windows``) before the windows you care about.
        """
        cube = self.cube(windows)
        scores, contrib = self.score_cube(cube)
        t_idx, n_idx = np.nonzero(cube.present)
        tops = [
            ";".join(F.top_metrics(contrib[t, n], self.metrics_, self.top_k))
            for t, n in zip(t_idx, n_idx, strict=True)
        ]
        return pd.DataFrame(
            {
                "timestamp": cube.timestamps[t_idx],
                "node": np.array(cube.nodes, dtype=object)[n_idx],
                "score": scores[t_idx, n_idx],
                "flagged": scores[t_idx, n_idx] > self.thresholds_for(cube.nodes)[0][n_idx],
                "top_metrics": tops,
            }
        )

    # ------------------------------------------------------------------ online
    def reset(self) -> NodeDetector:
        """Forget online state (baselines, hysteresis); keeps the fitted model."""
        self._buffers: dict[str, deque[np.ndarray]] = {}
        self._health_memory = E.EvidenceMemory(self.n, self._evidence_windows)
        self._tracker = Tracker(self.hysteresis_params)
        self._offset_memory: O.OffsetMemory | None = None
        self._last: StepResult | None = None
        return self

    def step(
        self,
        now: datetime,
        window: Mapping[str, Mapping[str, float | None]],
        members: Iterable[str] | None = None,
    ) -> StepResult:
        """Score one scrape window ``{node: {metric: value}}`` and update hysteresis.

        ``members`` (optional) is the current pool membership: known nodes
        missing from ``window`` count as absent, nodes outside it are forgotten.
        Without it, a node missing for ``forget_after`` windows is forgotten.
        """
        self._check_fitted()
        if not hasattr(self, "_tracker"):
            self.reset()
        if self._tracker.params != self.hysteresis_params:  # set_params() since the last step
            self._tracker.params = self.hysteresis_params
        m = len(self.metrics_)
        nodes = [str(node) for node, sample in window.items() if sample]
        y = np.full((1, len(nodes), m), np.nan)
        for i, node in enumerate(nodes):
            for j, metric in enumerate(self.metrics_):
                value = window[node].get(metric)
                if value is not None and np.isfinite(float(value)):
                    y[0, i, j] = float(value)
        observations = self._observe_window(nodes, y) if nodes else {}
        if not nodes and self._offsets_memory() is not None:
            self._offsets_memory().update([], np.zeros((0, self.n_channels)))  # type: ignore[union-attr]
        self._remember(nodes, y[0])
        outcome = self._tracker.advance(now, observations, members)

        self._last = StepResult(
            at=now,
            scores={n: o.score for n, o in observations.items()},
            flagged={n: o.flagged for n, o in observations.items()},
            top_metrics={n: o.top_metrics for n, o in observations.items()},
            anomalous=outcome.anomalous,
            anomalies=outcome.anomalies,
            fleet=outcome.fleet,
            absent=outcome.absent,
        )
        return self._last

    @property
    def _memory(self) -> int:
        """Raw windows kept per node: the baseline plus the longest trailing mean."""
        return self.baseline_windows + max((s - 1 for s in self.scales), default=0)

    def _observe_window(self, nodes: list[str], raw: np.ndarray) -> dict[str, Observation]:
        """Features, scores and attribution for one window (raw values (1, N, M))."""
        params = self.feature_params
        m = len(self.metrics_)
        stack = np.full((self._memory + 1, len(nodes), m), np.nan)
        stack[-1] = raw[0]
        for i, node in enumerate(nodes):
            past = self._buffers.get(node)
            if past:
                stack[-1 - len(past) : -1, i, :] = np.array(past)
        channels = self._channels(stack)[-(self.baseline_windows + 1) :]
        y = channels[-1:]
        base_med, base_spread = F.buffer_baseline(channels[:-1], params)
        peer_floor, self_floor = self._floors(nodes)
        offsets, memory = self._offsets_for(nodes), self._offsets_memory()
        if memory is not None:
            offsets = memory.offsets(nodes, offsets, O.caps(self.metrics_, self.n_channels))
            memory.update(nodes, y[0])
        peer = F.peer_view(y, offsets, params, peer_floor)
        selfv = F.self_view(y, base_med[None], base_spread[None], params, self_floor)
        x = F.assemble(peer, selfv, params)[0]
        scores = self._raw_scores(x, self._row_envelopes(nodes, np.arange(len(nodes))))
        contrib = F.contributions(x, m, len(self.scales))
        threshold, immediate = self.thresholds_for(nodes)
        evidence = self._health(nodes, channels[-1, :, :m], base_med[:, :m])
        observations = {}
        for i, node in enumerate(nodes):
            top = F.top_metrics(contrib[i], self.metrics_, self.top_k)
            observations[node] = Observation(
                bool(evidence[i] and scores[i] > threshold[i]),
                float(scores[i]),
                top,
                strong=bool(evidence[i] and scores[i] > immediate[i]),
            )
        return observations

    def _health(self, nodes: list[str], y: np.ndarray, base_med: np.ndarray) -> list[bool]:
        """Per node: health evidence now or in the rest of the hysteresis span (see evidence)."""
        if not getattr(self, "health_gate", False):
            return [True] * len(nodes)
        if getattr(self, "_health_memory", None) is None:
            self._health_memory = E.EvidenceMemory(self.n, self._evidence_windows)
        now = E.health_evidence(y[None], base_med[None], self.metrics_, self.min_peers)[0]
        served = E.served(y[None], self.metrics_)[0]
        return self._health_memory.update(nodes, list(now), list(served))

    def _offsets_memory(self) -> O.OffsetMemory | None:
        """The online trailing offsets (None when off), made or resized after set_params."""
        windows, memory = self._offset_windows, getattr(self, "_offset_memory", None)
        if not windows:
            return None
        if memory is None or (memory.windows, memory.min_peers) != (windows, self.min_peers):
            memory = O.OffsetMemory(windows, self.min_peers) if memory is None else (
                memory.resized(windows, self.min_peers))
            self._offset_memory = memory
        return memory

    def _remember(self, nodes: list[str], y: np.ndarray) -> None:
        seen = set(nodes)
        for i, node in enumerate(nodes):
            self._buffers.setdefault(node, deque(maxlen=self._memory)).append(y[i])
        for node in [n for n in self._buffers if n not in seen]:
            buf = self._buffers[node]
            buf.append(np.full(len(self.metrics_), np.nan))
            if np.all(np.isnan(np.array(buf))):
                del self._buffers[node]

    def carry_state_from(self, other: NodeDetector) -> NodeDetector:
        """Adopt another detector's online state (baselines, hysteresis) after a refit."""
        if getattr(other, "_tracker", None) is None:
            return self.reset()
        if tuple(getattr(other, "metrics_", ())) != tuple(self.metrics_):
            self.reset()  # buffers are per metric: keep only the hysteresis memory
            self._tracker = other._tracker
            self._tracker.params = self.hysteresis_params
            return self
        self._buffers = {n: deque(b, maxlen=self._memory) for n, b in other._buffers.items()}
        memory = getattr(other, "_health_memory", None)
        self._health_memory = (
            E.EvidenceMemory(self.n, self._evidence_windows) if memory is None
            else memory.resized(self.n, self._evidence_windows)
        )
        self._tracker = other._tracker
        self._tracker.params = self.hysteresis_params
        self._offset_memory = getattr(other, "_offset_memory", None)
        self._last = other._last
        return self

    def localize(self) -> list[Anomaly]:
        """The current node anomalies (empty during a fleet-wide anomaly)."""
        last: StepResult | None = getattr(self, "_last", None)
        return list(last.anomalies) if last is not None else []

    # ------------------------------------------------------------- persistence
    def save(self, path: str | Path) -> Path:
        self._check_fitted()
        return store.save(self, path)

    @classmethod
    def load(cls, path: str | Path) -> NodeDetector:
        return store.load(cls, path).reset()

    @classmethod
    def default(cls) -> NodeDetector:
        """The shipped model trained on synthetic healthy gateway fleets (see train_default)."""
        ref = resources.files("detector") / "models" / DEFAULT_MODEL
        with resources.as_file(ref) as path:
            return cls.load(path)
