"""The capacity budget: the forecast quantile follows allocated vs hindsight-needed node-time."""

from __future__ import annotations

import numpy as np
import pytest

from controller.budget import BudgetParams, QuantileBudget

FAST = BudgetParams(budget=1.25, half_life_seconds=3600.0, gain_per_day=50.0)


def make(params: BudgetParams = FAST, **kw) -> QuantileBudget:
    defaults = dict(
        initial_quantile=0.9,
        tick_seconds=60.0,
        startup_seconds=120.0,
        node_capacity_rps=10.0,
        min_nodes=1,
    )
    return QuantileBudget(params, **{**defaults, **kw})


def run(budget: QuantileBudget, ticks: int, allocated: int, demand_rps: float) -> None:
    for _ in range(ticks):
        budget.observe(allocated, demand_rps)


@pytest.mark.parametrize(
    "allocated,demand_rps,direction",
    [
        (10, 32.0, "down"),  # need ceil(32 / 8) = 4: 2.5 × the need, over a 1.25 budget
        (5, 32.0, "stay"),  # 1.25 ×: exactly on budget
        (4, 32.0, "up"),  # 1.0 ×: under budget, more margin is affordable
        (6, 32.0, "down"),  # 1.5 ×: over budget
    ],
)
def test_quantile_moves_towards_the_budget(allocated, demand_rps, direction):
    budget = make()
    run(budget, 200, allocated, demand_rps)
    ratio = allocated / 4
    if direction == "stay":
        assert budget.quantile == pytest.approx(0.9)
    elif direction == "up":
        assert budget.quantile > 0.9
    else:
        assert budget.quantile < 0.9
    assert budget.ratio == pytest.approx(ratio)


def test_quantile_is_clipped():
    low, high = make(), make()
    run(low, 5000, 40, 8.0)
    run(high, 5000, 1, 8.0)
    assert low.quantile == pytest.approx(FAST.q_min)
    assert high.quantile == pytest.approx(FAST.q_max)


def test_a_tick_is_judged_after_its_start_up_lead_against_the_max_need_in_it():
    budget = make(startup_seconds=120.0, tick_seconds=60.0)  # lead = 2 ticks
    assert budget.lead_ticks == 2
    budget.observe(3, 8.0)  # need 1
    budget.observe(3, 8.0)
    assert budget.accounted_ticks == 0 and budget.ratio is None
    budget.observe(3, 24.0)  # need 3 within the first tick's lead: it needed 3 nodes
    assert budget.accounted_ticks == 1
    assert budget.ratio == pytest.approx(1.0)


def test_min_nodes_floors_the_hindsight_need():
    budget = make(min_nodes=3, startup_seconds=0.0)
    run(budget, 10, 3, 0.0)
    assert budget.ratio == pytest.approx(1.0)


def test_state_round_trip_carries_on_where_it_stopped():
    a = make()
    run(a, 100, 8, 32.0)
    b = make()
    b.restore(a.state())
    assert b.quantile == pytest.approx(a.quantile)
    assert b.ratio == pytest.approx(a.ratio)


@pytest.mark.parametrize(
    "kw,match",
    [
        (dict(budget=0.9), "capacity budget must be >= 1"),
        (dict(q_min=0.9, q_max=0.8), "q_min < q_max"),
        (dict(half_life_seconds=0.0), "half_life_seconds"),
        (dict(max_headroom=0.9), "max_headroom >= 1"),
    ],
)
def test_bad_parameters_are_named(kw, match):
    with pytest.raises(ValueError, match=match):
        BudgetParams(**kw)


# --- second stage: headroom past the quantile ceiling ------------------------------------

STAGED = BudgetParams(budget=1.25, half_life_seconds=3600.0, gain_per_day=50.0, max_headroom=2.0)


def test_without_a_second_stage_the_headroom_stays_one():
    budget = make()
    run(budget, 5000, 1, 8.0)  # far under budget
    assert budget.quantile == pytest.approx(FAST.q_max)
    assert budget.headroom == 1.0


