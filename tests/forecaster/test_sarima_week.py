"""Seasonal ARIMA keeps the weekly season as Fourier terms.

Seasonal ARIMA (chosen when a sharp daily shape wanders from day to day, as
hourly grid load does) carries one season.  Without the week's Fourier terms
it forecast a Monday from Sunday's shape; with them it models what they leave.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecaster import LoadForecaster


def wandering_commuter_hours(weeks: int = 10, seed: int = 4) -> pd.Series:
    """Hourly load: weekday rush peaks, a flat weekend, a daily height that wanders."""
    rng = np.random.default_rng(seed)
    index = pd.date_range("2024-01-01", periods=weeks * 168, freq="1h")  # a Monday
    hour = index.hour.to_numpy()
    weekday = 2.0 * np.exp(-((hour - 8) ** 2) / 2.0) + 1.5 * np.exp(-((hour - 17) ** 2) / 2.0)
    weekend = 0.6 * np.exp(-((hour - 13) ** 2) / 10.0)
    shape = np.where(index.day_of_week.to_numpy() >= 5, weekend, weekday)
    # the peaks' height wanders from day to day apart from the base: the shape changes
    height = np.repeat(np.exp(np.cumsum(rng.normal(scale=0.25, size=weeks * 7))), 24)
    values = 500.0 * (1.0 + shape * height) * np.exp(rng.normal(scale=0.02, size=len(index)))
    return pd.Series(values, index=index, name="value")


def monday_mae(model: LoadForecaster, series: pd.Series, origins: list[int]) -> float:
    errors = []
    for origin in origins:
        fitted = model.fit(series.iloc[:origin])
        forecast = fitted.forecast(12)
        errors.append(np.mean(np.abs(forecast.mean - series.iloc[origin:origin + 12].to_numpy())))
    return float(np.mean(errors))


def test_seasonal_arima_keeps_the_week_and_forecasts_monday_from_it(tmp_path) -> None:
    series = wandering_commuter_hours()
    model = LoadForecaster().fit(series.iloc[:-24])
    name = model.describe()
    assert name.startswith("SARIMA(") and "24 fourier[168x" in name, name
    assert model.seasonal_periods_[0] == 24.0 and 168.0 in model.seasonal_periods_
    loaded = LoadForecaster.load(model.save(tmp_path / "sarima_week.joblib"))
    np.testing.assert_allclose(loaded.forecast(24).hi80, model.forecast(24).hi80, rtol=1e-8)
    # origins at Monday 00:00-06:00 of the last weeks: the rush hour is 2-8 steps ahead
    mondays = [len(series) - 168 * k + h for k in (1, 2, 3) for h in (0, 3, 6)]
    with_week = monday_mae(LoadForecaster(), series, mondays)
    day_only = monday_mae(LoadForecaster(seasonal_periods=[24]), series, mondays)
    assert with_week < 0.9 * day_only, (with_week, day_only)
