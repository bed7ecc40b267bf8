"""read_series: DESIGN's data formats, and an error naming file, column and line for bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from forecaster import SeriesError, read_series


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


def test_resample_sum_and_mean(tmp_path: Path) -> None:
    rows = regular_rows(120)
    path = write(tmp_path, "timestamp,value\n" + "\n".join(rows) + "\n")
    summed = read_series(path, freq="5min", agg="sum", min_points=2)
    assert len(summed) == 24 and summed.iloc[0] == sum(range(10, 15))
    mean = read_series(path, freq="5min", agg="mean", min_points=2)
    assert mean.iloc[0] == pytest.approx(12.0)


def test_resample_accepts_unsorted_raw_events(tmp_path: Path) -> None:
    rows = regular_rows(40)[::-1] + regular_rows(40)
    path = write(tmp_path, "timestamp,value\n" + "\n".join(rows) + "\n")
    series = read_series(path, freq="10min", min_points=2)
    assert len(series) == 4 and series.iloc[0] == 2 * sum(range(10, 20))


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        pytest.param(lambda r: r[:3] + [r[2]] + r[3:], r"duplicated timestamp .* line 5",
                     id="duplicate"),
        pytest.param(lambda r: r[:3] + [r[5]] + r[3:5] + r[6:], r"not sorted.*line 6",
                     id="unsorted"),
        pytest.param(lambda r: r[:4] + ["2024-01-01 00:04:30,3"] + r[5:],
                     r"irregular timestamps.*90s after.*step 1min.*lines 6, 7", id="irregular"),
        pytest.param(lambda r: r[:2] + r[16:], r"gap of 14 missing steps.*line 4",
                     id="long-gap"),
        pytest.param(lambda r: r[:7] + ["2024-01-01 00:07:00,"] + r[8:],
                     r"missing value.*line 9", id="nan"),
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
