"""NASA Kennedy Space Center web server, July and August 1995: request-count traces never seen.

    .venv/bin/python benchmarks/nasa.py --csv nasa_july_5m.csv
    .venv/bin/python benchmarks/nasa.py --csv nasa_aug_5m.csv --name nasa_aug

The NASA-HTTP logs (ita.ee.lbl.gov/html/contrib/NASA-HTTP.html) hold every HTTP request to
the NASA Kennedy Space Center WWW server in July and August 1995, a classic trace of web
autoscaling studies.  ``--csv`` is those requests counted per 5 minutes, one row per step with
a ``timestamp`` column (the server's local time, UTC-4) and a ``request_count`` column (other
columns are ignored): the rows up to 1995-07-28 13:30 (where the July log ends) of
``processed_data/nasa_traffic_5m.csv`` in github.com/K-vibe-sat-canh/autoscaling (commit
a009b92, counted from the raw logs; 7939 rows).  For ``--name nasa_aug``, the rows from
1995-08-04 00:00 (the first whole day after the server's outage of 08-01 14:52 to 08-03 04:36)
to the end of the file (8064 rows, four weeks).  Nothing in the project was chosen on either:
each command below ran once, with every default, and its figures are reported as they came
(the July notes below were measured after its run; August was first run after them).

It runs through the CLI exactly as a user would, against issue 3's and issue 6's bars:

* ``fleetcast forecast backtest --csv F --value-col request_count --horizon 12 --origins 20``;
* ``fleetcast simulate --trace F --value-col request_count --peak-nodes 20
  --startup-seconds 300`` (node size so the busiest step needs 20 nodes at the 80 % line);
* ``fleetcast forecast predict --csv F --value-col request_count --horizon 12``, timed.

Results: ``benchmarks/results/NAME.md``, ``NAME.json`` and ``NAME.png`` (``--name``, default
``nasa``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.flights import backtest_cells, fleetcast, judged, simulate_cells  # noqa: E402
from benchmarks.simulate import onset_cell  # noqa: E402
from forecaster.io import read_series  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
VALUE_COL = "request_count"
MONTHS = {"nasa": "July 1995", "nasa_aug": "August 1995"}
# July's were measured after its first run (so for these, July is no longer a trace never seen).
# The first runs' figures and what was measured after them, then the rerun at c8b204e, whose
# harmonic rule was chosen after both first runs (so for it NASA is a trace seen).
NOTES: dict[str, list[str]] = {"nasa_aug": [
    "First run at cea1041, after July's notes and with nothing chosen on August: issue 6 met "
    "(0.41 of the HPA's under-provisioned steps at 1.249 x oracle, the oracle never short, "
    "12.5 s); issue 3 coverage 82 % (95 % interval 71-92 %) but MASE 0.91 of naive's, just "
    "short of the 0.90 bar.",
    "Measured after that run: the model kept 104 weekly harmonics on a fit window of under "
    "three weeks (each weekly coefficient seen 2-3 times).  With at most 20 harmonics per "
    "season (`LoadForecaster(max_harmonics=20)`, the same 20 origins) MASE 0.574, ratio 0.86, "
    "coverage 82 %.",
    "The table is the rerun at c8b204e: a season seen in fewer than 4 cycles keeps only the "
    "harmonics that forecast a held-out half period (`holdout_harmonics` in "
    "forecaster/seasonality.py), 104 -> 8 weekly harmonics.  Backtest 0.91 -> 0.86, coverage "
    "82 % -> 80 % (70-90 %): issue 3 met; simulate 0.41 -> 0.37 at 1.249 -> 1.254 x.",
]}
NOTES["nasa"] = [
    "Data: the July log ends 1995-07-28 13:32 (the August one starts 08-01); the source file "
    "fills the days between with zeros, which were cut.  Six zero steps remain inside July: "
    "the server's own outages (e.g. 07-13 19:50-20:05, the evening of the STS-70 launch, "
    "whose morning is the peak, 1501 requests at 09:50).",
    "First run at 59d9284: issue 6 met (0.30 of the HPA's under-provisioned steps at 1.275 x "
    "oracle, the oracle never short, 11.4 s); issue 3 MASE 0.82 of naive's but coverage 62 % "
    "(95 % interval 51-73 %: 24 % of the actuals above hi80, 14 % below), missed.  With 80 "
    "origins over the same last 30 % (`fleetcast forecast backtest --csv F --value-col "
    "request_count --horizon 12 --origins 80`, 4.4 min) MASE 0.82 of naive's, coverage 72 % "
    "(67-78 %).",
    "Why the bands were narrow, measured after that run: the scored span (07-20 to 07-28) "
    "runs at a lower load than the fit window and is noisier on the log scale (robust sd of "
    "one-step log differences by day 0.18-0.34 before, 0.26-0.36 there), and the bands come "
    "from in-sample errors (`forecaster/calibration.py`): model one-step sd 0.22, "
    "out-of-sample 0.25 (robust).  The same 20 origins with the transform forced: square root "
    "71 % (MASE 0.426), none 79 % (0.458), Box-Cox by MLE 67.5 %, log1p (what auto picks: "
    "dispersion D 7.6, far from Poisson's 1) 62 % (0.486); at most 10 harmonics 67.5 % "
    "(0.431); calibrating on the last 10-20 % of the window only 66-67 %.  The transform "
    "rule was not changed: it was chosen across World Cup, flights and Twitter, and a rule "
    "that gives this trace a higher power has to be rerun on all of them.",
    "The table is the rerun at c8b204e (`holdout_harmonics`, see nasa_aug.md; 65 -> 12 weekly "
    "harmonics): backtest 0.82 -> 0.73 of naive, coverage 62 % -> 68 % (56-80 %), still under "
    "the 70 % bar at 20 origins (with 80 origins, run as above at c8b204e: MASE 0.421 against "
    "naive 0.540, 0.78, and coverage 75 %, 70-80 %); simulate 0.30 -> 0.28 at 1.275 -> 1.271 x.",
]


def run(path: Path, work: Path, name: str) -> dict[str, Any]:
    counts = read_series(path, value_col=VALUE_COL)
    columns = ("--value-col", VALUE_COL)
    summary = work / "bt.json"
    _, bt_seconds = fleetcast(
        "forecast", "backtest", "--csv", str(path), *columns, "--horizon", "12",
        "--origins", "20", "--out", str(work / "bt.csv"), "--summary", str(summary),
    )
    sim = work / "sim.json"
    _, sim_seconds = fleetcast(
        "simulate", "--trace", str(path), *columns, "--peak-nodes", "20",
        "--startup-seconds", "300", "--out", str(sim), "--report-dir", str(work),
    )
    done, predict_seconds = fleetcast(
        "forecast", "predict", "--csv", str(path), *columns, "--horizon", "12",
        "--out", str(work / "predict.csv"),
    )
    (RESULTS / f"{name}.png").write_bytes((work / "simulate.png").read_bytes())
    result = json.loads(sim.read_text())
    backtest = json.loads(summary.read_text())
    return {
        "steps": len(counts),
        "first": str(counts.index[0]),
        "last": str(counts.index[-1]),
        "median_per_step": float(counts.median()),
        "peak_per_step": float(counts.max()),
        "capacity_rps": result["settings"]["node_capacity_rps"],
        "burst_onsets": result["trace"]["burst_onsets"],
        "predict_seconds": round(predict_seconds, 1),
        "predict_output": done.stdout.strip().splitlines()[-3:],
        "coverage80_ci95": backtest["model"]["coverage80_ci95"],
        **judged(backtest, bt_seconds, result["policies"], sim_seconds),
    }


def markdown(r: dict[str, Any], commit: str, source: str, name: str) -> str:
    p = r["simulate"]["policies"]
    month = MONTHS.get(name, name)
    option = "" if name == "nasa" else f" --name {name}"
    ci = r.get("coverage80_ci95")
    lines = [
        f"# NASA-HTTP {month}: forecaster and autoscaling on a request-count trace never seen",
        "",
        f"At commit {commit}, run {r['run']}; command: "
        f"`.venv/bin/python benchmarks/nasa.py --csv {source}{option}` (see its docstring for "
        "the data). "
        f"{r['steps']} five-minute steps, {r['first']} to {r['last']}; median / peak "
        f"{r['median_per_step']:g} / {r['peak_per_step']:g} requests per step.",
        "",
        "## Backtest (`fleetcast forecast backtest --horizon 12 --origins 20`)",
        "",
        "| model (last origin) | MASE | naive | seasonal naive | ratio to better | 80 % cov "
        "| met |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
        "| " + " | ".join(backtest_cells(r["backtest"])) + " |",
        "",
        *([f"95 % interval for the 80 % coverage, over the origins: {ci[0]:.0%}-{ci[1]:.0%}.", ""]
          if ci else []),
        "## Autoscaling (`fleetcast simulate --peak-nodes 20 --startup-seconds 300`)",
        "",
        "| capacity rps | predictive under | reactive (HPA) under | ratio | predictive x oracle "
        "| reactive x oracle | oracle under | seconds | met | short at burst onsets: "
        "predictive / HPA of onsets |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
        "| " + " | ".join([f"{r['capacity_rps']:.4g}", *simulate_cells(r["simulate"]),
                          onset_cell(p["predictive"], p["reactive"], r["burst_onsets"])]) + " |",
        "",
        f"`fleetcast forecast predict --horizon 12`: {r['predict_seconds']:g} s end to end "
        "(issue 3's target: 15 s).",
        "",
        f"![NASA {month}: demand and ready nodes per policy]({name}.png)",
        *(["", "Notes:", "", *(f"- {note}" for note in NOTES[name])] if NOTES.get(name) else []),
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, required=True,
                        help="NASA-HTTP requests per 5 minutes (timestamp, request_count)")
    parser.add_argument("--name", default="nasa", help="results file names (default nasa)")
    parser.add_argument("--markdown-only", action="store_true",
                        help="rewrite NAME.md from the saved NAME.json without running")
    args = parser.parse_args()
    name = args.name
    if args.markdown_only:
        saved = json.loads((RESULTS / f"{name}.json").read_text())
        (RESULTS / f"{name}.md").write_text(markdown(saved, saved["commit"], args.csv.name, name))
        return
    if not args.csv.is_file():
        raise SystemExit(f"--csv {args.csv}: no such file")
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True, check=True).stdout.strip()
    RESULTS.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    with tempfile.TemporaryDirectory() as tmp:
        result = {"run": started, **run(args.csv, Path(tmp), name)}
    (RESULTS / f"{name}.json").write_text(json.dumps({"commit": commit, **result}, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown(result, commit, args.csv.name, name))
    print((RESULTS / f"{name}.md").read_text())


if __name__ == "__main__":
    main()
