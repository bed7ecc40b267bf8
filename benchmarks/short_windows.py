"""Short fit windows: the forecaster with and without its short-window check.

    .venv/bin/python benchmarks/short_windows.py [--parquet PATH/flights-3m.parquet]
        [--nab-dir NAB/data]

On a window short for the seasons it found (fewer than 4 cycles of every one, or less
than a week), ``LoadForecaster`` chooses d, and whether to keep the seasons, by
forecasts into the window's last stretch (``forecaster.structure``).  This measures
that check: ``forecaster.backtest.rolling_origin`` (horizon 12, 20 origins over the
last 30 %, every fit only on data before its origin) on short slices of real series,
once with ``LoadForecaster()`` and once with ``LoadForecaster(short_window_check=False)``,
on the same origins.  The figure per slice is the model's MASE over the better of naive
and seasonal naive (issue 3's bar: at most 0.90).

* Development series (``../shared/data``; the check was built and its threshold chosen
  while looking at them): World Cup 1998 (5 min), NAB nyc_taxi (30 min),
  cpu_utilization_asg_misconfiguration, ec2_request_latency_system_failure (read with
  ``--freq 5min --agg mean``: its export repeats the hour a clock change skipped) and
  the seven Twitter volumes; five evenly spaced slices of 4.5 days and of 7 days each.
* ``--nab-dir``: NAB's EC2 a2eb1cd9 NetworkIn (4.3 days), whole, which showed the
  problem (1.64 x naive) and then chose the threshold: a development series too.
* ``--parquet``: held out of all of it, run once with the check as committed: 5-day
  slices (five each) of the 5-minute departures of the six busiest airports no
  benchmark had used (MSP, LAS, BOS, EWR, PHL, LGA), from vega-datasets'
  ``flights-3m.parquet`` (``npm pack vega-datasets@3.2.1``; see ``benchmarks/flights.py``).

Results: ``benchmarks/results/short_windows.md`` and ``short_windows.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from forecaster import LoadForecaster, read_series  # noqa: E402
from forecaster.backtest import rolling_origin  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
DATA = REPO.parent / "shared" / "data"
NAB = DATA / "nab" / "data"
DEVELOPMENT: dict[str, tuple[Path, dict[str, Any]]] = {
    "World Cup 1998": (DATA / "worldcup98" / "invocation_count.csv",
                       {"time_col": "period", "value_col": "count", "freq": "5min"}),
    "nyc_taxi": (NAB / "realKnownCause" / "nyc_taxi.csv", {}),
    "cpu_utilization_asg": (
        NAB / "realKnownCause" / "cpu_utilization_asg_misconfiguration.csv", {}),
    "ec2_request_latency": (NAB / "realKnownCause" / "ec2_request_latency_system_failure.csv",
                            {"freq": "5min", "agg": "mean"}),
    **{f"tweets {t}": (NAB / "realTweets" / f"Twitter_volume_{t}.csv", {})
       for t in ("AMZN", "CRM", "CVS", "FB", "IBM", "KO", "PFE")},
}
A2EB = "realAWSCloudwatch/iio_us-east-1_i-a2eb1cd9_NetworkIn.csv"
AIRPORTS = ("MSP", "LAS", "BOS", "EWR", "PHL", "LGA")
SLICES = 5
HORIZON, ORIGINS = 12, 20


def airport_counts(parquet: Path, airport: str) -> pd.Series:
    """Departures per 5 minutes from ``airport``, 2001-01-01 to 2001-06-30 23:55."""
    flights = pd.read_parquet(parquet, columns=["date", "origin"])
    stamps = pd.to_datetime(flights.loc[flights["origin"] == airport, "date"])
    grid = pd.date_range("2001-01-01", "2001-06-30 23:55", freq="5min")
    counts = stamps.dt.floor("5min").value_counts().reindex(grid, fill_value=0).sort_index()
    return counts.astype(float).rename(airport)


def slices(series: pd.Series, days: float | None) -> list[pd.Series]:
    """``SLICES`` evenly spaced slices of ``days`` days (the whole series for None)."""
    if days is None:
        return [series]
    step = (series.index[1] - series.index[0]).total_seconds()
    length = int(days * 86400 / step)
    starts = np.linspace(0, len(series) - length, SLICES).astype(int)
    return [series.iloc[s : s + length] for s in starts]


def ratio(summary: dict[str, Any], baselines: dict[str, Any]) -> float:
    best = min(baselines["naive"]["mase"], baselines["seasonal_naive"]["mase"])
    return float(summary["model"]["mase"] / best)


def measure(name: str, series: pd.Series, days: float | None, role: str) -> dict[str, Any]:
    rows = []
    for part in slices(series, days):
        on = rolling_origin(part, HORIZON, ORIGINS, make_model=LoadForecaster).summary
        off = rolling_origin(part, HORIZON, ORIGINS,
                             make_model=lambda: LoadForecaster(short_window_check=False)).summary
        rows.append({"start": str(part.index[0]), "points": len(part),
                     "on": round(ratio(on, on), 4), "off": round(ratio(off, on), 4),
                     "coverage_on": round(on["model"]["coverage80"], 3),
                     "coverage_off": round(off["model"]["coverage80"], 3)})
    on_r = np.array([r["on"] for r in rows])
    off_r = np.array([r["off"] for r in rows])
    result = {"series": name, "days": days, "role": role, "slices": rows,
              "geo_on": float(np.exp(np.mean(np.log(on_r)))),
              "geo_off": float(np.exp(np.mean(np.log(off_r)))),
              "met_on": int((on_r <= 0.9).sum()), "met_off": int((off_r <= 0.9).sum())}
    print(f"[{role} {days or 'whole'}] {name}: {result['geo_on']:.3f} with the check, "
          f"{result['geo_off']:.3f} without", flush=True)
    return result


def summary_row(results: list[dict[str, Any]]) -> str:
    logs = [np.log(s["on"] / s["off"]) for r in results for s in r["slices"]]
    met_on = sum(r["met_on"] for r in results)
    met_off = sum(r["met_off"] for r in results)
    count = sum(len(r["slices"]) for r in results)
    return (f"geometric mean of (ratio with the check / without) over {count} slices: "
            f"**{np.exp(np.mean(logs)):.3f}**; slices meeting the 0.90 bar: {met_on} with the "
            f"check, {met_off} without")


def markdown(groups: dict[str, list[dict[str, Any]]], meta: dict[str, Any]) -> str:
    lines = [
        "# Short fit windows: the short-window check on and off",
        "",
        f"Run {meta['run_at']} at commit {meta['commit']} on {meta['machine']}; command "
        f"`{meta['command']}` ({meta['seconds']:.0f} s).  `rolling_origin` at horizon "
        f"{HORIZON}, {ORIGINS} origins per slice; each cell is the model's MASE over the "
        "better baseline's (issue 3's bar 0.90), with the check / without it "
        "(`LoadForecaster(short_window_check=False)`), on the same origins.",
        "",
    ]
    for title, results in groups.items():
        lines += [f"## {title}", "", summary_row(results), "",
                  "| series | days per slice | geometric mean with / without | met with / "
                  "without | per slice (with/without) |", "|---|---|---|---|---|"]
        for r in results:
            cells = " ".join(f"{s['on']:.2f}/{s['off']:.2f}" for s in r["slices"])
            lines.append(f"| {r['series']} | {r['days'] or 'whole'} | {r['geo_on']:.3f} / "
                         f"{r['geo_off']:.3f} | {r['met_on']} / {r['met_off']} of "
                         f"{len(r['slices'])} | {cells} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parquet", type=Path, help="vega-datasets' flights-3m.parquet "
                        "(the held-out airports; skipped without it)")
    parser.add_argument("--nab-dir", type=Path, help="a numenta/NAB data folder holding "
                        f"{A2EB} (skipped without it)")
    args = parser.parse_args()
    for flag, path in (("--parquet", args.parquet), ("--nab-dir", args.nab_dir)):
        if path is not None and not path.exists():
            raise SystemExit(f"{flag} {path}: no such file or folder")
    started = time.perf_counter()
    groups: dict[str, list[dict[str, Any]]] = {}
    if args.parquet is not None:
        groups["Held out: six airports' departures, 5-day slices (run once)"] = [
            measure(a, airport_counts(args.parquet, a), 5.0, "held out") for a in AIRPORTS]
    for days in (4.5, 7.0):
        groups[f"Development series, {days:g}-day slices"] = [
            measure(name, read_series(path, **kw), days, "development")
            for name, (path, kw) in DEVELOPMENT.items()]
    if args.nab_dir is not None:
        series = read_series(args.nab_dir / A2EB)
        groups["NAB EC2 a2eb1cd9 (4.3 days, whole; development since it chose the "
               "threshold)"] = [measure("a2eb1cd9", series, None, "development")]
    commit = os.popen(f"git -C {REPO} rev-parse --short HEAD").read().strip()
    command = "python benchmarks/short_windows.py" + (
        " --parquet flights-3m.parquet" if args.parquet else "") + (
        " --nab-dir NAB/data" if args.nab_dir else "")
    meta = {"run_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "commit": commit,
            "machine": f"{platform.machine()}, {os.cpu_count()} cores",
            "command": command, "seconds": time.perf_counter() - started}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "short_windows.json").write_text(json.dumps({**meta, "groups": groups},
                                                           indent=2))
    (RESULTS / "short_windows.md").write_text(markdown(groups, meta))
    print(f"wrote {RESULTS / 'short_windows.md'}")


if __name__ == "__main__":
    main()
