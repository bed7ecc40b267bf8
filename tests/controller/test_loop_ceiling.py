"""The live loop's forecast ceiling (controller/margin.py): wired as the simulator's, seeded
from the stored load after a restart, reported in the decision and the metrics."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import pytest

from controller.config import ConfigError
from controller.executor import Executor
from controller.live_models import DetectorKeeper, ForecastKeeper
from controller.loop import Controller
from controller.pools.memory import MemoryPool
from controller.store import Store
from tests.controller.livefakes import FakeObserver
from tests.controller.test_loop import Clock, settings, tmp_missing


def controller_for(tmp_path: Path, store: Store, clock: Clock, observer: FakeObserver,
                   **kw: float) -> Controller:
    pool = MemoryPool(clock, startup_seconds=2.0)
    return Controller(
        settings(tmp_path, **kw), pool, store,
        executor=Executor(pool, balancer_url=None, admin_token=None, drain_timeout_seconds=2),
        observer=observer,  # type: ignore[arg-type]
        forecasts=ForecastKeeper(1.0, min_points=30, background=False, seasonal_periods=()),
        detector=DetectorKeeper(model_path=tmp_missing()), clock=clock,
    )


def test_a_rising_load_is_forecast_no_higher_than_the_ceiling(tmp_path: Path) -> None:
    clock, observer = Clock(), FakeObserver()
    store = Store(f"sqlite:///{tmp_path / 'ceiling.db'}").create_all()
    # ceiling 1: the forecast may not exceed the highest load of the last 20 s
    controller = controller_for(tmp_path, store, clock, observer,
                                forecast_ceiling=1.0, forecast_ceiling_seconds=20.0)
    controller.recover(clock.now)
    controller.ensure_initial_nodes(clock.now)
    assert controller.ceiling is not None and controller.ceiling.params.factor == 1.0

    def tick(rps: float) -> None:
        observer.rps = rps
        clock.now += timedelta(seconds=1)
        controller.tick(clock.now)

    def load(k: int) -> float:
        # a climb of 0.5 rps a second with a little noise that never turns it down (a
        # noise-free line left the ARMA's likelihood so flat that its estimate, and whether
        # the forecast ran ahead, moved with the last bits of rounding from run to run)
        return round(10.0 + 0.5 * k + 0.2 * math.sin(1.7 * k), 3)  # as the details show it

    for k in range(15):  # less than the lookback seen: no bound yet
        tick(load(k))
    assert controller.metrics.ceiling._value.get() == 0.0
    for k in range(15, 45):  # a steady climb: the forecast runs ahead of every load seen
        tick(load(k))
    peak = load(44)
    assert controller.forecasts.forecast(3) is not None
    assert controller.metrics.ceiling._value.get() == pytest.approx(peak)
    assert controller.last_report is not None
    capacity = next(d for d in controller.last_report.plan.decisions if "needed" in d.details)
    assert capacity.details["forecast_ceiling_rps"] == pytest.approx(peak)
    assert capacity.details["forecast_upper_rps"] == pytest.approx(peak)
    assert capacity.details["forecast_capped_from_rps"] > peak
    assert controller.metrics.capped._value.get() >= 1

    # a restart reads the recent peak back from the stored load: bounded from the first tick
    again = controller_for(tmp_path, store, clock, observer,
                           forecast_ceiling=1.0, forecast_ceiling_seconds=20.0)
    again.recover(clock.now)
    assert again.ceiling is not None and again.ceiling.peak_rps == pytest.approx(peak)
    store.close()


def test_the_ceiling_is_on_by_default_and_zero_turns_it_off(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'off.db'}")
    on = controller_for(tmp_path, store, Clock(), FakeObserver())
    assert on.ceiling is not None and on.ceiling.params.factor == 1.25
    assert on.ceiling.params.lookback_seconds == 7 * 86400
    off = controller_for(tmp_path, store, Clock(), FakeObserver(), forecast_ceiling=0.0)
    assert off.ceiling is None
    with pytest.raises(ConfigError, match="controller.forecast_ceiling"):
        settings(tmp_path, forecast_ceiling=0.5)
    store.close()
