"""Business-day series: forecast on weekdays against the old calendar-day reading.

    .venv/bin/python benchmarks/busdays.py

A daily file with rows on weekdays only is read on business days
(``forecaster.busdays``).  Before, its weekends were filled in with straight
lines and forecast; ``--freq 1D --agg mean`` still reads it that way.  This runs
``fleetcast forecast backtest --horizon 12 --origins 20`` both ways on
business-day series from outside the project and reports MASE against naive and
seasonal naive, the 80 % coverage, the mean absolute error over the scored
(weekday) steps, and how many of the 240 forecast steps fell on weekends:

* Microsoft's daily traded volume 1986-2017 (shares per day, a transaction
  count on exchange business days): ``msft.csv`` of pmdarima 2.1.1's
  datasets, downloaded with ``pip download``; first run while building the step
  (the only business-day *load* series used);
* Microsoft's closing price from the same file, and the business-day stock
  prices of prophet 1.5.0's ``tests/data.csv``: random walks, which no model
  forecasts better than naive; they show the step costs nothing there.

Results: ``benchmarks/results/busdays.md`` and ``busdays.json``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.daily import backtest, run_header, write_results  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
MODES = {
    "business days": [],
    "calendar days (--freq 1D --agg mean)": ["--freq", "1D", "--agg", "mean"],
}


def download_wheel(requirement: str, work: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                    "--only-binary", ":all:", requirement, "-d", str(work)], check=True)
    name = requirement.split("==")[0]
    return next(work.glob(f"{name}-*.whl"))


def fetch_msft(work: Path) -> Path:
    """pmdarima's ``msft.csv`` (Date, Open, High, Low, Close, Volume, OpenInt)."""
    with zipfile.ZipFile(download_wheel("pmdarima==2.1.1", work)) as wheel:
        wheel.extract("pmdarima/datasets/data/msft.tar.gz", work)
    with tarfile.open(work / "pmdarima/datasets/data/msft.tar.gz") as archive:
        archive.extract("msft.csv", work, filter="data")
    return work / "msft.csv"


def fetch_prophet(work: Path) -> Path:
    """prophet's ``tests/data.csv`` (ds, y): business-day stock prices."""
    with zipfile.ZipFile(download_wheel("prophet==1.5.0", work)) as wheel:
        wheel.extract("prophet/tests/data.csv", work)
    return work / "prophet/tests/data.csv"


def run(args: list[str], work: Path) -> dict[str, Any]:
    result = backtest(args, 20, "US", work)
    rows = pd.read_csv(work / "bt.csv", parse_dates=["timestamp"])
    scored = rows.dropna(subset=["actual"])
    result["mae_weekdays"] = float(np.mean(np.abs(scored["actual"] - scored["mean"])))
    result["scored"] = len(scored)
    result["weekend_steps"] = int((rows["timestamp"].dt.day_of_week >= 5).sum())
    return result


def markdown(rows: list[dict[str, Any]], command: str) -> str:
    lines = [
        *run_header("Business-day series: business-day step against calendar days "
                    "(horizon 12)", command),
        "`fleetcast forecast backtest --csv F --horizon 12 --origins 20` (business days, the "
        "default for weekday-only files) and the same with `--freq 1D --agg mean` (weekends "
        "filled in, as before the step). MASE is scaled by each reading's in-sample "
        "seasonal-naive error, so compare the MAE on scored weekdays across readings, "
        "bearing in mind that 12 steps reach 12 weekdays ahead on business days and only "
        "about 8.6 on calendar days (shorter leads, smaller errors on a random walk); "
        "ratio = model MASE / the better of naive and seasonal naive (bar: <= 0.90 with "
        "80 % coverage 70-92 %). Weekend steps: forecast steps spent on Saturdays and Sundays.",
        "",
        "| series | reading | model (last origin) | MASE | naive | seasonal naive | ratio | "
        "80 % cov | bar | MAE on weekdays | scored | weekend steps |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        for mode, s in r["modes"].items():
            lines.append(
                f"| {r['series']} | {mode} | `{s['model']}` | {s['mase']:.3f} | "
                f"{s['naive']:.3f} | {s['seasonal_naive']:.3f} | {s['ratio']:.3f} | "
                f"{s['coverage80']:.0%} | {'met' if s['met'] else 'not met'} | "
                f"{s['mae_weekdays']:.4g} | {s['scored']} | {s['weekend_steps']} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.parse_args()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        msft = fetch_msft(work)
        series = {
            "MSFT daily volume 1986-2017 (pmdarima)": ["--csv", str(msft), "--time-col", "Date",
                                                       "--value-col", "Volume"],
            "MSFT daily close 1986-2017 (pmdarima)": ["--csv", str(msft), "--time-col", "Date",
                                                      "--value-col", "Close"],
            "stock price 2012-2014 (prophet tests/data.csv)": ["--csv", str(fetch_prophet(work))],
        }
        for name, args in series.items():
            modes = {mode: run(args + extra, work) for mode, extra in MODES.items()}
            rows.append({"series": name, "modes": modes})
            print(f"[{name}] " + ", ".join(
                f"{m}: ratio {s['ratio']:.3f} MAE {s['mae_weekdays']:.4g}"
                for m, s in modes.items()), flush=True)
    write_results("busdays", rows, "python benchmarks/busdays.py", markdown)


if __name__ == "__main__":
    main()
