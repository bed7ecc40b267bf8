"""Threshold calibration: a habitually noisy node is judged against its own training scores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from detector import NodeDetector, detect_frame

from .conftest import assert_step_matches_batch

START = pd.Timestamp("2026-01-01")
STEP = pd.Timedelta(minutes=5)


def count_fleet(steps: int, seed: int = 3) -> pd.DataFrame:
    """Six Poisson count series on one daily curve; node5 has tiny counts (noisy on log scale)."""
    rng = np.random.default_rng(seed)
    t = np.arange(steps)
    daily = 1.0 + 0.5 * np.sin(2 * np.pi * t / 288)
    rates = {f"node{i}": 80.0 * (i + 1) for i in range(5)} | {"node5": 2.0}
    frames = [
        pd.DataFrame(
            {
                "timestamp": START + t * STEP,
                "node": node,
                "metric": "value",
                "value": rng.poisson(rate * daily).astype(float),
            }
        )
        for node, rate in rates.items()
    ]
    return pd.concat(frames, ignore_index=True)


def test_noisy_node_gets_its_own_higher_threshold_and_fewer_false_alerts(tmp_path: Path):
    fleet = count_fleet(2000)
    until = START + 1000 * STEP
    history = fleet[fleet["timestamp"] < until]
    common = {"n_estimators": 50, "random_state": 0, "immediate_ratio": 3.0}
    own = NodeDetector(**common).fit(history)
    shared = NodeDetector(per_node_threshold=False, **common).fit(history)

    thresholds, immediate = own.thresholds_for(("node0", "node5", "newcomer"))
    assert own.threshold_ == shared.threshold_
    assert thresholds[2] == own.threshold_  # unseen node: the fleet threshold
    assert thresholds.min() >= own.threshold_  # never lower than the fleet's
    assert "node5" in own.node_thresholds_ and thresholds[1] > own.threshold_
    assert immediate[1] > own.immediate_

    def alerts_on(model: NodeDetector, node: str) -> int:
        rows = detect_frame(model, fleet, until).alerts
        return int(rows[rows["node"] == node]["anomalous"].sum())

    assert alerts_on(own, "node5") <= alerts_on(shared, "node5")
    # online step and batch agree on the per-node threshold; it survives save/load
    loaded = NodeDetector.load(own.save(tmp_path / "m.joblib"))
    assert loaded.node_thresholds_ == own.node_thresholds_
    assert own.metadata_["node_thresholds"]["node5"] == own.node_thresholds_["node5"][0]


def test_no_per_node_thresholds_without_learned_offsets():
    """The live default (learn_offsets=False: node names are ephemeral) keeps one threshold."""
    fleet = count_fleet(600)
    model = NodeDetector(learn_offsets=False, n_estimators=20).fit(fleet)
    assert model.node_thresholds_ == {}
    assert (model.thresholds_for(("node5",))[0] == model.threshold_).all()


def test_online_step_uses_the_same_per_node_thresholds_as_batch():
    fleet = count_fleet(1300)
    until = START + 1000 * STEP
    model = NodeDetector(n_estimators=30, random_state=0).fit(fleet[fleet["timestamp"] < until])
    assert model.node_thresholds_
    part = fleet[fleet["timestamp"] >= until - 40 * STEP]
    batch = detect_frame(model, part, until).alerts.set_index(["timestamp", "node"])
    model.reset()
    assert_step_matches_batch(model, part, until, batch)
