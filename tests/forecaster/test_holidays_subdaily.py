"""Sub-daily holidays: public holidays drawn towards a Sunday's daily shape, one regressor."""

from __future__ import annotations

from pathlib import Path

import holidays as holiday_calendars
import numpy as np
import pandas as pd
import pytest

from forecaster import LoadForecaster
from forecaster.holiday_effects import AS_SUNDAY, choose_as_sunday, effects_regression
from forecaster.seasonality import time_positions


def shape(index: pd.DatetimeIndex, sunday_on_holidays: bool) -> np.ndarray:
    """Log load: a weekday's daytime peak, Saturdays lower, Sundays lower still."""
    hour = index.hour.to_numpy() + index.minute.to_numpy() / 60
    weekday = index.day_of_week.to_numpy().copy()
    if sunday_on_holidays:
        public = holiday_calendars.country_holidays("US", years=range(index.year[0], 2021))
        weekday[np.array([day.date() in public for day in index])] = 6
    peak = np.where(weekday < 5, 0.35, np.where(weekday == 5, 0.2, 0.1))
    return peak * np.exp(-((hour - 14) ** 2) / 18) - np.where(weekday == 6, 0.08, 0.0)


def load(seed: int, holiday_effect: bool, end: str = "2019-11-26 23:00", weeks: int = 26,
         freq: str = "1h") -> pd.Series:
    """Hourly (or ``freq``) load with AR(1) noise, Sunday-like on US holidays if asked."""
    rng = np.random.default_rng(seed)
    index = pd.date_range(end=end, periods=int(weeks * 7 * pd.Timedelta("1D") /
                                               pd.Timedelta(freq)), freq=freq)
    noise = np.zeros(len(index))
    shocks = rng.normal(0, 0.015, len(index))
    for t in range(1, len(index)):
        noise[t] = 0.9 * noise[t - 1] + shocks[t]
    return pd.Series(1000 * np.exp(shape(index, holiday_effect) + noise), index=index)


def test_hourly_holidays_take_a_sundays_shape_and_are_forecast_so() -> None:
    series = load(seed=0, holiday_effect=True)
    model = LoadForecaster().fit(series)
    assert model.metadata_["holidays"] == [AS_SUNDAY]
    assert "holidays[US:as Sunday]" in model.describe()
    assert model.holiday_effects_.coef[0] == pytest.approx(1.0, abs=0.25)
    fc = model.forecast(48).to_frame().set_index("timestamp")["mean"]
    # Thanksgiving 2019-11-28 14:00 is 38 steps ahead: a Sunday's afternoon, not a Thursday's
    ordinary = np.exp(shape(pd.DatetimeIndex(["2019-11-21 14:00"]), False))[0] * 1000
    sunday = np.exp(shape(pd.DatetimeIndex(["2019-11-24 14:00"]), False))[0] * 1000
    got = fc[pd.Timestamp("2019-11-28 14:00")]
    assert abs(got - sunday) < 0.35 * abs(ordinary - sunday)
    plain = LoadForecaster(holidays=None).fit(series).forecast(48)
    without = plain.to_frame().set_index("timestamp")["mean"][pd.Timestamp("2019-11-28 14:00")]
    assert abs(without - ordinary) < 0.35 * abs(ordinary - sunday)


@pytest.mark.parametrize("seed", range(3))
def test_hourly_load_without_holiday_effects_gets_none(seed: int) -> None:
    model = LoadForecaster().fit(load(seed=seed, holiday_effect=False))
    assert model.metadata_["holidays"] == [] and "holidays" not in model.describe()


