"""Daily rows across clock changes, the cases a new user's exports bring.

Zones whose daylight-saving time starts at midnight (America/Sao_Paulo until
2019, America/Santiago, America/Asuncion) have no midnight on that day: a date
written there is read as the day's first minute, and exports of local midnight
write the time the clock jumps to (01:00).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecaster.cells import SeriesError
from forecaster.io import read_series

# 2018-11-04: Sao Paulo's clock went from 00:00 -03:00 to 01:00 -02:00
SAO_PAULO_DAYS = pd.date_range("2018-10-20", periods=30, freq="D")


def write(tmp_path: Path, stamps: list[str], values: list[float] | None = None) -> Path:
    values = values if values is not None else [100.0 + i for i in range(len(stamps))]
    path = tmp_path / "daily.csv"
    path.write_text("timestamp,value\n" + "".join(f"{t},{v}\n" for t, v in zip(
        stamps, values, strict=True)))
    return path


def sao_paulo_midnights() -> list[str]:
    """Local midnight of each day as an export writes it (01:00 when midnight is skipped)."""
    local = SAO_PAULO_DAYS.tz_localize("America/Sao_Paulo", nonexistent="shift_forward")
    return [t.isoformat() for t in local]


def test_dates_with_tz_where_midnight_is_skipped_are_calendar_days(tmp_path: Path) -> None:
    path = write(tmp_path, [f"{d:%Y-%m-%d}" for d in SAO_PAULO_DAYS])
    for freq in (None, "1D"):
        series = read_series(path, tz="America/Sao_Paulo", freq=freq, agg="mean")
        assert list(series.index) == list(SAO_PAULO_DAYS)
        assert list(series) == [100.0 + i for i in range(30)]


def test_offset_rows_where_midnight_is_skipped_are_calendar_days(tmp_path: Path) -> None:
    stamps = sao_paulo_midnights()
    assert stamps[15] == "2018-11-04T01:00:00-02:00"
    path = write(tmp_path, stamps)
    series = read_series(path)
    assert series.index.tz is None
    assert list(series.index) == list(SAO_PAULO_DAYS)
    assert list(series) == [100.0 + i for i in range(30)]
    # newest first, as some exports write them
    newest_first = write(tmp_path, stamps[::-1], [100.0 + i for i in range(30)][::-1])
    assert list(read_series(newest_first).index) == list(SAO_PAULO_DAYS)


def test_a_row_off_the_usual_time_is_still_an_error(tmp_path: Path) -> None:
    # 01:00 on an ordinary day is no skipped midnight
    stamps = sao_paulo_midnights()
    stamps[5] = stamps[5].replace("T00:00:00", "T01:00:00")
    with pytest.raises(SeriesError, match="irregular timestamps"):
        read_series(write(tmp_path, stamps))
    # a time the clock skips that is not where the jump starts stays an error with --tz
    days = pd.date_range("2024-03-20", periods=20, freq="D") + pd.Timedelta("2h30min")
    path = write(tmp_path, [f"{d:%Y-%m-%d %H:%M}" for d in days])
    with pytest.raises(SeriesError, match="does not exist in Europe/Berlin"):
        read_series(path, tz="Europe/Berlin")


@pytest.mark.parametrize("zone", ["Australia/Sydney", "America/St_Johns", "Asia/Kathmandu",
                                  "Europe/London"])
def test_local_midnights_with_offsets_are_calendar_days(tmp_path: Path, zone: str) -> None:
    days = pd.date_range("2023-03-01", periods=240, freq="D")
    stamps = [t.isoformat().replace("+00:00", "Z") for t in days.tz_localize(zone)]
    series = read_series(write(tmp_path, stamps))
    assert list(series.index.tz_localize(None)) == list(days)
    assert np.array_equal(series.to_numpy(), 100.0 + np.arange(240))


def berlin_midnights_with_a_stray_row() -> tuple[list[str], pd.DatetimeIndex]:
    days = pd.date_range("2023-03-01", periods=60, freq="D")
    stamps = [t.isoformat() for t in days.tz_localize("Europe/Berlin")]
    stamps[40] = stamps[40].replace("T00:00:00", "T00:05:00")  # 2023-04-10, line 42
    return stamps, days


def test_one_row_off_midnight_keeps_the_others_on_their_local_days(tmp_path: Path) -> None:
    stamps, days = berlin_midnights_with_a_stray_row()
    path = write(tmp_path, stamps)
    series = read_series(path, freq="1D", agg="mean")
    # on one clock (+02:00, the last row's) March's midnights were 23:00 the day before:
    # 2023-03-25 was 2023-03-24 and 2023-03-26 the mean of two days
    assert list(series.index) == list(days)
    assert list(series) == [100.0 + i for i in range(60)]
    # without --freq the message names the stray row, not the clock change
    with pytest.raises(SeriesError, match=r"2023-04-10 00:05:00 is .* \(lines 42, 43\)"):
        read_series(path)


def test_rows_at_several_times_of_day_keep_one_clock(tmp_path: Path) -> None:
    # twelve-hourly rows across the change are no calendar days
    stamps = pd.date_range("2023-03-20", periods=40, freq="12h", tz="Europe/Berlin")
    series = read_series(write(tmp_path, [t.isoformat() for t in stamps]), freq="12h",
                         agg="mean")
    assert series.index.tz is not None


def test_freq_in_weeks_is_read_as_days(tmp_path: Path) -> None:
    days = pd.date_range("2024-01-01", periods=70, freq="D")
    path = tmp_path / "daily.csv"
    pd.DataFrame({"timestamp": days.strftime("%Y-%m-%d"), "value": 1}).to_csv(path, index=False)
    weekly = read_series(path, freq="1W", min_points=2)
    assert list(weekly) == [7.0] * 10
    assert weekly.index[1] - weekly.index[0] == pd.Timedelta(days=7)
    assert "--freq 1W read as 7D" in weekly.attrs["notes"][0]
    assert list(read_series(path, freq="2W", min_points=2)) == [14.0] * 5


def test_fit_on_zoned_dates_across_clock_changes_says_to_pass_dates() -> None:
    from forecaster import LoadForecaster

    days = pd.date_range("2024-03-01", periods=60, freq="D", tz="Europe/Berlin")
    series = pd.Series(100.0 + np.arange(60) % 7, index=days)
    with pytest.raises(SeriesError, match=r"Berlin fall at one time of day .*series.tz_localize"):
        LoadForecaster().fit(series)
    assert LoadForecaster().fit(series.tz_localize(None)).forecast(3).timestamps[0] == (
        pd.Timestamp("2024-04-30")
    )
