"""read_series: DESIGN's data formats, and an error naming file, column and line for bad input."""

from __future__ import annotations

import bz2
import gzip
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecaster import SeriesError, read_series
from forecaster.regular import filled_mask


def write(tmp_path: Path, text: str, name: str = "series.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def regular_rows(n: int = 20, start_hour: int = 0) -> list[str]:
    return [f"2024-01-01 {start_hour + i // 60:02d}:{i % 60:02d}:00,{10 + i}" for i in range(n)]


def test_default_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "timestamp,value\n" + "\n".join(regular_rows()) + "\n")
    series = read_series(path)
    assert len(series) == 20
    assert series.iloc[0] == 10
    assert series.index.tz is None
    assert series.index[1] - series.index[0] == np.timedelta64(60, "s")


def test_two_column_file_with_other_names(tmp_path: Path) -> None:
    path = write(tmp_path, "period,count\n" + "\n".join(regular_rows()) + "\n")
    assert len(read_series(path)) == 20


def test_named_columns_among_others(tmp_path: Path) -> None:
    rows = [f"{r},x" for r in regular_rows()]
    path = write(tmp_path, "when,load,extra\n" + "\n".join(rows) + "\n")
    assert read_series(path, time_col="when", value_col="load").iloc[-1] == 29
    with pytest.raises(SeriesError, match=r"column 'timestamp' not found.*when, load, extra"):
        read_series(path)


def test_one_column_named_for_both_time_and_value_says_so(tmp_path: Path) -> None:
    # before, --time-col value on a timestamp,value file said "column 'value' not found"
    path = write(tmp_path, "timestamp,value\n" + "\n".join(regular_rows()) + "\n")
    with pytest.raises(SeriesError, match=r"both be column 'value' \(--time-col names it\); "
                                          r"pass --value-col for the other column"):
        read_series(path, time_col="value")
    with pytest.raises(SeriesError, match=r"both be column 'timestamp' \(--time-col and "
                                          r"--value-col name it\) \(columns: timestamp, value\)"):
        read_series(path, time_col="timestamp", value_col="TIMESTAMP")


def test_offsets_are_kept_and_naive_is_local(tmp_path: Path) -> None:
    rows = [f"2024-01-01T{i:02d}:00:00+02:00,{i}" for i in range(20)]
    series = read_series(write(tmp_path, "timestamp,value\n" + "\n".join(rows) + "\n"))
    assert str(series.index.tz) in ("UTC+02:00", "pytz.FixedOffset(120)")
    assert series.index[0].hour == 0


def test_epoch_seconds(tmp_path: Path) -> None:
    rows = [f"{1_700_000_000 + 300 * i},{i}" for i in range(20)]
    series = read_series(write(tmp_path, "timestamp,value\n" + "\n".join(rows) + "\n"))
    assert series.index[1] - series.index[0] == np.timedelta64(300, "s")


def test_day_first_dates_are_read_day_first(tmp_path: Path) -> None:
    # 13/01/2024 only reads day-first; month-first would also jumble the order
    rows = [f"{1 + i // 24:02d}/01/2024 {i % 24:02d}:00,{i}" for i in range(24 * 20)]
    series = read_series(write(tmp_path, "timestamp,value\n" + "\n".join(rows) + "\n"))
    assert series.index[0] == np.datetime64("2024-01-01T00:00")
    assert series.index[-1] == np.datetime64("2024-01-20T23:00")
    assert series.iloc[-1] == 24 * 20 - 1


def test_ambiguous_slash_dates_prefer_the_regular_reading(tmp_path: Path) -> None:
    # every day <= 12: both readings parse and sort, only day-first is hourly-regular
    rows = [f"{1 + i // 24:02d}/01/2024 {i % 24:02d}:00,{i}" for i in range(24 * 12)]
    series = read_series(write(tmp_path, "timestamp,value\n" + "\n".join(rows) + "\n"))
    assert series.index[1] - series.index[0] == np.timedelta64(3600, "s")
    assert len(series) == 24 * 12
    us = [f"01/{1 + i // 24:02d}/2024 {i % 24:02d}:00,{i}" for i in range(24 * 12)]
    series = read_series(write(tmp_path, "timestamp,value\n" + "\n".join(us) + "\n", "us.csv"))
    assert series.index[-1] == np.datetime64("2024-01-12T23:00")  # month-first kept