def test_saturated_quantile_under_budget_grows_the_headroom():
    budget = make(STAGED)
    seen = []
    for _ in range(400):
        run(budget, 10, 4, 32.0)  # 1.0 × the need: under a 1.25 budget
        seen.append((budget.quantile, budget.headroom))
    headrooms = [h for _, h in seen]
    assert all(np.diff(headrooms) >= 0)  # grows, never shrinks
    # the headroom only moves once the quantile has reached its ceiling
    assert all(q == pytest.approx(STAGED.q_max) for q, h in seen if h > 1.0)
    assert seen[0][1] == 1.0 and 1.0 < headrooms[-1] <= STAGED.max_headroom
    run(budget, 20_000, 4, 32.0)
    assert budget.headroom == pytest.approx(STAGED.max_headroom)  # clipped


def test_over_budget_the_headroom_unwinds_before_the_quantile_falls():
    budget = make(STAGED)
    run(budget, 20_000, 4, 32.0)
    assert budget.headroom == pytest.approx(STAGED.max_headroom)
    seen = []
    for _ in range(20_000):
        budget.observe(10, 32.0)  # 2.5 × the need
        seen.append((budget.quantile, budget.headroom))
    headrooms = [h for _, h in seen]
    assert all(np.diff(headrooms) <= 0)
    # while any headroom is left the quantile stays at its ceiling ...
    assert all(q == pytest.approx(STAGED.q_max) for q, h in seen if h > 1.0)
    # ... and it falls only after the headroom is gone
    assert headrooms[-1] == 1.0 and budget.quantile == pytest.approx(STAGED.q_min)


def test_apply_sets_quantile_and_headroom_on_the_policy():
    from controller.planner import Policy

    budget = make(STAGED)
    run(budget, 20_000, 4, 32.0)
    sized = budget.apply(Policy(forecast_quantile=0.9))
    assert sized.forecast_quantile == pytest.approx(STAGED.q_max)
    assert sized.forecast_headroom == pytest.approx(STAGED.max_headroom)


def test_state_round_trip_keeps_the_headroom():
    a = make(STAGED)
    run(a, 3000, 4, 32.0)
    assert a.headroom > 1.0
    b = make(STAGED)
    b.restore(a.state())
    assert b.headroom == pytest.approx(a.headroom)
    c = make()  # a budget without the second stage clips the restored level to q_max
    c.restore(a.state())
    assert c.quantile == pytest.approx(FAST.q_max) and c.headroom == 1.0


# --- second stage in two legs: the reactive floor's target first, then the forecast ------

SPAN = STAGED.headroom_span  # logit units per leg: ln(2) / 0.05
Q_HI = float(np.log(STAGED.q_max / (1 - STAGED.q_max)))


def at_travel(travel: float) -> QuantileBudget:
    """A staged budget whose integrator sits ``travel`` logit units past logit(q_max)."""
    budget = make(STAGED)
    budget.restore({"level": Q_HI + travel, "allocated": 0.0, "needed": 0.0})
    return budget


@pytest.mark.parametrize(
    "travel,quantile_at_max,floor,forecast",
    [
        (-1.0, False, 1.0, 1.0),  # still in the quantile stage
        (0.0, True, 1.0, 1.0),  # at the ceiling, nothing spent past it
        (0.5 * SPAN, True, 2**0.5, 1.0),  # leg 1: only the floor's target is lowered
        (SPAN, True, 2.0, 1.0),  # leg 1 full
        (1.5 * SPAN, True, 2.0, 2**0.5),  # leg 2: the forecast follows
        (2 * SPAN, True, 2.0, 2.0),  # both full: both parts size for target / 2
        (3 * SPAN, True, 2.0, 2.0),  # clipped
    ],
)
def test_second_stage_lowers_the_floor_target_before_multiplying_the_forecast(
    travel, quantile_at_max, floor, forecast
):
    budget = at_travel(travel)
    assert (budget.quantile == pytest.approx(STAGED.q_max)) == quantile_at_max
    assert budget.floor_headroom == pytest.approx(floor)
    assert budget.headroom == pytest.approx(forecast)


@pytest.mark.parametrize("travel", [0.5 * SPAN, 2 * SPAN])
def test_without_a_second_stage_a_restored_level_gives_no_headroom(travel):
    budget = make()  # max_headroom 1: no legs, the level is clipped at logit(q_max)
    budget.restore({"level": Q_HI + travel, "allocated": 0.0, "needed": 0.0})
    assert budget.floor_headroom == 1.0 and budget.headroom == 1.0


