"""The forecast CLI contracts: exact columns, JSON summary, saved model, usage errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from controller.cli import main
from forecaster import LoadForecaster, read_series
from forecaster.backtest import origin_positions, rolling_origin
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
        assert {"mase", "smape", "coverage80", "coverage80_ci95"} <= set(printed[method])
        low, high = printed[method]["coverage80_ci95"]
        assert 0.0 <= low <= printed[method]["coverage80"] <= high <= 1.0
    assert printed["origins"] == 3 and printed["season"] == 48
    assert "(95 % interval" in result.stderr + result.stdout
    assert f"(model {printed['mase_vs_best_baseline']:.2f} x " in result.stderr


# Gaps inside the scored span: rows of the 700-point series left out of the file.  The
# first three cover a point where an evenly placed origin (horizon 4, 12 origins)
# would sit, so without the rule those origins would be inside a filled gap.
GAPS = [(505, 510), (560, 566), (636, 642), (661, 665)]


@pytest.fixture(scope="module")
def gapped(tmp_path_factory) -> tuple[Path, pd.Series, np.ndarray]:
    series = seasonal_series(n=700, period=48, step="30min")
    missing = np.zeros(len(series), dtype=bool)
    for a, b in GAPS:
        missing[a:b] = True
    path = tmp_path_factory.mktemp("gaps") / "gapped.csv"
    series[~missing].rename_axis("timestamp").reset_index().to_csv(path, index=False)
    return path, series, missing


def test_backtest_scores_only_observed_points_and_never_starts_inside_a_gap(
    gapped: tuple[Path, pd.Series, np.ndarray], tmp_path: Path
) -> None:
    path, series, missing = gapped
    # without the rule, some evenly placed origins (the point before each position) are filled
    plain = origin_positions(len(series), 4, 12)
    assert sum(missing[p - 1] for p in plain) >= 3
    out = tmp_path / "bt.csv"
    result = run("forecast", "backtest", "--csv", str(path), "--horizon", "4", "--origins", "12",
                 "--out", str(out), "--json", "--max-history", "400")
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(out, parse_dates=["origin", "timestamp"])
    assert list(rows.columns) == ["origin", "timestamp", "actual", "mean", "lo80", "hi80"]
    summary = json.loads(result.stdout)
    position = {t: i for i, t in enumerate(series.index)}
    # origins sit on points read from the file
    origins = sorted({position[t] for t in rows["origin"]})
    assert len(origins) == summary["origins"] == 12
    assert not missing[origins].any()
    # actuals: the file's value where it has one, empty where the reader filled the point in
    at = rows["timestamp"].map(position).to_numpy()
    assert rows["actual"].isna().to_numpy().tolist() == missing[at].tolist()
    kept = ~missing[at]
    np.testing.assert_allclose(rows["actual"].to_numpy()[kept], series.to_numpy()[at[kept]])
    excluded = int(missing[at].sum())
    assert excluded > 0
    assert summary["excluded_filled"] == excluded
    assert summary["scored"] == len(rows) - excluded == summary["forecasts"] - excluded
    assert summary["filled_points"] == int(missing.sum())
    assert f"note: {excluded} of {len(rows)} forecast steps" in result.output
    # the scores are those of the observed steps only; the MASE scale uses observed pairs
    observed = rows[kept]
    err = (observed["actual"] - observed["mean"]).abs()
    first = origins[0] + 1
    y, seen = series.to_numpy()[:first], ~missing[:first]
    lag = summary["season"]
    pairs = seen[lag:] & seen[:-lag]
    scale = float(np.mean(np.abs(y[lag:] - y[:-lag])[pairs]))
    assert summary["mase_scale"] == pytest.approx(scale)
    assert summary["model"]["mase"] == pytest.approx(err.mean() / scale)
    inside = (observed["actual"] >= observed["lo80"]) & (observed["actual"] <= observed["hi80"])
    assert summary["model"]["coverage80"] == pytest.approx(inside.mean())


def test_backtest_baselines_use_the_same_mask(gapped: tuple[Path, pd.Series, np.ndarray]) -> None:
    path, _, missing = gapped
    series = read_series(path)
    result = rolling_origin(series, 4, 12, make_model=lambda: LoadForecaster(max_history=400))
    base = result.baselines
    assert len(base) == 2 * len(result.rows)
    for method in ("naive", "seasonal_naive"):
        part = base[base["method"] == method]
        assert part["actual"].isna().sum() == result.summary["excluded_filled"]
        kept = part.dropna(subset=["actual"])
        mase = (kept["actual"] - kept["mean"]).abs().mean() / result.summary["mase_scale"]
        assert result.summary[method]["mase"] == pytest.approx(mase)
    # the naive forecast is the origin's own value: read from the file, not interpolated
    naive = base[base["method"] == "naive"].groupby("origin")["mean"].first()
    np.testing.assert_allclose(naive.to_numpy(), series.loc[naive.index].to_numpy())


def test_backtest_without_gaps_is_unchanged_by_the_filled_rule(series_csv: Path,
                                                               tmp_path: Path) -> None:
    # the file read by the CLI and the same series in memory (no record of filled points)
    out = tmp_path / "bt.csv"
    result = run("forecast", "backtest", "--csv", str(series_csv), "--horizon", "4",
                 "--origins", "5", "--out", str(out), "--json", "--max-history", "400")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["scored"], summary["excluded_filled"], summary["filled_points"]) == (20, 0, 0)
    assert "not scored" not in result.output
    frame = pd.read_csv(series_csv, parse_dates=["timestamp"]).set_index("timestamp")["value"]
    memory = rolling_origin(frame.astype(float), 4, 5,
                            make_model=lambda: LoadForecaster(max_history=400))
    assert memory.summary["excluded_filled"] == 0
    for method in ("model", "naive", "seasonal_naive"):
        for key in ("mase", "smape", "coverage80"):
            assert summary[method][key] == memory.summary[method][key]
    assert summary["mase_scale"] == memory.summary["mase_scale"]
    rows = pd.read_csv(out)
    assert rows["actual"].notna().all()
    np.testing.assert_allclose(rows["mean"], memory.rows["mean"])


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


def test_predict_counts_an_event_log(tmp_path: Path) -> None:
    # one row per event (a request log, flight departures): bare timestamps, Poisson
    # arrivals with a daily rate, counted per 10 minutes
    rng = np.random.default_rng(1)
    start = pd.Timestamp("2024-05-06")
    seconds = np.arange(0, 6 * 86_400, 60)
    rate = 2.0 + 1.5 * np.sin(2 * np.pi * seconds / 86_400)
    stamps = np.repeat(seconds, rng.poisson(rate))
    path = tmp_path / "events.csv"
    pd.DataFrame({"timestamp": start + pd.to_timedelta(stamps, unit="s")}).to_csv(
        path, index=False)
    out = tmp_path / "pred.csv"
    result = run("forecast", "predict", "--csv", str(path), "--freq", "10min", "--agg", "count",
                 "--horizon", "6", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert f"on {6 * 144} points" in result.output
    frame = pd.read_csv(out)
    assert pd.Timestamp(frame["timestamp"].iloc[0]) == start + pd.Timedelta(days=6)
    assert (frame["mean"] > 0).all() and (frame["mean"] < 10 * 60).all()


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        pytest.param("timestamp,value\n2024-01-01,1\n2024-01-01,2\n", [],
                     "line 3", id="duplicate-line"),
        pytest.param("a,b,c\n1,2,3\n", [], "column 'timestamp' not found", id="no-column"),
        pytest.param(None, ["--horizon", "0"], "--horizon", id="bad-horizon"),
        pytest.param(None, ["--agg", "median"], "--agg", id="bad-agg"),
        pytest.param(None, ["--freq", "MS"], "Invalid value for '--freq': invalid --freq 'MS'",
                     id="calendar-freq"),
        pytest.param(None, ["--freq", "1s"], "Invalid value for '--freq'", id="too-fine-freq"),
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
    assert "'--horizon'" in result.output and "give --horizon 9 or less, or a longer file" in \
        " ".join(result.output.split())
    assert f"{path}: series of 30 points" in result.output
    result = run("forecast", "backtest", "--csv", str(path), "--horizon", "9", "--origins", "1",
                 "--out", str(tmp_path / "o.csv"))
    assert result.exit_code == 0, result.output


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


def london_csv(path: Path, start_utc: str, n: int, fmt: str = "naive") -> Path:
    """An hourly load series in Europe/London local time: naive or with offsets."""
    values = seasonal_series(n=n, period=24, step="1h").to_numpy()
    stamps = pd.date_range(start_utc, periods=n, freq="1h", tz="UTC").tz_convert("Europe/London")
    shown = [t.strftime("%Y-%m-%d %H:%M") if fmt == "naive" else t.isoformat() for t in stamps]
    path.write_text("timestamp,value\n" + "".join(
        f"{t},{v:g}\n" for t, v in zip(shown, values, strict=True)))
    return path


def test_predict_with_tz_steps_across_a_daylight_saving_change(tmp_path: Path) -> None:
    # a local-time file ending at 23:00 on 28 March 2015; the clocks skip 01:00 that night
    path = london_csv(tmp_path / "local.csv", "2015-03-14", 15 * 24)
    out = tmp_path / "pred.csv"
    result = run("forecast", "predict", "--csv", str(path), "--tz", "Europe/London",
                 "--horizon", "4", "--out", str(out))
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["timestamp", "mean", "lo80", "hi80", "lo95", "hi95"]
    assert list(frame["timestamp"]) == ["2015-03-29 00:00:00+00:00", "2015-03-29 02:00:00+01:00",
                                        "2015-03-29 03:00:00+01:00", "2015-03-29 04:00:00+01:00"]
    assert (frame.drop(columns="timestamp") >= 0).all().all()


def test_local_time_with_a_repeated_hour_is_a_usage_error_naming_tz(tmp_path: Path) -> None:
    path = london_csv(tmp_path / "local.csv", "2015-10-20", 10 * 24)
    for command in (["forecast", "predict", "--horizon", "2"],
                    ["forecast", "backtest", "--horizon", "2", "--origins", "2"],
                    ["train", "forecaster"]):
        result = run(*command, "--csv", str(path), "--out", str(tmp_path / "out"))
        assert result.exit_code == 2 and "Traceback" not in result.output
        message = " ".join(result.output.split())
        assert (f"{path}: column 'timestamp': timestamp 2015-10-25 01:00:00 repeats at line"
                in message)
        assert "pass --tz with the zone the file was written in" in message
    result = run("forecast", "predict", "--csv", str(path), "--tz", "Mars/Olympus",
                 "--horizon", "2", "--out", str(tmp_path / "out"))
    assert result.exit_code == 2 and "'--tz': unknown time zone 'Mars/Olympus'" in result.output


def test_predict_continues_the_offset_the_file_ends_on(tmp_path: Path) -> None:
    path = london_csv(tmp_path / "offsets.csv", "2015-03-14", 16 * 24, fmt="iso")
    out = tmp_path / "pred.csv"
    result = run("forecast", "predict", "--csv", str(path), "--horizon", "2", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert list(pd.read_csv(out)["timestamp"]) == ["2015-03-30 01:00:00+01:00",
                                                   "2015-03-30 02:00:00+01:00"]


def test_train_forecaster_on_offsets_saves_a_model_on_the_controllers_utc_clock(
    tmp_path: Path,
) -> None:
    path = london_csv(tmp_path / "offsets.csv", "2015-06-01", 10 * 24, fmt="iso")
    out = tmp_path / "model.joblib"
    result = run("train", "forecaster", "--csv", str(path), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "converted to UTC, the controller's clock" in result.output
    model = LoadForecaster.load(out)
    assert model.last_timestamp_ == pd.Timestamp("2015-06-10 23:00")  # naive UTC
    # the controller feeds naive UTC points (controller.live_models)
    model.update(pd.Series([100.0], index=pd.DatetimeIndex(["2015-06-11 00:00"])))
    assert model.forecast(1).timestamps[0] == pd.Timestamp("2015-06-11 01:00")


def test_predict_with_freq_sum_does_not_start_from_a_partial_last_bin(tmp_path: Path) -> None:
    minutes = seasonal_series(n=3 * 1440 + 50, period=1440, step="1min", level=20, noise=0.01)
    path = tmp_path / "raw.csv"
    minutes.rename_axis("timestamp").reset_index().to_csv(path, index=False)
    out = tmp_path / "pred.csv"
    result = run("forecast", "predict", "--csv", str(path), "--freq", "1h", "--horizon", "2",
                 "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "last --freq 1h bin: the data cover only 50min of it" in result.output
    frame = pd.read_csv(out)
    assert list(frame["timestamp"]) == ["2024-01-04 01:00:00", "2024-01-04 02:00:00"]
    hourly = minutes.resample("1h").sum()
    a_day_before = hourly.loc["2024-01-03 01:00"]  # the series repeats daily
    assert frame["mean"].iloc[0] == pytest.approx(a_day_before, rel=0.1)


def test_predict_and_train_never_write_a_diverged_forecast(tmp_path: Path) -> None:
    # a noise-free period-7 series of 300 hours once made the fit forecast 1e304
    stamps = pd.date_range("2024-01-01", periods=300, freq="1h")
    path = tmp_path / "synthetic.csv"
    path.write_text("timestamp,value\n" + "".join(
        f"{t},{10 + i % 7}\n" for i, t in enumerate(stamps)))
    out = tmp_path / "pred.csv"
    result = run("forecast", "predict", "--csv", str(path), "--horizon", "3", "--out", str(out))
    if result.exit_code == 0:
        assert pd.read_csv(out)["hi95"].max() <= 1000 * 16
    else:
        assert result.exit_code == 2 and not out.exists()
        assert "the fit diverged" in result.output and f"{path}: the model fitted" in result.output
    model = tmp_path / "model.joblib"
    result = run("train", "forecaster", "--csv", str(path), "--out", str(model))
    if result.exit_code == 0:
        assert LoadForecaster.load(model).forecast(12).hi95.max() <= 1000 * 16
    else:
        assert result.exit_code == 2 and not model.exists() and "the fit diverged" in result.output


def test_fit_windows_by_points_and_by_days_are_the_cli_defaults(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from controller.cli import forecast_cmd

    rng = np.random.default_rng(4)
    days = pd.date_range("2020-01-01", periods=800, freq="D")
    daily = tmp_path / "daily.csv"
    pd.DataFrame({"timestamp": days, "value": rng.poisson(
        np.where(days.day_of_week < 5, 900, 500))}).to_csv(daily, index=False)
    model = tmp_path / "m.joblib"
    result = run("train", "forecaster", "--csv", str(daily), "--out", str(model))
    assert result.exit_code == 0, result.output
    assert "last 366 days: 366 of 800 points" in result.output
    assert LoadForecaster.load(model).metadata_["n_points"] == 366
    result = run("train", "forecaster", "--csv", str(daily), "--max-history-days", "0",
                 "--out", str(model))
    assert result.exit_code == 0 and LoadForecaster.load(model).metadata_["n_points"] == 800
    # a file longer than the point cap is fitted on its most recent points, and says so
    monkeypatch.setattr(forecast_cmd, "FIT_MAX_POINTS", 500)
    out = tmp_path / "pred.csv"
    result = run("forecast", "predict", "--csv", str(daily), "--max-history-days", "0",
                 "--horizon", "3", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert f"{daily}: fitted on the last 500 of 800 points (--max-history" in result.output
    assert "on 500 points" in result.output
    result = run("forecast", "predict", "--csv", str(daily), "--max-history-days", "0",
                 "--max-history", "700", "--horizon", "3", "--out", str(out))
    assert result.exit_code == 0 and "on 700 points" in result.output


def _summary(model: float, naive: float, seasonal: float, excluded: int = 0) -> dict:
    best = min(naive, seasonal)
    return {
        "origins": 20, "horizon": 12, "forecasts": 240, "excluded_filled": excluded,
        "model": {"mase": model, "coverage80": 0.81, "coverage80_ci95": [0.72, 0.9]},
        "naive": {"mase": naive}, "seasonal_naive": {"mase": seasonal},
        "mase_vs_best_baseline": model / best if best > 0 else float("nan"),
    }


@pytest.mark.parametrize(
    ("model", "naive", "seasonal", "shown", "note"),
    [
        (0.6, 1.0, 0.8, "(model 0.75 x seasonal naive's, the better baseline)", None),
        (0.181, 0.168, 1.326, "(model 1.08 x naive's, the better baseline)",
         "note: naive forecast these origins at least as well as the model"),
        (0.9, 1.2, 0.9, "(model 1.00 x seasonal naive's, the better baseline)",
         "note: seasonal naive forecast these origins at least as well as the model"),
        (0.1, 0.0, 0.0, "seasonal naive 0.000; 80 % coverage", None),  # a constant series
    ],
)
def test_backtest_report_gives_the_ratio_and_says_when_a_baseline_did_better(
    model: float, naive: float, seasonal: float, shown: str, note: str | None,
) -> None:
    from controller.cli.forecast_cmd import backtest_report

    lines = backtest_report(_summary(model, naive, seasonal), Path("bt.csv"))
    assert shown in lines[0] and lines[0].endswith("wrote bt.csv")
    assert "(95 % interval 72%-90% over the origins)" in lines[0]
    notes = [line for line in lines[1:] if "forecast these origins" in line]
    if note is None:
        assert notes == []
    else:
        assert len(notes) == 1 and notes[0].startswith(note)


def test_backtest_report_notes_the_steps_on_filled_in_points() -> None:
    from controller.cli.forecast_cmd import backtest_report

    lines = backtest_report(_summary(0.6, 1.0, 0.8, excluded=7), Path("bt.csv"))
    assert lines[1:] == ["note: 7 of 240 forecast steps fall on points filled in across gaps: "
                         "not scored (their actual is left empty in --out)"]
