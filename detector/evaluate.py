"""Honest, event-level evaluation of node alerts against labelled fault windows.

Point-wise scores with "point adjust" (one hit anywhere in a window credits the
whole window) flatter any detector; here a labelled window ``node,start,end``
counts as found when *that node* is anomalous at some window inside it, and an
alert episode (a run of anomalous windows of one node) that touches no
labelled window of that node is one false positive.  Precision is
``found / (found + false episodes)``, so a fault reported as many fragments is
not counted many times.  Also reported: the median detection delay (first
anomalous window inside the label minus its start, 0 if the node was already
anomalous) and localization accuracy (of the episodes that overlap any labelled
window in time, the share on a node labelled at that time).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from detector import features as F
from detector.baselines import PeerFlags, envoy, robust_z
from detector.batch import detect_frame, run_tracker
from detector.frame import Cube, DetectorInputError, infer_step, parse_timestamps, read_table
from detector.model import NodeDetector

LABEL_COLUMNS = ("node", "start", "end")


def read_labels(path: str | Path, known_nodes: set[str] | None = None) -> pd.DataFrame:
    """Read ``node,start,end`` (any export ``frame.read_table`` takes); errors name the
    file, line and problem."""
    return validate_labels(read_table(path, LABEL_COLUMNS), str(path), known_nodes)


def validate_labels(
    labels: pd.DataFrame, source: str = "labels", known_nodes: set[str] | None = None
) -> pd.DataFrame:
    labels = labels.set_axis([str(c).strip() for c in labels.columns], axis=1)
    missing = [c for c in LABEL_COLUMNS if c not in labels.columns]
    unknown = [c for c in labels.columns if c not in LABEL_COLUMNS]
    if missing or unknown:
        raise DetectorInputError(
            f"{source}: expected columns node,start,end; "
            + (f"missing {', '.join(missing)}" if missing else f"unknown {', '.join(unknown)}")
        )
    labels = labels.copy()
    # file lines: read_table's index is each row's line - 2 (blank lines skipped count)
    lines = labels.index.to_numpy(dtype=np.int64) + 2
    labels["node"] = labels["node"].astype(str).str.strip()
    labels["start"] = parse_timestamps(labels["start"], source, "start", lines)
    labels["end"] = parse_timestamps(labels["end"], source, "end", lines)
    backwards = labels["end"] < labels["start"]
    if backwards.any():
        line = lines[np.flatnonzero(backwards.to_numpy())[0]]
        raise DetectorInputError(f"{source}: line {line}: end is before start")
    if known_nodes is not None:
        strangers = ~labels["node"].isin(known_nodes)
        if strangers.any():
            at = int(np.flatnonzero(strangers.to_numpy())[0])
            raise DetectorInputError(
                f"{source}: line {lines[at]}: unknown node {labels['node'].iloc[at]!r} "
                f"(not in the metrics file; known: {', '.join(sorted(known_nodes)[:10])})"
            )
    return labels.reset_index(drop=True)


def episodes(alerts: pd.DataFrame) -> pd.DataFrame:
    """Runs of consecutive anomalous rows per node: ``node, first, last``."""
    rows = []
    for node, group in alerts.sort_values("timestamp").groupby("node", sort=True):
        flags = group["anomalous"].to_numpy().astype(bool)
        times = group["timestamp"].to_numpy()
        if not flags.any():
            continue
        edges = np.diff(np.concatenate([[0], flags.astype(int), [0]]))
        for s, e in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
            rows.append((node, pd.Timestamp(times[s]), pd.Timestamp(times[e - 1])))
    return pd.DataFrame(rows, columns=["node", "first", "last"])


def score_events(
    alerts: pd.DataFrame, labels: pd.DataFrame, start: pd.Timestamp | None = None
) -> dict[str, Any]:
    """Event-level precision/recall/F1, median delay and localization accuracy."""
    labels = labels.copy()
    if start is not None:
        labels = labels[labels["end"] >= start]
        labels["start"] = labels["start"].clip(lower=start)
    eps = episodes(alerts)
    hits = alerts[alerts["anomalous"].astype(bool)]
    found, delays = 0, []
    for label in labels.itertuples(index=False):
        inside = hits[
            (hits["node"] == label.node)
            & (hits["timestamp"] >= label.start)
            & (hits["timestamp"] <= label.end)
        ]
        if len(inside):
            found += 1
            delays.append((inside["timestamp"].min() - label.start).total_seconds())
    false_eps, overlapping, on_right_node = 0, 0, 0
    for ep in eps.itertuples(index=False):
        in_time = labels[(labels["start"] <= ep.last) & (labels["end"] >= ep.first)]
        right = bool((in_time["node"] == ep.node).any())
        if not right:
            false_eps += 1
        if len(in_time):
            overlapping += 1
            on_right_node += int(right)
    n_labels = len(labels)
    precision = found / (found + false_eps) if found + false_eps else 0.0
    recall = found / n_labels if n_labels else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "events": n_labels,
        "found": found,
        "false_episodes": false_eps,
        "episodes": len(eps),
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "median_delay_seconds": float(np.median(delays)) if delays else None,
        "localization_accuracy": round(on_right_node / overlapping, 4) if overlapping else None,
        "anomalous_windows": int(hits.shape[0]),
    }


def evaluate(
    frame: pd.DataFrame,
    labels: pd.DataFrame,
    train_until: pd.Timestamp,
    detector: NodeDetector | None = None,
) -> dict[str, Any]:
    """Fit on rows before ``train_until``, detect after it; score detector and peers."""
    history = frame[frame["timestamp"] < train_until]
    if history.empty:
        raise DetectorInputError(f"no rows before --train-until {train_until}")
    if not (frame["timestamp"] >= train_until).any():
        raise DetectorInputError(f"no rows at or after --train-until {train_until}")
    model = detector if detector is not None else NodeDetector()
    if not hasattr(model, "forest_"):
        model.fit(history)
    result = detect_frame(model, frame, train_until)
    report: dict[str, Any] = {
        "train_until": str(train_until),
        "nodes": int(frame["node"].nunique()),
        "metrics": sorted(frame["metric"].unique().tolist()),
        "detector": score_events(result.alerts, labels, train_until)
        | {"fleet_anomaly_windows": len(result.fleet)},
    }
    cube = model.cube(frame)
    step = infer_step(frame)
    step_seconds = step.total_seconds() if step is not None else 15.0
    params = model.hysteresis_params
    for peer in (robust_z(cube, np.datetime64(train_until)), envoy(cube, step_seconds)):
        if not peer.applicable:
            report[peer.name] = {"applicable": False, "reason": peer.reason}
            continue

        def top_of(t: int, n: int, peer: PeerFlags = peer) -> tuple[str, ...]:
            return (cube.metrics[int(peer.top[t, n])],)

        flagged = peer.flagged & cube.present
        peer_result = run_tracker(cube, peer.scores, flagged, top_of, params, train_until)
        report[peer.name] = score_events(peer_result.alerts, labels, train_until) | {
            "fleet_anomaly_windows": len(peer_result.fleet)
        }
    return report


MISS_COLUMNS = (
    "node",
    "start",
    "end",
    "reason",
    "peak_ratio",
    "raw_flags",
    "peak_feature",
    "peak_vs_envelope",
)


def _found_on(alerts: pd.DataFrame, node: str, start: pd.Timestamp, end: pd.Timestamp) -> bool:
    inside = alerts[
        (alerts["node"] == node) & (alerts["timestamp"] >= start) & (alerts["timestamp"] <= end)
    ]
    return bool(inside["anomalous"].astype(bool).any())


def explain_misses(
    detector: NodeDetector, frame: pd.DataFrame, labels: pd.DataFrame, start: pd.Timestamp
) -> pd.DataFrame:
    """Why each labelled window after ``start`` was missed by a fitted detector.

    One row per labelled window (``MISS_COLUMNS``), ``reason`` the first stage
    that lost it: ``found``; ``fleet guard`` (found with the guard off: another
    node was anomalous at the same time); ``hysteresis`` (raw flags on the node
    inside the window, never ``k`` of ``n`` nor one above the immediate level);
    ``health gate`` (scores above the threshold but no health evidence);
    ``node threshold`` (above the fleet threshold, below the node's own higher
    one); ``below threshold``.  ``peak_ratio`` places the node's highest score
    in the window between its median score (0) and its threshold (1);
    ``peak_feature`` is the feature furthest outside its envelope at that peak
    and ``peak_vs_envelope`` its ``|value| / envelope`` (below 1: the deviation
    is no larger than the training extremes, so only the forest part scores it).
    """
    cube: Cube = detector.cube(frame)
    scores, _ = detector.score_cube(cube)
    threshold, immediate = detector.thresholds_for(cube.nodes)
    evidence = detector.evidence_cube(cube)
    finite = np.nan_to_num(scores, nan=-np.inf)
    flagged = (finite > threshold[None, :]) & evidence
    strong = (finite > immediate[None, :]) & evidence
    params = detector.hysteresis_params
    runs = {
        "found": run_tracker(cube, scores, flagged, lambda t, n: (), params, start, strong),
        "fleet guard": run_tracker(
            cube,
            scores,
            flagged,
            lambda t, n: (),
            dataclasses.replace(params, max_ejection_percent=100.0),
            start,
            strong,
        ),
    }
    x = detector._features(cube.nodes, detector._channels(cube.values))
    names = F.feature_names(detector.metrics_, detector.scales)
    envelopes = detector._row_envelopes(cube.nodes, np.arange(len(cube.nodes)))
    if envelopes is None:
        envelopes = np.broadcast_to(detector.envelope_, (len(cube.nodes), len(detector.envelope_)))
    times = cube.timestamps
    rows = []
    for label in labels[labels["end"] >= start].itertuples(index=False):
        lo = max(pd.Timestamp(label.start), start)
        n = cube.nodes.index(label.node)
        inside = (times >= np.datetime64(lo)) & (times <= np.datetime64(label.end))
        inside &= cube.present[:, n]
        if not inside.any():
            continue
        window = finite[inside, n]
        peak = int(np.flatnonzero(inside)[int(np.argmax(window))])
        middle = float(np.nanmedian(scores[:, n]))
        ratio = (finite[peak, n] - middle) / max(threshold[n] - middle, 1e-12)
        outside = np.abs(x[peak, n]) / envelopes[n]
        f = int(np.argmax(outside))
        raw = int(np.sum(window > threshold[n]))
        if _found_on(runs["found"].alerts, label.node, lo, label.end):
            reason = "found"
        elif _found_on(runs["fleet guard"].alerts, label.node, lo, label.end):
            reason = "fleet guard"
        elif flagged[inside, n].any():
            reason = "hysteresis"
        elif raw:
            reason = "health gate"
        elif window.max() > detector.threshold_:
            reason = "node threshold"
        else:
            reason = "below threshold"
        rows.append(
            (
                label.node,
                lo,
                label.end,
                reason,
                round(float(ratio), 3),
                raw,
                names[f],
                round(float(outside[f]), 3),
            )
        )
    return pd.DataFrame(rows, columns=list(MISS_COLUMNS))


def threshold_curve(
    detector: NodeDetector,
    frame: pd.DataFrame,
    labels: pd.DataFrame,
    start: pd.Timestamp,
    scales: tuple[float, ...] = (0.7, 0.8, 0.9, 1.0, 1.1, 1.25),
) -> list[dict[str, Any]]:
    """Event scores with every node's thresholds moved to ``median + s·(threshold − median)``.

    ``s = 1`` is the detector as fitted; below 1 it flags more.  The node's median
    is that of its training-period scores.  If no scale gives a much better F1,
    the misses are a ranking problem (labelled windows score no higher than
    unlabelled bursts), not a calibration one.
    """
    cube: Cube = detector.cube(frame)
    scores, _ = detector.score_cube(cube)
    threshold, immediate = detector.thresholds_for(cube.nodes)
    evidence = detector.evidence_cube(cube)
    before = int(np.searchsorted(cube.timestamps, np.datetime64(start)))
    history = scores[:before] if before else scores
    middle = np.array([np.nanmedian(col) if np.isfinite(col).any() else 0.0 for col in history.T])
    finite = np.nan_to_num(scores, nan=-np.inf)
    out = []
    for s in scales:
        flag_at = middle + s * (threshold - middle)
        strong_at = middle + s * (immediate - middle)
        flagged = (finite > flag_at[None, :]) & evidence
        strong = (finite > strong_at[None, :]) & evidence
        run = run_tracker(
            cube, scores, flagged, lambda t, n: (), detector.hysteresis_params, start, strong
        )
        out.append({"scale": s} | score_events(run.alerts, labels, start))
    return out
