"""Seven NAB files that are not in ``../shared/data``: request, tweet and network traffic counts.

    .venv/bin/python benchmarks/nab_unseen.py --dir NAB/data

``../shared/data`` holds part of the Numenta Anomaly Benchmark.  The full
repository (``git clone https://github.com/numenta/NAB``; ``--dir`` is its
``data`` folder, or any folder holding the seven CSV files flat) has more, and
seven of its files are load series the project had never read:

* ``realAWSCloudwatch/elb_request_count_8c0756.csv``: an AWS load balancer's
  request count per 5 minutes over two weeks of April 2014 (4032 rows; 8 steps
  missing, filled by the reader).  The one real request-count trace among them.
* ``realTweets/Twitter_volume_{AAPL,GOOG,UPS}.csv``: tweets per 5 minutes,
  Feb-Apr 2015, like the seven Twitter files in ``../shared/data``.
* ``realAWSCloudwatch/ec2_network_in_{257a54,5abac7}.csv`` and
  ``iio_us-east-1_i-a2eb1cd9_NetworkIn.csv``: bytes received per 5 minutes by
  three EC2 instances (CloudWatch ``NetworkIn``), the traffic a server takes in.
  Added at the session of 2026-11-28 and first run then (5d2661f), with nothing
  chosen on them: the rule of a held-out trace.  257a54 and 5abac7 are still held
  out; a2eb1cd9 (4.3 days) was then used to choose 4061a90's few-cycles check (kept
  in ce51c23's narrowed form), so it is a development trace now (see its role).

Each runs through the CLI as a user would (issue 3's and issue 6's bars):

* ``fleetcast forecast backtest --csv F --horizon 12 --origins 20``;
* ``fleetcast simulate --trace F --node-capacity C --startup-seconds 300`` with
  C such that the busiest step needs 20 nodes at the 80 % line (the rule of
  ``benchmarks/simulate.py``).

Results: ``benchmarks/results/nab_unseen.md`` and ``nab_unseen.json``.
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
from benchmarks.simulate import capacity_for, onset_cell  # noqa: E402
from forecaster.io import read_series  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
FILES = {
    "ELB requests": "realAWSCloudwatch/elb_request_count_8c0756.csv",
    "AAPL": "realTweets/Twitter_volume_AAPL.csv",
    "GOOG": "realTweets/Twitter_volume_GOOG.csv",
    "UPS": "realTweets/Twitter_volume_UPS.csv",
    "EC2 network in 257a54": "realAWSCloudwatch/ec2_network_in_257a54.csv",
    "EC2 network in 5abac7": "realAWSCloudwatch/ec2_network_in_5abac7.csv",
    "EC2 network in a2eb1cd9": "realAWSCloudwatch/iio_us-east-1_i-a2eb1cd9_NetworkIn.csv",
}
# Reading options a file needs, as the CLI's error on it says.  5abac7's export wrote the
# skipped hour of the 2014-03-09 daylight-saving change as twelve rows at 03:00:00 (and
# one row a minute off the 5-minute grid): duplicated timestamps, which the reader refuses
# unless told to aggregate; `--agg mean` keeps one value per 5 minutes.
READ_OPTIONS = {"EC2 network in 5abac7": {"freq": "5min", "agg": "mean"}}
# What each trace had been used for before the run recorded in the results file.
ROLES = {
    "ELB requests": (
        "first run at 4564e45 (backtest 0.76, 73 %: met; simulate 0.39 of the HPA's short "
        "steps at 1.367 x oracle: missed), then used to choose the capacity budget's relief "
        "span (f683bcb); rerun at ee7bced (c8b204e's holdout_harmonics): every figure as at "
        "c8555ce (seconds aside), as built (two weeks, a daily season of 14 cycles, no weekly "
        "one fitted)"
        "; rerun at 4061a90 and at ce51c23: unchanged"
    ),
    "GOOG": (
        "first run at 4564e45 (backtest 0.86, 89 %; simulate 0.43 at 1.263 x: both met), "
        "then looked at while choosing the relief span (f683bcb); rerun at ee7bced (c8b204e's "
        "holdout_harmonics): daily harmonics at the last origin 288x1 -> 288x6, backtest "
        "unchanged (0.86, 89 %), simulate 0.44 -> 0.43 at 1.255 -> 1.256 x (short ticks 428 "
        "-> 415, at onsets 256 -> 254): met"
        "; rerun at 4061a90 and at ce51c23: unchanged"
    ),
    "AAPL": (
        "never run before f683bcb; first run there (backtest 0.87, 85 %; simulate 0.63 at "
        "1.167 x: missed); rerun at ee7bced (c8b204e's holdout_harmonics): backtest MASE "
        "0.312 -> 0.313 (0.87, 85 % as before), simulate 0.63 -> 0.59 at 1.167 -> 1.178 x "
        "(short ticks 52 -> 49, at onsets 45 -> 41): still missed"
        "; rerun at 4061a90 and at ce51c23: unchanged"
    ),
    "UPS": (
        "never run before f683bcb; first run there (backtest 0.83, 82 %; simulate 0.69 at "
        "1.249 x: missed); rerun at ee7bced (c8b204e's holdout_harmonics): backtest unchanged, "
        "simulate 0.69 -> 0.74 at 1.249 -> 1.245 x (short ticks 151 -> 161, at onsets 109 -> "
        "117): still missed"
        "; rerun at 4061a90 and at ce51c23: unchanged"
    ),
    **{name: "never read before 5d2661f; first run there (the forecaster of c8b204e), "
             "nothing chosen on it; rerun at 4061a90 and at ce51c23: unchanged" for name in (
                 "EC2 network in 257a54", "EC2 network in 5abac7")},
    "EC2 network in a2eb1cd9": (
        "never read before 5d2661f; first run there (the forecaster of c8b204e; backtest "
        "1.64 x the better baseline, 85 %: missed; simulate 0.27 at 1.250 x: met), scored "
        "once as held out; then used at 4061a90 to choose the few-cycles check's threshold "
        "(7 cycles: on 4.3 days, fewer than 7 of its daily season), so it is no longer held "
        "out; rerun at 4061a90: model ARIMA(2,0,0) fourier[288x5] -> ARIMA(2,1,1) with no "
        "season, backtest MASE 0.286 -> 0.184, 1.64 -> 1.06 x naive, 85 % -> 89 %: still "
        "missed; simulate unchanged (0.27 at 1.250 x): met. The threshold chosen on it "
        "at 4061a90 is kept in ce51c23's form (short with fewer than 4 cycles of every "
        "season, or under a week when none is shorter than a day: for a daily season the "
        "two forms are the same); rerun at ce51c23: every figure as at 4061a90"
    ),
}

# The first two measured at f683bcb with the simulator's per-tick output (not recomputed by
# this script).
NOTES = [
    "AAPL and UPS miss on bursts no causal policy saw coming: most of their short ticks are "
    "burst onsets, ticks that need more nodes than every tick of the hour before (the "
    "onsets column, from `fleetcast simulate`'s RESULT.json). The same count on the "
    "held-out KO: 27 of predictive's 32 short ticks and 33 of the HPA's 50; on World Cup, "
    "which passes, 19 of predictive's 21. On AAPL the typical load is 0.06 of "
    "a node (median 47 tweets per 5 minutes, a node serves 674 at the 80 % line), so the "
    "budget's multiplicative headroom cannot turn its unspent node-hours (1.167 x of 1.25 x) "
    "into nodes; an additive spare node in its place (tried, not kept: controller/budget.py) "
    "spent 1.208 x for the same short ticks.",
    "Unless onsets can be told in advance, the bar costs more than 1.3 x here: an extra node "
    "kept up at random ticks covers a short tick only where one node was missing (35 of "
    "AAPL's 52), so to cover the 11 more that AAPL needs it must be up on 31 % of ticks, "
    "1.47 x the oracle's node-hours in all; UPS 79 % (1.88 x), KO 29 % (1.49 x).",
    "The two notes above were measured at f683bcb's code (AAPL 52 short ticks at 1.167 x); "
    "the tables are at ce51c23 (the forecaster of c8b204e plus 4061a90's few-cycles check "
    "in ce51c23's narrowed form, which acts only on a2eb1cd9 here), where AAPL has 49 at "
    "1.178 x (see the roles). Every figure of the seven traces is as in the run at 4061a90 "
    "(seconds aside), and there every figure of the four earlier files was as in the runs "
    "at ee7bced and 5d2661f, and of 257a54 and 5abac7 as at 5d2661f (seconds aside; the six "
    "traces' backtest MASE differs from 5d2661f's in the 8th significant digit or beyond, "
    "and fd983f6's code gives the same new value on ELB, so not from 4061a90's code: the "
    "venv was rebuilt and the data files re-copied for the run at 4061a90, and which of the "
    "two moved it was not isolated; naive and seasonal-naive MASE, MASE scale, sizes and "
    "every simulate figure are identical). The run at ce51c23 was at nice 19 from a clean "
    "worktree, its seconds 0.6-1.0 times 4061a90's; the one at 4061a90 at nice 19 on a "
    "fresh machine, its six traces' seconds 0.4-0.9 times 5d2661f's; the one at ee7bced "
    "ran beside caiso.py.",
    "EC2 network in 5abac7 is read with `--freq 5min --agg mean`, as the CLI's error on the "
    "plain file asks (duplicated timestamp 2014-03-09 03:00:00 at 12 lines: the export's "
    "daylight-saving change), for backtest and simulate alike; the other files as they are.",
]


def find(root: Path, relative: str) -> Path | None:
    for candidate in (root / relative, root / Path(relative).name):
        if candidate.is_file():
            return candidate
    return None


def run_file(name: str, path: Path, work: Path) -> dict[str, Any]:
    options = READ_OPTIONS.get(name, {})
    counts = read_series(path, **options)
    reading = [arg for key, value in options.items() for arg in (f"--{key}", value)]
    capacity = capacity_for(counts)
    summary = work / f"{path.stem}_bt.json"
    _, bt_seconds = fleetcast(
        "forecast", "backtest", "--csv", str(path), *reading, "--horizon", "12",
        "--origins", "20", "--out", str(work / f"{path.stem}_bt.csv"), "--summary", str(summary),
    )
    sim = work / f"{path.stem}_sim.json"
    _, sim_seconds = fleetcast(
        "simulate", "--trace", str(path), *reading, "--node-capacity", str(capacity),
        "--startup-seconds", "300", "--out", str(sim),
    )
    result = json.loads(sim.read_text())
    return {
        "trace": name,
        "file": FILES[name],
        "read_args": reading,
        "burst_onsets": result["trace"]["burst_onsets"],
        "role": ROLES[name],
        "steps": len(counts),
        "median_per_step": float(counts.median()),
        "peak_per_step": float(counts.max()),
        "capacity_rps": capacity,
        **judged(json.loads(summary.read_text()), bt_seconds, result["policies"], sim_seconds),
    }


def markdown(results: list[dict[str, Any]], commit: str) -> str:
    lines = [
        "# NAB files outside ../shared/data: forecaster and autoscaling",
        "",
        f"At commit {commit}, run {datetime.now(UTC).isoformat(timespec='seconds')}; command: "
        "`.venv/bin/python benchmarks/nab_unseen.py --dir NAB/data` (see its docstring for the "
        "files). What each trace had been used for before is in the role column.",
        "",
        "## Backtest (`fleetcast forecast backtest --horizon 12 --origins 20`)",
        "",
        "| trace | median / peak per 5 min | model (last origin) | MASE | naive | seasonal naive "
        "| ratio to better | 80 % cov | met |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in results:
        row = [r["trace"], f"{r['median_per_step']:g} / {r['peak_per_step']:g}",
               *backtest_cells(r["backtest"])]
        lines.append("| " + " | ".join(row) + " |")
    lines += [
        "",
        "## Autoscaling (`fleetcast simulate`, start-up 300 s, peak = 20 nodes)",
        "",
        "| trace | capacity rps | predictive under | reactive (HPA) under | ratio | "
        "predictive x oracle | reactive x oracle | oracle under | seconds | met | "
        "short at burst onsets: predictive / HPA of onsets |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for r in results:
        p = r["simulate"]["policies"]
        onsets = onset_cell(p["predictive"], p["reactive"], r["burst_onsets"])
        row = [r["trace"], f"{r['capacity_rps']:g}", *simulate_cells(r["simulate"]), onsets]
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "Roles:", ""]
    lines += [f"- {r['trace']} (`{r['file']}`): {r['role']}." for r in results]
    lines += ["", "Notes:", "", *(f"- {note}" for note in NOTES)]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, required=True,
                        help="NAB's data folder (or a folder with the seven CSV files)")
    args = parser.parse_args()
    missing = [rel for rel in FILES.values() if find(args.dir, rel) is None]
    if missing:
        raise SystemExit(f"--dir {args.dir}: missing {', '.join(missing)}")
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True, check=True).stdout.strip()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, rel in FILES.items():
            path = find(args.dir, rel)
            assert path is not None
            print(f"[{name}] {path}", flush=True)
            results.append(run_file(name, path, Path(tmp)))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "nab_unseen.json").write_text(json.dumps(
        {"commit": commit, "results": results}, indent=2) + "\n")
    (RESULTS / "nab_unseen.md").write_text(markdown(results, commit))
    print((RESULTS / "nab_unseen.md").read_text())


if __name__ == "__main__":
    main()
