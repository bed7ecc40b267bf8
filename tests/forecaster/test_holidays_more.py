"""Holiday regressors as a demanding user meets them: offsets, year ends, other
countries' observed days, far horizons, save -> load -> update."""

from __future__ import annotations

import re
from pathlib import Path

import holidays as holiday_calendars
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from controller.cli import main
from forecaster import LoadForecaster
from forecaster.holiday_effects import OBSERVED, check_country, day_names
from forecaster.seasonality import time_positions

WEEKLY = np.array([1.0, 1.02, 1.01, 1.0, 0.97, 0.62, 0.55])  # Monday .. Sunday


def daily_load(end: str, days: int = 366, seed: int = 3) -> pd.Series:
    """Daily counts with a weekly shape, 3 % noise and a 35 % drop on US public holidays."""
    rng = np.random.default_rng(seed)
    index = pd.date_range(end=end, periods=days, freq="D")
    public = holiday_calendars.country_holidays("US", years=range(index.year[0], 2031))
    on_holiday = np.array([day.date() in public for day in index])
    level = 12000 * WEEKLY[index.day_of_week] * np.where(on_holiday, 0.65, 1.0)
    return pd.Series(np.round(level * np.exp(rng.normal(0, 0.03, days))), index=index)


@pytest.mark.parametrize("country", ["US", "GB", "DE", "FR", "IN", "JP", "BR"])
def test_a_day_is_named_alike_whatever_the_years_around_it(country: str) -> None:
    # observed days of one year's holiday fall in another (US 2021-12-31 for 2022's
    # New Year's Day): the name of a day must not depend on the window it is read in
    days = pd.date_range("2015-12-01", "2023-01-31", freq="D")
    positions = time_positions(days, 86400.0)
    whole = day_names(positions, 86400.0, country)
    for i in range(0, len(days), 17):
        assert day_names(positions[i:i + 1], 86400.0, country) == whole[i:i + 1]
    if country == "US":
        assert whole[days.get_loc(pd.Timestamp("2021-12-31"))] == OBSERVED


@pytest.mark.parametrize("offset", ["+05:30", "-03:30", "+05:45", "+01:00"])
def test_fixed_offset_days_get_the_holidays_of_their_own_dates(offset: str) -> None:
    naive = daily_load("2021-11-20")
    stamps = pd.DatetimeIndex([pd.Timestamp(f"{d:%Y-%m-%d}T00:00:00{offset}") for d in naive.index])
    plain = LoadForecaster().fit(naive)
    zoned = LoadForecaster().fit(pd.Series(naive.to_numpy(), index=stamps))
    assert zoned.metadata_["holidays"] == plain.metadata_["holidays"]
    assert "Thanksgiving Day" in zoned.metadata_["holidays"]
    assert np.allclose(zoned.forecast(40).mean, plain.forecast(40).mean, rtol=1e-9)


def test_a_far_horizon_marks_holidays_of_years_never_fitted() -> None:
    model = LoadForecaster().fit(daily_load("2021-11-20"))
    fc = model.forecast(400).to_frame().set_index("timestamp")["mean"]
    # Thanksgiving 2022 is a Thursday 369 days after the end of the series
    ratio = fc[pd.Timestamp("2022-11-24")] / fc[pd.Timestamp("2022-11-17")]
    assert 0.5 < ratio < 0.8


def test_save_load_update_across_the_year_end_equals_updating_the_fitted_model(
    tmp_path: Path,
) -> None:
    series = daily_load("2022-01-15", days=400)
    fit, new = series.iloc[:-40], series.iloc[-40:]  # 2021-12-07 .. 2022-01-15
    fitted = LoadForecaster().fit(fit)
    assert {"Christmas Day", "New Year's Day"} <= set(fitted.metadata_["holidays"])
    loaded = LoadForecaster.load(fitted.save(tmp_path / "m.joblib")).update(new)
    for i in range(len(new)):  # one point at a time, as the control loop does
        fitted.update(new.iloc[i:i + 1])
    assert np.allclose(loaded.forecast(30).loc, fitted.forecast(30).loc, rtol=0, atol=1e-12)
    reloaded = LoadForecaster.load(loaded.save(tmp_path / "updated.joblib"))
    assert np.allclose(reloaded.forecast(30).loc, fitted.forecast(30).loc, rtol=0, atol=1e-9)


