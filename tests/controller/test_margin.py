"""Surprise carry (controller.margin): the factor, its state, the planner's use, the simulator's."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from controller.lifecycle import NodeState
from controller.margin import CarryParams, SurpriseCarry, surprise_factor
from controller.planner import NodeView, Policy, Snapshot, plan, point_at
from forecaster.types import Forecast, normal_bands

T0 = datetime(2026, 6, 10, 15, 0)
STEP = 300.0


def log_forecast(medians: list[float], sd: float = 0.1, start: datetime = T0) -> Forecast:
    """A log1p forecast with these medians (rps = counts per 1 s step) and log-space sd."""
    loc = np.log1p(np.asarray(medians, dtype=float))
    scale = np.full(len(loc), sd)
    bands = normal_bands(loc, scale, "log1p", 1.0)
    stamps = pd.date_range(start, periods=len(loc), freq=pd.Timedelta(seconds=STEP))
    return Forecast(timestamps=stamps, step_seconds=STEP, model="test", loc=loc, scale=scale,
                    transform="log1p", **bands)


P = CarryParams(max_factor=1.3, gate_quantile=0.8)
FC = log_forecast([1000.0, 1100.0, 1200.0])


@pytest.mark.parametrize(
    ("at", "observed", "expected"),
    [
        (T0, 1000.0, 1.0),  # at the median
        (T0, 1080.0, 1.0),  # above the median, inside the band (q0.8 ~ 1088)
        (T0, 900.0, 1.0),  # below: never lowered
        (T0, 1150.0, 1.15),  # out of the band: observed over median
        (T0 + timedelta(seconds=150), 1150.0, 1.15),  # within the first point's period
        (T0 + timedelta(seconds=300), 1150.0, 1.0),  # the second point: 1150 is in its band
        (T0 + timedelta(seconds=300), 1320.0, 1.2),
        (T0, 2000.0, 1.3),  # capped
        (T0 - timedelta(seconds=1), 2000.0, 1.0),  # before the forecast
        (T0 + timedelta(seconds=900), 2000.0, 1.0),  # after it
        (T0, float("nan"), 1.0),
    ],
)
def test_factor_matrix(at, observed, expected):
    assert surprise_factor(FC, at, observed, P) == pytest.approx(expected, rel=1e-9)


def test_no_forecast_or_off_gives_one():
    assert surprise_factor(None, T0, 5000.0, P) == 1.0
    assert surprise_factor(FC, T0, 5000.0, CarryParams(max_factor=1.0)) == 1.0


def test_a_wider_gate_waits_for_a_larger_surprise():
    assert surprise_factor(FC, T0, 1150.0, CarryParams(gate_quantile=0.5)) == pytest.approx(1.15)
    assert surprise_factor(FC, T0, 1150.0, CarryParams(gate_quantile=0.95)) == 1.0


def test_a_zero_median_carries_the_cap_and_a_diverged_forecast_nothing():
    zero = log_forecast([0.0, 0.0], sd=1.0)
    assert surprise_factor(zero, T0, 50.0, P) == 1.3
    diverged = replace(FC, loc=np.array([np.inf, 1.0, 1.0]))
    assert surprise_factor(diverged, T0, 50.0, P) == 1.0


def test_aware_moments_read_naive_stamps_as_utc():
    assert point_at(FC, T0.replace(tzinfo=UTC) + timedelta(seconds=301)) == 1
    assert surprise_factor(FC, T0.replace(tzinfo=UTC), 1150.0, P) == pytest.approx(1.15)


@pytest.mark.parametrize(("kw", "match"), [({"max_factor": 0.9}, "max_factor"),
                                           ({"gate_quantile": 0.3}, "gate_quantile"),
                                           ({"gate_quantile": 1.0}, "gate_quantile")])
def test_bad_parameters_are_named(kw, match):
    with pytest.raises(ValueError, match=match):
        CarryParams(**kw)


def test_the_observation_is_judged_by_the_forecast_held_before_it():
    carry = SurpriseCarry(P)
    carry.observe(T0, 1500.0)  # nothing held yet
    assert carry.factor == 1.0
    carry.hold(FC)
    carry.observe(T0, 1150.0)
    assert carry.factor == pytest.approx(1.15)
    assert carry.apply(Policy()).forecast_carry == pytest.approx(1.15)
    # the next forecast has caught up: the same load is inside its band
    carry.hold(log_forecast([1150.0, 1200.0], start=T0 + timedelta(seconds=300)))
    carry.observe(T0 + timedelta(seconds=300), 1150.0)
    assert carry.factor == 1.0
    assert carry.apply(Policy()).forecast_carry == 1.0


def sized(carry: float) -> tuple[int, dict[str, object]]:
    """Predictive need at 100 rps per node x 0.5: the forecast's q0.9 for the start-up window."""
    now = T0
    pol = Policy(min_nodes=1, max_nodes=50, node_capacity_rps=200.0, target_utilization=0.5,
                 startup_seconds=STEP, tick_seconds=STEP, forecast_quantile=0.9,
                 forecast_carry=carry)
    nodes = tuple(NodeView(id=f"n{i}", state=NodeState.READY, since=now - timedelta(hours=1))
                  for i in range(10))
    decided = plan(Snapshot(nodes=nodes, observed_rps=700.0), FC, (), pol, now)
    capacity = next(d for d in decided.decisions if d.node_id is None)
    return int(capacity.details["predictive"]), capacity.details