def test_semicolon_and_tab_separated_exports(tmp_path: Path) -> None:
    for sep, name in ((";", "semi.csv"), ("\t", "tab.tsv")):
        rows = [r.replace(",", sep) for r in regular_rows()]
        path = write(tmp_path, f"timestamp{sep}value\n" + "\n".join(rows) + "\n", name)
        assert read_series(path).iloc[-1] == 29


def test_short_gap_is_interpolated(tmp_path: Path) -> None:
    rows = regular_rows()
    del rows[5:7]  # two missing minutes
    series = read_series(write(tmp_path, "timestamp,value\n" + "\n".join(rows) + "\n"))
    assert len(series) == 20
    assert series.iloc[5] == pytest.approx(15.0)


def test_filled_points_are_told_apart_from_read_ones(tmp_path: Path) -> None:
    rows = regular_rows()
    del rows[5:7]  # two missing minutes
    rows[10] = rows[10].split(",")[0] + ","  # an empty cell: a missing point too
    series = read_series(write(tmp_path, "timestamp,value\n" + "\n".join(rows) + "\n"))
    assert np.flatnonzero(filled_mask(series)).tolist() == [5, 6, 12]
    assert np.flatnonzero(filled_mask(series.iloc[4:])).tolist() == [1, 2, 8]  # kept by slices
    plain = read_series(write(tmp_path, "timestamp,value\n" + "\n".join(regular_rows()) + "\n",
                              "plain.csv"))
    assert not filled_mask(plain).any() and plain.attrs["filled"] == ()


def test_resampled_bins_are_filled_only_when_interpolated(tmp_path: Path) -> None:
    rows = regular_rows(120)
    del rows[30:45]  # bins 6, 7 and 8 of 5 minutes are empty
    path = write(tmp_path, "timestamp,value\n" + "\n".join(rows) + "\n")
    mean = read_series(path, freq="5min", agg="mean", min_points=2)
    assert np.flatnonzero(filled_mask(mean)).tolist() == [6, 7, 8]
    summed = read_series(path, freq="5min", agg="sum", min_points=2)
    assert summed.iloc[6] == 0 and not filled_mask(summed).any()  # no events: a real zero


def test_empty_bins_filled_in_are_noted_and_a_mostly_drawn_series_says_so(
        tmp_path: Path) -> None:
    rows = regular_rows(120)
    del rows[30:45]  # bins 6, 7 and 8 of 5 minutes are empty
    path = write(tmp_path, "timestamp,value\n" + "\n".join(rows) + "\n")
    notes = read_series(path, freq="5min", agg="mean", min_points=2).attrs["notes"]
    assert [n for n in notes if "had no row" in n] == [
        "3 of 24 5min bins (12%) had no row: filled in by interpolation (a backtest does not "
        "score them)"]
    # an empty bin of a sum is no event, not a filled-in one: no such note
    summed = read_series(path, freq="5min", agg="sum", min_points=2).attrs["notes"]
    assert not any("had no row" in n for n in summed)
    # bursts of three readings 5 minutes apart, an hour apart (the step is 5 minutes):
    # three bins in four are drawn, not read
    sparse = [f"2024-01-01 {b:02d}:{5 * i:02d}:00,{10 + (b + i) % 7}"
              for b in range(10) for i in range(3)]
    path = write(tmp_path, "timestamp,value\n" + "\n".join(sparse) + "\n", "sparse.csv")
    series = read_series(path, freq="5min", agg="mean", min_points=2)
    [note] = [n for n in series.attrs["notes"] if "had no row" in n]
    assert note.startswith("81 of 111 5min bins (73%) had no row")
    assert int(filled_mask(series).sum()) == 81 and len(series) == 111
    assert "one row per 20min of its span on average" in note
    assert "a coarser --freq leaves fewer bins empty" in note


