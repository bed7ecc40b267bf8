"""Planner decision matrix: whole plans compared for situations built from defaults.

One builder per input (node, snapshot, policy, forecast, anomaly); each test
names only what differs from the defaults (kopf's causation tests style).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from controller.lifecycle import NodeState
from controller.planner import (
    DECISION_KINDS,
    NodeView,
    Plan,
    Policy,
    Snapshot,
    forecast_quantile,
    plan,
    prune_recommendations,
)
from detector.types import Anomaly, FleetAnomaly
from forecaster.types import Forecast

NOW = datetime(2026, 11, 27, 12, 0, 0)
LONG_AGO = NOW - timedelta(hours=1)
READY, STARTING, DRAINING, STOPPED, FAILED = (
    NodeState.READY,
    NodeState.STARTING,
    NodeState.DRAINING,
    NodeState.STOPPED,
    NodeState.FAILED,
)


def node(node_id: str, state: NodeState = READY, since: datetime = LONG_AGO, **kw) -> NodeView:
    return NodeView(id=node_id, state=state, since=since, **kw)


def ready_nodes(count: int, prefix: str = "n") -> tuple[NodeView, ...]:
    return tuple(node(f"{prefix}{i}") for i in range(1, count + 1))


def policy(**kw) -> Policy:
    defaults = dict(
        min_nodes=2,
        max_nodes=20,
        node_capacity_rps=50.0,
        target_utilization=0.7,
        startup_seconds=20.0,
        tick_seconds=15.0,
        scale_in_stabilization_seconds=300.0,
        max_ejection_percent=10.0,
        cooldown_seconds=300.0,
    )
    return Policy(**{**defaults, **kw})


def steady_history(count: int, p: Policy | None = None) -> tuple[tuple[datetime, int], ...]:
    """Recommendations of ``count`` nodes every tick over the whole window."""
    p = p or policy()
    ticks = int(p.scale_in_stabilization_seconds // p.tick_seconds) + 1
    return tuple((NOW - timedelta(seconds=p.tick_seconds * k), count) for k in range(1, ticks + 1))


def snapshot(
    nodes: tuple[NodeView, ...] | None = None,
    observed_rps: float | None = None,
    **kw,
) -> Snapshot:
    """Default: 4 ready nodes at exactly the target utilization (4 × 50 × 0.7 = 140 rps)."""
    nodes = ready_nodes(4) if nodes is None else nodes
    if observed_rps is None:
        observed_rps = 35.0 * sum(1 for n in nodes if n.state is READY)
    return Snapshot(nodes=nodes, observed_rps=observed_rps, **kw)


def forecast(
    values: list[float] | float,
    start: datetime = NOW + timedelta(seconds=15),
    step_seconds: float = 15.0,
    steps: int = 8,
    spread: float = 0.0,
) -> Forecast:
    """A forecast of ``values`` per step (a constant fills ``steps``), band ±spread."""
    mean = np.asarray([values] * steps if np.isscalar(values) else values, dtype=float)
    stamps = pd.date_range(start, periods=len(mean), freq=pd.Timedelta(seconds=step_seconds))
    return Forecast(
        timestamps=stamps,
        mean=mean,
        lo80=np.maximum(mean - spread * 1.2816 / 1.96, 0),
        hi80=mean + spread * 1.2816 / 1.96,
        lo95=np.maximum(mean - spread, 0),
        hi95=mean + spread,
        step_seconds=step_seconds,
        model="test",
    )


def anomaly(node_id: str, score: float = 0.9, top=("latency_p99",)) -> Anomaly:
    return Anomaly(node=node_id, since=NOW - timedelta(seconds=30), score=score, top_metrics=top)


def kinds(p: Plan) -> list[tuple[str, str | None]]:
    return [(d.kind, d.node_id) for d in p.decisions]


def run(
    snap: Snapshot | None = None,
    fc: Forecast | None = None,
    anomalies: tuple[Anomaly, ...] = (),
    pol: Policy | None = None,
    fleet: FleetAnomaly | None = None,
) -> Plan:
    return plan(snap or snapshot(), fc, anomalies, pol or policy(), NOW, fleet_anomaly=fleet)


# --- capacity ---------------------------------------------------------------

# desired for 4 ready nodes: predictive ceil(f / 35); reactive 4 on target, ceil(4 × 1.5) at 210 rps
EXPECTED_DESIRED = {
    (None, 140.0): 4,
    (None, 210.0): 6,
    (100.0, 140.0): 4,
    (100.0, 210.0): 6,
    (400.0, 140.0): 12,
    (400.0, 210.0): 12,
}


@pytest.mark.parametrize("forecast_rps", [None, 100.0, 400.0], ids=lambda v: f"forecast={v}")
@pytest.mark.parametrize("observed_rps", [140.0, 210.0], ids=["on-target", "hot-150pct"])
def test_need_is_max_of_predictive_and_reactive_floor(forecast_rps, observed_rps):
    fc = None if forecast_rps is None else forecast(forecast_rps)
    p = run(snapshot(observed_rps=observed_rps), fc)
    desired = EXPECTED_DESIRED[(forecast_rps, observed_rps)]
    assert p.desired == desired
    assert p.to_launch == desired - 4
    assert p.to_drain == ()
    capacity = [d for d in p.decisions if d.node_id is None]
    assert [d.kind for d in capacity] == ["scale_out" if desired > 4 else "hold"]


@pytest.mark.parametrize("bad", [np.inf, np.nan], ids=["inf", "nan"])
@pytest.mark.parametrize("observed_rps", [140.0, 210.0], ids=["on-target", "hot-150pct"])
def test_a_forecast_that_is_not_finite_leaves_the_reactive_floor_in_charge(bad, observed_rps):
    p = run(snapshot(observed_rps=observed_rps), forecast(bad))
    assert p.desired == EXPECTED_DESIRED[(None, observed_rps)]
    capacity = next(d for d in p.decisions if d.node_id is None)
    assert "forecast not finite" in capacity.reason
    assert "forecast_upper_rps" not in capacity.details


@pytest.mark.parametrize(
    "spike_offset,counted",
    [(0, False), (15, False), (30, True), (45, False), (90, False)],
    ids=["now", "before-lead", "in-lead-window", "just-after", "far-after"],
)
def test_predictive_need_reads_only_the_startup_lead_window(spike_offset, counted):
    # steps at NOW+0, +15, ... ; window = [NOW+20, NOW+35) overlaps the steps at +15 and +30
    values = [35.0] * 8
    values[spike_offset // 15] = 350.0
    p = run(fc=forecast(values, start=NOW))
    if spike_offset == 15:  # the step [NOW+15, NOW+30) overlaps the window start
        counted = True
    assert p.desired == (10 if counted else 4)


@pytest.mark.parametrize("quantile,expected", [(0.5, 4), (0.8, 5), (0.95, 6), (0.99, 6)])
def test_upper_quantile_sets_the_margin(quantile, expected):
    fc = forecast(140.0, spread=50.0)  # hi95 = 190 rps
    assert run(fc=fc, pol=policy(forecast_quantile=quantile)).desired == expected


@pytest.mark.parametrize("headroom,expected", [(1.0, 6), (1.5, 9), (2.0, 11)])
def test_forecast_headroom_multiplies_the_forecast_not_the_floor(headroom, expected):
    fc = forecast(140.0, spread=50.0)  # hi95 = 190 rps: ceil(190 × headroom / 35)
    p = run(fc=fc, pol=policy(forecast_quantile=0.975, forecast_headroom=headroom))
    assert p.desired == expected
    capacity = next(d for d in p.decisions if d.node_id is None)
    assert capacity.details["reactive"] == 4  # the HPA floor is unchanged
    assert ("forecast_headroom" in capacity.details) == (headroom != 1.0)


def test_forecast_quantile_falls_back_to_the_normal_band():
    fc = forecast(100.0, spread=19.6)  # sigma = 10
    assert forecast_quantile(fc, 0.5)[0] == pytest.approx(100.0)
    assert forecast_quantile(fc, 0.975)[0] == pytest.approx(119.6, abs=0.01)
    assert forecast_quantile(fc, 0.9)[0] == pytest.approx(112.8155, abs=0.01)


@pytest.mark.parametrize(
    "forecast_rps,min_nodes,max_nodes,expected",
    [(10.0, 3, 20, 4), (1000.0, 2, 8, 8), (0.0, 5, 20, 5)],
    ids=["floor-from-reactive", "capped-at-max", "raised-to-min"],
)
def test_bounds(forecast_rps, min_nodes, max_nodes, expected):
    p = run(fc=forecast(forecast_rps), pol=policy(min_nodes=min_nodes, max_nodes=max_nodes))
    assert p.desired == expected


def test_starting_nodes_count_as_capacity_being_provisioned():
    nodes = ready_nodes(4) + (node("s1", STARTING, NOW), node("s2", STARTING, NOW))
    p = run(snapshot(nodes, observed_rps=140.0), forecast(210.0))
    assert p.desired == 6 and p.to_launch == 0
    assert kinds(p) == [("hold", None)]


def test_draining_and_stopped_nodes_are_not_capacity():
    nodes = ready_nodes(4) + (node("d1", DRAINING), node("x1", STOPPED))
    p = run(snapshot(nodes, observed_rps=140.0), forecast(210.0))
    assert (p.desired, p.to_launch) == (6, 2)


@pytest.mark.parametrize("rate_limit,expected", [(False, 58), (True, 24)], ids=["off", "hpa"])
def test_hpa_scale_up_rate_limit(rate_limit, expected):
    # need ceil(2000 / 35) = 58; from 2 ready a 45 s tick is three 15 s periods: 2 → 6 → 12 → 24
    snap = snapshot(ready_nodes(2), observed_rps=2000.0)
    p = run(snap, pol=policy(scale_up_rate_limit=rate_limit, max_nodes=100, tick_seconds=45.0))
    assert p.desired == expected


# --- scale-in and stabilization ---------------------------------------------


@pytest.mark.parametrize(
    "history,expected_kind",
    [
        ((), "hold"),
        (steady_history(6), "hold"),
        (steady_history(2), "scale_in"),
        (((NOW - timedelta(seconds=30), 2),), "hold"),
    ],
    ids=["no-history", "high-within-window", "low-over-window", "history-too-short"],
)
def test_scale_in_waits_for_the_stabilization_window(history, expected_kind):
    nodes = tuple(node(f"n{i}", since=LONG_AGO + timedelta(minutes=i)) for i in range(1, 7))
    p = run(snapshot(nodes, observed_rps=70.0, recommendations=history), forecast(70.0))
    assert p.recommendation == (NOW, 2)
    capacity = [d for d in p.decisions if d.kind in ("hold", "scale_in")]
    assert {d.kind for d in capacity} == {expected_kind}
    if expected_kind == "scale_in":
        assert p.to_drain == ("n6", "n5", "n4", "n3")  # youngest first
        assert p.desired == 2
    else:
        assert p.to_drain == () and p.desired == 6


def test_scale_in_drains_the_most_anomalous_then_the_youngest():
    nodes = (
        node("old", since=LONG_AGO),
        node("young", since=NOW - timedelta(minutes=5)),
        node("sick", since=LONG_AGO, anomaly_score=0.4),
        node("mid", since=NOW - timedelta(minutes=30)),
    )
    p = run(snapshot(nodes, observed_rps=70.0, recommendations=steady_history(2)))
    assert p.to_drain == ("sick", "young")


def test_scale_in_never_drains_starting_nodes():
    nodes = ready_nodes(2) + (node("s1", STARTING, NOW), node("s2", STARTING, NOW))
    p = run(snapshot(nodes, observed_rps=70.0, recommendations=steady_history(2)))
    assert p.to_drain == () and p.to_launch == 0
    assert kinds(p) == [("hold", None)]


def test_prune_recommendations_keeps_window_plus_one_tick():
    recs = ((NOW - timedelta(seconds=400), 9), (NOW - timedelta(seconds=310), 8), (NOW, 7))
    assert prune_recommendations(recs, NOW, policy()) == recs[1:]


# --- recovery -----------------------------------------------------------------


@pytest.mark.parametrize("fleet_size", [2, 4, 10, 20], ids=lambda n: f"fleet{n}")
@pytest.mark.parametrize("anomalous_count", [1, 2, 3], ids=lambda n: f"anomalous{n}")
def test_fault_replacement_or_fleet_anomaly(fleet_size, anomalous_count):
    nodes = ready_nodes(fleet_size)
    bad = tuple(anomaly(f"n{i}", score=0.9 - i / 100) for i in range(1, anomalous_count + 1))
    p = run(snapshot(nodes), anomalies=bad)
    allowance = max(1, fleet_size // 10)
    if anomalous_count > allowance:
        assert p.to_replace == () and p.to_drain == ()
        assert kinds(p)[0] == ("fleet_anomaly", None)
    else:
        assert p.to_replace == tuple(a.node for a in bad)
        assert ("replace", "n1") in kinds(p)
        assert p.to_launch == 0  # the replacements are the new capacity
        assert p.desired == fleet_size


def test_detector_fleet_anomaly_blocks_replacement():
    fleet = FleetAnomaly(at=NOW, nodes=("n1", "n2"), fraction=0.5)
    p = run(anomalies=(anomaly("n1"),), fleet=fleet)
    assert p.to_replace == ()
    assert kinds(p)[0] == ("fleet_anomaly", None)


@pytest.mark.parametrize("replacement_state", [None, STARTING, READY], ids=lambda s: f"repl={s}")
@pytest.mark.parametrize("observed_rps", [60.0, 100.0], ids=["others-carry-load", "others-short"])
def test_faulty_node_drains_when_replacement_ready_or_others_carry_the_load(
    replacement_state, observed_rps
):
    # 3 ready; the 2 others give 2 × 35 = 70 rps at target
    nodes = ready_nodes(3)
    if replacement_state is not None:
        nodes += (node("r1", replacement_state, NOW - timedelta(seconds=5), replaces="n1"),)
    p = run(snapshot(nodes, observed_rps=observed_rps), anomalies=(anomaly("n1"),))
    drains = replacement_state is READY or observed_rps <= 70.0
    assert ("n1" in p.to_drain) is drains
    assert p.to_replace == (("n1",) if replacement_state is None else ())
    node_kinds = [k for k, i in kinds(p) if i == "n1"]
    assert ("drain" in node_kinds) is drains


def test_replaced_node_is_drained_even_after_it_recovers():
    nodes = ready_nodes(3) + (node("r1", READY, NOW, replaces="n1"),)
    p = run(snapshot(nodes, observed_rps=100.0))
    assert p.to_drain == ("n1",)


@pytest.mark.parametrize("min_nodes", [2, 3])
def test_fault_drain_never_leaves_fewer_than_min_nodes_ready(min_nodes):
    nodes = ready_nodes(2) + (node("r1", READY, NOW - timedelta(minutes=10), replaces="n1"),)
    p = run(snapshot(nodes, observed_rps=10.0), pol=policy(min_nodes=min_nodes))
    assert ("n1" in p.to_drain) is (min_nodes == 2)


def test_ejection_limit_counts_nodes_already_in_progress():
    nodes = ready_nodes(5) + (node("d1", DRAINING, drain_reason="fault"),)
    p = run(snapshot(nodes), anomalies=(anomaly("n1"),))
    assert p.to_replace == ()
    assert ("hold", "n1") in kinds(p)
    assert "budget 1" in next(d.reason for d in p.decisions if d.node_id == "n1")


@pytest.mark.parametrize("age_seconds,replaced", [(60, False), (600, True)], ids=["cool", "old"])
def test_cooldown_for_a_fault_replacement(age_seconds, replaced):
    launched = NOW - timedelta(seconds=age_seconds)
    nodes = ready_nodes(3) + (node("r1", READY, launched, replaces="gone"),)
    snap = snapshot(nodes, fault_replaced_at=(("r1", launched),))
    p = run(snap, anomalies=(anomaly("r1"),))
    assert (p.to_replace == ("r1",)) is replaced
    if not replaced:
        assert ("hold", "r1") in kinds(p)


@pytest.mark.parametrize("state", [READY, FAILED], ids=["crashed-flag", "failed-state"])
def test_crashed_node_is_replaced_at_once_outside_the_limits(state):
    nodes = (
        node("n1", state, crashed=state is READY),
        node("n2"),
        node("n3"),
        node("d1", DRAINING, drain_reason="fault"),  # ejection budget already used
    )
    p = run(snapshot(nodes, observed_rps=70.0), anomalies=(anomaly("n2"),))
    assert p.to_stop == ("n1",)
    assert p.to_replace == ("n1",)
    assert ("replace", "n1") in kinds(p)
    assert ("hold", "n2") in kinds(p)


def test_crashed_node_with_a_live_replacement_is_only_stopped():
    nodes = (node("n1", FAILED), node("n2"), node("r1", STARTING, NOW, replaces="n1"))
    p = run(snapshot(nodes, observed_rps=35.0))
    assert p.to_stop == ("n1",) and p.to_replace == () and p.to_launch == 0


MIB = 2**20


@pytest.mark.parametrize(
    "rss_mib,slope_mib_s,prevented",
    [(900, 1.0, True), (500, 1.0, False), (900, 0.0, False), (1100, 0.0, True)],
    ids=["hits-limit-in-100s", "in-500s", "flat", "over-limit"],
)
def test_prevention_replaces_nodes_trending_to_the_memory_limit(rss_mib, slope_mib_s, prevented):
    leaky = node(
        "n1",
        rss_bytes=rss_mib * MIB,
        rss_slope_bytes_per_s=slope_mib_s * MIB,
        memory_limit_bytes=1000 * MIB,
    )
    p = run(snapshot((leaky, *ready_nodes(3, prefix="m"))))
    assert (p.to_replace == ("n1",)) is prevented
    assert (("prevent", "n1") in kinds(p)) is prevented


def test_anomalous_node_is_drained_without_replacement_when_scale_in_is_due():
    nodes = tuple(node(f"n{i}", since=LONG_AGO + timedelta(minutes=i)) for i in range(1, 7))
    snap = snapshot(nodes, observed_rps=70.0, recommendations=steady_history(2))
    p = run(snap, anomalies=(anomaly("n1"),))
    assert p.to_replace == ()
    assert "n1" in p.to_drain and len(p.to_drain) == 4
    assert ("drain", "n1") in kinds(p) and ("replace", "n1") not in kinds(p)


# --- every plan ---------------------------------------------------------------


@pytest.mark.parametrize(
    "case",
    ["steady", "scale-out", "fault", "crash", "fleet"],
)
def test_decisions_are_well_formed_and_plans_repeatable(case):
    snap = snapshot()
    fc, bad, fleet = forecast(140.0), (), None
    if case == "scale-out":
        fc = forecast(500.0)
    elif case == "fault":
        bad = (anomaly("n2"),)
    elif case == "crash":
        snap = snapshot(ready_nodes(3) + (node("n4", FAILED),))
    elif case == "fleet":
        bad = (anomaly("n1"), anomaly("n2"))
    first, second = run(snap, fc, bad, fleet=fleet), run(snap, fc, bad, fleet=fleet)
    assert first == second
    assert (
        sum(
            1
            for d in first.decisions
            if d.kind in ("scale_out", "scale_in", "hold") and d.node_id is None
        )
        == 1
    )
    for d in first.decisions:
        assert d.kind in DECISION_KINDS
        assert any(ch.isdigit() for ch in d.reason)  # reasons quote their numbers
        json.dumps(d.details)