def test_the_pooled_choice_rejects_noise_and_keeps_a_real_pull() -> None:
    index = pd.date_range("2018-06-01", periods=24 * 7 * 26, freq="1h")
    positions = time_positions(index, 3600.0)
    week = np.array([shape(pd.date_range("2018-06-04", periods=24, freq="1h")
                           + pd.Timedelta(days=w), False) for w in range(7)])
    profile = week[6] - week  # a Sunday's shape less each weekday's
    entered = 0
    for seed in range(100):
        rng = np.random.default_rng(seed)
        noise = np.zeros(len(index))
        shocks = rng.normal(0, 0.015, len(index))
        for t in range(1, len(index)):
            noise[t] = 0.9 * noise[t - 1] + shocks[t]
        noise += np.repeat(np.cumsum(rng.normal(0, 0.01, len(index) // 24)), 24)
        effects, _ = choose_as_sunday(noise, positions, 3600.0, "US", profile)
        entered += bool(effects.names)
    assert entered <= 2
    pulled = noise + (shape(index, True) - shape(index, False))
    effects, score = choose_as_sunday(pulled, positions, 3600.0, "US", profile)
    assert effects.names == (AS_SUNDAY,) and score > 5
    assert effects.coef[0] == pytest.approx(1.0, abs=0.25)
    # no weekly shape: every day is alike, nothing to draw a holiday towards
    assert choose_as_sunday(pulled, positions, 3600.0, "US", 0 * profile)[0].names == ()


def test_steps_under_an_hour_never_get_holidays() -> None:
    series = load(seed=1, holiday_effect=True, weeks=16, freq="30min")
    assert LoadForecaster(max_history=None).fit(series).metadata_["holidays"] == []
    hourly = series.resample("1h").mean()
    assert LoadForecaster(max_history=None).fit(hourly).metadata_["holidays"] == [AS_SUNDAY]


def test_save_load_keeps_the_sunday_profile(tmp_path: Path) -> None:
    model = LoadForecaster().fit(load(seed=2, holiday_effect=True))
    assert model.metadata_["holidays"] == [AS_SUNDAY]
    loaded = LoadForecaster.load(model.save(tmp_path / "h.joblib"))
    assert loaded.describe() == model.describe()
    np.testing.assert_allclose(loaded.forecast(72).mean, model.forecast(72).mean, rtol=1e-10)


MINOR = ("Martin Luther King Jr. Day", "Washington's Birthday", "Columbus Day", "Veterans Day")


def mixed_shape(index: pd.DatetimeIndex, minor_too: bool) -> np.ndarray:
    """``shape`` with Sunday's shape on US holidays, the four minor ones only if asked."""
    weekday = index.day_of_week.to_numpy().copy()
    public = holiday_calendars.country_holidays("US", years=range(index.year[0],
                                                                  index.year[-1] + 1))
    for i, day in enumerate(index):
        name = public.get(day.date())
        if name is not None and (minor_too or not name.startswith(MINOR)):
            weekday[i] = 6
    hour = index.hour.to_numpy().astype(float)
    peak = np.where(weekday < 5, 0.35, np.where(weekday == 5, 0.2, 0.1))
    return peak * np.exp(-((hour - 14) ** 2) / 18) - np.where(weekday == 6, 0.08, 0.0)


def ar_noise(seed: int, n: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shocks = rng.normal(0, 0.015, n)
    noise = np.zeros(n)
    for t in range(1, n):
        noise[t] = 0.9 * noise[t - 1] + shocks[t]
    return noise


def sunday_minus_each_day() -> np.ndarray:
    """The simulated week's Sunday shape less each day's (7 x 24): the as-Sunday profile."""
    week = np.array([shape(pd.date_range("2018-06-04", periods=24, freq="1h")
                           + pd.Timedelta(days=w), False) for w in range(7)])
    return week[6] - week


def test_holidays_that_differ_get_pulls_of_their_own() -> None:
    index = pd.date_range("2018-01-01", "2018-11-15 23:00", freq="1h")
    positions = time_positions(index, 3600.0)
    profile = sunday_minus_each_day()
    plain = mixed_shape(index, minor_too=False) - shape(index, False)
    effects, _ = choose_as_sunday(ar_noise(0, len(index)) + plain, positions, 3600.0, "US",
                                  profile)
    assert effects.names[0] == AS_SUNDAY and "as Sunday, " in effects.describe()
    own = dict(zip(effects.names[1:], effects.coef[1:], strict=True))
    for name in ("Columbus Day", "Martin Luther King Jr. Day", "Washington's Birthday"):
        assert own[name] == pytest.approx(0.0, abs=0.25)
    for name in ("Memorial Day", "Independence Day", "Labor Day"):
        assert own[name] == pytest.approx(1.0, abs=0.25)
    # the regression draws each holiday by its own pull: Columbus Day stays a Monday
    columbus = (index >= "2018-10-08") & (index < "2018-10-09")
    assert np.abs(effects_regression(effects, positions, 3600.0)[columbus]).max() < 0.05
    labor = (index >= "2018-09-03") & (index < "2018-09-04")
    assert np.abs(effects_regression(effects, positions, 3600.0)[labor]).max() > 0.2
    # a holiday the window never saw keeps the pooled pull
    assert "Thanksgiving Day" not in effects.names
    later = time_positions(pd.date_range("2018-11-22", periods=24, freq="1h"), 3600.0)
    expected = profile[3] * effects.coef[0]
    np.testing.assert_allclose(effects_regression(effects, later, 3600.0), expected)


def test_holidays_with_one_pull_share_it() -> None:
    index = pd.date_range("2018-01-01", "2018-12-31 23:00", freq="1h")
    positions = time_positions(index, 3600.0)
    profile = sunday_minus_each_day()
    alike = mixed_shape(index, minor_too=True) - shape(index, False)
    own = 0
    for seed in range(40):
        effects, _ = choose_as_sunday(ar_noise(seed, len(index)) + alike, positions, 3600.0,
                                      "US", profile)
        assert effects.names[0] == AS_SUNDAY
        own += len(effects.names) > 1
    assert own <= 2


def test_a_holiday_seen_last_year_is_forecast_by_its_own_pull(tmp_path: Path) -> None:
    index = pd.date_range("2017-01-01", "2018-10-07 23:00", freq="1h")
    series = pd.Series(1000 * np.exp(mixed_shape(index, minor_too=False)
                                     + ar_noise(3, len(index))), index=index)
    model = LoadForecaster(max_history=None).fit(series)
    assert "Columbus Day" in model.metadata_["holidays"]
    assert model.metadata_["holidays"][0] == AS_SUNDAY
    assert ", " in model.describe() and " own]" in model.describe()
    assert any(note.startswith("own pulls: ") for note in model.metadata_["notes"])
    fc = model.forecast(24).to_frame().set_index("timestamp")["mean"]
    stamp = pd.Timestamp("2018-10-08 14:00")  # Columbus Day, a Monday as it was in 2017
    ordinary = 1000 * np.exp(shape(pd.DatetimeIndex([stamp]), False))[0]
    sunday = 1000 * np.exp(shape(pd.DatetimeIndex(["2018-10-07 14:00"]), False))[0]
    # one past Columbus Day estimates its pull with a single day's noise (0.31 here)
    own = dict(zip(model.holiday_effects_.names, model.holiday_effects_.coef, strict=True))
    assert own["Columbus Day"] < 0.5 < own["Labor Day"]
    assert abs(fc[stamp] - ordinary) < 0.5 * abs(ordinary - sunday)
    loaded = LoadForecaster.load(model.save(tmp_path / "own.joblib"))
    assert loaded.describe() == model.describe()
    assert loaded.metadata_["holidays"] == model.metadata_["holidays"]
    np.testing.assert_allclose(loaded.forecast(48).mean, model.forecast(48).mean, rtol=1e-10)


def test_last_years_holiday_before_the_default_window_gives_its_own_pull() -> None:
    # 8064 hourly points (48 weeks) end before last year's Columbus Day: the pulls are
    # also read on the points before the window, so it is forecast as the Monday it was
    index = pd.date_range("2017-01-01", "2018-10-07 23:00", freq="1h")
    series = pd.Series(1000 * np.exp(mixed_shape(index, minor_too=False)
                                     + ar_noise(3, len(index))), index=index)
    model = LoadForecaster().fit(series)
    assert model.history_.index[0] > pd.Timestamp("2017-10-09")
    own = dict(zip(model.holiday_effects_.names, model.holiday_effects_.coef, strict=True))
    assert own["Columbus Day"] < 0.5 < own["Labor Day"]
    assert any("points before it" in note for note in model.metadata_["notes"])
    stamp = pd.Timestamp("2018-10-08 14:00")
    ordinary = 1000 * np.exp(shape(pd.DatetimeIndex([stamp]), False))[0]
    sunday = 1000 * np.exp(shape(pd.DatetimeIndex(["2018-10-07 14:00"]), False))[0]
    fc = model.forecast(24).to_frame().set_index("timestamp")["mean"]
    assert abs(fc[stamp] - ordinary) < 0.5 * abs(ordinary - sunday)
    # with nothing before the window the pooled pull stays (the old behaviour)
    alone = LoadForecaster().fit(series.iloc[-8064:])
    assert "Columbus Day" not in alone.metadata_["holidays"]


def test_a_day_observed_in_lieu_is_drawn_by_its_holidays_own_pull() -> None:
    from forecaster.holiday_effects import HolidayEffects

    profile = sunday_minus_each_day()
    effects = HolidayEffects("US", (AS_SUNDAY, "Veterans Day", "Independence Day"),
                             np.array([0.6, 0.0, 1.0]), profile)

    def drawn(day: str) -> np.ndarray:
        stamps = pd.date_range(day, periods=24, freq="1h")
        return effects_regression(effects, time_positions(stamps, 3600.0), 3600.0)

    # Friday 2017-11-10 stands in for Saturday's Veterans Day, a working day here
    np.testing.assert_allclose(drawn("2017-11-10"), 0.0)
    # Friday 2020-07-03 stands in for Saturday's Independence Day, a Sunday here
    np.testing.assert_allclose(drawn("2020-07-03"), profile[4])
    # a holiday without a pull of its own keeps the pooled one, in lieu or not
    np.testing.assert_allclose(drawn("2016-12-26"), 0.6 * profile[0])
