"""Holidays python-holidays renamed across years keep one regressor under both names."""

from __future__ import annotations

import holidays as holiday_calendars
import numpy as np
import pandas as pd
import pytest

from forecaster import LoadForecaster
from forecaster.holiday_effects import day_names, holiday_matrix, renamed
from forecaster.seasonality import time_positions

WEEKLY = np.array([1.0, 1.02, 1.01, 1.0, 0.97, 0.62, 0.55])  # Monday .. Sunday
DAY = 86400.0


def load(country: str, end: str, days: int = 730, seed: int = 5) -> pd.Series:
    """Daily counts with a weekly shape, 3 % noise and a 35 % drop on ``country``'s holidays."""
    rng = np.random.default_rng(seed)
    index = pd.date_range(end=end, periods=days, freq="D")
    public = holiday_calendars.country_holidays(country, years=range(index.year[0], 2026))
    on_holiday = np.array([day.date() in public for day in index])
    level = 12000 * WEEKLY[index.day_of_week] * np.where(on_holiday, 0.65, 1.0)
    return pd.Series(np.round(level * np.exp(rng.normal(0, 0.03, days))), index=index)


@pytest.mark.parametrize(
    ("country", "old", "new"),
    [
        ("JP", "Physical Education Day", "Sports Day"),
        ("NZ", "Queen's Birthday", "King's Birthday"),
        ("AU-NSW", "Queen's Birthday", "King's Birthday"),
        ("NL", "Queen's Day", "King's Day"),
        ("CA", "Dominion Day", "Canada Day"),
    ],
)
def test_a_renamed_holiday_is_found_and_marks_the_days_of_both_names(
    country: str, old: str, new: str
) -> None:
    assert renamed(country)[old] == new
    days = pd.date_range("1975-01-01", "2030-12-31", freq="D")
    positions = time_positions(days, DAY)
    names = day_names(positions, DAY, country)
    both = [i for i, name in enumerate(names) if name in (old, new)]
    assert {names[i] for i in both} == {old, new}
    for fitted in (old, new):  # a regressor under either name covers the days of both
        column = holiday_matrix(positions, DAY, country, (fitted,))[:, 0]
        assert np.flatnonzero(column).tolist() == both


@pytest.mark.parametrize("country", ["US", "GB", "DE", "FR", "IN", "BR"])
def test_holidays_never_renamed_stay_apart(country: str) -> None:
    # no python-holidays name of these countries continues another one since 1970
    assert renamed(country) == {}


def test_a_day_off_fitted_as_physical_education_day_is_forecast_on_sports_day_2020() -> None:
    series = load("JP", end="2020-06-30")  # the fit window knows only the old name
    model = LoadForecaster(holidays="JP").fit(series)
    assert "Physical Education Day" in model.metadata_["holidays"]
    assert "Sports Day" not in model.metadata_["holidays"]
    fc = model.forecast(40).to_frame().set_index("timestamp")["mean"]
    # 2020-07-24 (a Friday) was Sports Day, moved for the Olympics; 2020-07-17 a plain Friday
    assert fc[pd.Timestamp("2020-07-24")] / fc[pd.Timestamp("2020-07-17")] < 0.8


def test_both_names_in_one_window_share_one_regressor_shown_under_the_newer() -> None:
    series = load("JP", end="2021-06-30", days=1200)  # Physical Education Day 2018, 2019
    model = LoadForecaster(holidays="JP", max_history_days=None).fit(series)
    chosen = model.metadata_["holidays"]
    assert "Sports Day" in chosen and "Physical Education Day" not in chosen
    fc = model.forecast(40).to_frame().set_index("timestamp")["mean"]
    # Sports Day 2021 was Friday 2021-07-23
    assert fc[pd.Timestamp("2021-07-23")] / fc[pd.Timestamp("2021-07-16")] < 0.8


def test_kings_birthday_2023_gets_the_queens_birthday_regressor() -> None:
    model = LoadForecaster(holidays="NZ").fit(load("NZ", end="2023-05-20", seed=6))
    assert "Queen's Birthday" in model.metadata_["holidays"]
    fc = model.forecast(30).to_frame().set_index("timestamp")["mean"]
    # King's Birthday 2023 was Monday 2023-06-05
    assert fc[pd.Timestamp("2023-06-05")] / fc[pd.Timestamp("2023-05-29")] < 0.8
