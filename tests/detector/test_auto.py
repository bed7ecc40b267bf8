"""Data-dependent batch defaults: trailing-mean spans and threshold quantile from step and size."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from controller.cli import main
from detector.auto import auto_params, auto_smooth_windows, auto_threshold_quantile

DAY = pd.Timedelta(days=1)


@pytest.mark.parametrize(
    ("step", "span", "expected"),
    [
        ("5min", 3 * DAY, (6, 36, 72)),  # 30 min, 3 h and quarter-day means
        ("10min", 3 * DAY, (6, 36)),  # 36 windows are the quarter day already
        ("7min", 3 * DAY, (6, 36, 51)),  # int(6 h / 7 min)
        ("1h", 10 * DAY, (6,)),  # a 36 h mean would average the daily cycle away
        ("15s", pd.Timedelta(hours=2), ()),  # less than a day of history: no season to learn
        ("15s", 2 * DAY, (6, 36, 1440)),
        ("7h", 30 * DAY, ()),
    ],
)
def test_smooth_windows_follow_step_and_history(step, span, expected):
    assert auto_smooth_windows(pd.Timedelta(step), span) == expected


def test_threshold_quantile_is_a_budget_per_node_day_bounded_by_training_size():
    five_min = pd.Timedelta(minutes=5)
    assert auto_threshold_quantile(five_min, 6048) == pytest.approx(1 - 0.5 / 288)
    # a short history cannot estimate a far tail: at least ten training scores above it
    assert auto_threshold_quantile(five_min, 4000) == pytest.approx(1 - 10 / 4000)
    # never below the fixed default
    assert auto_threshold_quantile(pd.Timedelta(hours=1), 100_000) == 0.995
    assert auto_threshold_quantile(pd.Timedelta(seconds=15), 500) == 0.995
    assert auto_threshold_quantile(None, 0) == 0.995


def test_auto_params_from_a_history_frame():
    times = pd.date_range("2026-01-01", periods=3 * 288, freq="5min")
    history = pd.concat(
        pd.DataFrame({"timestamp": times, "node": f"n{i}", "metric": "v", "value": 1.0})
        for i in range(7)
    )
    params = auto_params(history, pd.Timedelta(minutes=5))
    assert params["smooth_windows"] == (6, 36, 72)
    assert params["threshold_quantile"] == pytest.approx(1 - 0.5 / 288, abs=1e-6)


def test_cli_accepts_auto_none_and_explicit_values_and_rejects_nonsense(tmp_path):
    times = pd.date_range("2026-01-01", periods=200, freq="15s")
    frame = pd.concat(
        pd.DataFrame({"timestamp": times, "node": f"n{i}", "metric": "v", "value": 10.0 + i})
        for i in range(4)
    )
    path = tmp_path / "fleet.csv"
    frame.to_csv(path, index=False)
    runner = CliRunner()
    base = ["detect", "run", "--metrics", str(path), "--train-until", str(times[150])]
    for extra, shown in [
        ([], "smooth windows none, threshold quantile 0.995"),
        (["--smooth-windows", "none", "--threshold-quantile", "auto"], "smooth windows none"),
        (["--smooth-windows", "4,8", "--threshold-quantile", "0.99"], "smooth windows 4,8"),
    ]:
        result = runner.invoke(main, [*base, "--out", str(tmp_path / "a.csv"), *extra])
        assert result.exit_code == 0, result.output
        assert shown in result.output
    bad = runner.invoke(
        main, [*base, "--out", str(tmp_path / "a.csv"), "--threshold-quantile", "often"]
    )
    assert bad.exit_code == 2 and "--threshold-quantile" in bad.output
    bad = runner.invoke(main, [*base, "--out", str(tmp_path / "a.csv"), "--smooth-windows", "1"])
    assert bad.exit_code == 2 and "--smooth-windows" in bad.output


def test_eval_json_reports_the_resolved_settings(tmp_path):
    times = pd.date_range("2026-01-01", periods=200, freq="15s")
    frame = pd.concat(
        pd.DataFrame({"timestamp": times, "node": f"n{i}", "metric": "v", "value": 10.0 + i})
        for i in range(4)
    )
    metrics, labels = tmp_path / "fleet.csv", tmp_path / "labels.csv"
    frame.to_csv(metrics, index=False)
    pd.DataFrame({"node": ["n1"], "start": [times[160]], "end": [times[170]]}).to_csv(
        labels, index=False
    )
    args = ["detect", "eval", "--metrics", str(metrics), "--labels", str(labels)]
    result = CliRunner().invoke(main, [*args, "--train-until", str(times[150]), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{") :])
    assert report["settings"] == {"smooth_windows": [], "threshold_quantile": 0.995, "model": None}
