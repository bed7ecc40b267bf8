"""Real-data check of the detector: NAB's seven realTweets series as a 7-node fleet.

Node k is file k (Twitter mention volume of one company, one metric ``value``,
very different scales per node); the files share one 5-minute grid from the
same start, so aligning by position is aligning by timestamp; the fleet is cut
to the shortest file (row k of every file, k < 15,831).  Labels are NAB's
``combined_windows.json`` windows of each file.  The detector is fitted on the
rows before ``--train-until`` (default 2015-03-02 00:00, before the first
labelled window) and scored by ``fleetcast detect eval`` (the CLI, as a user
would run it) against the robust z-score and Envoy-style peers.

    .venv/bin/python benchmarks/detector_nab.py [--data ../shared/data/nab] [--workdir DIR]

The fleet and labels CSVs go to a temporary directory (never the repo's
``data/``); the report lands in ``benchmarks/results/detector_nab.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
DEFAULT_DATA = REPO.parent / "shared" / "data" / "nab"
TRAIN_UNTIL = "2015-03-02 00:00:00"


def build(data: Path, workdir: Path) -> tuple[Path, Path]:
    files = sorted((data / "data" / "realTweets").glob("*.csv"))
    if len(files) != 7:
        raise SystemExit(f"expected 7 realTweets files under {data}, found {len(files)}")
    windows = json.loads((data / "labels" / "combined_windows.json").read_text())
    frames, labels = [], []
    series_list = [pd.read_csv(path, parse_dates=["timestamp"]) for path in files]
    rows = min(len(series) for series in series_list)  # aligned by position: common length
    for k, (path, series) in enumerate(zip(files, series_list, strict=True)):
        series = series.iloc[:rows]
        node = f"node{k}-{path.stem.removeprefix('Twitter_volume_')}"
        frames.append(series.assign(node=node, metric="value"))
        for start, end in windows[f"realTweets/{path.name}"]:
            labels.append({"node": node, "start": pd.Timestamp(start), "end": pd.Timestamp(end)})
    fleet = pd.concat(frames)[["timestamp", "node", "metric", "value"]]
    fleet_csv, labels_csv = workdir / "nab_tweets_fleet.csv", workdir / "nab_tweets_labels.csv"
    fleet.to_csv(fleet_csv, index=False)
    pd.DataFrame(labels).to_csv(labels_csv, index=False)
    return fleet_csv, labels_csv


VARIANTS = [
    ("defaults", []),
    (
        "--smooth-windows 6,36 --threshold-quantile 0.999",
        ["--smooth-windows", "6,36", "--threshold-quantile", "0.999"],
    ),
]


def table(report: dict) -> list[str]:
    lines = [
        "| method | events | found | false episodes | precision | recall | F1 | median delay | "
        "localization |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in ("detector", "robust_z", "envoy"):
        row = report[name]
        if not row.get("applicable", True):
            lines.append(f"| {name} | n/a: {row['reason']} | | | | | | | |")
            continue
        delay = row["median_delay_seconds"]
        loc = row["localization_accuracy"]
        lines.append(
            f"| {name} | {row['events']} | {row['found']} | {row['false_episodes']} | "
            f"{row['precision']:.3f} | {row['recall']:.3f} | **{row['f1']:.3f}** | "
            f"{'-' if delay is None else f'{delay / 60:.0f} min'} | "
            f"{'-' if loc is None else f'{loc:.3f}'} |"
        )
    return lines


def markdown(reports: dict[str, dict], seconds: dict[str, float], train_until: str) -> str:
    lines = [
        "# Detector on real data: NAB realTweets as a 7-node fleet",
        "",
        "Command: `.venv/bin/python benchmarks/detector_nab.py` — builds the fleet and labels "
        "CSVs in a temporary directory and runs `fleetcast detect eval --metrics FLEET.csv "
        f"--labels LABELS.csv --train-until '{train_until}' --json [flags]` once per variant.",
        "",
        "Event-level scores, no point-adjust: a labelled window is found when its node is "
        "anomalous (after hysteresis) inside it; an alert episode touching no window of its node "
        "is a false positive; precision = found / (found + false episodes). NAB's windows start "
        "long before the labelled spike, so 'median delay' is mostly window geometry.",
        "",
    ]
    for name, report in reports.items():
        lines += [f"## `{name}` ({seconds[name]:.1f} s)", "", *table(report), ""]
    lines += [
        "The second variant's flags were chosen after looking at this data set "
        "(trailing-mean channels and a stricter threshold), so its figure is optimistic; "
        "the defaults' figure is the honest one.  Envoy's rules need an error-rate metric; "
        "tweet volume has none.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--train-until", default=TRAIN_UNTIL)
    args = parser.parse_args()
    reports, seconds = {}, {}
    with tempfile.TemporaryDirectory(prefix="fleetcast-nab-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        fleet_csv, labels_csv = build(args.data, workdir)
        fleetcast = Path(sys.executable).with_name("fleetcast")
        for name, flags in VARIANTS:
            cmd = [
                str(fleetcast),
                "detect",
                "eval",
                "--metrics",
                str(fleet_csv),
                "--labels",
                str(labels_csv),
                "--train-until",
                args.train_until,
                "--json",
                *flags,
            ]
            started = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            seconds[name] = time.perf_counter() - started
            if proc.returncode != 0:
                raise SystemExit(f"detect eval failed ({proc.returncode}): {proc.stderr}")
            reports[name] = json.loads(proc.stdout)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "detector_nab.json").write_text(json.dumps(reports, indent=2) + "\n")
    text = markdown(reports, seconds, args.train_until)
    (RESULTS / "detector_nab.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
