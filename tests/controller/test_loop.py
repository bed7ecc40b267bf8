"""The control loop on the in-memory pool: ticks, scale-out, recovery, restart, failing ticks."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from controller.budget import QuantileBudget
from controller.config import ConfigError, Settings, load_settings
from controller.executor import Executor
from controller.lifecycle import NodeState
from controller.live_models import DetectorKeeper, ForecastKeeper
from controller.loop import Controller
from controller.pools.memory import MemoryPool
from controller.store import Store
from controller.wiring import policy_from
from forecaster import LoadForecaster
from tests.controller.livefakes import HEALTHY, FakeObserver, ScriptedDetector

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def settings(tmp_path: Path, **controller: float) -> Settings:
    return load_settings(environ={}, overrides={
        "data_dir": str(tmp_path),
        "pool": {"initial_nodes": 2, "min_nodes": 2, "max_nodes": 6},
        "controller": {"tick_seconds": 1, "node_capacity_rps": 10, "startup_seconds": 2,
                       "scale_in_stabilization_seconds": 5, **controller},
        "recovery": {"drain_timeout_seconds": 2, "cooldown_seconds": 10},
        "security": {"admin_token": "test-token-123"},
    })


class Rig:
    def __init__(self, tmp_path: Path, db_url: str, startup: float = 2.0) -> None:
        self.clock = Clock()
        self.settings = settings(tmp_path)
        self.pool = MemoryPool(self.clock, startup_seconds=startup)
        self.store = Store(db_url).create_all()
        self.observer = FakeObserver()
        self.scripted = ScriptedDetector()
        self.controller = self.make_controller()

    def make_controller(self) -> Controller:
        detector = DetectorKeeper(model_path=tmp_missing())
        detector.detector = self.scripted
        return Controller(
            self.settings, self.pool, self.store,
            executor=Executor(self.pool, balancer_url=None, admin_token=None,
                              drain_timeout_seconds=2),
            observer=self.observer,  # type: ignore[arg-type]
            forecasts=ForecastKeeper(1.0, min_points=1000, background=False),
            detector=detector, clock=self.clock,
        )

    def ticks(self, n: int) -> None:
        for _ in range(n):
            self.clock.now += timedelta(seconds=1)
            self.controller.tick(self.clock.now)

    def states(self) -> dict[str, NodeState]:
        return {k: v for k, v in self.pool.states().items() if v is not NodeState.STOPPED}


def tmp_missing() -> Path:
    return Path("/nonexistent/detector.joblib")


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(tmp_path, f"sqlite:///{tmp_path / 'ctl.db'}")
    r.controller.recover(r.clock.now)
    r.controller.ensure_initial_nodes(r.clock.now)
    yield r
    r.store.close()


def kinds(rig: Rig) -> list[str]:
    return [d.kind for d in rig.store.decisions(500)]


def test_reactive_only_until_the_forecaster_has_history(rig: Rig) -> None:
    rig.ticks(3)
    reasons = [d.reason for d in rig.store.decisions(50)]
    assert any("reactive only" in r and "load points" in r for r in reasons)
    assert rig.controller.forecasts.forecast(3) is None
    assert len(rig.store.load_series()) == 3


def test_scale_out_under_a_ramp(rig: Rig) -> None:
    rig.ticks(3)
    rig.observer.rps = 40.0  # 2 nodes x 10 rps capacity at 0.7 target -> needs 6
    rig.ticks(1)
    assert "scale_out" in kinds(rig)
    rig.ticks(3)
    ready = [s for s in rig.states().values() if s is NodeState.READY]
    assert len(ready) == 6


def test_anomalous_node_is_replaced_then_drained_then_stopped(rig: Rig) -> None:
    rig.observer.rps = 5.0
    rig.ticks(5)  # past the warm-up
    rig.scripted.bad = {"node-1"}
    rig.ticks(1)
    assert rig.states()["node-3"] is NodeState.STARTING
    assert "replace" in [d.kind for d in rig.store.decisions(5) if d.node_id == "node-1"]
    rig.scripted.bad = set()  # the drained node no longer reports as a fault
    for _ in range(8):
        rig.ticks(1)
        if rig.pool.states()["node-1"] is NodeState.STOPPED:
            break
    assert rig.pool.states()["node-1"] is NodeState.STOPPED
    history = [s for _, s, _ in rig.store.node_history("node-1")]
    assert history[-2:] == [NodeState.DRAINING, NodeState.STOPPED]
    node3 = dict((s, at) for at, s, _ in rig.store.node_history("node-3"))
    node1 = dict((s, at) for at, s, _ in rig.store.node_history("node-1"))
    assert node3[NodeState.READY] <= node1[NodeState.STOPPED]


def test_crashed_node_is_replaced_at_once(rig: Rig) -> None:
    rig.ticks(3)
    rig.pool.crash("node-2")
    rig.ticks(1)
    assert rig.pool.states()["node-2"] is NodeState.STOPPED
    assert "node-3" in rig.states()


def test_unresponsive_node_counts_as_crashed(rig: Rig) -> None:
    rig.ticks(3)
    rig.observer.silent = {"node-1"}
    rig.ticks(3)
    assert rig.pool.states()["node-1"] is NodeState.STOPPED
    assert len(rig.states()) == 2


def test_restart_rebuilds_from_store_and_pool_without_double_launch(rig: Rig) -> None:
    rig.observer.rps = 5.0
    rig.ticks(4)
    before = dict(rig.states())
    restarted = rig.make_controller()
    restarted.recover(rig.clock.now)
    assert restarted.ensure_initial_nodes(rig.clock.now) == []
    assert len(restarted.forecasts.history) == 4
    assert restarted.recommendations == rig.controller.recommendations
    rig.controller = restarted
    rig.ticks(2)
    assert rig.states() == before


def test_capacity_budget_follows_the_ticks_and_survives_a_restart(rig: Rig) -> None:
    rig.observer.rps = 5.0  # one node's worth; the floor keeps two
    rig.ticks(10)
    budget = rig.controller.budget
    assert budget is not None
    assert budget.accounted_ticks >= 5  # each tick judged once its 2 s lead has passed
    assert budget.ratio is not None and budget.ratio >= 1.0
    # the gauges show what the last tick sized with (a gauge starts at 0)
    metrics = rig.controller.metrics
    assert metrics.quantile._value.get() == pytest.approx(budget.quantile, abs=0.05)
    assert metrics.floor_headroom._value.get() == pytest.approx(budget.floor_headroom) == 1.0
    assert metrics.headroom._value.get() == pytest.approx(budget.headroom) == 1.0
    restarted = rig.make_controller()
    restarted.recover(rig.clock.now)
    assert restarted.budget is not None
    assert restarted.budget.quantile == pytest.approx(budget.quantile)
    assert restarted.budget.ratio == pytest.approx(budget.ratio)


def test_capacity_budget_zero_keeps_the_quantile_fixed(tmp_path: Path) -> None:
    assert Controller(settings(tmp_path, capacity_budget=0), MemoryPool(Clock()),
                      Store(f"sqlite:///{tmp_path / 'b.db'}")).budget is None


def test_capacity_headroom_is_on_by_default_and_configurable(tmp_path: Path) -> None:
    def budget_of(**kw: float) -> QuantileBudget:
        c = Controller(settings(tmp_path, **kw), MemoryPool(Clock()),
                       Store(f"sqlite:///{tmp_path / 'h.db'}"))
        assert c.budget is not None
        return c.budget

    assert budget_of().params.max_headroom == 2.0
    assert budget_of(capacity_headroom=1.0).params.max_headroom == 1.0  # off
    staged = budget_of(capacity_headroom=2.0)
    assert staged.params.max_headroom == 2.0
    # the live tick sizes with apply(): quantile and headroom, as the simulator does
    sized = staged.apply(policy_from(settings(tmp_path, capacity_headroom=2.0)))
    assert sized.forecast_quantile == pytest.approx(staged.quantile)
    assert sized.forecast_headroom == pytest.approx(staged.headroom)
    with pytest.raises(ConfigError, match="controller.capacity_headroom"):
        settings(tmp_path, capacity_headroom=0.5)


def test_a_failing_tick_is_logged_and_the_next_runs(rig: Rig,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    rig.ticks(1)
    with rig.store.engine.begin() as conn:
        conn.execute(text("drop table ctl_decisions"))
    rig.clock.now += timedelta(seconds=1)
    with caplog.at_level(logging.ERROR):
        rig.controller.scheduled_tick()
    assert "tick failed" in caplog.text and "ctl_decisions" in caplog.text
    rig.store.create_all()
    rig.clock.now += timedelta(seconds=1)
    rig.controller.scheduled_tick()
    assert rig.store.load_series()[-1][0] == rig.clock.now
    metrics = rig.controller.metrics
    assert metrics.ticks.labels("error")._value.get() == 1
    assert metrics.ticks.labels("ok")._value.get() == 2


def test_operator_drain_launches_a_replacement(rig: Rig) -> None:
    rig.ticks(3)
    out = rig.controller.drain_and_replace("node-1", rig.clock.now)
    assert out == {"node_id": "node-1", "state": "draining", "replacement": ["node-3"]}
    assert rig.pool.states()["node-1"] is NodeState.DRAINING
    with pytest.raises(KeyError):
        rig.controller.drain_and_replace("node-99")
    with pytest.raises(ValueError, match="not ready"):
        rig.controller.drain_and_replace("node-1")


def test_with_too_few_peers_only_a_lone_anomaly_is_replaced(rig: Rig) -> None:
    rig.scripted.min_peers = 3  # two serving nodes: a change of both may be a load change
    rig.ticks(5)
    rig.scripted.bad = {"node-1", "node-2"}
    rig.scripted.flag_only = {"node-2"}  # node-2 changed too, below the anomaly bar
    rig.ticks(3)
    assert "node-3" not in rig.pool.states()
    holds = [d for d in rig.store.decisions(100) if d.node_id == "node-1"]
    assert len(holds) == 1 and "may be a load change" in holds[0].reason
    rig.scripted.flag_only = set()
    rig.scripted.bad = {"node-1"}
    rig.ticks(5)  # node-2 quiet for the recent windows: node-1 is alone, so it is replaced
    assert "replace" in {d.kind for d in rig.store.decisions(100) if d.node_id == "node-1"}


def test_detector_retrains_on_unflagged_live_windows() -> None:
    import random

    keeper = DetectorKeeper(retrain_seconds=600, min_windows=30)
    assert keeper.detector is not None, keeper.reason  # the shipped default model
    rng = random.Random(0)
    now = T0
    for _ in range(40):
        now += timedelta(seconds=2)
        window = {f"n{j}": HEALTHY | {"rps": 10 * rng.lognormvariate(0, 0.1),
                                      "latency_p50_ms": 8 * rng.lognormvariate(0, 0.1)}
                  for j in range(4)}
        keeper.step(now, window, expected=list(window))
    assert keeper.healthy_windows == 40
    assert keeper.maybe_retrain(now) is False  # not due yet
    before = keeper.detector
    assert keeper.maybe_retrain(now + timedelta(hours=1)) is True
    assert keeper.detector is not before
    result = keeper.step(now + timedelta(hours=1), window, expected=list(window))
    assert set(result.scores) == set(window)


def test_a_saved_forecaster_on_a_zone_clock_is_refused_with_its_reason(tmp_path: Path) -> None:
    """The loop's clock is naive UTC; a model fitted on tz-aware stamps (written by
    `train forecaster` before it fitted on UTC) would fail on its first update."""
    index = pd.date_range("2024-03-01", periods=200, freq="1s")
    values = 50 + 5 * np.sin(np.arange(200) / 7.0)
    naive = LoadForecaster(seasonal_periods=()).fit(pd.Series(values, index=index))
    aware = LoadForecaster(seasonal_periods=()).fit(
        pd.Series(values, index=index.tz_localize("Europe/London")))
    ok = ForecastKeeper(1.0, model_path=naive.save(tmp_path / "naive.joblib"),
                        background=False)
    assert ok.model is not None and ok.reason is None
    refused = ForecastKeeper(1.0, model_path=aware.save(tmp_path / "aware.joblib"),
                             background=False)
    assert refused.model is None
    assert refused.reason is not None and "fitted on timestamps with a time zone" in refused.reason
    assert "retrain" in refused.reason


def test_a_saved_forecaster_at_another_step_is_refused_with_its_reason(tmp_path: Path) -> None:
    """A model of daily (or business-day) load cannot follow the loop's 1 s ticks: its
    first update would fail and the fallback refit would discard it."""
    days = pd.bdate_range("2024-01-01", periods=120)
    values = 50 + 5 * np.sin(np.arange(120) / 3.0)
    business = LoadForecaster(seasonal_periods=(), holidays="none").fit(
        pd.Series(values, index=days))
    refused = ForecastKeeper(1.0, model_path=business.save(tmp_path / "b.joblib"),
                             background=False)
    assert refused.model is None
    assert refused.reason is not None and "fitted on business days" in refused.reason
    hourly = LoadForecaster(seasonal_periods=()).fit(
        pd.Series(values, index=pd.date_range("2024-01-01", periods=120, freq="h")))
    other = ForecastKeeper(1.0, model_path=hourly.save(tmp_path / "h.joblib"), background=False)
    assert other.model is None and other.reason is not None
    assert "fitted on 3600 s steps" in other.reason and "--freq 1s" in other.reason


def test_surprise_carry_lifts_the_next_plan_after_a_load_above_the_band(tmp_path: Path) -> None:
    """The live tick carries a miss upwards as the simulator does (controller/margin.py):
    a load far above last tick's forecast multiplies the next forecast by up to 1.3."""
    clock = Clock()
    pool = MemoryPool(clock, startup_seconds=2.0)
    store = Store(f"sqlite:///{tmp_path / 'carry.db'}").create_all()
    observer = FakeObserver()
    controller = Controller(
        settings(tmp_path), pool, store,
        executor=Executor(pool, balancer_url=None, admin_token=None, drain_timeout_seconds=2),
        observer=observer,  # type: ignore[arg-type]
        forecasts=ForecastKeeper(1.0, min_points=30, background=False,
                                 seasonal_periods=()),
        detector=DetectorKeeper(model_path=tmp_missing()), clock=clock,
    )
    controller.recover(clock.now)
    controller.ensure_initial_nodes(clock.now)
    assert controller.carry is not None and controller.carry.params.max_factor == 1.3
    rng = np.random.default_rng(2)

    def tick(rps: float) -> None:
        observer.rps = rps
        clock.now += timedelta(seconds=1)
        controller.tick(clock.now)

    for _ in range(40):
        tick(20.0 + rng.normal(scale=0.5))
    assert controller.forecasts.forecast(3) is not None
    assert controller.carry.factor == 1.0
    assert controller.metrics.carry._value.get() == 1.0
    tick(40.0)  # twice the forecast's median: carried, capped at 1.3
    assert controller.carry.factor == pytest.approx(1.3)
    assert controller.metrics.carry._value.get() == pytest.approx(1.3)
    capacity = [d for d in store.decisions(5) if d.node_id is None][0]
    assert capacity.details.get("forecast_carry") == pytest.approx(1.3)
    tick(20.0)  # back inside the band: no carry
    assert controller.carry.factor == 1.0
    off = Controller(settings(tmp_path, forecast_carry=1.0), MemoryPool(Clock()),
                     Store(f"sqlite:///{tmp_path / 'off.db'}"))
    assert off.carry is None
    with pytest.raises(ConfigError, match="controller.forecast_carry"):
        settings(tmp_path, forecast_carry=0.9)
    store.close()


