"""Per-node envelopes and the miss explanation, on synthetic count fleets.

A fleet of Poisson counts where one node has tiny counts (noisy on the log scale)
and the rest large ones: the noisy node sets the pooled envelope, so a moderate
sustained change on a quiet node can stay inside it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from detector import NodeDetector, detect_frame
from detector.evaluate import MISS_COLUMNS, explain_misses, score_events, threshold_curve
from detector.synth import healthy_fleet, inject

from .conftest import assert_step_matches_batch
from .test_calibration import START, STEP, count_fleet

UNTIL = START + 1000 * STEP
COMMON = {
    "n_estimators": 30,
    "random_state": 0,
    "threshold_quantile": 0.995,
    "smooth_windows": (6, 36),
}


def shifted(factor: float) -> pd.DataFrame:
    """node1 (rate 160) scaled by ``factor`` for 4 hours from window 1200."""
    fleet = count_fleet(1500)
    return inject(fleet, "node1", "value", START + 1200 * STEP, START + 1248 * STEP, factor)


def label(node: str, first: int, last: int) -> pd.DataFrame:
    return pd.DataFrame(
        {"node": [node], "start": [START + first * STEP], "end": [START + last * STEP]}
    )


def test_per_node_envelope_scales_the_pooled_one_by_each_nodes_own_spread():
    fleet = count_fleet(1300)
    model = NodeDetector(per_node_envelope=True, **COMMON).fit(fleet[fleet["timestamp"] < UNTIL])
    pooled = model.envelope_
    assert set(model.node_envelopes_) == {f"node{i}" for i in range(6)}
    # the noisy low-count node gets a wider envelope than the quiet ones on its raw channel
    assert model.node_envelopes_["node5"][0] > model.node_envelopes_["node1"][0]
    assert model.node_envelopes_["node1"][0] <= pooled[0]
    off = NodeDetector(**COMMON).fit(fleet[fleet["timestamp"] < UNTIL])
    assert off.node_envelopes_ == {}
    np.testing.assert_allclose(off.envelope_, pooled)


def test_per_node_envelope_finds_a_moderate_change_on_a_quiet_node_the_pooled_one_misses():
    fleet = shifted(1.2)
    history = fleet[fleet["timestamp"] < UNTIL]
    labels = label("node1", 1200, 1248)
    pooled = NodeDetector(**COMMON).fit(history)
    own = NodeDetector(per_node_envelope=True, **COMMON).fit(history)
    why = explain_misses(pooled, fleet, labels, UNTIL)
    assert tuple(why.columns) == MISS_COLUMNS
    assert why["reason"].iloc[0] != "found"
    mine = explain_misses(own, fleet, labels, UNTIL)
    assert mine["reason"].tolist() == ["found"]
    assert mine["peak_vs_envelope"].iloc[0] > why["peak_vs_envelope"].iloc[0]


def test_per_node_envelope_batch_equals_online_and_survives_save_load(tmp_path: Path):
    fleet = shifted(1.35)
    model = NodeDetector(per_node_envelope=True, **COMMON).fit(fleet[fleet["timestamp"] < UNTIL])
    loaded = NodeDetector.load(model.save(tmp_path / "m.joblib"))
    assert loaded.node_envelopes_.keys() == model.node_envelopes_.keys()
    part = fleet[fleet["timestamp"] >= UNTIL - 60 * STEP]
    batch = detect_frame(loaded, part, UNTIL).alerts.set_index(["timestamp", "node"])
    assert batch["anomalous"].sum() > 0
    assert_step_matches_batch(loaded, part, UNTIL, batch, scores=True)


def test_explain_misses_names_the_fleet_guard_and_the_hysteresis():
    live_step = pd.Timedelta(seconds=15)
    fleet = healthy_fleet(n_nodes=5, steps=700, seed=7)
    until = pd.Timestamp("2026-01-01") + 500 * live_step
    # evidence_windows=1: with the default (2) the one-window blip below is already
    # dropped by the health gate; here it must reach the hysteresis stage
    model = NodeDetector(
        n_estimators=30,
        threshold_quantile=0.999,
        learn_offsets=False,
        immediate_ratio=None,
        evidence_windows=1,
    )
    model.fit(fleet[fleet["timestamp"] < until])
    fault_at = until + 40 * live_step
    fault_end = fault_at + 30 * live_step
    both = inject(fleet, "node-1", "error_rate", fault_at, fault_end, add=0.3)
    both = inject(both, "node-2", "error_rate", fault_at, fault_end, add=0.3)
    # one window of errors on node-3: one raw flag, never 2 of 3 (no immediate level here)
    blip = until + 150 * live_step
    both = inject(both, "node-3", "error_rate", blip, blip + live_step, add=0.3)
    labels = pd.DataFrame(
        {
            "node": ["node-1", "node-3"],
            "start": [fault_at, blip],
            "end": [fault_at + 20 * live_step, blip + 5 * live_step],
        }
    )
    why = explain_misses(model, both, labels, until)
    assert why["reason"].tolist() == ["fleet guard", "hysteresis"]
    assert why["raw_flags"].iloc[1] == 1


def test_threshold_curve_at_scale_one_is_the_fitted_detector_and_lower_scales_flag_more():
    fleet = shifted(1.2)
    labels = label("node1", 1200, 1248)
    model = NodeDetector(**COMMON).fit(fleet[fleet["timestamp"] < UNTIL])
    points = threshold_curve(model, fleet, labels, UNTIL, scales=(0.5, 1.0, 2.0))
    fitted = score_events(detect_frame(model, fleet, UNTIL).alerts, labels, UNTIL)
    assert {k: points[1][k] for k in fitted} == fitted
    windows = [p["anomalous_windows"] for p in points]
    assert windows[0] >= windows[1] >= windows[2]
    assert points[0]["found"] == 1 and points[0]["anomalous_windows"] > windows[1]
