"""``fleetcast detect run|eval`` and ``fleetcast train detector`` as a user calls them,
including the clear errors for bad input (exit code 2, no traceback)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from controller.cli import main
from detector import NodeDetector
from detector.evaluate import score_events
from detector.synth import healthy_fleet, inject

START = pd.Timestamp("2026-01-01")
STEP = pd.Timedelta(seconds=15)
TRAIN_UNTIL = START + 300 * STEP
FAULT_AT = START + 360 * STEP


@pytest.fixture(scope="module")
def fleet_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    fleet = healthy_fleet(n_nodes=4, steps=450, seed=11)
    fleet = inject(fleet, "node-2", "error_rate", FAULT_AT, START + 400 * STEP, add=0.25)
    fleet = fleet.drop(fleet.sample(frac=0.01, random_state=1).index)  # missing samples
    path = tmp_path_factory.mktemp("fleet") / "fleet.csv"
    fleet.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def labels_csv(fleet_csv: Path) -> Path:
    path = fleet_csv.with_name("labels.csv")
    pd.DataFrame({"node": ["node-2"], "start": [FAULT_AT], "end": [START + 400 * STEP]}).to_csv(
        path, index=False
    )
    return path


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def test_detect_run_writes_one_row_per_node_window_after_train_until(fleet_csv, tmp_path):
    out = tmp_path / "alerts.csv"
    code, output = invoke(
        "detect",
        "run",
        "--metrics",
        str(fleet_csv),
        "--train-until",
        str(TRAIN_UNTIL),
        "--out",
        str(out),
    )
    assert code == 0, output
    alerts = pd.read_csv(out, parse_dates=["timestamp"], keep_default_na=False)
    assert list(alerts.columns) == ["timestamp", "node", "score", "anomalous", "top_metrics"]
    assert alerts["timestamp"].min() >= TRAIN_UNTIL
    assert len(alerts) == 150 * 4
    assert set(alerts["anomalous"].unique()) <= {0, 1}
    flagged = alerts[alerts["anomalous"] == 1]
    faulty = flagged[flagged["node"] == "node-2"]
    assert faulty["timestamp"].min() <= FAULT_AT + 2 * STEP
    assert faulty["top_metrics"].str.split(";").map(lambda t: "error_rate" in t).mean() > 0.9
    assert (flagged["node"] != "node-2").sum() <= 0.01 * len(alerts)  # few false alerts


def test_detect_eval_reports_detector_and_both_peers(fleet_csv, labels_csv):
    code, output = invoke(
        "detect",
        "eval",
        "--metrics",
        str(fleet_csv),
        "--labels",
        str(labels_csv),
        "--train-until",
        str(TRAIN_UNTIL),
        "--json",
    )
    assert code == 0, output
    report = json.loads(output)
    assert {"detector", "robust_z", "envoy"} <= set(report)
    detector = report["detector"]
    assert (detector["events"], detector["found"]) == (1, 1)
    assert detector["false_episodes"] <= 1
    assert detector["median_delay_seconds"] <= 45
    assert report["robust_z"]["false_episodes"] >= detector["false_episodes"]
    # with 4 hosts one outlier can never sit 1.9 sigma below the mean (max z = sqrt(3))
    assert report["envoy"].get("applicable", True) and report["envoy"]["found"] == 0
    code, text = invoke(
        "detect",
        "eval",
        "--metrics",
        str(fleet_csv),
        "--labels",
        str(labels_csv),
        "--train-until",
        str(TRAIN_UNTIL),
    )
    assert code == 0 and "robust_z" in text and "F1" in text


def test_train_detector_saves_a_loadable_model(fleet_csv, tmp_path):
    out = tmp_path / "model.joblib"
    code, output = invoke(
        "train",
        "detector",
        "--metrics",
        str(fleet_csv),
        "--until",
        str(TRAIN_UNTIL),
        "--out",
        str(out),
    )
    assert code == 0, output
    model = NodeDetector.load(out)
    assert model.metadata_["training_range"][1] < str(TRAIN_UNTIL)
    alerts = tmp_path / "alerts.csv"
    code, output = invoke(
        "detect",
        "run",
        "--metrics",
        str(fleet_csv),
        "--train-until",
        str(TRAIN_UNTIL),
        "--out",
        str(alerts),
        "--model",
        str(out),
    )
    assert code == 0, output


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


GOOD_HEADER = "timestamp,node,metric,value\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty"),
        (GOOD_HEADER, "no data rows"),
        ("timestamp,node,value\n2026-01-01,a,1\n", "missing column(s) metric"),
        (GOOD_HEADER + "2026-01-01,a,rps,1\n2026-01-01,b,rps,fast\n", "line 3: value 'fast'"),
        (GOOD_HEADER + "yesterday,a,rps,1\n", "line 2: timestamp 'yesterday'"),
        (GOOD_HEADER + "2026-01-01,,rps,1\n", "line 2: empty node"),
    ],
    ids=[
        "empty-file",
        "header-only",
        "missing-column",
        "non-numeric",
        "bad-timestamp",
        "empty-node",
    ],
)
def test_bad_metrics_file_is_a_clear_usage_error(tmp_path, content: str, message: str):
    path = write(tmp_path, "fleet.csv", content)
    code, output = invoke(
        "detect",
        "run",
        "--metrics",
        str(path),
        "--train-until",
        "2026-01-01",
        "--out",
        str(tmp_path / "out.csv"),
    )
    assert code == 2
    assert "--metrics" in output and message in output and str(path) in output
    assert "Traceback" not in output


def test_bad_flags_and_labels_are_clear_usage_errors(fleet_csv, labels_csv, tmp_path):
    code, output = invoke(
        "detect",
        "run",
        "--metrics",
        str(fleet_csv),
        "--train-until",
        "soon",
        "--out",
        str(tmp_path / "o.csv"),
    )
    assert code == 2 and "--train-until" in output and "'soon'" in output
    code, output = invoke(
        "detect",
        "run",
        "--metrics",
        str(fleet_csv),
        "--train-until",
        "2020-01-01",
        "--out",
        str(tmp_path / "o.csv"),
    )
    assert code == 2 and "no rows before" in output
    code, output = invoke(
        "detect",
        "run",
        "--metrics",
        str(tmp_path / "nope.csv"),
        "--train-until",
        "2026-01-01",
        "--out",
        str(tmp_path / "o.csv"),
    )
    assert code == 2 and "does not exist" in output
    stranger = write(tmp_path, "labels.csv", "node,start,end\nnode-9,2026-01-01,2026-01-02\n")
    code, output = invoke(
        "detect",
        "eval",
        "--metrics",
        str(fleet_csv),
        "--labels",
        str(stranger),
        "--train-until",
        str(TRAIN_UNTIL),
    )
    assert code == 2 and "--labels" in output and "unknown node 'node-9'" in output
    assert "line 2" in output
    columns = write(tmp_path, "labels2.csv", "host,start,end\nnode-1,2026-01-01,2026-01-02\n")
    code, output = invoke(
        "detect",
        "eval",
        "--metrics",
        str(fleet_csv),
        "--labels",
        str(columns),
        "--train-until",
        str(TRAIN_UNTIL),
    )
    assert code == 2 and "missing column(s) node" in output and "found host,start,end" in output
    backwards = write(tmp_path, "labels3.csv",
                      "node,start,end\nnode-1,2026-01-01 02:00,2026-01-01 01:00\n")
    code, output = invoke("detect", "eval", "--metrics", str(fleet_csv), "--labels",
                          str(backwards), "--train-until", str(TRAIN_UNTIL))
    assert code == 2 and "--labels" in output and "line 2: end is before start" in output
    gaps = write(tmp_path, "labels4.csv", "node,start,end\nnode-1,2026-01-01,2026-01-02\n\n\n"
                 "node-7,2026-01-01,2026-01-02\nnode-1,2026-01-03,2026-01-02\n")
    code, output = invoke("detect", "eval", "--metrics", str(fleet_csv), "--labels",
                          str(gaps), "--train-until", str(TRAIN_UNTIL))
    assert code == 2 and "line 6: end is before start" in output  # blank lines 3-4 count
    gaps.write_text(gaps.read_text().rsplit("node-1,2026-01-03", 1)[0])
    code, output = invoke("detect", "eval", "--metrics", str(fleet_csv), "--labels",
                          str(gaps), "--train-until", str(TRAIN_UNTIL))
    assert code == 2 and "line 5: unknown node 'node-7'" in output
    bad_time = write(tmp_path, "labels5.csv", "node,start,end\n\nnode-1,2026-01-01,later\n")
    code, output = invoke("detect", "eval", "--metrics", str(fleet_csv), "--labels",
                          str(bad_time), "--train-until", str(TRAIN_UNTIL))
    assert code == 2 and "line 3: end 'later' is not a timestamp" in output


def test_event_scoring_counts_windows_found_and_false_episodes():
    t = [START + i * STEP for i in range(12)]
    alerts = pd.DataFrame(
        {
            "timestamp": t * 2,
            "node": ["a"] * 12 + ["b"] * 12,
            #          found inside a's window | a false episode on b
            "anomalous": [0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]
            + [0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0],
        }
    )
    labels = pd.DataFrame({"node": ["a", "a"], "start": [t[1], t[9]], "end": [t[4], t[11]]})
    score = score_events(alerts, labels)
    assert (score["found"], score["false_episodes"], score["events"]) == (1, 1, 2)
    assert score["precision"] == 0.5 and score["recall"] == 0.5
    assert score["median_delay_seconds"] == 15.0
    assert score["localization_accuracy"] == 1.0


def _epoch(stamps: pd.Series, per_second: int) -> pd.Series:
    # by Timedelta division, not astype("int64"): pandas 3 parses to microseconds, not ns
    since = pd.to_datetime(stamps) - pd.Timestamp("1970-01-01")
    return (since // (pd.Timedelta(seconds=1) / per_second)).astype(str)


EXPORTS = {  # how monitoring tools and spreadsheets write the same long table
    "bom-crlf": lambda f: "\ufeff" + f.to_csv(index=False, lineterminator="\r\n"),
    "quoted": lambda f: f.to_csv(index=False, quoting=1),
    "header-case-spaces": lambda f: f.set_axis(["Timestamp ", " Node", "METRIC", "Value"], axis=1)
    .to_csv(index=False),
    "extra-columns": lambda f: f.assign(job="gw", instance="10.0.0.1").to_csv(index=False),
    "utc-z": lambda f: f.assign(
        timestamp=pd.to_datetime(f["timestamp"]).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    ).to_csv(index=False),
    "mixed-offsets": lambda f: f.assign(
        timestamp=[
            t.strftime("%Y-%m-%dT%H:%M:%SZ") if i % 2
            else (t + pd.Timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S+02:00")
            for i, t in enumerate(pd.to_datetime(f["timestamp"]))
        ]
    ).to_csv(index=False),
    "epoch-seconds": lambda f: f.assign(timestamp=_epoch(f["timestamp"], 1)).to_csv(index=False),
    "epoch-millis": lambda f: f.assign(timestamp=_epoch(f["timestamp"], 1000)).to_csv(index=False),
    "no-header-row": lambda f: f.to_csv(index=False, header=False),
    "trailing-empty-rows": lambda f: f.to_csv(index=False) + "\n,,,\n,,,\n\n",
    "semicolon-decimal-comma": lambda f: f.to_csv(index=False, sep=";", decimal=","),
}


@pytest.fixture(scope="module")
def small_fleet() -> pd.DataFrame:
    fleet = healthy_fleet(n_nodes=3, steps=240, seed=5)
    return inject(fleet, "node-1", "latency_p99_ms", START + 200 * STEP, START + 220 * STEP,
                  add=400.0)


def _alerts(metrics: Path, tmp_path: Path, name: str) -> str:
    out = tmp_path / f"{name}.alerts.csv"
    code, output = invoke("detect", "run", "--metrics", str(metrics), "--train-until",
                          str(START + 160 * STEP), "--out", str(out))
    assert code == 0, output
    return out.read_text()


@pytest.mark.parametrize("export", sorted(EXPORTS) + ["gzip"])
@pytest.mark.filterwarnings("error::FutureWarning")  # pandas' mixed-offset warning
def test_exports_from_real_tools_give_the_same_alerts(export, small_fleet, tmp_path):
    plain = tmp_path / "plain.csv"
    small_fleet.to_csv(plain, index=False)
    if export == "gzip":
        path = tmp_path / "fleet.csv.gz"
        with gzip.open(path, "wt") as handle:
            handle.write(small_fleet.to_csv(index=False))
    else:
        path = tmp_path / "fleet.csv"
        path.write_bytes(EXPORTS[export](small_fleet).encode())
    expected = _alerts(plain, tmp_path, "plain")
    assert "node-1" in expected
    assert _alerts(path, tmp_path, export) == expected


def test_labels_exports_read_like_the_plain_file(fleet_csv, tmp_path):
    start, end = FAULT_AT, START + 400 * STEP
    seconds = [int(t.timestamp()) for t in (start, end)]
    plain = write(tmp_path, "plain.csv", f"node,start,end\nnode-2,{start},{end}\n")
    variants = [
        f"\ufeffNode ; Start ; End\r\n\"node-2\";{seconds[0]};{seconds[1]}\r\n;;\r\n",
        f"node,start,end,comment\nnode-2,{start:%Y-%m-%dT%H:%M:%SZ},{end:%Y-%m-%dT%H:%M:%SZ},x\n",
        f"node-2,{start},{end}\n",
    ]
    reports = []
    for i, text in enumerate([plain.read_text(), *variants]):
        path = tmp_path / f"labels{i}.csv"
        path.write_bytes(text.encode())
        code, output = invoke("detect", "eval", "--metrics", str(fleet_csv), "--labels",
                              str(path), "--train-until", str(TRAIN_UNTIL), "--json")
        assert code == 0, output
        reports.append(json.loads(output)["detector"])
    assert reports[0]["events"] == 1
    assert reports[1:] == [reports[0]] * 3


def test_error_lines_count_blank_lines_and_epoch_is_not_nanoseconds(tmp_path):
    rows = "2026-01-01,a,rps,1\n\n\n2026-01-01,b,rps,x\n"
    path = write(tmp_path, "fleet.csv", GOOD_HEADER + rows)
    code, output = invoke("detect", "run", "--metrics", str(path), "--train-until", "2026-01-02",
                          "--out", str(tmp_path / "o.csv"))
    assert code == 2 and "line 5: value 'x'" in output
    path = write(tmp_path, "headerless.csv", rows.replace("\n\n\n", "\n"))
    code, output = invoke("detect", "run", "--metrics", str(path), "--train-until", "2026-01-02",
                          "--out", str(tmp_path / "o.csv"))
    assert code == 2 and "line 2: value 'x'" in output
    from detector.frame import read_fleet_csv

    frame = read_fleet_csv(write(tmp_path, "e.csv", GOOD_HEADER + "1767225600,a,rps,1\n"))
    assert frame["timestamp"].iloc[0] == pd.Timestamp("2026-01-01")


def test_binary_and_windows_encoded_metrics_files(tmp_path):
    workbook = tmp_path / "fleet.xlsx"
    workbook.write_bytes(b"PK\x03\x04\x14\x00\x06\x00" + bytes(range(256)))
    code, output = invoke("detect", "run", "--metrics", str(workbook), "--train-until",
                          "2026-01-01", "--out", str(tmp_path / "o.csv"))
    assert code == 2 and "--metrics" in output and "not a CSV file" in output
    from detector.frame import read_fleet_csv

    windows = tmp_path / "win.csv"
    windows.write_bytes((GOOD_HEADER + "2026-01-01,n\xf6de-1,rps,1\n").encode("cp1252"))
    assert read_fleet_csv(windows)["node"].tolist() == ["n\xf6de-1"]
