"""Business-day series: rows on Monday to Friday only are forecast on weekdays only."""

from __future__ import annotations

from pathlib import Path

import holidays as holiday_calendars
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from controller.cli import main
from forecaster import LoadForecaster, SeriesError, busdays, read_series
from forecaster.backtest import rolling_origin
from forecaster.path import forecast_path
from forecaster.regular import filled_mask

# Monday .. Friday: settlement files peak on Monday (the weekend's payments) and fall to Friday
WEEKDAY = np.array([1.45, 1.0, 0.95, 0.92, 0.88])


def settlements(periods: int = 400, end: str | None = None, seed: int = 3,
                holiday_drop: float = 0.0) -> pd.Series:
    """Daily settlement counts on weekdays, with 4 % noise (and ``holiday_drop`` off on
    US public holidays that fall on a weekday, which stay as rows)."""
    rng = np.random.default_rng(seed)
    if end is None:
        index = pd.bdate_range("2022-01-03", periods=periods)
    else:
        index = pd.bdate_range(end=end, periods=periods)
    public = holiday_calendars.country_holidays("US", years=range(index.year[0], 2026))
    on_holiday = np.array([day.date() in public for day in index])
    level = 50000 * WEEKDAY[index.day_of_week] * np.where(on_holiday, 1 - holiday_drop, 1.0)
    values = np.round(level * np.exp(rng.normal(0, 0.04, len(index))))
    return pd.Series(values, index=index)


def write(series: pd.Series, path: Path, drop: tuple[str, ...] = ()) -> Path:
    kept = series.drop(pd.DatetimeIndex(list(drop))) if drop else series
    pd.DataFrame({"timestamp": kept.index.strftime("%Y-%m-%d"), "value": kept.to_numpy()}).to_csv(
        path, index=False
    )
    return path


def test_positions_count_weekdays_and_map_back_to_calendar_days() -> None:
    days = pd.bdate_range("2023-12-27", "2024-01-10")
    steps = busdays.positions(days)
    assert np.all(np.diff(steps) == 1)  # Friday -> Monday is one step
    calendar = (days - pd.Timestamp("1970-01-01")).days.to_numpy()
    assert np.array_equal(busdays.day_positions(steps), calendar)
    assert busdays.positions(pd.DatetimeIndex(["1970-01-01"]))[0] == 0  # a Thursday
    after = busdays.stamps_after(pd.Timestamp("2024-01-05 16:00", tz="America/New_York"), 2)
    assert list(after.strftime("%a %H:%M %z")) == ["Mon 16:00 -0500", "Tue 16:00 -0500"]


@pytest.mark.parametrize(
    ("index", "expected"),
    [
        (pd.bdate_range("2024-01-01", periods=40), True),
        (pd.bdate_range("2024-01-01", periods=15), False),  # three weeks: could be chance
        (pd.date_range("2024-01-01", periods=60, freq="D"), False),  # weekends present
        (pd.date_range("2024-01-01", periods=12, freq="7D"), False),  # weekly Mondays
        (pd.bdate_range("2024-01-01", periods=40) + pd.Timedelta(hours=1), True),
        (pd.date_range("2024-01-01", periods=600, freq="h")[::1], False),  # hourly
    ],
)
def test_business_daily_rows_are_recognised(index: pd.DatetimeIndex, expected: bool) -> None:
    assert busdays.looks_business_daily(index) is expected


def test_a_weekday_file_is_read_on_business_days_with_holidays_filled(tmp_path: Path) -> None:
    path = write(settlements(120), tmp_path / "s.csv", drop=("2022-01-17", "2022-02-21"))
    series = read_series(path)
    assert (series.index.day_of_week < 5).all()
    assert busdays.on_business_days(series)
    filled = series.index[filled_mask(series)]
    assert list(filled.strftime("%Y-%m-%d")) == ["2022-01-17", "2022-02-21"]
    notes = " | ".join(series.attrs["notes"])
    assert "read on business days" in notes and "2 business day(s) without a row" in notes


def test_freq_1d_keeps_calendar_days_and_freq_b_counts_weekday_events(tmp_path: Path) -> None:
    path = write(settlements(120), tmp_path / "s.csv")
    calendar = read_series(path, freq="1D")
    assert not busdays.on_business_days(calendar)
    assert (calendar[calendar.index.day_of_week >= 5] == 0).all()  # no payments: 0, not filled
    events = tmp_path / "events.csv"
    stamps = pd.bdate_range("2024-01-01", periods=30) + pd.Timedelta(hours=10)
    pd.DataFrame({"timestamp": np.repeat(stamps, 3).strftime("%Y-%m-%d %H:%M")}).to_csv(
        events, index=False)
    counts = read_series(events, freq="B", agg="count")
    assert busdays.on_business_days(counts) and (counts == 3).all()
    assert counts.index.equals(pd.bdate_range("2024-01-01", periods=30))


