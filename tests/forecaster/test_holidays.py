"""Holiday regressors for daily series: chosen when the days stand out, never otherwise."""

from __future__ import annotations

from pathlib import Path

import holidays as holiday_calendars
import joblib
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from controller.cli import main
from forecaster import LoadForecaster
from forecaster.holiday_effects import check_country, choose_effects
from forecaster.seasonality import time_positions

WEEKLY = np.array([1.0, 1.02, 1.01, 1.0, 0.97, 0.62, 0.55])  # Monday .. Sunday


def daily_load(seed: int, drop: float, end: str = "2019-11-20", days: int = 730) -> pd.Series:
    """Daily counts with a weekly shape, 3 % noise and ``drop`` off on US public holidays."""
    rng = np.random.default_rng(seed)
    index = pd.date_range(end=end, periods=days, freq="D")
    public = holiday_calendars.country_holidays("US", years=range(index.year[0], 2021))
    on_holiday = np.array([day.date() in public for day in index])
    level = 12000 * WEEKLY[index.day_of_week] * np.where(on_holiday, 1 - drop, 1.0)
    return pd.Series(np.round(level * np.exp(rng.normal(0, 0.03, days))), index=index)


def test_holidays_that_stand_out_get_a_regressor_and_are_forecast() -> None:
    model = LoadForecaster().fit(daily_load(seed=1, drop=0.35))
    chosen = set(model.metadata_["holidays"])
    assert {"Thanksgiving Day", "Christmas Day", "Independence Day", "Labor Day"} <= chosen
    assert "holidays[US:" in model.describe()
    fc = model.forecast(12).to_frame().set_index("timestamp")["mean"]
    # Thanksgiving 2019 is the Thursday eight days after the end of the series
    ratio = fc[pd.Timestamp("2019-11-28")] / fc[pd.Timestamp("2019-11-21")]
    assert 0.55 < ratio < 0.75

    plain = LoadForecaster(holidays=None).fit(daily_load(seed=1, drop=0.35))
    assert plain.metadata_["holidays"] == [] and "holidays" not in plain.describe()
    fc = plain.forecast(12).to_frame().set_index("timestamp")["mean"]
    assert fc[pd.Timestamp("2019-11-28")] / fc[pd.Timestamp("2019-11-21")] > 0.9


@pytest.mark.parametrize("seed", range(5))
def test_a_series_without_holiday_effects_gets_none(seed: int) -> None:
    model = LoadForecaster().fit(daily_load(seed=seed, drop=0.0))
    assert model.metadata_["holidays"] == []


def test_the_choice_rejects_noise_and_keeps_a_real_drop() -> None:
    index = pd.date_range("2001-01-01", periods=366, freq="D")
    positions = time_positions(index, 86400.0)
    noise_years = walk_years = 0
    for seed in range(100):
        noise = np.random.default_rng(seed).normal(size=366)
        noise_years += bool(choose_effects(noise, positions, 86400.0, "US").names)
        walk = np.cumsum(noise)
        walk_years += bool(choose_effects(walk, positions, 86400.0, "US").names)
    # ~0.5 % of noise years and ~7 % of random-walk years get one spurious holiday
    assert noise_years <= 4 and walk_years <= 15
    noise = np.random.default_rng(2).normal(size=366)
    christmas = index.get_loc(pd.Timestamp("2001-12-25"))
    noise[christmas] -= 8.0
    effects = choose_effects(noise, positions, 86400.0, "US")
    assert effects.names == ("Christmas Day",)
    assert effects.coef[0] == pytest.approx(-8.0, abs=1.0)


def test_hourly_steps_get_one_pooled_regressor_and_weekly_steps_none() -> None:
    daily = daily_load(seed=2, drop=0.35, days=400)
    hourly = daily.resample("1h").ffill() / 24
    model = LoadForecaster(max_history=None, max_history_days=None).fit(hourly)
    # per-holiday regressors are for daily steps; hourly ones get the pooled one
    assert model.metadata_["holidays"] == ["public holidays as Sunday"]
    weekly = daily.resample("7D").sum()
    assert LoadForecaster().fit(weekly).metadata_["holidays"] == []


