"""NAB folders as fleets: node k = file k, aligned by position, with their labelled windows.

Shared by ``benchmarks/detector_nab.py``; the CSVs go wherever the caller says
(a temporary directory there, never the repo's ``data/``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

# Fleets: (NAB folder, files used (None = all), train-until rule).  ``realTweets`` is
# the tuning fleet; the others are held out (never looked at while choosing defaults).
FLEETS: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "realTweets": ("realTweets", None),
    "realAdExchange": ("realAdExchange", None),
    "realTraffic": ("realTraffic", None),
    # the realKnownCause series with 5-minute steps and a labelled window in their
    # common length (rogue_agent_key_hold is too short, it would cut all the others)
    "realKnownCause5min": (
        "realKnownCause",
        (
            "cpu_utilization_asg_misconfiguration.csv",
            "ec2_request_latency_system_failure.csv",
            "machine_temperature_system_failure.csv",
            "rogue_agent_key_updown.csv",
        ),
    ),
}


def build_fleet(data: Path, name: str, workdir: Path) -> tuple[Path, Path, str]:
    """Write FLEET.csv and LABELS.csv for fleet ``name``; return them and the train-until.

    Files are aligned by position (node k = file k, row i of every file), cut to
    the shortest file.  The fleet's timestamps are the first file's when all
    files share one grid (realTweets), else a regular grid at the median step of
    the first file from its start; each labelled window is moved to the same
    positions on that grid.  Windows starting after the cut are dropped.  The
    detector trains on the rows before midnight before the first labelled window
    (at least 5 % of the rows; labels before that are clipped by the evaluation).
    """
    folder, chosen = FLEETS[name]
    files = sorted((data / "data" / folder).glob("*.csv"))
    if chosen is not None:
        files = [f for f in files if f.name in chosen]
    if len(files) < 3:
        raise SystemExit(f"fleet {name}: expected >= 3 files under {data}, found {len(files)}")
    windows = json.loads((data / "labels" / "combined_windows.json").read_text())
    series_list = [pd.read_csv(path, parse_dates=["timestamp"]) for path in files]
    rows = min(len(series) for series in series_list)  # aligned by position: common length
    first = series_list[0]["timestamp"].iloc[:rows].reset_index(drop=True)
    same_grid = all(
        s["timestamp"].iloc[:rows].reset_index(drop=True).equals(first) for s in series_list
    )
    if same_grid:
        grid = pd.DatetimeIndex(first)
    else:
        step = first.diff().median()
        grid = pd.date_range(first.iloc[0], periods=rows, freq=step)
    frames, labels = [], []
    for k, (path, series) in enumerate(zip(files, series_list, strict=True)):
        own = pd.DatetimeIndex(series["timestamp"].iloc[:rows])
        node = f"node{k}-{path.stem.removeprefix('Twitter_volume_')}"
        frames.append(
            pd.DataFrame(
                {
                    "timestamp": grid,
                    "node": node,
                    "metric": "value",
                    "value": series["value"].iloc[:rows].to_numpy(),
                }
            )
        )
        for start, end in windows[f"{folder}/{path.name}"]:
            lo = int(own.searchsorted(pd.Timestamp(start)))
            hi = min(int(own.searchsorted(pd.Timestamp(end), side="right")) - 1, rows - 1)
            if lo >= rows:
                continue  # the window lies beyond the common length
            labels.append({"node": node, "start": grid[lo], "end": grid[hi]})
    fleet = pd.concat(frames)[["timestamp", "node", "metric", "value"]]
    labels_frame = pd.DataFrame(labels)
    train_until = labels_frame["start"].min().normalize()  # midnight before the first label
    if grid.searchsorted(train_until) < rows // 20:
        train_until = grid[rows // 20]
    fleet_csv, labels_csv = workdir / f"nab_{name}_fleet.csv", workdir / f"nab_{name}_labels.csv"
    fleet.to_csv(fleet_csv, index=False)
    labels_frame.to_csv(labels_csv, index=False)
    return fleet_csv, labels_csv, str(train_until)
