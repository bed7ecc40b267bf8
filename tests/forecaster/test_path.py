"""forecast_path equals update() + forecast() point by point, for every model family."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from forecaster.io import SeriesError
from forecaster.model import LoadForecaster
from forecaster.path import forecast_path


def seasonal_walk(n: int, period: int = 12, seed: int = 1) -> pd.Series:
    """y_t = y_{t-m} + noise: seasonal ARIMA beats Fourier terms on it."""
    rng = np.random.default_rng(seed)
    y = np.zeros(n)
    y[:period] = 200 + rng.normal(0, 30, period)
    for t in range(period, n):
        y[t] = y[t - period] + rng.normal(0, 4)
    return pd.Series(np.maximum(y, 1), index=pd.date_range("2024-03-01", periods=n, freq="5min"))


def series(n: int, period: int, d_walk: bool, seed: int = 0) -> pd.Series:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    level = np.cumsum(rng.normal(0, 0.5, n)) if d_walk else 0.0
    y = 200 + level + 40 * np.sin(2 * np.pi * t / period) + rng.normal(0, 5, n)
    return pd.Series(np.maximum(y, 0), index=pd.date_range("2024-03-01", periods=n, freq="5min"))


@pytest.mark.parametrize(
    "kw,period,walk",
    [
        (dict(seasonal_periods=(), d=0), 288, False),  # ARIMA, constant, no seasons
        (dict(seasonal_periods=(96,), d=1), 96, True),  # Fourier season, differenced
        (dict(seasonal_periods="auto"), 0, False),  # seasonal walk: seasonal ARIMA
    ],
)
def test_path_equals_update_then_forecast(kw, period, walk):
    y = series(900, period, walk) if period else seasonal_walk(900)
    model = LoadForecaster(time_budget_seconds=30, max_p=2, max_q=1, **kw).fit(y.iloc[:800])
    if not period:
        assert model.describe().startswith("SARIMA(")
    path = forecast_path(model, y.iloc[800:830], horizon=4)
    assert len(path) == 31
    stepwise = copy.deepcopy(model)
    expected = [stepwise.forecast(4)]
    for k in range(800, 830):
        stepwise.update(y.iloc[k : k + 1])
        expected.append(stepwise.forecast(4))
    for got, want in zip(path, expected, strict=True):
        assert got.timestamps.equals(want.timestamps)
        for field in ("mean", "lo80", "hi80", "lo95", "hi95", "loc", "scale"):
            np.testing.assert_allclose(getattr(got, field), getattr(want, field), rtol=1e-6,
                                       atol=1e-8, err_msg=field)
        assert got.model == want.model


def test_path_leaves_the_model_as_it_was():
    y = series(700, 288, False)
    model = LoadForecaster(seasonal_periods=(), time_budget_seconds=30).fit(y.iloc[:600])
    before = model.forecast(3)
    forecast_path(model, y.iloc[600:650], horizon=3)
    np.testing.assert_allclose(model.forecast(3).mean, before.mean)


def test_points_off_the_grid_are_refused():
    y = series(700, 288, False)
    model = LoadForecaster(seasonal_periods=(), time_budget_seconds=30).fit(y.iloc[:600])
    with pytest.raises(SeriesError, match="continue the fitted series"):
        forecast_path(model, y.iloc[601:610], horizon=3)
    with pytest.raises(ValueError, match="horizon"):
        forecast_path(model, y.iloc[600:610], horizon=0)
