"""A file with a gap longer than --max-gap is read from its last such gap on when
what follows is long enough to forecast from (forecaster.regular.min_tail_span);
otherwise the gap stays an error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecaster import SeriesError, read_series
from forecaster.regular import filled_mask, min_tail_span


def write_frame(tmp_path: Path, index: pd.DatetimeIndex, values: np.ndarray,
                name: str = "trace.csv") -> Path:
    path = tmp_path / name
    pd.DataFrame({"timestamp": index.strftime("%Y-%m-%d %H:%M:%S"), "value": values}).to_csv(
        path, index=False)
    return path


def hourly(days_before: float, gap_hours: int, days_after: float) -> pd.DatetimeIndex:
    before = pd.date_range("2024-01-01", periods=int(days_before * 24), freq="1h")
    after = pd.date_range(before[-1] + pd.Timedelta(hours=gap_hours + 1),
                          periods=int(days_after * 24), freq="1h")
    return before.append(after)


def test_min_tail_span_by_step() -> None:
    assert min_tail_span(pd.Timedelta(minutes=5)) == pd.Timedelta(days=28)
    assert min_tail_span(pd.Timedelta(hours=12)) == pd.Timedelta(days=28)
    assert min_tail_span(pd.Timedelta(days=1)) == pd.Timedelta(days=730)


def test_long_gap_before_a_long_tail_is_read_from_the_gap_on(tmp_path: Path) -> None:
    index = hourly(10, 40, 30)
    values = np.arange(len(index), dtype=float)
    path = write_frame(tmp_path, index, values)
    series = read_series(path)
    assert series.index[0] == index[240] and len(series) == 30 * 24
    assert series.tolist() == values[240:].tolist()
    assert not filled_mask(series).any()
    (note,) = series.attrs["notes"]
    assert "gap of 40 missing steps before 2024-01-12 16:00:00 (line 242)" in note
    assert "the 240 row(s) before it left out" in note and "--max-gap 40" in note
    # the note's remedy works: the gap is filled and nothing is left out
    whole = read_series(path, max_gap=40)
    assert len(whole) == len(index) + 40 and filled_mask(whole).sum() == 40


def test_several_long_gaps_keep_the_stretch_after_the_last(tmp_path: Path) -> None:
    index = hourly(3, 20, 3)
    later = pd.date_range(index[-1] + pd.Timedelta(hours=31), periods=29 * 24, freq="1h")
    index = index.append(later)
    # a short gap inside the kept stretch is still filled, and said so
    keep = np.ones(len(index), dtype=bool)
    keep[-100:-97] = False
    series = read_series(write_frame(tmp_path, index[keep], np.ones(keep.sum())))
    assert series.index[0] == later[0] and len(series) == len(later)
    assert filled_mask(series).sum() == 3
    cut, filled = series.attrs["notes"]
    assert "gap of 30 missing steps" in cut and "(the last of 2 such gaps)" in cut
    assert filled.startswith("3 step(s) without a row filled in")


def test_long_gap_before_a_short_tail_stays_an_error(tmp_path: Path) -> None:
    path = write_frame(tmp_path, hourly(40, 40, 20), np.ones(60 * 24))
    with pytest.raises(SeriesError) as info:
        read_series(path)
    message = str(info.value)
    assert "gap of 40 missing steps before 2024-02-11 16:00:00 (line 962)" in message
    assert "span only 479h, too little to read on their own (at least 28d)" in message


def test_resampled_mean_bins_are_read_from_the_last_long_run_on(tmp_path: Path) -> None:
    # one-minute samples with a two-day outage, read as 5-minute means
    before = pd.date_range("2024-03-01", periods=3 * 1440, freq="1min")
    after = pd.date_range(before[-1] + pd.Timedelta(days=2), periods=30 * 1440, freq="1min")
    index = before.append(after)
    path = write_frame(tmp_path, index, np.full(len(index), 7.0))
    series = read_series(path, freq="5min", agg="mean")
    assert series.index[0] == after[0].floor("5min") and (series == 7.0).all()
    (note,) = series.attrs["notes"]
    assert f"missing 5min bins before {series.index[0]}" in note
    assert f"the {3 * 1440} row(s) before it left out" in note
    # sums have no gaps (an empty bin had no events) and read the whole file
    assert len(read_series(path, freq="5min", agg="sum")) > len(series)
    short = write_frame(tmp_path, before.append(after[: 10 * 1440]), np.ones(13 * 1440), "s.csv")
    with pytest.raises(SeriesError, match=r"more than 12 empty 5min bins in a row"):
        read_series(short, freq="5min", agg="mean")


def test_daily_rows_need_two_years_after_the_gap(tmp_path: Path) -> None:
    days = pd.date_range("2020-01-01", periods=100, freq="1D")
    later = pd.date_range(days[-1] + pd.Timedelta(days=31), periods=800, freq="1D")
    series = read_series(write_frame(tmp_path, days.append(later), np.ones(900)))
    assert series.index[0] == later[0] and len(series) == 800
    with pytest.raises(SeriesError, match="too little to read on their own"):
        read_series(write_frame(tmp_path, days.append(later[:400]), np.ones(500), "d.csv"))


def test_an_in_memory_series_keeps_the_gap_an_error() -> None:
    from forecaster import LoadForecaster

    index = hourly(10, 40, 30)
    with pytest.raises(SeriesError, match="gap of 40 missing steps"):
        LoadForecaster().fit(pd.Series(np.ones(len(index)), index=index))