@pytest.mark.parametrize("carry", [1.0, 1.1, 1.3])
def test_the_planner_multiplies_the_forecast_by_the_carry(carry):
    q90 = float(np.expm1(np.log1p(1100.0) + 1.2815515655446004 * 0.1))
    predictive, details = sized(carry)
    assert predictive == int(np.ceil(q90 * carry / 100.0 - 1e-9))
    assert ("forecast_carry" in details) == (carry != 1.0)


def test_the_carry_raises_the_predictive_need():
    assert sized(1.3)[0] > sized(1.0)[0]


def count_forecast(median_count: float, sd_count: float) -> Forecast:
    """A forecast (no transform) of ``median_count`` requests per 300 s step, in rps."""
    loc = np.full(3, median_count / STEP)
    scale = np.full(3, sd_count / STEP)
    stamps = pd.date_range(T0, periods=3, freq=pd.Timedelta(seconds=STEP))
    return Forecast(timestamps=stamps, step_seconds=STEP, model="test", loc=loc, scale=scale,
                    transform="none", **normal_bands(loc, scale, "none", 1.0))


LOW = count_forecast(4.0, 0.5)  # a median of 4 requests per step, its 0.8 quantile ~4.42


@pytest.mark.parametrize(
    ("count", "noise_z", "expected"),
    [
        (8.0, 3.0, 1.0),  # 4 over a median of 4: within 3 x sqrt(4) = 6, count noise
        (10.0, 3.0, 1.0),  # 6 over: not beyond it
        (11.0, 3.0, 1.3),  # 7 over: carried (capped)
        (8.0, 1.0, 1.3),  # a looser gate
        (8.0, 0.0, 1.3),  # no count gate: the band alone, as before
        (4.5, 0.0, 1.125),  # above the band's 0.8 quantile, a small miss
        (4.3, 0.0, 1.0),  # inside the band
    ],
)
def test_a_miss_within_count_noise_is_not_carried(count, noise_z, expected):
    params = CarryParams(noise_z=noise_z)
    assert surprise_factor(LOW, T0, count / STEP, params) == pytest.approx(expected)


def test_the_count_gate_is_on_by_default_and_passes_high_counts():
    assert CarryParams().noise_z == 3.0
    # 1000 rps over 300 s: 300 000 requests, noise sd ~548; the 15 % miss is far beyond it
    assert surprise_factor(FC, T0, 1150.0, CarryParams()) == pytest.approx(1.15)
    with pytest.raises(ValueError, match="noise_z"):
        CarryParams(noise_z=-1.0)