def test_under_budget_the_floor_leg_fills_before_the_forecast_leg_moves():
    budget = make(STAGED)
    seen = []
    for _ in range(2000):
        run(budget, 10, 4, 32.0)  # 1.0 × the need: under a 1.25 budget
        seen.append((budget.quantile, budget.floor_headroom, budget.headroom))
    floors = [f for _, f, _ in seen]
    forecasts = [h for _, _, h in seen]
    assert all(np.diff(floors) >= 0) and all(np.diff(forecasts) >= 0)
    assert all(q == pytest.approx(STAGED.q_max) for q, f, _ in seen if f > 1.0)
    assert all(f == pytest.approx(STAGED.max_headroom) for _, f, h in seen if h > 1.0)
    assert any(1.0 < f < STAGED.max_headroom for f in floors)  # the floor leg was travelled
    assert forecasts[-1] == pytest.approx(STAGED.max_headroom)


def test_over_budget_the_forecast_leg_unwinds_first_then_the_floor_then_the_quantile():
    budget = at_travel(2 * SPAN)
    seen = []
    for _ in range(20_000):
        budget.observe(10, 32.0)  # 2.5 × the need
        seen.append((budget.quantile, budget.floor_headroom, budget.headroom))
    assert all(f == pytest.approx(STAGED.max_headroom) for _, f, h in seen if h > 1.0)
    assert all(q == pytest.approx(STAGED.q_max) for q, f, _ in seen if f > 1.0)
    assert any(1.0 < f < STAGED.max_headroom for _, f, _ in seen)
    assert seen[-1] == (pytest.approx(STAGED.q_min), 1.0, 1.0)


# planner: 4 ready nodes at 140 rps (utilization 0.7 of 50 rps each), forecast 100 rps flat
# (predictive ceil(100 × forecast_headroom / 35)); the floor's target is 0.7 / floor_headroom


def _capacity(floor_headroom: float, forecast_headroom: float = 1.0, ready: int = 4):
    from datetime import datetime, timedelta

    import pandas as pd

    from controller.lifecycle import NodeState
    from controller.planner import NodeView, Policy, Snapshot, plan
    from forecaster.types import Forecast

    now = datetime(2026, 11, 27, 12, 0, 0)
    nodes = tuple(
        NodeView(id=f"n{i}", state=NodeState.READY, since=now - timedelta(hours=1))
        for i in range(ready)
    )
    flat = np.full(8, 100.0)
    fc = Forecast(
        timestamps=pd.date_range(now, periods=8, freq="15s"),
        mean=flat, lo80=flat, hi80=flat, lo95=flat, hi95=flat, step_seconds=15.0, model="test",
    )
    pol = Policy(
        min_nodes=1, max_nodes=20, node_capacity_rps=50.0, target_utilization=0.7,
        startup_seconds=15.0, tick_seconds=15.0, forecast_quantile=0.95,
        floor_headroom=floor_headroom, forecast_headroom=forecast_headroom,
    )
    p = plan(Snapshot(nodes=nodes, observed_rps=140.0), fc, (), pol, now)
    return p, next(d for d in p.decisions if d.node_id is None).details


@pytest.mark.parametrize(
    "floor_headroom,forecast_headroom,ready,reactive,predictive,desired",
    [
        (1.0, 1.0, 4, 4, 3, 4),  # on target: the floor holds 4
        (1.05, 1.0, 4, 4, 3, 4),  # target 0.667: within HPA's 10 % tolerance, held
        (1.4, 1.0, 4, 6, 3, 6),  # target 0.5: ceil(4 × 0.7 / 0.5) = 6, forecast part unchanged
        (2.0, 1.0, 4, 8, 3, 8),  # target 0.35
        (2.0, 2.0, 4, 8, 6, 8),  # both legs full: forecast ceil(200 / 35) = 6
        (1.4, 1.0, 0, 6, 3, 6),  # no ready nodes: ceil(140 / (50 × 0.5))
    ],
)
def test_floor_headroom_lowers_the_reactive_floors_target_only(
    floor_headroom, forecast_headroom, ready, reactive, predictive, desired
):
    p, details = _capacity(floor_headroom, forecast_headroom, ready)
    assert (details["reactive"], details["predictive"], p.desired) == (
        reactive, predictive, desired
    )
    assert details["target_utilization"] == 0.7
    assert ("floor_target_utilization" in details) == (floor_headroom != 1.0)


