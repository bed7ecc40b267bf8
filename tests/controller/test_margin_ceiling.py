"""The forecast's ceiling (controller.margin.PeakCeiling): the recent peak, the planner's cap,
a dropout then a recovery tick by tick, and the simulator with the real forecaster."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from controller.lifecycle import NodeState
from controller.margin import CeilingParams, PeakCeiling
from controller.planner import NodeView, Policy, Snapshot, forecast_quantile, plan
from controller.simulate import simulate
from forecaster.types import Forecast, normal_bands
from tests.controller.simtraces import settings, wave

T0 = datetime(2026, 6, 1)
HOUR = 3600.0
WEEK = 7 * 86400.0
PEAK = 100.0  # rps, the busiest hour of the week before the dropout
PER_NODE = 5.0  # node capacity 10 rps x target utilization 0.5


def log_forecast(median: float, start: datetime, sd: float = 0.1) -> Forecast:
    """A one-step-per-hour log1p forecast of ``median`` rps for three hours from ``start``."""
    loc = np.log1p(np.full(3, median))
    scale = np.full(3, sd)
    stamps = pd.date_range(start, periods=3, freq="h")
    return Forecast(timestamps=stamps, step_seconds=HOUR, model="test", loc=loc, scale=scale,
                    transform="log1p", **normal_bands(loc, scale, "log1p", 1.0))


def daily_wave(hours: int) -> list[tuple[datetime, float]]:
    """Hourly loads of a daily wave between 10 and PEAK rps."""
    return [(T0 + timedelta(hours=h), 55.0 - 45.0 * math.cos(2 * math.pi * h / 24))
            for h in range(hours)]


def week_seen() -> PeakCeiling:
    ceiling = PeakCeiling(CeilingParams(factor=1.25, lookback_seconds=WEEK))
    ceiling.seed(daily_wave(7 * 24 + 1))
    return ceiling


def q90(median: float) -> float:
    return float(forecast_quantile(log_forecast(median, T0), 0.9)[0])


def test_no_bound_until_the_loads_seen_span_the_lookback():
    ceiling = PeakCeiling(CeilingParams(factor=1.25, lookback_seconds=WEEK))
    ceiling.seed(daily_wave(7 * 24))  # six days and 23 hours
    assert ceiling.peak_rps is None and ceiling.apply(Policy()).forecast_ceiling_rps is None
    ceiling.observe(T0 + timedelta(hours=7 * 24), 20.0)
    assert ceiling.peak_rps == pytest.approx(PEAK)
    assert ceiling.apply(Policy()).forecast_ceiling_rps == pytest.approx(1.25 * PEAK)


def test_the_peak_slides_out_of_the_window_and_non_finite_loads_are_skipped():
    ceiling = week_seen()
    last = T0 + timedelta(hours=7 * 24)
    for h in range(1, 7 * 24 + 1):  # a week of dropout: 2 rps, with gaps in the data
        ceiling.observe(last + timedelta(hours=h), 2.0 if h % 5 else float("nan"))
        if h < 7 * 24 - 12:  # the last daily peak of the seeded week is still in the window
            assert ceiling.peak_rps == pytest.approx(PEAK)
    assert ceiling.peak_rps == pytest.approx(2.0)


@pytest.mark.parametrize("factor", [0.0, None])
def test_a_factor_of_zero_or_none_is_off(factor):
    assert PeakCeiling.at(factor, WEEK) is None


@pytest.mark.parametrize(("kw", "match"), [({"factor": 0.9}, "factor"),
                                           ({"lookback_seconds": 0.0}, "lookback_seconds")])
def test_bad_parameters_are_named(kw, match):
    with pytest.raises(ValueError, match=match):
        CeilingParams(**kw)


def capacity(ready: int, observed: float, forecast: Forecast, **kw: float | None):
    """The capacity decision for ``ready`` nodes of 10 rps at target 0.5, sized for q0.9."""
    now = forecast.timestamps[0].to_pydatetime() - timedelta(hours=1)
    pol = Policy(min_nodes=1, max_nodes=500, node_capacity_rps=10.0, target_utilization=0.5,
                 startup_seconds=300.0, tick_seconds=HOUR, forecast_quantile=0.9, **kw)
    nodes = tuple(NodeView(id=f"n{i}", state=NodeState.READY, since=now - timedelta(days=1))
                  for i in range(ready))
    decided = plan(Snapshot(nodes=nodes, observed_rps=observed), forecast, (), pol, now)
    return next(d for d in decided.decisions if "needed" in d.details)


# (ready, observed rps, forecast median rps): each tick of a sensor dropout and its recovery,
# the forecast being the kind a differenced log-space model gives after the jump back
DROPOUT = [
    (20, 90.0, 95.0),  # an ordinary busy hour
    (20, 1.0, 60.0),  # the dropout: the floor shrinks the fleet
    (1, 2.0, 3.0),  # the forecast has followed the dropout
    (1, 40.0, 2.5),  # recovery: a surprise, met by the reactive floor
    (8, 70.0, 900.0),  # the forecast overshoots: 9 x the week's peak
    (28, 95.0, 400.0),
]


@pytest.mark.parametrize("bounded", [False, True], ids=["no ceiling", "ceiling 1.25"])
def test_a_dropout_then_recovery_tick_by_tick(bounded):
    ceiling = week_seen()
    at = T0 + timedelta(hours=7 * 24)
    desired = []
    for ready, observed, median in DROPOUT:
        at += timedelta(hours=1)
        ceiling.observe(at - timedelta(hours=1), observed)
        cap = ceiling.ceiling_rps if bounded else None
        decision = capacity(ready, observed, log_forecast(median, at), forecast_ceiling_rps=cap)
        assert ("forecast_ceiling_rps" in decision.details) == (cap is not None and
                                                                 q90(median) > cap)
        desired.append(int(decision.details["needed"]))
    reactive = [math.ceil(obs / PER_NODE - 1e-9) for _, obs, _ in DROPOUT]
    for got, (_, _, median), floor in zip(desired, DROPOUT, reactive, strict=True):
        sized = min(q90(median), 1.25 * PEAK) if bounded else q90(median)
        # the HPA floor: ceil(ready x utilization / target) = ceil(load / PER_NODE) here
        assert got == max(math.ceil(sized / PER_NODE - 1e-9), floor)
    if bounded:  # never more than the ceiling asks for, unless the load itself does
        assert max(desired) == math.ceil(1.25 * PEAK / PER_NODE) == 25
    else:
        assert max(desired) > 200


def test_a_real_surprise_raises_the_ceiling_and_the_floor_meets_it():
    ceiling = week_seen()
    at = T0 + timedelta(hours=7 * 24 + 1)
    ceiling.observe(at - timedelta(hours=1), 300.0)  # three times the week's peak
    assert ceiling.ceiling_rps == pytest.approx(375.0)
    decision = capacity(20, 300.0, log_forecast(900.0, at), forecast_ceiling_rps=375.0)
    assert decision.details["reactive"] == 60
    assert decision.details["needed"] == math.ceil(375.0 / PER_NODE) == 75
    assert decision.details["forecast_capped_from_rps"] == pytest.approx(q90(900.0), abs=1e-3)
    assert "forecast capped at 375.0 rps" in decision.reason


def test_the_ceiling_bounds_the_carried_forecast_and_the_budgets_headroom_multiplies_it():
    at = T0 + timedelta(hours=1)
    fc = log_forecast(100.0, at)
    plain = capacity(10, 50.0, fc, forecast_carry=1.3, forecast_headroom=2.0)
    assert plain.details["forecast_upper_rps"] == pytest.approx(q90(100.0) * 1.3 * 2, abs=1e-3)
    capped = capacity(10, 50.0, fc, forecast_carry=1.3, forecast_headroom=2.0,
                      forecast_ceiling_rps=110.0)
    assert capped.details["forecast_capped_from_rps"] == pytest.approx(q90(100.0) * 1.3, abs=1e-3)
    assert capped.details["forecast_upper_rps"] == pytest.approx(220.0)
    assert capped.details["predictive"] == 44


def test_the_simulator_bounds_the_real_forecasters_overshoot_after_a_dropout():
    """A daily wave whose sensor reads 3 for four hours, then recovers: the real forecaster
    (differenced, log space) overshoots on the way back; the ceiling keeps the fleet near
    what the last day needed, and meets the recovery no worse."""
    counts = wave(days=6)
    start = int(4.6 * 144)
    counts.iloc[start : start + 24] = 3.0
    runs = {}
    for factor in (None, 1.25):
        sim = settings(forecast_ceiling=factor, forecast_ceiling_seconds=86400.0,
                       train_fraction=0.4)
        runs[factor] = simulate(counts, sim, policies=("predictive", "oracle")).to_json()
    on, off = (runs[f]["policies"]["predictive"] for f in (1.25, None))
    oracle = runs[1.25]["policies"]["oracle"]
    assert on["params"]["forecast_ceiling"] == 1.25 and on["params"]["ceiling_share"] > 0
    assert "ceiling_share" not in off["params"]
    assert on["peak_nodes"] <= 1.5 * oracle["peak_nodes"] < off["peak_nodes"]
    assert on["underprovisioned_fraction"] <= off["underprovisioned_fraction"]
