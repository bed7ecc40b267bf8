"""Local clocks: daylight-saving changes, --tz, changing offsets, zone abbreviations.

Split from test_io.py; the same small CSV builders.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecaster import SeriesError, read_series
from forecaster.regular import filled_mask
from tests.forecaster.test_io import series_text, write


def london_rows(start_utc: str, n: int, step: str = "1h", fmt: str = "naive") -> list[str]:
    """``n`` rows of Europe/London local time from ``start_utc``: naive wall clock
    (``fmt="naive"``) or ISO 8601 with the offset of the day."""
    stamps = pd.date_range(start_utc, periods=n, freq=step, tz="UTC").tz_convert("Europe/London")
    shown = [t.strftime("%Y-%m-%d %H:%M:%S") if fmt == "naive" else t.isoformat() for t in stamps]
    return [f"{t},{10 + i % 24}" for i, t in enumerate(shown)]


@pytest.mark.parametrize("step", ["1h", "30min"])
def test_local_time_ending_daylight_saving_says_to_pass_tz(tmp_path: Path, step: str) -> None:
    # the clock goes back 02:00 -> 01:00 on 2015-10-25: the hour repeats (hourly) or the
    # times run backwards (half-hourly); --freq would silently sum the two hours
    path = write(tmp_path, series_text(london_rows("2015-10-24", 60, step)))
    for freq in (None, "1h"):
        with pytest.raises(SeriesError, match=r"daylight-saving time ends; pass --tz") as err:
            read_series(path, freq=freq)
        assert "2015-10-25 01:00:00" in str(err.value) and "at line " in str(err.value)
    series = read_series(path, tz="Europe/London")
    assert len(series) == 60 and str(series.index.tz) == "Europe/London"
    assert (np.diff(series.index.asi8) == pd.Timedelta(step).value).all()
    assert series.index[-1] == pd.Timestamp("2015-10-24", tz="UTC") + 59 * pd.Timedelta(step)


def test_local_time_starting_daylight_saving_is_a_noted_gap_or_read_with_tz(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, series_text(london_rows("2015-03-28", 48)))
    series = read_series(path)  # 01:00 never happened: one step interpolated
    assert len(series) == 49 and filled_mask(series).sum() == 1
    assert any("1 step(s) without a row filled in" in n and "--tz" in n
               for n in series.attrs["notes"])
    series = read_series(path, tz="Europe/London")
    assert len(series) == 48 and not filled_mask(series).any() and series.attrs["notes"] == []
    with pytest.raises(SeriesError, match="does not exist in Europe/London") as err:
        read_series(write(tmp_path, series_text(["2015-03-29 01:00:00,1"] + london_rows(
            "2015-03-29 01:00", 30)[1:]), "skipped.csv"), tz="Europe/London")
    assert "line 2" in str(err.value)


def test_offsets_across_a_daylight_saving_change_keep_the_clock_the_file_ends_on(
    tmp_path: Path,
) -> None:
    spring = read_series(write(tmp_path, series_text(london_rows("2015-03-28", 48, fmt="iso"))))
    assert spring.index[-1].isoformat() == "2015-03-30T00:00:00+01:00"
    autumn = read_series(write(tmp_path, series_text(london_rows("2015-10-24", 48, fmt="iso"))))
    assert autumn.index[-1].isoformat() == "2015-10-25T23:00:00+00:00"
    assert (np.diff(spring.index.asi8) == 3600 * 10**9).all()
    newest_first = "timestamp,value\n" + "\n".join(london_rows("2015-03-28", 48, fmt="iso")[::-1])
    newest = read_series(write(tmp_path, newest_first, "desc.csv"))
    assert newest.index[-1].isoformat() == spring.index[-1].isoformat()


def test_tz_converts_offsets_and_unknown_zones_name_the_flag(tmp_path: Path) -> None:
    rows = [f"2024-07-01T{i:02d}:00:00Z,{i}" for i in range(20)]
    series = read_series(write(tmp_path, series_text(rows)), tz="Europe/London")
    assert series.index[0].isoformat() == "2024-07-01T01:00:00+01:00"
    with pytest.raises(SeriesError, match="unknown time zone 'Europe/Lndon'") as err:
        read_series(write(tmp_path, series_text(rows)), tz="Europe/Lndon")
    assert err.value.option == "--tz"


def test_daily_totals_of_a_local_clock_are_local_calendar_days(tmp_path: Path) -> None:
    # hourly London wall-clock counts (1 per hour) over the autumn change: 25 hours on the 25th
    rows = london_rows("2015-10-20 23:00", 24 * 20)
    text = series_text([r.rsplit(",", 1)[0] + ",1" for r in rows])
    for tz in (None, "Europe/London"):  # naive: the repeated hour belongs to the day's total
        series = read_series(write(tmp_path, text), freq="1D", tz=tz)
        assert series.index.tz is None and series.index[0] == pd.Timestamp("2015-10-21")
        assert series["2015-10-25"] == 25 and series["2015-10-24"] == 24
        assert series.index[-1] == pd.Timestamp("2015-11-09")  # 23 of 24 hours: scaled
        assert series.iloc[-1] == 24 and filled_mask(series)[-1]
    assert "local calendar days in Europe/London" in series.attrs["notes"][0]
    with pytest.raises(SeriesError, match="pass --tz"):
        read_series(write(tmp_path, text), freq="1h")  # would sum two hours into one bin


def test_zone_abbreviations_are_dropped_with_a_note_and_no_warnings(tmp_path: Path) -> None:
    stamps = pd.date_range("2024-03-30", periods=48, freq="1h", tz="UTC").tz_convert(
        "Europe/Berlin")
    path = write(tmp_path, "timestamp,value\n" + "".join(
        f"{t:%Y-%m-%d %H:%M:%S} {t.tzname()},{i}\n" for i, t in enumerate(stamps)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pandas warned once per row that it dropped 'CET'
        series = read_series(path)
        assert series.attrs["notes"][0].startswith("time zone names (CEST, CET) dropped")
        assert "pass --tz" in series.attrs["notes"][0] and len(series) == 49  # 02:00 filled
        series = read_series(path, tz="Europe/Berlin")
    assert len(series) == 48 and series.index[-1].isoformat() == "2024-04-01T01:00:00+02:00"
    ampm = [f"1/1/2024 {h % 12 or 12}:00 {'AM' if h < 12 else 'PM'},{h}" for h in range(24)]
    assert read_series(write(tmp_path, series_text(ampm), "ampm.csv")).attrs["notes"] == []


def test_a_daytime_duplicate_is_no_daylight_saving_change(tmp_path: Path) -> None:
    rows = [f"2024-05-10 {h:02d}:00:00,{h}" for h in range(24)]
    rows.insert(14, "2024-05-10 13:00:00,99")
    with pytest.raises(SeriesError, match="duplicated timestamp 2024-05-10 13:00:00 at line 16"):
        read_series(write(tmp_path, series_text(rows)))


def test_a_clock_going_back_outside_the_daylight_saving_months_is_no_such_change(
    tmp_path: Path,
) -> None:
    # NAB's machine_temperature goes back from 02:55 to 02:00 on 7 January 2014
    stamps = list(pd.date_range("2014-01-07 01:00", "2014-01-07 02:55", freq="5min")) + list(
        pd.date_range("2014-01-07 02:00", periods=30, freq="5min"))
    path = write(tmp_path, series_text([f"{t},{i}" for i, t in enumerate(stamps)]))
    with pytest.raises(SeriesError, match="timestamps not sorted: 2014-01-07 02:00:00 comes after"):
        read_series(path)


def berlin_midnights(n: int, fmt: str) -> list[str]:
    """``n`` daily rows at Europe/Berlin midnight from 2024-03-20, across the change of
    2024-03-31, with the day's own offset (``"offset"``) or in UTC (``"utc"``)."""
    days = pd.date_range("2024-03-20", periods=n, freq="D", tz="Europe/Berlin")
    shown = [d.isoformat() if fmt == "offset" else f"{d.tz_convert('UTC'):%Y-%m-%dT%H:%M:%SZ}"
             for d in days]
    return [f"{t},{100 + i}" for i, t in enumerate(shown)]