def test_apply_carries_both_headrooms_into_the_plan():
    from controller.planner import Policy

    budget = at_travel(1.5 * SPAN)
    sized = budget.apply(Policy(forecast_quantile=0.9))
    assert sized.forecast_quantile == pytest.approx(STAGED.q_max)
    assert sized.floor_headroom == pytest.approx(2.0)
    assert sized.forecast_headroom == pytest.approx(2**0.5)
    assert sized.target_utilization == Policy().target_utilization  # the base is untouched


RELIEF = BudgetParams(budget=1.25, half_life_seconds=3600.0, gain_per_day=50.0,
                      min_floor_headroom=0.875)


def test_without_relief_the_floor_keeps_its_target_over_budget():
    budget = make()
    run(budget, 5000, 40, 8.0)  # 40 nodes for a need of 1: far over budget
    assert budget.quantile == pytest.approx(FAST.q_min)
    assert budget.floor_headroom == pytest.approx(1.0)


def test_over_budget_at_q_min_the_floor_is_relieved_then_restored_first():
    budget = make(RELIEF)
    run(budget, 5000, 40, 8.0)
    assert budget.quantile == pytest.approx(RELIEF.q_min)
    assert budget.floor_headroom == pytest.approx(0.875)  # floor sizes for target / 0.875
    # under budget again: the relief unwinds before the quantile leaves q_min
    seen = []
    for _ in range(3000):
        budget.observe(1, 8.0)
        seen.append((budget.floor_headroom, budget.quantile))
    assert seen[-1][0] == pytest.approx(1.0) and seen[-1][1] > RELIEF.q_min
    assert all(q == pytest.approx(RELIEF.q_min) for h, q in seen if h < 1.0 - 1e-12)


def test_from_policy_places_the_relief_leg_at_the_default_quantile_and_depth():
    from controller.budget import DEFAULT_MIN_FLOOR_HEADROOM, DEFAULT_RELIEF_QUANTILE
    from controller.planner_types import Policy

    policy = Policy(min_nodes=1, max_nodes=50, node_capacity_rps=10.0, target_utilization=0.7,
                    startup_seconds=120.0, tick_seconds=60.0)
    budget = QuantileBudget.from_policy(policy, 1.25)
    assert budget.params.min_floor_headroom == DEFAULT_MIN_FLOOR_HEADROOM == 0.5
    assert budget.params.relief_quantile == DEFAULT_RELIEF_QUANTILE == 0.8
    with pytest.raises(ValueError, match="min_floor_headroom"):
        BudgetParams(min_floor_headroom=1.5)


# --- the relief leg placed at a quantile above q_min (relief_quantile) --------------------

PLACED = BudgetParams(budget=1.25, half_life_seconds=3600.0, gain_per_day=50.0,
                      min_floor_headroom=0.5, relief_quantile=0.8)
RELIEF_SPAN = PLACED.relief_span  # logit units down to 0.5
Q_RELIEF = float(np.log(0.8 / 0.2))
Q_LO = 0.0  # logit(q_min = 0.5)


def _sigmoid(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x)))


def at_level(level: float, params: BudgetParams = PLACED) -> QuantileBudget:
    budget = make(params)
    budget.restore({"level": level, "allocated": 0.0, "needed": 0.0})
    return budget


@pytest.mark.parametrize(
    "level,quantile,floor",
    [
        pytest.param(Q_RELIEF + 1.0, _sigmoid(Q_RELIEF + 1.0), 1.0, id="above-the-leg"),
        pytest.param(Q_RELIEF, 0.8, 1.0, id="top-of-the-leg"),
        pytest.param(Q_RELIEF - 0.5 * RELIEF_SPAN, 0.8, 2**-0.5, id="half-way-down"),
        pytest.param(Q_RELIEF - RELIEF_SPAN, 0.8, 0.5, id="bottom-of-the-leg"),
        pytest.param(Q_RELIEF - RELIEF_SPAN - 0.5, _sigmoid(Q_RELIEF - 0.5), 0.5,
                     id="below-the-leg-the-quantile-goes-on-down"),
        pytest.param(Q_LO - RELIEF_SPAN, 0.5, 0.5, id="floor-of-the-integrator"),
        pytest.param(Q_LO - RELIEF_SPAN - 5.0, 0.5, 0.5, id="clipped"),
    ],
)
def test_a_placed_relief_leg_holds_its_quantile_while_the_floor_is_relieved(level, quantile,
                                                                             floor):
    budget = at_level(level)
    assert budget.quantile == pytest.approx(quantile)
    assert budget.floor_headroom == pytest.approx(floor)
    assert budget.headroom == 1.0


