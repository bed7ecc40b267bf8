"""read_series and the forecast CLI on series CSVs written the ways real exports write
them (a new user's sweep): thousands separators in semicolon files, comment and footer
lines, a series piped on stdin."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecaster import SeriesError, read_series

# rides per slot straddling 1000 (NYC-taxi-like): the values a thousands format writes
# with a separator (1,385) and without (874) in one column
COUNTS = [int(600 + 500 * (1 + np.sin(i / 3))) for i in range(40)]


def stamps(n: int) -> list[str]:
    return [str(t) for t in pd.date_range("2024-01-01", periods=n, freq="30min")]


@pytest.mark.parametrize("mark", [",", "."])
def test_thousands_separators_in_a_semicolon_file_are_not_decimals(
        tmp_path: Path, mark: str) -> None:
    assert min(COUNTS) < 1000 < max(COUNTS)
    rows = [f"{t};{f'{v:,}'.replace(',', mark)}" for t, v in zip(stamps(40), COUNTS, strict=True)]
    path = tmp_path / "s.csv"
    path.write_text("timestamp;value\n" + "\n".join(rows) + "\n")
    series = read_series(path)
    np.testing.assert_array_equal(series.to_numpy(), COUNTS)  # was 1.385 next to 874
    assert any(f"{mark!r} read as a thousands separator" in n for n in series.attrs["notes"])


def test_decimal_commas_next_to_whole_numbers_stay_decimals(tmp_path: Path) -> None:
    values = [v / 8 for v in COUNTS]  # 137.5, 109.25: any number of decimals
    text = [f"{v:g}".replace(".", ",") for v in values]
    rows = [f"{t};{c}" for t, c in zip(stamps(40), text, strict=True)]
    path = tmp_path / "s.csv"
    path.write_text("timestamp;value\n" + "\n".join(rows) + "\n")
    np.testing.assert_allclose(read_series(path).to_numpy(), values)


def test_values_that_all_look_grouped_read_as_decimals_with_a_note(tmp_path: Path) -> None:
    values = [v + 1000 for v in COUNTS]
    rows = [f"{t};{v:,}" for t, v in zip(stamps(40), values, strict=True)]
    path = tmp_path / "s.csv"
    path.write_text("timestamp;value\n" + "\n".join(rows) + "\n")
    series = read_series(path)
    np.testing.assert_allclose(series.to_numpy(), np.array(values) / 1000)  # the convention
    assert any("if ',' separates thousands there" in n for n in series.attrs["notes"])


def test_comment_lines_after_the_header_are_dropped_with_a_note(tmp_path: Path) -> None:
    rows = [f"{t},{v}" for t, v in zip(stamps(40), COUNTS, strict=True)]
    text = ("timestamp,value\n" + "\n".join(rows[:20]) + "\n# restarted, 2 rows\n"
            + "\n".join(rows[20:]) + "\n\n# exported by Grafana 10.2\n")
    path = tmp_path / "s.csv"
    path.write_text(text)
    series = read_series(path)  # was: unparseable timestamp '# restarted' at line 22
    np.testing.assert_array_equal(series.to_numpy(), COUNTS)
    assert "comment line(s) starting with '#' at lines 22, 44 dropped" in series.attrs["notes"]
    path.write_text(text.replace("# restarted, 2 rows", "#N/A,7"))
    with pytest.raises(SeriesError, match=r"unparseable timestamp '#N/A' at line 22"):
        read_series(path)  # a spreadsheet's error value is a cell, not a comment


def test_a_footer_row_is_named_as_such(tmp_path: Path) -> None:
    rows = [f"{t},{v}" for t, v in zip(stamps(40), COUNTS, strict=True)]
    path = tmp_path / "s.csv"
    path.write_text("timestamp,value\n" + "\n".join(rows) + f"\nTotal,{sum(COUNTS)}\n")
    with pytest.raises(SeriesError, match=r"'Total' at line 42, the file's last row: a footer "
                                          r"\(a total or a note\) is not data; delete it"):
        read_series(path)
    path.write_text("timestamp,value\n" + "\n".join(rows[:20]) + "\nTotal,1\n"
                    + "\n".join(rows[20:]) + "\n")
    with pytest.raises(SeriesError, match=r"'Total' at line 22$"):  # not a footer
        read_series(path)


def test_predict_reads_the_series_from_stdin_for_dash(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from controller.cli import main
    from tests.forecaster.conftest import seasonal_series

    series = seasonal_series(n=300, period=48, step="30min")
    text = series.rename_axis("timestamp").reset_index().to_csv(index=False)
    out = tmp_path / "pred.csv"
    result = CliRunner().invoke(main, ["forecast", "predict", "--csv", "-", "--horizon", "4",
                                       "--out", str(out)], input=text)
    assert result.exit_code == 0, (result.output, result.exception)  # was: File '-' does not exist
    stamps_out = pd.to_datetime(pd.read_csv(out)["timestamp"])
    assert stamps_out.iloc[0] == series.index[-1] + pd.Timedelta("30min")
    result = CliRunner().invoke(main, ["forecast", "predict", "--csv", "-", "--horizon", "4",
                                       "--out", str(out)], input=text + "Total,1\n")
    assert result.exit_code == 2
    assert "'--csv': <stdin>: column 'timestamp': unparseable timestamp 'Total'" in result.output


def test_a_date_and_a_time_column_are_read_together(tmp_path: Path) -> None:
    times = pd.date_range("2024-01-01", periods=40, freq="30min")
    rows = [f"{t:%d.%m.%Y};{t:%H:%M};web-1;{v}" for t, v in zip(times, COUNTS, strict=True)]
    path = tmp_path / "s.csv"
    path.write_text("Date;Time;Host;Value\n" + "\n".join(rows) + "\n")
    series = read_series(path)  # was: column 'timestamp' not found (columns: Date, Time, ...)
    assert (series.index == times).all()
    np.testing.assert_array_equal(series.to_numpy(), COUNTS)
    assert ("columns 'Date' and 'Time' read together as the time column 'timestamp'"
            in series.attrs["notes"])
    full = [f"{t:%Y-%m-%d},{t},{v}" for t, v in zip(times, COUNTS, strict=True)]
    path.write_text("date,time,value\n" + "\n".join(full) + "\n")  # time holds the date too
    with pytest.raises(SeriesError, match="column 'timestamp' not found"):
        read_series(path)


def test_no_note_of_doubt_when_a_value_has_two_groups(tmp_path: Path) -> None:
    values = [v * 1000 for v in COUNTS]  # 1.385.000 can only be thousands
    rows = [f"{t};{f'{v:,}'.replace(',', '.')}" for t, v in zip(stamps(40), values, strict=True)]
    path = tmp_path / "s.csv"
    path.write_text("timestamp;value\n" + "\n".join(rows) + "\n")
    series = read_series(path)
    np.testing.assert_array_equal(series.to_numpy(), values)
    assert not any("three digits after" in n for n in series.attrs["notes"])  # said 'read as 874.0'