@pytest.mark.parametrize("freq", [None, "1D"])
def test_daily_rows_with_changing_offsets_are_local_calendar_days(tmp_path: Path, freq) -> None:
    path = write(tmp_path, series_text(berlin_midnights(30, "offset")))
    series = read_series(path, freq=freq)
    assert series.index.tz is None
    assert list(series.index) == list(pd.date_range("2024-03-20", periods=30, freq="D"))
    assert list(series) == [100.0 + i for i in range(30)]  # no day moved onto its neighbour
    assert any("read as local calendar days" in note for note in series.attrs["notes"])
    zoned = read_series(path, freq=freq, tz="Europe/Berlin")  # said once, not twice
    assert list(zoned) == list(series)
    assert sum("local calendar days" in note for note in zoned.attrs["notes"]) == 1


def test_daily_rows_in_utc_with_tz_are_local_calendar_days(tmp_path: Path) -> None:
    path = write(tmp_path, series_text(berlin_midnights(30, "utc")))
    with pytest.raises(SeriesError, match="irregular timestamps"):
        read_series(path)  # 23:00Z, then 22:00Z: 23 hours apart at the change
    series = read_series(path, tz="Europe/Berlin")
    assert list(series.index) == list(pd.date_range("2024-03-20", periods=30, freq="D"))
    assert list(series) == [100.0 + i for i in range(30)]
    assert any("local calendar days" in note for note in series.attrs["notes"])