@pytest.mark.parametrize(
    "initial,quantile,floor",
    [
        pytest.param(0.9, 0.9, 1.0, id="above-the-leg"),
        pytest.param(0.8, 0.8, 1.0, id="at-the-leg"),
        pytest.param(0.6, 0.6, 0.5, id="below-the-leg-starts-relieved"),
    ],
)
def test_a_placed_relief_leg_starts_at_the_initial_quantile(initial, quantile, floor):
    budget = make(PLACED, initial_quantile=initial)
    assert budget.quantile == pytest.approx(quantile)
    assert budget.floor_headroom == pytest.approx(floor)


def test_over_budget_the_quantile_stops_at_the_leg_while_the_floor_is_relieved_then_unwinds():
    budget = make(PLACED)  # starts at 0.9
    down = []
    for _ in range(5000):
        budget.observe(40, 8.0)  # 40 nodes for a need of 1: far over budget
        down.append((budget.quantile, budget.floor_headroom))
    assert down[-1] == (pytest.approx(PLACED.q_min), pytest.approx(0.5))
    # on the way down: the floor is relieved only with the quantile at 0.8, and the quantile
    # goes below 0.8 only once the floor is fully relieved
    assert all(q == pytest.approx(0.8) for q, h in down if 0.5 + 1e-9 < h < 1.0 - 1e-9)
    assert all(h == pytest.approx(0.5) for q, h in down if q < 0.8 - 1e-9)
    assert all(h == 1.0 for q, h in down if q > 0.8 + 1e-9)
    up = []
    for _ in range(5000):
        budget.observe(1, 8.0)  # under budget: the same road back
        up.append((budget.quantile, budget.floor_headroom))
    assert up[-1] == (pytest.approx(PLACED.q_max), pytest.approx(1.0))
    assert all(q == pytest.approx(0.8) for q, h in up if 0.5 + 1e-9 < h < 1.0 - 1e-9)
    assert all(h == pytest.approx(0.5) for q, h in up if q < 0.8 - 1e-9)


def test_the_relief_leg_is_crossed_in_about_a_day_at_a_ratio_0_3_over_budget():
    # NAB ELB request counts: the floor's relief cut little there, and a leg of 13.9 logit
    # units (the second stage's slope) held the quantile at 0.8 for six days over budget
    from controller.planner_types import Policy

    policy = Policy(min_nodes=1, max_nodes=100, node_capacity_rps=10.0, target_utilization=0.7,
                    startup_seconds=300.0, tick_seconds=300.0, forecast_quantile=0.8)
    budget = QuantileBudget.from_policy(policy, 1.25)
    floors, quantiles = [], []
    for _ in range(320):
        budget.observe(31, 20 * 8.0)  # 31 nodes for a need of 20: a ratio of 1.55
        floors.append(budget.floor_headroom)
        quantiles.append(budget.quantile)
    # the quantile is held while the floor is relieved
    assert all(q == pytest.approx(0.8) for q, f in zip(quantiles, floors, strict=True)
               if f > 0.5 + 1e-9)
    day = round(86_400 / 300)  # one day of ticks; the first is accounted after its lead
    assert floors[int(0.9 * day)] > 0.5 + 1e-6
    assert floors[int(1.05 * day)] == pytest.approx(0.5)


def test_relief_span_must_be_positive():
    with pytest.raises(ValueError, match="relief_span"):
        BudgetParams(relief_span=0.0)


@pytest.mark.parametrize("relief_quantile", [0.4, 0.999])
def test_relief_quantile_outside_the_quantile_range_is_refused(relief_quantile):
    with pytest.raises(ValueError, match="relief_quantile"):
        BudgetParams(relief_quantile=relief_quantile)

