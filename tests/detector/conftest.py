"""Shared synthetic fleets and a small fitted detector for the detector tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from detector import NodeDetector
from detector.synth import healthy_fleet

START = pd.Timestamp("2026-01-01")
STEP = pd.Timedelta(seconds=15)
TRAIN_STEPS = 500


@pytest.fixture(scope="session")
def fleet() -> pd.DataFrame:
    """A healthy 5-node fleet: 500 training windows followed by 200 more."""
    return healthy_fleet(n_nodes=5, steps=TRAIN_STEPS + 200, seed=7)


@pytest.fixture(scope="session")
def train_until() -> pd.Timestamp:
    return START + TRAIN_STEPS * STEP


@pytest.fixture(scope="session")
def fitted(fleet: pd.DataFrame, train_until: pd.Timestamp) -> NodeDetector:
    history = fleet[fleet["timestamp"] < train_until]
    return NodeDetector(
        n_estimators=30, threshold_quantile=0.999, learn_offsets=False, random_state=1
    ).fit(history)


def assert_step_matches_batch(
    model: NodeDetector, part: pd.DataFrame, until: pd.Timestamp, batch: pd.DataFrame,
    *, scores: bool = False,
) -> None:
    """Feed ``part`` window by window to ``model.step()``: from ``until`` on, every node's
    flag (and with ``scores``, its score) equals the batch alerts (``detect_frame``)."""
    for ts, group in part.groupby("timestamp", sort=True):
        window = {row.node: {"value": float(row.value)} for row in group.itertuples()}
        result = model.step(pd.Timestamp(ts).to_pydatetime(), window)
        if ts < until:
            continue
        for node, flagged in result.anomalous.items():
            assert bool(batch.loc[(ts, node), "anomalous"]) == flagged, (ts, node)
            if scores:
                expected = batch.loc[(ts, node), "score"]
                assert np.isclose(expected, result.scores[node], rtol=1e-9), (ts, node)
