"""Simulator trade-off: the curve, dominance, the equal-spend budget search and its table.

Uses the small synthetic wave of ``simtraces`` and the session's ``four_policies``
run (tests/controller/conftest.py).
"""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from controller.simulate import simulate
from tests.controller.simtraces import settings, wave

# --- trade-off curve -------------------------------------------------------------------


def test_tradeoff_curve_reuses_the_forecast_tape(four_policies, tmp_path):
    from controller.sim_tradeoff import plot_tradeoff, tradeoff, tradeoff_table

    curve = tradeoff(
        wave(bursts=(400,)),
        settings(),
        quantiles=(0.5, 0.95),
        utilizations=(0.6, 0.8),
        tape=four_policies.tape,
        predictive_utilizations=(0.7, 0.6),
        budgets=(1.1, 1.5),
        staged_budgets=(1.5,),
    )
    pred = [p for p in curve["points"] if p["knob"] == "forecast_quantile"]
    budget = [
        p for p in curve["points"]
        if p["knob"] == "capacity_budget" and p["capacity_headroom"] == 1.0
    ]
    staged = [p for p in curve["points"] if p.get("capacity_headroom", 1.0) > 1.0]
    reac = [p for p in curve["points"] if p["policy"] == "reactive"]
    assert [(p["target_utilization"], p["value"]) for p in pred] == [
        (0.7, 0.5),
        (0.7, 0.95),
        (0.6, 0.5),
        (0.6, 0.95),
    ]
    assert [p["value"] for p in reac] == [0.6, 0.8]
    assert [p["value"] for p in budget] == [1.1, 1.5]
    # a higher quantile never buys fewer nodes; a higher target never more
    assert pred[1]["node_hours"] >= pred[0]["node_hours"]
    assert reac[1]["node_hours"] <= reac[0]["node_hours"]
    # a larger capacity budget buys more nodes and no more short ticks
    assert budget[0]["node_hours"] <= budget[1]["node_hours"]
    assert budget[1]["underprovisioned_fraction"] <= budget[0]["underprovisioned_fraction"]
    # a curve point is the predictive run of a simulation with the same settings
    tuned = simulate(
        wave(bursts=(400,)),
        settings(forecast_quantile=0.95, capacity_budget=None),
        ["predictive"],
        tape=four_policies.tape,
    ).to_json()["policies"]["predictive"]
    assert tuned["node_hours"] == pred[1]["node_hours"]
    # (the plain budget curve has the second stage off, whatever the settings' default)
    budgeted = simulate(
        wave(bursts=(400,)), settings(capacity_budget=1.5, capacity_headroom=1.0),
        ["predictive"], tape=four_policies.tape,
    ).to_json()["policies"]["predictive"]
    assert budgeted["node_hours"] == budget[1]["node_hours"]
    # the staged curve is the simulation with the second stage on
    assert [(p["value"], p["capacity_headroom"]) for p in staged] == [(1.5, 2.0)]
    on = simulate(
        wave(bursts=(400,)), settings(capacity_budget=1.5, capacity_headroom=2.0),
        ["predictive"], tape=four_policies.tape,
    ).to_json()["policies"]["predictive"]
    assert on["node_hours"] == staged[0]["node_hours"]
    path = plot_tradeoff({"wave": curve}, tmp_path / "t.png")
    assert path.read_bytes()[:4] == b"\x89PNG"
    table = tradeoff_table({"wave": curve})
    assert table.count("| wave |") == 9 and table.count("second stage ≤ 2") == 1
    first = [r for r in curve["matched"] if r["capacity_headroom"] == 1.0]
    assert [r["target_utilization"] for r in first] == [0.6, 0.8]
    # a second-stage row follows each reactive setting that budget 1 does not overspend
    second = [r for r in curve["matched"] if r["capacity_headroom"] == 2.0]
    assert [r["target_utilization"] for r in second] == [
        r["target_utilization"] for r in first if r["status"] != "below"
    ]


@pytest.mark.parametrize(
    "predictive,expected",
    [
        ([(10, 0.01), (12, 0.001)], True),
        ([(10, 0.03)], False),
    ],
    ids=["below", "above"],
)
def test_dominance(predictive, expected):
    from controller.sim_tradeoff import dominates

    reactive = [(11, 0.02), (13, 0.001)]
    points = [
        {"policy": "predictive", "node_hours": h, "underprovisioned_fraction": f}
        for h, f in predictive
    ] + [
        {"policy": "reactive", "node_hours": h, "underprovisioned_fraction": f} for h, f in reactive
    ]
    assert dominates({"points": points}) is expected


def budget_spend(four_policies):
    """Predictive node-hours at a capacity budget: one full run of the real planner."""
    from controller.simulate import run_planner

    trace = four_policies.trace
    base = four_policies.settings
    calls: list[float] = []

    def spend(budget: float) -> float:
        calls.append(budget)
        tuned = replace(base, capacity_budget=budget)
        run = run_planner(
            "predictive", trace, tuned, tuned.policy(), four_policies.tape, budget=tuned.budget(),
            carry=tuned.carry(),
        )
        return run.summary()["node_hours"]

    return spend, calls


