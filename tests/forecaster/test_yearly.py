"""The yearly wave of daily load, read on the years before the one-year fit window."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster import LoadForecaster
from forecaster.backtest import rolling_origin
from forecaster.seasonality import time_positions
from forecaster.yearly import YEAR_SECONDS, fit_yearly


def daily_with_year(years: float = 4.0, amplitude: float = 0.5, seed: int = 3) -> pd.Series:
    """Daily counts: exp(level + a yearly sine (peak in mid-July) + a weekly dip + AR(1))."""
    rng = np.random.default_rng(seed)
    index = pd.date_range("2015-01-01", periods=int(years * 365.25), freq="D")
    ar = np.zeros(len(index))
    e = rng.normal(scale=0.05, size=len(index))
    for i in range(1, len(index)):
        ar[i] = 0.7 * ar[i - 1] + e[i]
    phase = 2 * np.pi * (index.day_of_year.to_numpy() - 105) / 365.25
    weekend = np.where(index.day_of_week.to_numpy() >= 5, -0.3, 0.0)
    z = np.log(5000.0) + amplitude * np.sin(phase) + weekend + ar
    return pd.Series(np.round(np.exp(z)), index=index, name="value")


@pytest.fixture(scope="module")
def spring() -> pd.Series:
    """Four years of daily load ending in early April, when the yearly wave rises fastest."""
    series = daily_with_year()
    return series.loc[: "2018-04-05"]


def test_daily_load_over_the_years_gets_a_yearly_wave_and_forecasts_its_rise(
    spring: pd.Series,
) -> None:
    model = LoadForecaster(holidays=None).fit(spring)
    assert "yearly[365.243x" in model.describe()
    assert any("yearly wave read on" in note for note in model.metadata_["notes"])
    # the window is still the last year (the weekly shape's drift), the wave its years before
    assert model.metadata_["n_points"] == 366
    wave = model.metadata_["yearly_wave"]
    assert wave["read_from"] == "2015-01-01T00:00:00" and 1 <= wave["harmonics"] <= 10
    fc = model.forecast(60)
    # the wave rises ~ 0.5 * (sin(+) - sin(-)) over the next 60 days: about x1.7 by early June
    days = pd.DatetimeIndex(fc.timestamps)
    true_z = np.log(5000.0) + 0.5 * np.sin(2 * np.pi * (days.day_of_year.to_numpy() - 105) / 365.25)
    weekdays = days.day_of_week.to_numpy() < 5
    ratio = np.exp(np.log(fc.mean[weekdays]) - true_z[weekdays])
    assert np.all((ratio > 0.8) & (ratio < 1.25))
    assert fc.mean[-1] > 1.5 * fc.mean[0]


def test_one_year_of_daily_load_or_a_flat_year_gets_no_wave(spring: pd.Series) -> None:
    one_year = LoadForecaster(holidays=None).fit(spring.iloc[-400:])
    assert "yearly" not in one_year.describe() and one_year.metadata_["yearly_wave"] is None
    flat = daily_with_year(amplitude=0.0)
    assert "yearly" not in LoadForecaster(holidays=None).fit(flat).describe()
    # explicit seasonal periods are the user's choice: no wave added to them
    fixed = LoadForecaster(holidays=None, seasonal_periods=[7]).fit(spring)
    assert "yearly" not in fixed.describe()


def test_fit_yearly_needs_two_years_and_finds_the_phase() -> None:
    series = daily_with_year(years=3.0)
    z = np.log(series.to_numpy())
    positions = time_positions(pd.DatetimeIndex(series.index), 86_400.0)
    notes: list[str] = []
    wave = fit_yearly(z, positions, 86_400.0, notes)
    assert wave.season is not None and wave.season.period == pytest.approx(YEAR_SECONDS / 86_400)
    assert "yearly wave read on 1095 points" in notes[0]
    peak = series.index[int(np.argmax(wave.at(positions)[:366]))]
    assert abs(peak.day_of_year - 196) <= 10  # mid-July
    short = fit_yearly(z[:700], positions[:700], 86_400.0, notes)
    assert short.season is None


def test_update_and_save_load_keep_the_wave(tmp_path, spring: pd.Series) -> None:
    full = daily_with_year()
    later = full.loc["2018-04-06":"2018-04-25"]
    model = LoadForecaster(holidays=None).fit(spring)
    model.update(later)
    loaded = LoadForecaster.load(model.save(tmp_path / "daily.joblib"))
    a, b = model.forecast(30), loaded.forecast(30)
    np.testing.assert_allclose(a.mean, b.mean, rtol=1e-9)
    np.testing.assert_allclose(a.hi95, b.hi95, rtol=1e-9)
    assert loaded.describe() == model.describe()
    # a refit reads the wave on the same years as a fit on everything seen (not only on
    # the window the model keeps as its history), also after a save and load
    loaded.refit()
    fresh = LoadForecaster(holidays=None).fit(full.loc[:"2018-04-25"])
    assert loaded.describe() == fresh.describe() and "yearly" in fresh.describe()
    np.testing.assert_allclose(loaded.forecast(30).mean, fresh.forecast(30).mean, rtol=1e-9)


def test_weekly_totals_get_the_wave_and_the_yearly_seasonal_naive_as_baseline() -> None:
    weekly = daily_with_year(years=6.0).resample("W-SUN").sum().iloc[1:-1]
    result = rolling_origin(weekly, horizon=12, origins=4,
                            make_model=lambda: LoadForecaster(holidays=None))
    assert "yearly[52.1775x" in result.summary["model"]["name"]
    # the seasonal naive of weekly totals is last year's week, not a periodogram period
    assert result.summary["season"] == 52


def test_hourly_fits_keep_no_older_points() -> None:
    # hourly load over two years: the window is the last year, and nothing before it is
    # kept in the model (or its file) since no yearly wave is read at sub-daily steps
    index = pd.date_range("2022-01-01", periods=2 * 8766, freq="h")
    hours = np.arange(len(index))
    values = 100 + 30 * np.sin(2 * np.pi * hours / 24) + 20 * np.sin(2 * np.pi * hours / 8766)
    model = LoadForecaster(max_history=None, holidays=None).fit(pd.Series(values, index=index))
    assert len(model.older_) == 0 and "yearly" not in model.describe()
