"""The weekly season is found when the week changes the daily shape, not its level.

Commuter load (hourly road traffic, bike rentals) has two daily shapes, a
weekday one with rush-hour peaks and a flatter weekend one, at about the same
daily total.  Three weekly harmonics see only a weekly level, which explains
too little to keep the season; the weekly harmonics that carry the daily
harmonics modulated by the week do (``seasonality._week_shape_gain``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster import LoadForecaster
from forecaster.seasonality import detect_periods, time_positions


def commuter_hours(weeks: int = 26, seed: int = 0, weekend_shape: bool = True) -> pd.Series:
    """Hourly counts: weekdays peak at 08:00 and 17:00, weekends one broad midday hump
    with the same daily total (so the weekly *level* barely moves), Poisson noise."""
    rng = np.random.default_rng(seed)
    index = pd.date_range("2024-01-01", periods=weeks * 168, freq="1h")  # a Monday
    hour = index.hour.to_numpy()
    weekday = np.exp(-((hour - 8) ** 2) / 3.0) + np.exp(-((hour - 17) ** 2) / 3.0) + 0.15
    weekend = np.exp(-((hour - 13) ** 2) / 12.0) + 0.15
    weekday, weekend = 400 * weekday / weekday.mean(), 400 * weekend / weekend.mean()
    rate = weekday.copy()
    if weekend_shape:
        rate = np.where(index.day_of_week.to_numpy() >= 5, weekend, weekday)
    return pd.Series(rng.poisson(rate).astype(float), index=index, name="value")


def periods(series: pd.Series) -> list[float]:
    z = np.log1p(series.to_numpy())
    kept, _ = detect_periods(z, time_positions(series.index, 3600.0), 3600.0)
    return kept


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_weekend_daily_shape_keeps_the_weekly_season(seed: int) -> None:
    assert periods(commuter_hours(seed=seed)) == [24.0, 168.0]


@pytest.mark.parametrize("weeks", [2, 4, 26])
def test_one_daily_shape_every_day_gets_no_weekly_season(weeks: int) -> None:
    # the same daily shape every day: the extra weekly harmonics only fit noise
    for seed in range(10):
        assert periods(commuter_hours(weeks, seed, weekend_shape=False)) == [24.0]


def test_the_model_forecasts_the_weekend_shape() -> None:
    series = commuter_hours(weeks=12)
    train, test = series.iloc[:-48], series.iloc[-48:]  # the last weekend
    model = LoadForecaster().fit(train)
    assert "168x" in model.describe()
    forecast = model.forecast(48)
    mae = float(np.mean(np.abs(np.asarray(forecast.mean) - test.to_numpy())))
    # the weekday shape as the weekend forecast: what a daily-only model says
    weekday_like = series.iloc[-48 - 120:-120].to_numpy()
    assert mae < 0.5 * float(np.mean(np.abs(weekday_like - test.to_numpy())))