def test_business_day_bins_filled_in_are_counted_without_the_weekends(tmp_path: Path) -> None:
    days = pd.bdate_range("2024-01-01", periods=60).delete([10, 11, 30])  # 3 weekdays missing
    rows = [f"{d:%Y-%m-%d},{5 + i}" for i, d in enumerate(days)]
    path = write(tmp_path, "timestamp,value\n" + "\n".join(rows) + "\n")
    series = read_series(path, freq="B", agg="mean")
    assert len(series) == 60 and int(filled_mask(series).sum()) == 3
    assert [n for n in series.attrs["notes"] if "had no row" in n] == [
        "3 of 60 business-day bins (5%) had no row: filled in by interpolation (a backtest "
        "does not score them)"]


def test_resample_sum_and_mean(tmp_path: Path) -> None:
    rows = regular_rows(120)
    path = write(tmp_path, "timestamp,value\n" + "\n".join(rows) + "\n")
    summed = read_series(path, freq="5min", agg="sum", min_points=2)
    assert len(summed) == 24 and summed.iloc[0] == sum(range(10, 15))
    mean = read_series(path, freq="5min", agg="mean", min_points=2)
    assert mean.iloc[0] == pytest.approx(12.0)


def test_count_reads_an_event_log_of_bare_timestamps(tmp_path: Path) -> None:
    # three events in the first 5 minutes, none in the next, two in the third
    times = ["2024-01-01 00:00:10", "2024-01-01 00:01:00", "2024-01-01 00:01:00",
             "2024-01-01 00:11:00", "2024-01-01 00:14:59"]
    bare = write(tmp_path, "timestamp\n" + "\n".join(times) + "\n", "bare.csv")
    series = read_series(bare, freq="5min", agg="count", min_points=2)
    assert series.tolist() == [3.0, 0.0, 2.0] and not filled_mask(series).any()
    # other columns are not read when counting: a negative or text field is no error
    extra = write(tmp_path, "when,delay,carrier\n" + "\n".join(
        f"{t},{-5 + i},X{i}" for i, t in enumerate(times)) + "\n", "extra.csv")
    assert read_series(extra, freq="5min", agg="count", min_points=2).tolist() == [3.0, 0.0, 2.0]
    # summing still needs the value column, and says so
    with pytest.raises(SeriesError, match="column 'value' not found"):
        read_series(bare, freq="5min", agg="sum", min_points=2)
    with pytest.raises(SeriesError, match=r"column 'when' \(--time-col\) not found"):
        read_series(bare, time_col="when", freq="5min", agg="count", min_points=2)


def test_an_event_log_with_repeated_times_reads_and_errs_like_any_file(tmp_path: Path) -> None:
    # 12 events on 3 distinct minutes: the distinct stamps are parsed once and mapped back
    times = ["2024-01-01T00:00:00+01:00"] * 5 + ["2024-01-01T00:07:00+01:00"] * 4 + [
        "2024-01-01T00:12:00+01:00"] * 3
    log = write(tmp_path, "timestamp\n" + "\n".join(times) + "\n", "log.csv")
    series = read_series(log, freq="5min", agg="count", min_points=2)
    assert series.tolist() == [5.0, 4.0, 3.0]
    assert str(series.index.tz) == "UTC+01:00" and series.index[0].hour == 0
    # a bad stamp among repeats is still reported at its own line of the file
    bad = times[:6] + ["2024-01-01T00:07:00+01:00 oops"] + times[7:]
    path = write(tmp_path, "timestamp\n" + "\n".join(bad) + "\n", "bad.csv")
    with pytest.raises(SeriesError, match="line 8"):
        read_series(path, freq="5min", agg="count", min_points=2)


