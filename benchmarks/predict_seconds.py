"""How long ``fleetcast forecast predict`` takes per call (issue 3: within 15 s here).

    .venv/bin/python benchmarks/predict_seconds.py [--caiso-csv PATH] [--runs 5]

Each call is timed end to end as a user runs it (a new process: imports, reading the
CSV, the fit with its interval calibration, writing the forecast), on the slowest
inputs the project knows, each with the default interval calibration (held out) and
with ``--intervals in-sample``, the runs of the two interleaved so that both meet
the same load on a shared machine:

* California ISO hourly demand 2018, the total (8736 points; US holidays with their
  own pulls and a seasonal ARIMA with m = 24: the slowest fit of the benchmarks),
  from ``benchmarks/caiso.py``'s archive (downloaded unless ``--caiso-csv``);
* World Cup 1998 requests at 5 minutes (``--freq 5min --agg sum``, 25,000 points);
* the same log unresampled, per minute (125,300 points);
* NAB ``nyc_taxi`` (30 minutes, 10,320 points).

Results: ``benchmarks/results/predict_seconds.md`` and ``.json``, with the median,
the smallest and the largest of the runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.caiso import fetch  # noqa: E402
from benchmarks.flights import fleetcast  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
DATA = REPO.parent / "shared" / "data"
TARGET_SECONDS = 15.0
MODES = {"held-out (default)": [], "in-sample": ["--intervals", "in-sample"]}


def inputs(caiso: Path) -> dict[str, list[str]]:
    wc = str(DATA / "worldcup98" / "invocation_count.csv")
    return {
        "CAISO total, hourly 2018": ["--csv", str(caiso), "--time-col", "Dates",
                                     "--value-col", "CAISO Total"],
        "World Cup 1998, 5 min": ["--csv", wc, "--freq", "5min", "--agg", "sum"],
        "World Cup 1998, per minute": ["--csv", wc],
        "NAB nyc_taxi, 30 min": ["--csv", str(DATA / "nab" / "data" / "realKnownCause" /
                                               "nyc_taxi.csv")],
    }


def timed(args: list[str], out: Path) -> tuple[float, str]:
    done, seconds = fleetcast("forecast", "predict", *args, "--horizon", "12", "--out",
                              str(out))
    said = [line.strip() for line in (done.stdout + done.stderr).splitlines()
            if "fitted in" in line]
    return seconds, said[0] if said else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--caiso-csv", type=Path, default=None,
                        help="hourly1418CA_2018.csv (default: downloaded, as caiso.py does)")
    parser.add_argument("--runs", type=int, default=5, help="calls per input and mode")
    args = parser.parse_args()
    if args.runs < 1:
        raise SystemExit(f"--runs {args.runs}: must be at least 1")
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        caiso = args.caiso_csv if args.caiso_csv is not None else fetch(work)
        if not caiso.is_file():
            raise SystemExit(f"--caiso-csv {caiso}: not a file")
        for name, data in inputs(caiso).items():
            seconds: dict[str, list[float]] = {mode: [] for mode in MODES}
            fitted: dict[str, str] = {}
            for _ in range(args.runs):  # the modes interleaved: the same load for both
                for mode, flags in MODES.items():
                    took, fitted[mode] = timed([*data, *flags], work / "p.csv")
                    seconds[mode].append(round(took, 2))
            for mode, taken in seconds.items():
                row = {"input": name, "intervals": mode, "seconds": taken,
                       "median": round(statistics.median(taken), 2), "min": min(taken),
                       "max": max(taken), "fitted": fitted[mode]}
                print(f"{name}, {mode}: median {row['median']} s ({row['min']}-{row['max']})",
                      flush=True)
                rows.append(row)
    machine = {"python": platform.python_version(), "cpus": os.cpu_count(),
               "load_average": os.getloadavg(), "commit": commit()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "predict_seconds.json").write_text(
        json.dumps({"target_seconds": TARGET_SECONDS, "runs": args.runs, "machine": machine,
                    "rows": rows}, indent=2) + "\n")
    (RESULTS / "predict_seconds.md").write_text(markdown(rows, machine, args.runs))
    print(f"wrote {RESULTS / 'predict_seconds.md'}")


def commit() -> str:
    done = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True, check=False)
    return done.stdout.strip()


def markdown(rows: list[dict[str, Any]], machine: dict[str, Any], runs: int) -> str:
    slowest = max(row["median"] for row in rows)
    lines = [
        "# `fleetcast forecast predict --horizon 12`: seconds per call",
        "",
        f"Run {datetime.now(UTC).isoformat(timespec='seconds')} at {machine['commit']}, "
        f"{machine['cpus']} cpus, Python {machine['python']}; {runs} calls per row, the two "
        "modes interleaved; command: `python benchmarks/predict_seconds.py`.",
        "",
        f"Issue 3's target: within {TARGET_SECONDS:g} s per call.  Slowest median: "
        f"{slowest:g} s ({'met' if slowest <= TARGET_SECONDS else 'not met'}).",
        "",
        "| input | intervals | median s | min-max s | fit (as the CLI says) |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(f"| {row['input']} | {row['intervals']} | {row['median']} | "
                     f"{row['min']}-{row['max']} | {row['fitted']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