def test_hourly_rows_with_changing_offsets_keep_one_clock(tmp_path: Path) -> None:
    path = write(tmp_path, series_text(london_rows("2015-03-28", 48, fmt="iso")))
    series = read_series(path)
    assert series.index.tz is not None and len(series) == 48


def test_hourly_rows_with_changing_offsets_binned_by_day_say_to_pass_tz(tmp_path: Path) -> None:
    stamps = pd.date_range("2024-03-20", periods=21 * 24, freq="h", tz="Europe/Berlin")
    path = write(tmp_path, series_text([f"{t.isoformat()},10" for t in stamps]))
    series = read_series(path, freq="1D")
    assert any("UTC offsets change (+01:00, +02:00): --freq 1D bins are days at UTC offset "
               "+02:00" in note and "--tz" in note for note in series.attrs["notes"])
    local = read_series(path, freq="1D", tz="Europe/Berlin")
    assert local[pd.Timestamp("2024-03-31")] == 230.0  # the local day of 23 hours
    assert not any("UTC offsets change" in note for note in local.attrs["notes"])


def _spring_forward_export(repeats_at_three: int, gap_before: bool = True) -> list[str]:
    """5-minute rows at :01/:06 ... of 2014-03-09 with the hour 02:00-03:00 (skipped by
    the US spring-forward change) written as ``repeats_at_three`` rows at 03:00:00, as
    an export that shifts nonexistent local times forward does."""
    before = pd.date_range("2014-03-08 20:01", "2014-03-09 01:56", freq="5min")
    if not gap_before:
        before = pd.date_range("2014-03-08 21:05", "2014-03-09 03:00", freq="5min")[:-1]
    after = pd.date_range("2014-03-09 03:01", "2014-03-09 09:56", freq="5min")
    stamps = ([t.strftime("%Y-%m-%d %H:%M:%S") for t in before]
              + ["2014-03-09 03:00:00"] * repeats_at_three
              + [t.strftime("%Y-%m-%d %H:%M:%S") for t in after])
    return [f"{t},{40 + i % 7}" for i, t in enumerate(stamps)]


def test_a_skipped_hour_written_as_repeats_names_the_clock_change_and_the_fix(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, series_text(_spring_forward_export(12)))
    with pytest.raises(SeriesError, match=r"duplicated timestamp 2014-03-09 03:00:00 .*"
                       r"12 rows at one time, right after a gap of 64min: the hour a "
                       r"daylight-saving change skipped.* --freq 5min --agg mean"):
        read_series(path)
    series = read_series(path, freq="5min", agg="mean")  # what the message says works
    assert series.index.is_unique
    assert (series.index[1:] - series.index[:-1] == pd.Timedelta("5min")).all()
    assert (series.index[0], len(series)) == (pd.Timestamp("2014-03-08 20:00"), 168)


@pytest.mark.parametrize(("repeats", "gap_before"), [(3, True), (12, False)])
def test_repeats_without_an_hour_missing_get_the_plain_duplicate_message(
    tmp_path: Path, repeats: int, gap_before: bool,
) -> None:
    path = write(tmp_path, series_text(_spring_forward_export(repeats, gap_before)))
    with pytest.raises(SeriesError, match=r"duplicated timestamp .*\(use --freq with --agg "
                       r"to aggregate raw events\)"):
        read_series(path)