def test_resample_accepts_unsorted_raw_events(tmp_path: Path) -> None:
    rows = regular_rows(40)[::-1] + regular_rows(40)
    path = write(tmp_path, "timestamp,value\n" + "\n".join(rows) + "\n")
    series = read_series(path, freq="10min", min_points=2)
    assert len(series) == 4 and series.iloc[0] == 2 * sum(range(10, 20))


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        pytest.param(lambda r: r[:3] + [r[2] + "5"] + r[3:], r"duplicated timestamp .* line 5",
                     id="duplicate"),
        pytest.param(lambda r: r[:3] + [r[5]] + r[3:5] + r[6:], r"not sorted.*line 6",
                     id="unsorted"),
        pytest.param(lambda r: r[:4] + ["2024-01-01 00:04:30,3"] + r[5:],
                     r"irregular timestamps.*90s after.*step 1min.*lines 6, 7", id="irregular"),
        pytest.param(lambda r: r[:2] + r[16:], r"gap of 14 missing steps.*line 4",
                     id="long-gap"),
        pytest.param(lambda r: r[:7] + ["2024-01-01 00:07:00,-4"] + r[8:],
                     r"column 'value': negative value -4 at line 9", id="negative"),
        pytest.param(lambda r: r[:7] + ["2024-01-01 00:07:00,lots"] + r[8:],
                     r"non-numeric value 'lots' at line 9", id="non-numeric"),
        pytest.param(lambda r: r[:7] + ["yesterday,3"] + r[8:],
                     r"column 'timestamp': unparseable timestamp 'yesterday' at line 9",
                     id="bad-time"),
        pytest.param(lambda r: r[:5], r"too few points \(5\)", id="too-few"),
    ],
)
def test_bad_input_names_file_and_line(tmp_path: Path, mutate, match: str) -> None:
    rows = mutate(regular_rows())
    path = write(tmp_path, "timestamp,value\n" + "\n".join(rows) + "\n")
    with pytest.raises(SeriesError, match=match) as info:
        read_series(path)
    assert str(path) in str(info.value)


def test_missing_file_and_bad_freq(tmp_path: Path) -> None:
    with pytest.raises(SeriesError, match="no such file"):
        read_series(tmp_path / "absent.csv")
    path = write(tmp_path, "timestamp,value\n" + "\n".join(regular_rows()) + "\n")
    with pytest.raises(SeriesError, match="invalid --freq"):
        read_series(path, freq="often")
    with pytest.raises(SeriesError, match="unknown aggregation"):
        read_series(path, freq="5min", agg="median")
    with pytest.raises(SeriesError, match="finer than the data's own step"):
        read_series(path, freq="30s")


def test_monthly_series_is_refused_as_not_a_fixed_step(tmp_path: Path) -> None:
    months = pd.date_range("2020-01-01", periods=36, freq="MS").strftime("%Y-%m")
    rows = [f"{m},{100 + i}" for i, m in enumerate(months)]
    path = write(tmp_path, "month,passengers\n" + "\n".join(rows) + "\n")
    with pytest.raises(SeriesError, match=r"steps of 28d to 31d look like calendar months"):
        read_series(path)
    with pytest.raises(SeriesError, match=r"invalid --freq 'MS'.*calendar months"):
        read_series(path, freq="MS")


def series_text(rows: list[str], header: str = "timestamp,value", sep: str = ",",
                newline: str = "\n") -> str:
    return newline.join([header] + [r.replace(",", sep) for r in rows]) + newline


def reference() -> np.ndarray:
    return np.arange(10, 30, dtype=float)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("\ufeff" + series_text(regular_rows(), newline="\r\n"), id="bom-crlf"),
        pytest.param(series_text([f'"{r.split(",")[0]}","{r.split(",")[1]}"'
                                  for r in regular_rows()], header='"timestamp","value"'),
                     id="quoted"),
        pytest.param(series_text([r + ",web-1,eu" for r in regular_rows()],
                                 header=" Timestamp , VALUE ,host,region"), id="header-case-extra"),
        pytest.param(series_text(regular_rows())[len("timestamp,value\n"):], id="no-header"),
        pytest.param("\n\n" + series_text(regular_rows()) + ",\n\n , \n", id="blank-rows"),
        pytest.param(series_text([r.replace(" ", "T") for r in regular_rows()]), id="T"),
        pytest.param(series_text([f"{r} req/s" for r in regular_rows()]), id="unit"),
        pytest.param(series_text([f"{r.split(',')[0]};{r.split(',')[1]},0"
                                  for r in regular_rows()], header="timestamp;value"),
                     id="semicolon-decimal-comma"),
        pytest.param(series_text([f'{r.split(",")[0]},"{int(r.split(",")[1]) / 1000:.3f}"'
                                  for r in regular_rows()]).replace(".", ","), id="comma-decimal"),
    ],
)
def test_exports_from_real_tools_read_like_the_plain_file(tmp_path: Path, text: str) -> None:
    series = read_series(write(tmp_path, text))
    assert len(series) == 20
    assert series.index[0] == np.datetime64("2024-01-01T00:00")
    assert series.index[1] - series.index[0] == np.timedelta64(60, "s")
    values = series.to_numpy()
    if values[0] < 1:  # the comma-decimal case wrote thousandths
        values = values * 1000
    np.testing.assert_allclose(values, reference())


