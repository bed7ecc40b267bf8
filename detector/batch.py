"""Run the online detection logic over a whole long-format frame (the CLI's engine).

Scoring is vectorised over the whole cube (features use only the trailing
windows, so this equals scoring window by window), then the very same
:class:`~detector.hysteresis.Tracker` that ``NodeDetector.step`` uses walks the
windows in time order.  The result is one row per (timestamp, tracked node):
``timestamp,node,score,anomalous,top_metrics``; a tracked node that did not
report has an empty score and, once anomalous for it, top metric ``absent``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from detector.frame import Cube
from detector.hysteresis import ABSENT, HysteresisParams, Observation, Tracker
from detector.model import NodeDetector
from detector.types import FleetAnomaly

ALERT_COLUMNS = ("timestamp", "node", "score", "anomalous", "top_metrics")


@dataclass(frozen=True)
class BatchResult:
    alerts: pd.DataFrame  # ALERT_COLUMNS
    fleet: tuple[FleetAnomaly, ...]


def top_indices(contrib: np.ndarray, k: int) -> np.ndarray:
    """(T, N, k) metric indices by contribution, largest first."""
    return np.argsort(-contrib, axis=-1, kind="stable")[..., :k]


def run_tracker(
    cube: Cube,
    scores: np.ndarray,
    flagged: np.ndarray,
    top_of: Callable[[int, int], tuple[str, ...]],
    params: HysteresisParams,
    start: pd.Timestamp | None = None,
    strong: np.ndarray | None = None,
) -> BatchResult:
    """Walk the windows in order through one Tracker; output rows from ``start`` on.

    The tracker is warmed up on the ``forget_after`` windows before ``start`` so a
    node that went silent just before it is still known.
    """
    first = 0 if start is None else int(np.searchsorted(cube.timestamps, np.datetime64(start)))
    warm = max(0, first - params.forget_after)
    tracker = Tracker(params)
    present = cube.present
    out_t: list[int] = []
    out_node: list[str] = []
    out_score: list[float] = []
    out_anom: list[int] = []
    out_top: list[str] = []
    fleet: list[FleetAnomaly] = []
    index = {name: i for i, name in enumerate(cube.nodes)}
    for t in range(warm, len(cube.timestamps)):
        now = pd.Timestamp(cube.timestamps[t]).to_pydatetime()
        observations = {}
        for col in np.flatnonzero(present[t]):
            observations[cube.nodes[col]] = Observation(
                bool(flagged[t, col]),
                float(scores[t, col]),
                (),
                strong=bool(strong[t, col]) if strong is not None else False,
            )
        outcome = tracker.advance(now, observations)
        if t < first:
            continue
        if outcome.fleet is not None:
            fleet.append(outcome.fleet)
        absent = set(outcome.absent)
        for node, anomalous in outcome.anomalous.items():
            out_t.append(t)
            out_node.append(node)
            out_anom.append(int(anomalous))
            if node in absent:
                out_score.append(np.nan)
                out_top.append(ABSENT if tracker.tracks[node].top == (ABSENT,) else "")
            else:
                n = index[node]
                out_score.append(float(scores[t, n]))
                out_top.append(";".join(top_of(t, n)))
    alerts = pd.DataFrame(
        {
            "timestamp": cube.timestamps[np.array(out_t, dtype=int)] if out_t else [],
            "node": out_node,
            "score": out_score,
            "anomalous": out_anom,
            "top_metrics": out_top,
        },
        columns=list(ALERT_COLUMNS),
    )
    return BatchResult(alerts, tuple(fleet))


def detect_frame(
    detector: NodeDetector, frame: pd.DataFrame, start: pd.Timestamp | None = None
) -> BatchResult:
    """Score ``frame`` with a fitted detector and apply hysteresis from ``start`` on."""
    cube = detector.cube(frame)
    scores, contrib = detector.score_cube(cube)
    threshold, immediate = detector.thresholds_for(cube.nodes)
    evidence = detector.evidence_cube(cube)  # direction-aware gate (detector.evidence)
    flagged = (np.nan_to_num(scores, nan=-np.inf) > threshold[None, :]) & evidence
    tops = top_indices(contrib, detector.top_k)
    metrics = detector.metrics_

    def top_of(t: int, n: int) -> tuple[str, ...]:
        row = contrib[t, n]
        chosen = tuple(metrics[i] for i in tops[t, n] if row[i] >= 1.0)
        return chosen or ((metrics[int(tops[t, n][0])],) if len(metrics) else ())

    strong = (np.nan_to_num(scores, nan=-np.inf) > immediate[None, :]) & evidence
    return run_tracker(cube, scores, flagged, top_of, detector.hysteresis_params, start, strong)
