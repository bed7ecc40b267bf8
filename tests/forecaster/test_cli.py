"""The forecast CLI contracts: exact columns, JSON summary, saved model, usage errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from controller.cli import main
from forecaster import LoadForecaster
from tests.forecaster.conftest import seasonal_series


@pytest.fixture(scope="module")
def series_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "load.csv"
    series = seasonal_series(n=700, period=48, step="30min")
    series.rename_axis("timestamp").reset_index().to_csv(path, index=False)
    return path


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_predict_writes_exactly_the_documented_columns(series_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "pred.csv"
    result = run("forecast", "predict", "--csv", str(series_csv), "--horizon", "6",
                 "--out", str(out))
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["timestamp", "mean", "lo80", "hi80", "lo95", "hi95"]
    assert len(frame) == 6
    last = pd.read_csv(series_csv)["timestamp"].iloc[-1]
    assert pd.Timestamp(frame["timestamp"].iloc[0]) == pd.Timestamp(last) + pd.Timedelta("30min")
    assert (frame["lo95"] <= frame["lo80"]).all() and (frame["hi80"] <= frame["hi95"]).all()
    assert (frame[["mean", "lo80", "hi80", "lo95", "hi95"]] >= 0).all().all()


def test_predict_fits_on_the_whole_file_by_default(tmp_path: Path) -> None:
    # DESIGN: predict "fits on all of F"; a series longer than the backtest window proves it.
    path = tmp_path / "long.csv"
    seasonal_series(n=9000, period=48, step="30min").rename_axis("timestamp").reset_index().to_csv(
        path, index=False
    )
    result = run("forecast", "predict", "--csv", str(path), "--horizon", "2",
                 "--out", str(tmp_path / "p.csv"))
    assert result.exit_code == 0, result.output
    assert "on 9000 points" in result.output


def test_backtest_rows_and_json_summary(series_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "bt.csv"
    summary = tmp_path / "summary.json"
    result = run("forecast", "backtest", "--csv", str(series_csv), "--horizon", "4",
                 "--origins", "3", "--out", str(out), "--json", "--summary", str(summary),
                 "--max-history", "400")
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["origin", "timestamp", "actual", "mean", "lo80", "hi80"]
    assert len(frame) == 12
    assert (pd.to_datetime(frame["timestamp"]) > pd.to_datetime(frame["origin"])).all()
    printed = json.loads(result.stdout)
    assert printed == json.loads(summary.read_text())
    for method in ("model", "naive", "seasonal_naive"):
        assert {"mase", "smape", "coverage80"} <= set(printed[method])
    assert printed["origins"] == 3 and printed["season"] == 48


def test_train_forecaster_saves_a_loadable_model(series_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "model.joblib"
    result = run("train", "forecaster", "--csv", str(series_csv), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "model: ARIMA(" in result.output and "fit time:" in result.output
    model = LoadForecaster.load(out)
    assert model.seasonal_periods_[0] == pytest.approx(48)


def test_value_and_time_columns_and_resampling(tmp_path: Path) -> None:
    minutes = seasonal_series(n=2000, period=1440, step="1min", level=20)
    path = tmp_path / "raw.csv"
    frame = minutes.rename_axis("when").reset_index().rename(columns={"value": "hits"})
    frame["other"] = 1
    frame.to_csv(path, index=False)
    out = tmp_path / "pred.csv"
    result = run("forecast", "predict", "--csv", str(path), "--time-col", "when",
                 "--value-col", "hits", "--freq", "10min", "--agg", "sum",
                 "--horizon", "3", "--out", str(out))
    assert result.exit_code == 0, result.output
    stamps = pd.to_datetime(pd.read_csv(out)["timestamp"])
    assert (stamps.diff().dropna() == pd.Timedelta("10min")).all()


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        pytest.param("timestamp,value\n2024-01-01,1\n2024-01-01,2\n", [],
                     "line 3", id="duplicate-line"),
        pytest.param("a,b,c\n1,2,3\n", [], "column 'timestamp' not found", id="no-column"),
        pytest.param(None, ["--horizon", "0"], "--horizon", id="bad-horizon"),
        pytest.param(None, ["--agg", "median"], "--agg", id="bad-agg"),
    ],
)
def test_bad_input_is_a_usage_error(tmp_path: Path, series_csv: Path, content, args,
                                    message: str) -> None:
    path = series_csv
    if content is not None:
        path = tmp_path / "bad.csv"
        path.write_text(content)
    base = ["forecast", "predict", "--csv", str(path), "--out", str(tmp_path / "o.csv")]
    if "--horizon" not in args:
        base += ["--horizon", "3"]
    result = run(*base, *args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    result = run("forecast", "backtest", "--csv", str(tmp_path / "nope.csv"), "--horizon", "3",
                 "--out", str(tmp_path / "o.csv"))
    assert result.exit_code == 2 and "nope.csv" in result.output


def test_backtest_too_short_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "short.csv"
    seasonal_series(n=30, step="1h").rename_axis("timestamp").reset_index().to_csv(path,
                                                                                   index=False)
    result = run("forecast", "backtest", "--csv", str(path), "--horizon", "12",
                 "--out", str(tmp_path / "o.csv"))
    assert result.exit_code == 2 and "too short for horizon 12" in result.output


def test_a_messy_export_forecasts_like_the_plain_file(series_csv: Path, tmp_path: Path) -> None:
    # BOM, CRLF, semicolons with decimal commas, a unit, capitalised headers, an extra column,
    # one empty cell and trailing empty rows: the same numbers as the plain file
    plain = pd.read_csv(series_csv)
    cells = [f"{v:.6f}".replace(".", ",") + " req/s" for v in plain["value"]]
    cells[100] = ""
    rows = [f"{t};{c};web-1" for t, c in zip(plain["timestamp"], cells, strict=True)]
    messy = tmp_path / "export.csv"
    messy.write_bytes(("\ufeffTimestamp;Value;Host\r\n" + "\r\n".join(rows) + "\r\n;;\r\n")
                      .encode())
    outputs = []
    for source in (series_csv, messy):
        out = tmp_path / f"{source.stem}.pred.csv"
        result = run("forecast", "predict", "--csv", str(source), "--horizon", "4",
                     "--out", str(out))
        assert result.exit_code == 0, result.output
        outputs.append(pd.read_csv(out))
    assert "note: " in result.output and "unit 'req/s' stripped" in result.output
    assert "1 empty value(s) in column 'Value' (line 102) read as missing points" in result.output
    assert (outputs[0]["timestamp"] == outputs[1]["timestamp"]).all()
    pd.testing.assert_frame_equal(outputs[0], outputs[1], rtol=1e-3)


@pytest.mark.parametrize("flag", ["--time-col", "--value-col"])
def test_a_named_column_that_is_missing_lists_the_columns(series_csv: Path, tmp_path: Path,
                                                           flag: str) -> None:
    result = run("forecast", "predict", "--csv", str(series_csv), flag, "load", "--horizon", "3",
                 "--out", str(tmp_path / "o.csv"))
    assert result.exit_code == 2
    assert f"column 'load' ({flag}) not found (columns: timestamp, value)" in result.output