def test_after_a_gap_too_long_to_bridge_no_stale_forecast_is_served() -> None:
    # A restart after ~20 missed ticks: the model fitted before the gap cannot take the new
    # points, and too few follow the gap to refit.  It must not keep forecasting the steps
    # right after the gap's start (already past); it waits for history, with the reason.
    keeper = ForecastKeeper(1.0, min_points=20, background=False, seasonal_periods=())
    start = datetime(2026, 1, 1, tzinfo=UTC)
    keeper.seed([(start + timedelta(seconds=i), 10 + 3 * np.sin(i / 4)) for i in range(40)],
                fit_now=True)
    assert keeper.forecast(1) is not None
    resumed = start + timedelta(seconds=40 + 21)
    for i in range(3):
        keeper.add(resumed + timedelta(seconds=i), 10.0)
        fc = keeper.forecast(1)
        assert fc is None or pd.Timestamp(fc.timestamps[0]) > pd.Timestamp(
            resumed.replace(tzinfo=None) + timedelta(seconds=i))
    assert keeper.forecast(1) is None
    assert keeper.reason is not None and "of 20 load points" in keeper.reason
    for i in range(3, 20):
        keeper.add(resumed + timedelta(seconds=i), 10 + 3 * np.sin(i / 4))
    fc = keeper.forecast(1)
    assert fc is not None
    assert pd.Timestamp(fc.timestamps[0]) == pd.Timestamp(
        resumed.replace(tzinfo=None) + timedelta(seconds=20))


def test_a_refused_saved_forecaster_stays_in_the_reason_while_history_grows(
    tmp_path: Path,
) -> None:
    # /forecast's 503 says why the configured model is not used after the first tick too
    # (before, the first load point replaced the refusal with "1 of 20 load points ...")
    values = 50 + 5 * np.sin(np.arange(120) / 3.0)
    hourly = LoadForecaster(seasonal_periods=()).fit(
        pd.Series(values, index=pd.date_range("2024-01-01", periods=120, freq="h")))
    keeper = ForecastKeeper(1.0, model_path=hourly.save(tmp_path / "h.joblib"),
                            background=False)
    keeper.add(datetime(2026, 1, 1, tzinfo=UTC), 10.0)
    assert keeper.model is None and keeper.reason is not None
    assert "1 of 20 load points" in keeper.reason
    assert "cannot use forecaster model" in keeper.reason
    assert "fitted on 3600 s steps" in keeper.reason
