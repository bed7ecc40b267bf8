"""Interval width factors: measured on the fit window, applied alike everywhere, kept on save.

The in-sample measurement (``forecaster.calibration``) is pinned here with
``interval_calibration="in_sample"``; the held-out one is tested in test_held_out.py."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from forecaster import LoadForecaster
from forecaster.calibration import CALIBRATION_HORIZON, widen
from forecaster.path import forecast_path
from forecaster.types import Z80
from tests.forecaster.conftest import arma_series, momentum_series

# a random walk fitted to steps that persist: its multi-step sd is too small
MISSPECIFIED = dict(seasonal_periods=(), transform="none", d=1, max_p=0, max_q=0,
                    time_budget_seconds=30, interval_calibration="in_sample")


@pytest.fixture(scope="module")
def walk_on_momentum() -> tuple[LoadForecaster, pd.Series]:
    y = momentum_series(3000, seed=1)
    return LoadForecaster(**MISSPECIFIED).fit(y.iloc[:2000]), y


def test_factors_are_at_least_one_non_decreasing_and_in_the_metadata(walk_on_momentum) -> None:
    model, _ = walk_on_momentum
    factors = model.width_factors_
    assert len(factors) == CALIBRATION_HORIZON
    assert (factors >= 1.0).all()
    assert (np.diff(factors) >= 0).all()
    assert factors[11] > 1.2  # the misfit shows at 12 steps
    assert model.metadata_["interval_width_factors"] == pytest.approx(factors, abs=1e-4)


def test_a_well_specified_model_is_hardly_widened() -> None:
    model = LoadForecaster(seasonal_periods=(), transform="none", d=0, time_budget_seconds=30,
                           interval_calibration="in_sample").fit(arma_series(2000, seed=3))
    assert model.width_factors_.max() < 1.15


def test_calibrated_80_percent_coverage_is_closer_to_80_percent(walk_on_momentum) -> None:
    model, y = walk_on_momentum
    path = forecast_path(model, y.iloc[2000:2988], horizon=12)
    loc = np.array([f.loc for f in path])
    scale = np.array([f.scale for f in path])
    actual = np.array([y.iloc[2000 + k:2012 + k].to_numpy() for k in range(len(path))])
    miss = np.abs(actual - loc)
    raw = np.mean(miss <= Z80 * scale / model.width_factors_[:12])
    calibrated = np.mean(miss <= Z80 * scale)
    assert raw < 0.7  # the model's own sd is too small here
    assert abs(calibrated - 0.8) < abs(raw - 0.8)
    assert 0.7 <= calibrated <= 0.9


def test_forecast_and_forecast_path_apply_the_same_factors(walk_on_momentum) -> None:
    model, y = walk_on_momentum
    horizon = CALIBRATION_HORIZON + 6  # beyond the measured leads the last factor holds
    forecast = model.forecast(horizon)
    sd = np.sqrt(np.asarray(model.results_.get_forecast(horizon).var_pred_mean))
    expected = sd * np.r_[model.width_factors_, np.repeat(model.width_factors_[-1], 6)]
    np.testing.assert_allclose(forecast.scale, expected, rtol=1e-9)
    np.testing.assert_allclose(forecast.hi80, forecast.loc + Z80 * expected, rtol=1e-9)
    path = forecast_path(model, y.iloc[2000:2005], horizon)
    stepwise = copy.deepcopy(model)
    for k in range(6):
        if k:
            stepwise.update(y.iloc[1999 + k:2000 + k])
        want = stepwise.forecast(horizon)
        for field in ("scale", "lo80", "hi80", "lo95", "hi95"):
            np.testing.assert_allclose(getattr(path[k], field), getattr(want, field),
                                       rtol=1e-6, err_msg=field)


def test_save_load_keeps_the_factors(tmp_path, walk_on_momentum) -> None:
    model, _ = walk_on_momentum
    loaded = LoadForecaster.load(model.save(tmp_path / "model.joblib"))
    np.testing.assert_array_equal(loaded.width_factors_, model.width_factors_)
    np.testing.assert_allclose(loaded.forecast(12).hi80, model.forecast(12).hi80, rtol=1e-9)


def test_widen_holds_the_last_factor_and_broadcasts_over_origins() -> None:
    scale = np.ones((2, 4))
    np.testing.assert_array_equal(widen(scale, np.array([1.0, 1.5])),
                                  [[1.0, 1.5, 1.5, 1.5]] * 2)
    np.testing.assert_array_equal(widen(np.ones(3), np.ones(1)), np.ones(3))


def test_a_short_window_keeps_the_model_sd() -> None:
    # 90 points: 50 are the filter's start, and 40 origins are too few for a factor
    model = LoadForecaster(**MISSPECIFIED).fit(momentum_series(90, seed=2))
    np.testing.assert_array_equal(model.width_factors_, [1.0])
    sd = np.sqrt(np.asarray(model.results_.get_forecast(12).var_pred_mean))
    np.testing.assert_allclose(model.forecast(12).scale, sd, rtol=1e-9)


def test_only_leads_with_enough_origins_are_measured() -> None:
    # 120 points: 60 origins, so leads 1-11 have at least MIN_ORIGINS (50) errors each
    model = LoadForecaster(**MISSPECIFIED).fit(momentum_series(120, seed=2))
    assert len(model.width_factors_) == 11
