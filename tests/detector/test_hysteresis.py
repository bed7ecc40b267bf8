"""The alert state machine as a table of raw-flag sequences → anomalous states."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from detector.hysteresis import ABSENT, HysteresisParams, Observation, Tracker, allowed_ejections

T0 = datetime(2026, 1, 1)


def run(flags: str, params: HysteresisParams | None = None) -> str:
    """Feed one node a string of raw flags ('x' flagged, '.' clean, '!' strong, '-' absent)."""
    tracker = Tracker(params or HysteresisParams())
    out = []
    for i, flag in enumerate(flags):
        now = T0 + timedelta(seconds=15 * i)
        obs = (
            {}
            if flag == "-"
            else {
                "a": Observation(
                    flag in "x!", 1.0 if flag in "x!" else 0.1, ("m",), strong=flag == "!"
                )
            }
        )
        outcome = tracker.advance(now, obs | {"b": Observation(False, 0.1, ("m",))})
        out.append("A" if outcome.anomalous["a"] else "_")
    return "".join(out)


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ("x.......", "________"),  # one flagged window is noise
        ("x.x.....", "__AAA___"),  # 2 of 3 → anomalous, clears after 3 clean windows
        ("xx......", "_AAA____"),
        ("x..x..x.", "________"),  # never 2 within 3
        ("xxx.x.x.xxxx...", "_AAAAAAAAAAAAA_"),  # no flapping while flags keep coming
        ("!.......", "AAA_____"),  # a strong window alone is enough
        ("..---...", "____AAA_"),  # absent 3 windows → anomalous; clears after 3 clean
    ],
    ids=["single", "two-of-three", "consecutive", "sparse", "flapping", "strong", "absent"],
)
def test_k_of_n_and_clear_after_m(flags: str, expected: str) -> None:
    assert run(flags) == expected


def test_absent_anomaly_names_absent_and_its_start() -> None:
    tracker = Tracker(HysteresisParams())
    peers = {"b": Observation(False, 0.1, ()), "c": Observation(False, 0.1, ())}
    tracker.advance(T0, peers | {"a": Observation(False, 0.1, ())})
    for i in range(1, 4):
        outcome = tracker.advance(T0 + timedelta(seconds=15 * i), peers)
    (anomaly,) = outcome.anomalies
    assert anomaly.node == "a" and anomaly.top_metrics == (ABSENT,)
    assert anomaly.since == T0 + timedelta(seconds=15)


def guard(absent: int, faulty: int, healthy: int) -> tuple[set[str], bool]:
    """Five-ish nodes: some go silent, some are flagged, the rest are clean, for 4 windows."""
    tracker = Tracker(HysteresisParams())
    everyone = {f"n{i}": Observation(False, 0.1, ()) for i in range(absent + faulty + healthy)}
    tracker.advance(T0, everyone)
    silent = [f"n{i}" for i in range(absent)]
    for i in range(1, 5):
        obs = {n: o for n, o in everyone.items() if n not in silent}
        for j in range(absent, absent + faulty):
            obs[f"n{j}"] = Observation(True, 1.0, ("latency",))
        outcome = tracker.advance(T0 + timedelta(seconds=15 * i), obs)
    return {a.node for a in outcome.anomalies}, outcome.fleet is not None


@pytest.mark.parametrize(
    ("absent", "faulty", "healthy", "nodes", "fleet"),
    [
        (1, 1, 3, {"n0", "n1"}, False),  # a silent node does not hide another's fault
        (1, 0, 4, {"n0"}, False),
        (0, 2, 3, set(), True),  # two misbehaving of five: fleet-wide
        (2, 0, 3, set(), True),  # two silent of five: fleet-wide (scraper, network)
        (2, 1, 2, set(), True),
    ],
    ids=[
        "one-silent-one-faulty", "one-silent", "two-faulty", "two-silent", "two-silent-one-faulty"
    ],
)
def test_fleet_guard_counts_silent_and_misbehaving_nodes_apart(
    absent: int, faulty: int, healthy: int, nodes: set[str], fleet: bool
) -> None:
    assert guard(absent, faulty, healthy) == (nodes, fleet)


@pytest.mark.parametrize(
    ("nodes", "percent", "allowed"),
    [(4, 10, 1), (10, 10, 1), (20, 10, 2), (3, 50, 1), (8, 50, 4), (5, 0, 1)],
)
def test_allowed_ejections_is_at_least_one(nodes: int, percent: float, allowed: int) -> None:
    assert allowed_ejections(nodes, percent) == allowed


def test_invalid_parameters_are_rejected() -> None:
    with pytest.raises(ValueError, match="k <= n"):
        HysteresisParams(k=4, n=3)
    with pytest.raises(ValueError, match="forget_after"):
        HysteresisParams(absent_windows=5, forget_after=2)