def test_freq_b_refuses_weekend_rows_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    days = pd.date_range("2024-01-01", periods=40, freq="D")
    pd.DataFrame({"timestamp": days.strftime("%Y-%m-%d"), "value": 1}).to_csv(path, index=False)
    saturday = r"--freq B: 2024-01-06 00:00:00 is a Saturday \(lines 7, 8, 14"
    with pytest.raises(SeriesError, match=saturday):
        read_series(path, freq="B")


def test_the_model_fits_the_five_day_week_and_forecasts_the_next_weekdays() -> None:
    series = settlements(400)  # ends on a Friday
    assert series.index[-1].day_name() == "Friday"
    model = LoadForecaster(holidays="none").fit(series)
    assert model.business_days_ and model.metadata_["business_days"]
    assert any(abs(p - 5) < 1e-9 for p in model.seasonal_periods_)
    fc = model.forecast(7).to_frame().set_index("timestamp")
    assert list(fc.index.day_name()[:3]) == ["Monday", "Tuesday", "Wednesday"]
    assert not (fc.index.day_of_week >= 5).any()
    # Monday's settlements (the weekend's payments) stand 1.45 / 0.88 above Friday's
    monday, friday = fc["mean"].iloc[0], fc["mean"].iloc[4]
    assert 1.35 < monday / friday < 1.8
    assert (fc["lo80"] < fc["mean"]).all() and (fc["mean"] < fc["hi80"]).all()


def test_update_save_load_and_forecast_path_stay_on_weekdays(tmp_path: Path) -> None:
    series = settlements(300)
    model = LoadForecaster(holidays="none").fit(series.iloc[:280])
    path_forecasts = forecast_path(model, series.iloc[280:], 5)
    model.update(series.iloc[280:])
    direct = model.forecast(5)
    assert direct.timestamps.equals(path_forecasts[-1].timestamps)
    np.testing.assert_allclose(direct.mean, path_forecasts[-1].mean, rtol=1e-9)
    saved = model.save(tmp_path / "m.joblib")
    loaded = LoadForecaster.load(saved)
    again = loaded.forecast(5)
    assert loaded.business_days_ and again.timestamps.equals(direct.timestamps)
    np.testing.assert_allclose(again.mean, direct.mean, rtol=1e-9)
    saturday = pd.Series([1.0], index=[series.index[-1] + pd.Timedelta(days=1)])
    assert saturday.index[0].day_name() == "Saturday"
    with pytest.raises(SeriesError, match="is a Saturday, but the series is on business days"):
        loaded.update(saturday)
    with pytest.raises(SeriesError, match="points must continue the fitted series"):
        forecast_path(loaded, saturday, 3)


def test_weekday_holidays_get_regressors_on_their_calendar_dates() -> None:
    series = settlements(800, end="2024-11-20", holiday_drop=0.4)
    model = LoadForecaster().fit(series)
    assert {"Thanksgiving Day", "Independence Day"} <= set(model.metadata_["holidays"])
    fc = model.forecast(6).to_frame().set_index("timestamp")["mean"]
    # Thanksgiving 2024 is Thursday 28 November; the Thursday before is 21 November
    ratio = fc[pd.Timestamp("2024-11-28")] / fc[pd.Timestamp("2024-11-21")]
    assert 0.5 < ratio < 0.7


def test_backtest_uses_the_five_day_season_and_beats_it() -> None:
    series = settlements(400)
    result = rolling_origin(series, horizon=5, origins=6,
                            make_model=lambda: LoadForecaster(holidays="none"))
    summary = result.summary
    assert summary["season"] == 5
    assert not (result.rows["timestamp"].dt.day_of_week >= 5).any()
    assert summary["model"]["mase"] < summary["seasonal_naive"]["mase"] * 1.1


def test_cli_predict_writes_weekday_rows_and_simulate_refuses_business_days(
        tmp_path: Path) -> None:
    path = write(settlements(300), tmp_path / "s.csv")
    out = tmp_path / "p.csv"
    runner = CliRunner()
    result = runner.invoke(main, ["forecast", "predict", "--csv", str(path), "--horizon", "6",
                                  "--out", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "read on business days" in result.output
    written = pd.read_csv(out, parse_dates=["timestamp"])
    assert list(written["timestamp"].dt.day_name()) == [
        "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Monday"]
    trained = runner.invoke(main, ["train", "forecaster", "--csv", str(path),
                                   "--out", str(tmp_path / "m.joblib")], catch_exceptions=False)
    assert trained.exit_code == 0 and "(step 1 business day)" in trained.output
    simulated = runner.invoke(main, ["simulate", "--trace", str(path), "--peak-nodes", "20",
                                     "--out", str(tmp_path / "r.json")])
    assert simulated.exit_code == 2 and "--freq 1D" in simulated.output