def test_a_short_daily_series_starting_on_a_holiday_fits_and_forecasts() -> None:
    series = daily_load("2022-01-13", days=20)  # from Christmas Day 2021
    model = LoadForecaster().fit(series)
    fc = model.forecast(400)
    assert np.isfinite(fc.mean).all() and (fc.mean > 0).all()
    assert fc.mean.max() < 3 * series.max()


def bavarian_load(seed: int = 4, end: str = "2021-11-20", days: int = 730) -> pd.Series:
    """Daily counts with a 35 % drop on Bavaria's public holidays (DE-BY)."""
    rng = np.random.default_rng(seed)
    index = pd.date_range(end=end, periods=days, freq="D")
    public = holiday_calendars.country_holidays("DE", subdiv="BY", years=range(2019, 2023))
    on_holiday = np.array([day.date() in public for day in index])
    level = 12000 * WEEKLY[index.day_of_week] * np.where(on_holiday, 0.65, 1.0)
    return pd.Series(np.round(level * np.exp(rng.normal(0, 0.03, days))), index=index)


def test_a_subdivision_gets_its_own_holidays_and_keeps_them_through_save(
    tmp_path: Path,
) -> None:
    series = bavarian_load()
    bavaria = LoadForecaster(holidays="de-by").fit(series)
    chosen = set(bavaria.metadata_["holidays"])
    # Epiphany and Corpus Christi are Bavarian, not German, public holidays
    assert {"Epiphany", "Corpus Christi", "Christmas Day"} <= chosen
    assert "holidays[DE-BY:" in bavaria.describe()
    assert "DE-BY holidays with their own regressor" in " ".join(bavaria.metadata_["notes"])
    germany = LoadForecaster(holidays="DE").fit(series)
    assert not {"Epiphany", "Corpus Christi"} & set(germany.metadata_["holidays"])
    loaded = LoadForecaster.load(bavaria.save(tmp_path / "by.joblib"))
    assert loaded.describe() == bavaria.describe()
    fc = loaded.forecast(60).to_frame().set_index("timestamp")["mean"]
    # Epiphany 2022 is a Thursday; the Thursday before is 2021-12-30
    assert fc[pd.Timestamp("2022-01-06")] / fc[pd.Timestamp("2021-12-30")] < 0.8
    np.testing.assert_allclose(fc.to_numpy(), bavaria.forecast(60).mean, rtol=1e-10)


@pytest.mark.parametrize(
    ("code", "expected"),
    [("US-CA", "US-CA"), ("gb-sct", "GB-SCT"), (" de-by ", "DE-BY"), ("FR-zone a", "FR-Zone A")],
)
def test_subdivision_codes_are_read_as_python_holidays_spells_them(
    code: str, expected: str
) -> None:
    assert check_country(code) == expected


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("DE-XX", "unknown subdivision 'XX' of DE (known: DE-BB, DE-BE"),
        ("US-", "unknown subdivision '' of US (known: US-AK"),
        ("IS-1", "country IS has no subdivisions (use 'IS')"),
        ("XX-BY", "unknown country code 'XX-BY'"),
    ],
)
def test_unknown_subdivisions_are_clear_errors_naming_the_option(
    tmp_path: Path, code: str, message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        LoadForecaster(holidays=code).fit(daily_load("2021-11-20", days=60))
    path = tmp_path / "daily.csv"
    daily_load("2021-11-20", days=60).rename_axis("timestamp").rename("value").reset_index(
    ).to_csv(path, index=False)
    for command in (["forecast", "predict", "--horizon", "3", "--out", str(tmp_path / "p.csv")],
                    ["train", "forecaster", "--out", str(tmp_path / "m.joblib")]):
        result = CliRunner().invoke(main, [*command, "--csv", str(path), "--holidays", code])
        assert result.exit_code == 2 and "'--holidays'" in result.output, result.output
        assert message in result.output.replace("\n", " ").replace("  ", " ")
    assert not (tmp_path / "p.csv").exists() and not (tmp_path / "m.joblib").exists()