def test_save_load_keeps_the_holiday_regressors(tmp_path: Path) -> None:
    model = LoadForecaster().fit(daily_load(seed=3, drop=0.35))
    assert model.metadata_["holidays"]
    path = model.save(tmp_path / "m.joblib")
    loaded = LoadForecaster.load(path)
    np.testing.assert_allclose(loaded.forecast(40).mean, model.forecast(40).mean, rtol=1e-10)
    # a model saved before holiday regressors existed loads without them
    state = joblib.load(path)
    del state["holidays"]
    joblib.dump(state, path)
    old = LoadForecaster.load(path)
    assert old.holiday_effects_.names == () and np.isfinite(old.forecast(12).mean).all()


def test_unknown_country_is_a_clear_error(tmp_path: Path) -> None:
    assert check_country(" gb ") == "GB"
    with pytest.raises(ValueError, match="unknown country code 'XX'"):
        LoadForecaster(holidays="XX").fit(daily_load(seed=0, drop=0.0, days=60))
    path = tmp_path / "daily.csv"
    daily_load(seed=0, drop=0.35).rename_axis("timestamp").rename("value").reset_index().to_csv(
        path, index=False
    )
    runner = CliRunner()
    out = tmp_path / "p.csv"
    args = ["forecast", "predict", "--csv", str(path), "--horizon", "3", "--out", str(out)]
    result = runner.invoke(main, [*args, "--holidays", "XX"])
    assert result.exit_code == 2 and "'--holidays'" in result.output
    assert "unknown country code 'XX'" in result.output and not out.exists()
    result = runner.invoke(main, [*args, "--holidays", "none"])
    assert result.exit_code == 0 and "holidays[" not in result.output
    result = runner.invoke(main, args)
    assert result.exit_code == 0 and "holidays[US:" in result.output
    assert "US holidays with their own regressor: " in result.output


def test_seasonal_arima_keeps_the_holiday_regressors() -> None:
    # a weekly shape that wanders (a seasonal random walk) makes seasonal ARIMA win
    rng = np.random.default_rng(0)
    index = pd.date_range(end="2019-11-20", periods=366, freq="D")
    x = np.zeros(len(index))
    x[:7] = rng.normal(0, 0.3, 7)
    steps = rng.normal(0, 0.05, len(index))
    for t in range(7, len(index)):
        x[t] = x[t - 7] + steps[t]
    public = holiday_calendars.country_holidays("US", years=[2018, 2019])
    on_holiday = np.array([day.date() in public for day in index])
    series = pd.Series(np.round(10000 * np.exp(x) * np.where(on_holiday, 0.6, 1.0)), index=index)
    model = LoadForecaster().fit(series)
    assert model.describe().startswith("SARIMA(") and "holidays[US:" in model.describe()
    assert "Thanksgiving Day" in model.metadata_["holidays"]
    fc = model.forecast(12).to_frame().set_index("timestamp")["mean"]
    assert fc[pd.Timestamp("2019-11-28")] / fc[pd.Timestamp("2019-11-21")] < 0.7


def test_train_fits_daily_rows_with_an_offset_on_their_local_dates(tmp_path: Path) -> None:
    series = daily_load(seed=1, drop=0.35)
    naive, east = tmp_path / "naive.csv", tmp_path / "east.csv"
    frame = series.rename_axis("timestamp").rename("value").reset_index()
    frame.to_csv(naive, index=False)
    frame.assign(timestamp=frame["timestamp"].dt.strftime("%Y-%m-%dT00:00:00+05:30")).to_csv(
        east, index=False
    )
    runner = CliRunner()
    for path in (naive, east):
        result = runner.invoke(main, ["train", "forecaster", "--csv", str(path), "--out",
                                      str(path.with_suffix(".joblib"))])
        assert result.exit_code == 0, result.output
    assert "fitted as local dates" in result.output
    fitted = [LoadForecaster.load(p.with_suffix(".joblib")) for p in (naive, east)]
    assert fitted[0].metadata_["holidays"] == fitted[1].metadata_["holidays"] != []
    np.testing.assert_allclose(fitted[0].forecast(12).mean, fitted[1].forecast(12).mean)
