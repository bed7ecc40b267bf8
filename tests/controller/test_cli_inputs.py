"""What every offline command does with its output files and with input that does not fit:
--out is checked before the work, written whole or not at all, never the input file; a
failed run leaves the previous output as it was; no half-written or temporary files."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from controller.cli import main
from detector.synth import healthy_fleet
from tests.forecaster.conftest import seasonal_series

FLEET_START = pd.Timestamp("2026-01-01")
FLEET_TRAIN_UNTIL = str(FLEET_START + 150 * pd.Timedelta(seconds=15))


@pytest.fixture(scope="module")
def series_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("series") / "load.csv"
    seasonal_series(n=200, period=24, step="1h").rename_axis("timestamp").reset_index().to_csv(
        path, index=False
    )
    return path


@pytest.fixture(scope="module")
def fleet_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fleet") / "fleet.csv"
    healthy_fleet(n_nodes=3, steps=200, seed=3).to_csv(path, index=False)
    return path


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def commands(series: Path, fleet: Path, out: Path) -> dict[str, list[str]]:
    return {
        "predict": ["forecast", "predict", "--csv", str(series), "--horizon", "3",
                    "--out", str(out)],
        "backtest": ["forecast", "backtest", "--csv", str(series), "--horizon", "3",
                     "--origins", "2", "--out", str(out)],
        "train-forecaster": ["train", "forecaster", "--csv", str(series), "--out", str(out)],
        "simulate": ["simulate", "--trace", str(series), "--policy", "static",
                     "--node-capacity", "50", "--out", str(out)],
        "detect-run": ["detect", "run", "--metrics", str(fleet), "--train-until",
                       FLEET_TRAIN_UNTIL, "--out", str(out)],
        "train-detector": ["train", "detector", "--metrics", str(fleet), "--out", str(out)],
    }


NAMES = ["predict", "backtest", "train-forecaster", "simulate", "detect-run", "train-detector"]


@pytest.mark.parametrize("name", NAMES)
def test_out_into_a_missing_directory_is_created_and_leaves_no_partial_file(
    name: str, series_csv: Path, fleet_csv: Path, tmp_path: Path
) -> None:
    out = tmp_path / "new" / "deeper" / "result.out"
    code, output = invoke(*commands(series_csv, fleet_csv, out)[name])
    assert code == 0, output
    assert out.is_file() and out.stat().st_size > 0
    assert [p.name for p in out.parent.iterdir()] == ["result.out"]


@pytest.mark.parametrize("name", NAMES)
def test_out_under_a_file_is_a_usage_error_before_any_work(
    name: str, series_csv: Path, fleet_csv: Path, tmp_path: Path
) -> None:
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("keep me\n")
    code, output = invoke(*commands(series_csv, fleet_csv, blocker / "result.out")[name])
    assert code == 2
    assert "--out" in output and "not a directory" in output
    assert blocker.read_text() == "keep me\n"


@pytest.mark.parametrize("name", ["predict", "simulate", "detect-run"])
def test_out_naming_the_input_file_is_refused(
    name: str, series_csv: Path, fleet_csv: Path
) -> None:
    source = fleet_csv if name == "detect-run" else series_csv
    before = source.read_bytes()
    code, output = invoke(*commands(series_csv, fleet_csv, source)[name])
    assert code == 2 and "--out" in output and f"is also '{source}'" in output
    assert source.read_bytes() == before


@pytest.mark.parametrize("name", NAMES)
def test_out_dash_is_refused_not_written_as_a_file_named_dash(
    name: str, series_csv: Path, fleet_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # '-' reads standard input for --csv; as --out it made a file called '-' in the cwd
    monkeypatch.chdir(tmp_path)
    code, output = invoke(*commands(series_csv, fleet_csv, Path("-"))[name])
    assert code == 2 and "--out" in output and "not standard output" in output
    assert not (tmp_path / "-").exists()


def test_backtest_summary_naming_the_out_file_is_refused(series_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "bt.csv"
    code, output = invoke("forecast", "backtest", "--csv", str(series_csv), "--horizon", "3",
                          "--origins", "2", "--out", str(out), "--summary", str(out))
    assert code == 2 and "--summary" in output and f"is also '{out}'" in output
    assert not out.exists()


@pytest.mark.parametrize("name", ["predict", "train-forecaster", "detect-run"])
def test_a_failed_run_keeps_the_previous_output(name: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,value\n2024-01-01,1\nyesterday,2\n")
    out = tmp_path / "previous.out"
    out.write_text("previous result\n")
    code, _ = invoke(*commands(bad, bad, out)[name])
    assert code == 2
    assert out.read_text() == "previous result\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv", "previous.out"]


def test_backtest_with_more_origins_than_fit_is_a_usage_error(
    series_csv: Path, tmp_path: Path
) -> None:
    code, output = invoke("forecast", "backtest", "--csv", str(series_csv), "--horizon", "3",
                          "--origins", "500", "--out", str(tmp_path / "bt.csv"))
    assert code == 2
    assert "--origins" in output and "at most 58 origins" in output
    assert not (tmp_path / "bt.csv").exists()


# pandas 2.x warned on a deprecated spelling (its FutureWarning text reached the user,
# and under pytest's warnings-as-errors it was a crash); pandas 3 refuses them outright
@pytest.mark.parametrize(("freq", "says"), [
    ("0h", "'0h' is not a positive step"), ("-1h", "'-1h' is not a positive step"),
    ("1H", "'1H'"), ("5minutes", "'5minutes'"),
])
@pytest.mark.parametrize("name", ["predict", "backtest", "train-forecaster", "simulate"])
def test_a_freq_of_zero_or_less_or_deprecated_is_a_usage_error(
    name: str, freq: str, says: str, series_csv: Path, fleet_csv: Path, tmp_path: Path
) -> None:
    out = tmp_path / "result.out"
    code, output = invoke(*commands(series_csv, fleet_csv, out)[name], "--freq", freq)
    assert code == 2, output
    assert "--freq" in output and says in output and "Warning" not in output
    assert not out.exists()


@pytest.mark.parametrize("command", ["run", "eval"])
def test_train_until_after_all_data_is_a_usage_error(
    command: str, fleet_csv: Path, tmp_path: Path
) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("node,start,end\nnode-1,2026-01-01 00:40:00,2026-01-01 00:45:00\n")
    extra = ["--out", str(tmp_path / "a.csv")] if command == "run" else ["--labels", str(labels)]
    code, output = invoke("detect", command, "--metrics", str(fleet_csv),
                          "--train-until", "2030-01-01", *extra)
    assert code == 2
    assert "--train-until" in output and "no rows at or after 2030-01-01" in output
    assert "data ends 2026-01-01 00:49:45" in output


def test_simulate_reads_a_spreadsheet_export_like_the_plain_trace(
    series_csv: Path, tmp_path: Path
) -> None:
    plain = pd.read_csv(series_csv)
    rows = [f"{t};{v:.6f} req/s".replace(".", ",")
            for t, v in zip(plain["timestamp"], plain["value"], strict=True)]
    export = tmp_path / "export.csv"
    export.write_bytes(("\ufeffTime;Load\r\n" + "\r\n".join(rows) + "\r\n").encode())
    results = []
    for trace in (series_csv, export):
        out = tmp_path / f"{trace.stem}.json"
        code, output = invoke("simulate", "--trace", str(trace), "--policy", "static,reactive",
                              "--node-capacity", "50", "--out", str(out))
        assert code == 0, output
        results.append(json.loads(out.read_text())["policies"])
    assert "note: " in output and "unit 'req/s' stripped from column 'Load'" in output
    assert results[0] == results[1]


def test_simulate_report_dir_gets_only_the_finished_files(
    series_csv: Path, tmp_path: Path
) -> None:
    report = tmp_path / "new" / "report"
    code, output = invoke("simulate", "--trace", str(series_csv), "--policy", "static",
                          "--node-capacity", "50", "--out", str(tmp_path / "r.json"),
                          "--report-dir", str(report))
    assert code == 0, output
    assert sorted(p.name for p in report.iterdir()) == ["simulate.md", "simulate.png"]
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, output = invoke("simulate", "--trace", str(series_csv), "--policy", "static",
                          "--node-capacity", "50", "--out", str(tmp_path / "r2.json"),
                          "--report-dir", str(blocker / "report"))
    assert code == 2 and "--report-dir" in output and "not a directory" in output
    assert not (tmp_path / "r2.json").exists()


def test_predict_horizon_longer_than_the_history_says_so(series_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "far.csv"
    code, output = invoke("forecast", "predict", "--csv", str(series_csv), "--horizon", "250",
                          "--out", str(out))
    assert code == 0, output
    assert "--horizon 250 reaches further ahead than the 200 points fitted on" in output
    assert len(pd.read_csv(out)) == 250
    code, output = invoke("forecast", "predict", "--csv", str(series_csv), "--horizon", "24",
                          "--out", str(out))
    assert code == 0 and "reaches further ahead" not in output, output


def test_simulate_reads_local_time_across_daylight_saving_with_tz(tmp_path: Path) -> None:
    # hourly London wall-clock times without offsets, through the night the clocks go back
    values = seasonal_series(n=240, period=24, step="1h").to_numpy()
    stamps = pd.date_range("2015-10-20", periods=240, freq="1h", tz="UTC").tz_convert(
        "Europe/London")
    trace = tmp_path / "local.csv"
    trace.write_text("timestamp,value\n" + "".join(
        f"{t:%Y-%m-%d %H:%M},{v:g}\n" for t, v in zip(stamps, values, strict=True)))
    out = tmp_path / "result.json"
    args = ["simulate", "--trace", str(trace), "--policy", "reactive,oracle",
            "--node-capacity", "0.02", "--out", str(out)]
    code, output = invoke(*args)
    assert code == 2 and not out.exists()
    assert "repeats at line" in output and "pass --tz" in " ".join(output.split())
    code, output = invoke(*args, "--tz", "Europe/London")
    assert code == 0, output
    trace_info = json.loads(out.read_text())["trace"]
    assert trace_info["points"] == 240 and trace_info["step_seconds"] == 3600
    assert trace_info["end"] == "2015-10-29T23:00:00+00:00"
    code, output = invoke(*args, "--tz", "Nowhere/City")
    assert code == 2 and "unknown time zone 'Nowhere/City'" in output


def test_simulate_forecast_ceiling_is_off_at_0_and_refused_below_1(
    series_csv: Path, tmp_path: Path
) -> None:
    for ceiling, recorded in (("0", False), ("1.5", True)):
        out = tmp_path / f"c{ceiling}.json"
        code, output = invoke("simulate", "--trace", str(series_csv), "--policy", "predictive",
                              "--node-capacity", "50", "--forecast-ceiling", ceiling,
                              "--out", str(out))
        assert code == 0, output
        params = json.loads(out.read_text())["policies"]["predictive"]["params"]
        assert params.get("forecast_ceiling") == (1.5 if recorded else None)
    code, output = invoke("simulate", "--trace", str(series_csv), "--policy", "predictive",
                          "--node-capacity", "50", "--forecast-ceiling", "0.5",
                          "--out", str(tmp_path / "low.json"))
    assert code == 2 and "--forecast-ceiling" in output and "below 1" in output
    assert not (tmp_path / "low.json").exists()