def test_thousands_separators_and_european_numbers(tmp_path: Path) -> None:
    rows = [f'{r.split(",")[0]},"{int(r.split(",")[1]) * 1000:,}.5"' for r in regular_rows()]
    series = read_series(write(tmp_path, series_text(rows)))
    assert series.iloc[0] == 10000.5 and series.iloc[-1] == 29000.5
    eu = [f"{r.split(',')[0]};{int(r.split(',')[1]) * 1000:,}".replace(",", ".") + ",5"
          for r in regular_rows()]
    series = read_series(write(tmp_path, series_text(eu, header="timestamp;value"), "eu.csv"))
    assert series.iloc[0] == 10000.5 and series.iloc[-1] == 29000.5


def test_compressed_and_windows_encoded_files(tmp_path: Path) -> None:
    text = series_text(regular_rows())
    for name, pack in (("a.csv.gz", gzip.compress), ("a.csv.bz2", bz2.compress),
                       ("no_extension", gzip.compress)):
        (tmp_path / name).write_bytes(pack(text.encode()))
        np.testing.assert_allclose(read_series(tmp_path / name).to_numpy(), reference())
    (tmp_path / "win.csv").write_bytes(series_text(regular_rows(), header="zeit,wert_\xe4")
                                       .encode("cp1252"))
    assert read_series(tmp_path / "win.csv").name == "wert_\xe4"