def test_budget_search_matches_a_spend_between_two_budgets(four_policies):
    from controller.sim_tradeoff import match_budget

    spend, calls = budget_spend(four_policies)
    lo, hi = spend(1.0), spend(1.5)
    assert lo < hi  # the budget is a node-hours knob on this trace
    target = lo + 0.6 * (hi - lo)
    calls.clear()
    found = match_budget(spend, target, tolerance=0.01, max_runs=8)
    assert found["status"] == "matched"
    assert abs(found["node_hours"] - target) <= 0.01 * target
    assert 1.0 < found["budget"] < 2.0
    assert found["runs"] == len(calls) <= 8
    # what it reports is what a run at that budget gives
    assert spend(found["budget"]) == found["node_hours"]
    assert dict(found["tried"])[found["budget"]] == found["node_hours"]
    # runs already made seed the bracket: the same search again needs none
    calls.clear()
    again = match_budget(spend, target, known=dict(found["tried"]), tolerance=0.01)
    assert calls == [] and again["runs"] == 0 and again["budget"] == found["budget"]


def test_budget_search_says_when_no_budget_reaches_the_spend(four_policies):
    from controller.sim_tradeoff import match_budget

    spend, calls = budget_spend(four_policies)
    floor = spend(1.0)
    calls.clear()
    below = match_budget(spend, 0.5 * floor)
    assert below["status"] == "below" and below["budget"] == 1.0 and calls == [1.0]
    assert below["node_hours"] == floor
    calls.clear()
    above = match_budget(spend, 10 * floor, high=1.5)
    assert above["status"] == "above" and calls == [1.0, 1.5]
    assert above["budget"] == 1.5  # the nearest it got
    calls.clear()
    capped = match_budget(spend, 10 * floor, high=1.5, max_runs=1)
    assert capped["status"] == "closest" and calls == [1.0]


def test_budget_search_on_a_step_function_stops_at_the_closest_step():
    """Node-hours move in whole node-ticks; a target between two steps cannot be met."""
    from controller.sim_tradeoff import match_budget

    calls: list[float] = []

    def steps(budget: float) -> float:
        calls.append(budget)
        return 100.0 if budget < 1.3 else 110.0

    found = match_budget(steps, 104.0, tolerance=0.005, max_runs=40)
    assert found["status"] == "closest" and found["node_hours"] == 100.0
    assert len(calls) == found["runs"] < 40
    hit = match_budget(steps, 110.2, tolerance=0.005)
    assert hit["status"] == "matched" and hit["node_hours"] == 110.0


def test_budget_search_bisects_a_saturating_spend():
    """Spend that rises fast then flattens (the quantile reaching its ceiling): the secant
    alone creeps down from the flat end; bisection brings it within tolerance."""
    from controller.sim_tradeoff import match_budget

    def saturating(budget: float) -> float:
        return 1000.0 * (1.49 - 0.09 * math.exp(-25.0 * (budget - 1.4)))

    known = {1.0: 1100.0, 1.4: 1400.0}
    found = match_budget(saturating, 1477.0, known=known, max_runs=8)
    assert found["status"] == "matched" and found["runs"] <= 8
    assert abs(found["node_hours"] - 1477.0) <= 0.005 * 1477.0


def test_matched_rows_beside_each_reactive_setting(four_policies, tmp_path):
    from controller.sim_tradeoff import equal_cost_table, match_reactive, plot_tradeoff
    from controller.simulate import run_oracle, run_planner

    trace, base, tape = four_policies.trace, four_policies.settings, four_policies.tape
    points = []
    for u in (0.5, 0.95):
        tuned = replace(base, target_utilization=u)
        run = run_planner("reactive", trace, tuned, tuned.policy(scale_up_rate_limit=True), None)
        points.append(
            {"policy": "reactive", "knob": "target_utilization", "value": u, **run.summary()}
        )
    rows = match_reactive(trace, base, tape, points, tolerance=0.01)
    assert [r["target_utilization"] for r in rows if r["capacity_headroom"] == 1.0] == [0.5, 0.95]
    assert {r["capacity_headroom"] for r in rows} <= {1.0, 2.0}
    only = match_reactive(trace, base, tape, points, tolerance=0.01, stages=(1.0,))
    assert [r["target_utilization"] for r in only] == [0.5, 0.95]
    for r in rows:
        assert r["node_hours"] == next(p for p in points if p["value"] == r["target_utilization"])[
            "node_hours"
        ]
        if r["status"] == "matched":
            assert abs(r["predictive_node_hours"] - r["node_hours"]) <= 0.01 * r["node_hours"]
            tuned = replace(base, capacity_budget=r["budget"], capacity_headroom=r[
                "capacity_headroom"])
            again = run_planner(
                "predictive", trace, tuned, tuned.policy(), tape, budget=tuned.budget(),
                carry=tuned.carry(),
            ).summary()
            assert again["underprovisioned_fraction"] == r["predictive_underprovisioned_fraction"]
        elif r["status"] == "below":
            assert r["predictive_underprovisioned_fraction"] is None
            assert r["predictive_node_hours"] > r["node_hours"]
    assert {r["status"] for r in rows} <= {"matched", "below", "above", "closest"}
    curve = {
        "points": points,
        "matched": rows,
        "oracle": {"node_hours": run_oracle(trace, base).summary()["node_hours"]},
        "predictive_target_utilizations": [],
    }
    table = equal_cost_table({"wave": curve})
    assert table.count("| wave |") == len(rows)
    assert plot_tradeoff({"wave": curve}, tmp_path / "m.png").read_bytes()[:4] == b"\x89PNG"
