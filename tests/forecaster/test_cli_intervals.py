"""``--intervals``: how predict, backtest and train size the 80/95 % bounds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from controller.cli import main
from forecaster import LoadForecaster, read_series
from tests.forecaster.conftest import seasonal_series


@pytest.fixture(scope="module")
def series_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("intervals") / "load.csv"
    series = seasonal_series(n=1400, period=48, step="30min", noise=0.1)
    series.rename_axis("timestamp").reset_index().to_csv(path, index=False)
    return path


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def predict(series_csv: Path, out: Path, *extra: str) -> pd.DataFrame:
    result = run("forecast", "predict", "--csv", str(series_csv), "--horizon", "12",
                 "--out", str(out), *extra)
    assert result.exit_code == 0, result.output
    return pd.read_csv(out)


@pytest.mark.parametrize("flag, calibration", [("held-out", "held_out"),
                                               ("in-sample", "in_sample"), ("none", "none")])
def test_predict_sizes_the_bounds_as_the_flag_says(series_csv: Path, tmp_path: Path, flag: str,
                                                   calibration: str) -> None:
    frame = predict(series_csv, tmp_path / "p.csv", "--intervals", flag)
    model = LoadForecaster(interval_calibration=calibration).fit(read_series(series_csv))
    want = model.forecast(12)
    for column in ("mean", "lo80", "hi80", "lo95", "hi95"):
        np.testing.assert_allclose(frame[column], getattr(want, column), rtol=1e-6,
                                   err_msg=column)


def test_the_default_is_held_out_and_only_the_bounds_differ(series_csv: Path,
                                                           tmp_path: Path) -> None:
    default = predict(series_csv, tmp_path / "a.csv")
    held = predict(series_csv, tmp_path / "b.csv", "--intervals", "held-out")
    inside = predict(series_csv, tmp_path / "c.csv", "--intervals", "in-sample")
    pd.testing.assert_frame_equal(default, held)
    np.testing.assert_array_equal(held["mean"], inside["mean"])
    assert not np.allclose(held["hi80"], inside["hi80"])


def test_backtest_and_train_take_the_flag(series_csv: Path, tmp_path: Path) -> None:
    rows = {}
    for flag in ("held-out", "none"):
        out = tmp_path / f"bt_{flag}.csv"
        result = run("forecast", "backtest", "--csv", str(series_csv), "--horizon", "4",
                     "--origins", "3", "--out", str(out), "--intervals", flag)
        assert result.exit_code == 0, result.output
        rows[flag] = pd.read_csv(out)
    np.testing.assert_array_equal(rows["held-out"]["mean"], rows["none"]["mean"])
    assert not np.allclose(rows["held-out"]["hi80"], rows["none"]["hi80"])
    result = run("train", "forecaster", "--csv", str(series_csv), "--out",
                 str(tmp_path / "m.joblib"), "--intervals", "in-sample")
    assert result.exit_code == 0, result.output
    assert "intervals: in-sample: the fitted model's errors over its own window" in result.output
    loaded = LoadForecaster.load(tmp_path / "m.joblib")
    assert loaded.interval_calibration == "in_sample"


def test_an_unknown_value_is_a_usage_error_naming_the_flag(series_csv: Path,
                                                          tmp_path: Path) -> None:
    result = run("forecast", "predict", "--csv", str(series_csv), "--horizon", "2",
                 "--out", str(tmp_path / "p.csv"), "--intervals", "wide")
    assert result.exit_code == 2
    assert "--intervals" in result.output and "'wide' is not one of" in result.output
    assert not (tmp_path / "p.csv").exists()