def test_epoch_milliseconds_and_mixed_offsets(tmp_path: Path) -> None:
    rows = [f"{(1_700_000_000 + 60 * i) * 1000},{10 + i}" for i in range(20)]
    series = read_series(write(tmp_path, series_text(rows)))
    assert series.index[0] == np.datetime64("2023-11-14T22:13:20")
    rows = [f"2024-01-01T{i:02d}:00:00Z,{i}" if i % 2 else f"2024-01-01T{i + 1:02d}:00:00+01:00,{i}"
            for i in range(20)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pandas' mixed-offset FutureWarning reached the user
        series = read_series(write(tmp_path, series_text(rows), "mixed.csv"))
    assert str(series.index.tz) == "UTC" and series.index[0].hour == 0
    assert (np.diff(series.index.asi8) == 3600 * 10**9).all()


def test_empty_and_na_cells_are_missing_points(tmp_path: Path) -> None:
    rows = regular_rows()
    rows[5] = rows[5].split(",")[0] + ","
    rows[6] = rows[6].split(",")[0] + ",NaN"
    rows[-1] = rows[-1].split(",")[0] + ",null"
    series = read_series(write(tmp_path, series_text(rows)))
    assert len(series) == 19  # the trailing empty one cannot be interpolated
    assert series.iloc[5] == pytest.approx(15.0) and series.iloc[6] == pytest.approx(16.0)
    assert series.attrs["notes"] == [
        "3 empty value(s) in column 'value' (lines 7, 8, 21) read as missing points"
    ]
    rows = regular_rows()
    rows[2:17] = [r.split(",")[0] + "," for r in rows[2:17]]
    with pytest.raises(SeriesError, match=r"gap of 15 missing steps .*line 19"):
        read_series(write(tmp_path, series_text(rows), "holes.csv"))


@pytest.mark.parametrize(
    ("text", "kwargs", "match"),
    [
        pytest.param(series_text([f"{r} ms" if i % 2 else f"{r} s"
                                  for i, r in enumerate(regular_rows())]), {},
                     r"mixed units 's' and 'ms' at line 3", id="mixed-units"),
        pytest.param(series_text([f"{r}k" for r in regular_rows()]), {},
                     r"scale suffix 'k'", id="scale-letter"),
        pytest.param(series_text(regular_rows(), header="when,load,host"),
                     {"time_col": "When", "value_col": "lode"},
                     r"column 'lode' \(--value-col\) not found \(columns: when, load, host\)",
                     id="missing-named-column"),
        pytest.param(series_text(regular_rows(), header="t,v"), {"value_col": "load"},
                     r"column 'load' \(--value-col\) not found \(columns: t, v\)",
                     id="named-column-in-two-column-file"),
        pytest.param("timestamp,value\n\n2024-01-01 00:00,1\n\n2024-01-01 00:01,x\n", {},
                     r"non-numeric value 'x' at line 5", id="line-counts-blank-lines"),
        pytest.param("", {}, r"the file is empty", id="empty"),
        pytest.param(series_text([r.split(",")[0] + "," for r in regular_rows()]), {"freq": "1h"},
                     r"column 'value': 20 of 20 values are empty", id="no-values"),
    ],
)
def test_more_bad_input_names_file_and_line(tmp_path: Path, text: str, kwargs, match) -> None:
    with pytest.raises(SeriesError, match=match):
        read_series(write(tmp_path, text), **kwargs)


def test_directories_and_binary_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(SeriesError, match="is a directory"):
        read_series(tmp_path)
    (tmp_path / "x.zip").write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    with pytest.raises(SeriesError, match="zip archive"):
        read_series(tmp_path / "x.zip")
    (tmp_path / "x.parquet").write_bytes(b"PAR1\x00\x01\x02")
    with pytest.raises(SeriesError, match="binary file"):
        read_series(tmp_path / "x.parquet")


def test_newest_first_exports_are_read_oldest_first(tmp_path: Path) -> None:
    series = read_series(write(tmp_path, series_text(regular_rows()[::-1])))
    np.testing.assert_allclose(series.to_numpy(), reference())
    assert series.attrs["notes"] == ["rows run newest first; read oldest first"]
    jumbled = regular_rows()
    jumbled[3], jumbled[4] = jumbled[4], jumbled[3]
    with pytest.raises(SeriesError, match="not sorted"):
        read_series(write(tmp_path, series_text(jumbled), "jumbled.csv"))


def test_utc_and_gmt_suffixes_read_without_warnings(tmp_path: Path) -> None:
    rows = [f"Mon, 01 Jan 2024 {i:02d}:00:00 GMT,{i}" for i in range(20)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        series = read_series(write(tmp_path, series_text(rows)))
    assert str(series.index.tz) == "UTC" and series.index[-1].hour == 19


def test_dashed_dates_and_hour_offsets_read_without_warnings(tmp_path: Path) -> None:
    # '13-01-2024' ends like an offset ('-2024'); only a suffix after a time of day is one
    rows = [f"{1 + i:02d}-01-2024,{i}" for i in range(20)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        series = read_series(write(tmp_path, series_text(rows)))
        assert series.index.tz is None and series.index[-1] == np.datetime64("2024-01-20")
        rows = [f"2024-01-01 {i:02d}:00 +02,{i}" for i in range(20)]
        series = read_series(write(tmp_path, series_text(rows), "hour-offset.csv"))
    assert series.index[0].utcoffset().total_seconds() == 7200


def test_repeated_rows_are_dropped_but_conflicting_ones_are_errors(tmp_path: Path) -> None:
    rows = regular_rows()
    series = read_series(write(tmp_path, series_text(rows[:8] + rows[7:9] + rows[8:])))
    np.testing.assert_allclose(series.to_numpy(), reference())
    assert series.attrs["notes"] == ["2 repeated row(s) (lines 10, 12) dropped"]
    conflicting = rows[:8] + [rows[7].split(",")[0] + ",99"] + rows[8:]
    with pytest.raises(SeriesError, match=r"duplicated timestamp .* line 10"):
        read_series(write(tmp_path, series_text(conflicting), "conflict.csv"))


@pytest.mark.parametrize(("text", "match"), [
    ("timestamp,value\n", "no data rows; at least 16 points are needed"),
    ("timestamp,value\n2024-01-01 00:00,5\n\n", "only 1 data row; at least 16 points"),
])
def test_header_only_and_one_row_files_say_how_many_points_are_needed(
    tmp_path: Path, text: str, match: str
) -> None:
    with pytest.raises(SeriesError, match=match):
        read_series(write(tmp_path, text))


def test_rows_missing_from_the_file_are_noted_with_the_line_after_them(tmp_path: Path) -> None:
    rows = regular_rows(30)
    del rows[10:13]
    series = read_series(write(tmp_path, series_text(rows)))
    assert series.attrs["notes"] == [
        "3 step(s) without a row filled in by interpolation, the first before line 12"
    ]


@pytest.mark.parametrize(("position", "line"), [(0, 2), (5, 7)])
def test_unquoted_thousands_separators_are_an_error_naming_the_line(
    tmp_path: Path, position: int, line: int
) -> None:
    # pandas would take a longer first row's time as the index and read '7' as the time
    rows = regular_rows()
    rows[position] = rows[position].split(",")[0] + ",7,166"
    with pytest.raises(SeriesError, match=rf"line {line} has 3 cells but the header has 2; "
                                          r"'7,166' looks like a number with a thousands"):
        read_series(write(tmp_path, series_text(rows)))
    rows[position] = rows[position].replace(",7,166", ",7,x")
    with pytest.raises(SeriesError, match=rf"line {line} has 3 cells .* quote cells that contain"):
        read_series(write(tmp_path, series_text(rows)))


def test_comment_lines_before_the_header_are_skipped(tmp_path: Path) -> None:
    rows = regular_rows()
    rows[3] = rows[3].split(",")[0] + ",x"
    text = "# exported from a dashboard\n\n#  range: last 20 minutes\n" + series_text(rows)
    with pytest.raises(SeriesError, match="non-numeric value 'x' at line 8"):
        read_series(write(tmp_path, text))
    rows[3] = rows[3].replace(",x", ",13")
    series = read_series(write(tmp_path, "# comment\n" + series_text(rows)))
    assert len(series) == 20 and series.iloc[3] == 13


def test_partial_first_and_last_sum_bins_are_not_read_as_drops_in_load(tmp_path: Path) -> None:
    # 10 per minute from 00:30 to 20:49: the first hour holds 30 minutes, the last 50
    stamps = pd.date_range("2024-01-01 00:30", "2024-01-01 20:49", freq="1min")
    path = write(tmp_path, "timestamp,value\n" + "".join(f"{t},10\n" for t in stamps))
    series = read_series(path, freq="1h")
    assert series.index[0] == pd.Timestamp("2024-01-01 01:00")
    assert series.index[-1] == pd.Timestamp("2024-01-01 20:00")
    assert (series == 600).all()  # the last bin's 500 scaled by 60/50
    assert list(filled_mask(series)[-2:]) == [False, True]
    assert series.attrs["notes"] == [
        "first --freq 1h bin dropped: the data cover only 30min of it",
        "last --freq 1h bin: the data cover only 50min of it, so its sum is scaled to the "
        "whole bin (x1.2) and counted as filled in",
    ]
    short = write(tmp_path, "timestamp,value\n" + "".join(f"{t},10\n" for t in stamps[:-40]),
                  "short.csv")
    series = read_series(short, freq="1h")  # the last hour holds 10 minutes: dropped
    assert series.index[-1] == pd.Timestamp("2024-01-01 19:00") and (series == 600).all()
    assert read_series(short, freq="1h", agg="mean").index[-1] == pd.Timestamp("2024-01-01 20:00")


def test_sparse_event_counts_keep_their_end_bins_as_summed(tmp_path: Path) -> None:
    """Counts per minute that leave out the minutes without events end where the last
    event fell: that says nothing about how much of the bin was seen."""
    rng = np.random.default_rng(2)
    minutes = pd.date_range("2024-01-01 00:00", "2024-01-01 23:59", freq="1min")
    stamps = minutes[np.sort(rng.choice(len(minutes), size=400, replace=False))]
    stamps = stamps[stamps <= pd.Timestamp("2024-01-01 23:57")]  # last event at minute 2-7
    stamps = stamps.union(pd.DatetimeIndex(["2024-01-01 00:03", "2024-01-01 23:57"]))
    path = write(tmp_path, "timestamp,count\n" + "".join(f"{t},1\n" for t in stamps))
    series = read_series(path, freq="5min")
    assert series.index[0] == pd.Timestamp("2024-01-01 00:00")
    assert series.index[-1] == pd.Timestamp("2024-01-01 23:55")
    assert series.sum() == len(stamps) and not filled_mask(series)[[0, -1]].any()
    assert not any("bin" in note for note in series.attrs.get("notes", []))


@pytest.mark.parametrize("fmt", ["%Y%m%d%H", "%Y%m%d%H%M", "%Y%m%d%H%M%S"])
def test_digits_only_dates_are_dates_not_epoch_seconds(tmp_path: Path, fmt: str) -> None:
    # 2024010100 would otherwise be epoch seconds in 2034 (and 202401010000 milliseconds)
    stamps = pd.date_range("2024-01-01", periods=48, freq="1h")
    rows = [f"{t.strftime(fmt)},{i}" for i, t in enumerate(stamps)]
    series = read_series(write(tmp_path, series_text(rows)))
    assert series.index[0] == stamps[0] and series.index[-1] == stamps[-1] and len(series) == 48
    days = [f"{t:%Y%m%d},{i}" for i, t in enumerate(pd.date_range("2024-01-01", periods=30))]
    assert read_series(write(tmp_path, series_text(days), "d.csv")).index[-1].day == 30


@pytest.mark.parametrize(("stamp", "match"), [
    (lambda i: str(60 * i), r"plain numbers \('0' at line 2\), too small for epoch .* write dates"),
    (lambda i: f"{45000 + i / 24:.5f}", "look like spreadsheet serial dates"),
    (lambda i: f"{i // 60:02d}:{i % 60:02d}", r"timestamp '00:00' has a time but no date"),
    (lambda i: f"{i % 12 + 1}:00 PM", r"'1:00 PM' has a time but no date \(lines 2, 3"),
])
def test_timestamps_that_are_no_dates_say_so(tmp_path: Path, stamp, match: str) -> None:
    rows = [f"{stamp(i)},{i}" for i in range(20)]
    with pytest.raises(SeriesError, match=match):
        read_series(write(tmp_path, series_text(rows)))


def test_headerless_files_are_told_from_headers_by_any_time_cell(tmp_path: Path) -> None:
    epochs = [f"{1_700_000_000 + 300 * i},{i}" for i in range(20)]
    series = read_series(write(tmp_path, "\n".join(epochs) + "\n"))
    assert len(series) == 20 and series.iloc[0] == 0  # the first row is data, not a header
    rows = [f"web1,{r}" for r in regular_rows()]
    path = write(tmp_path, "\n".join(rows) + "\n", "three.csv")
    with pytest.raises(SeriesError, match=r"\(columns: column 1, column 2, column 3\)"):
        read_series(path)
    series = read_series(path, time_col="column 2", value_col="column 3")
    assert len(series) == 20 and series.iloc[0] == 10


def test_a_header_row_repeated_by_pasting_exports_together_is_dropped(tmp_path: Path) -> None:
    rows = regular_rows()
    rows.insert(10, "Timestamp,Value")
    series = read_series(write(tmp_path, series_text(rows)))
    assert len(series) == 20 and series.attrs["notes"] == [
        "header row repeated at line 12: dropped"]


def test_jittered_scrape_times_say_which_freq_to_resample_with(tmp_path: Path) -> None:
    start = pd.Timestamp("2024-01-01")
    rows = [f"{start + pd.Timedelta(seconds=60 * i + (i * 7) % 5)},{100 + i % 9}"
            for i in range(60)]
    path = write(tmp_path, series_text(rows))
    with pytest.raises(SeriesError, match=r"resample with --freq 1min \(and --agg mean if"):
        read_series(path)
    series = read_series(path, freq="1min", agg="mean")
    assert len(series) == 60 and series.iloc[0] == 100


def test_bare_years_are_years_not_plain_numbers(tmp_path: Path) -> None:
    rows = [f"{2000 + i},{i}" for i in range(20)]
    with pytest.raises(SeriesError, match="look like calendar months, quarters or years"):
        read_series(write(tmp_path, series_text(rows)))
