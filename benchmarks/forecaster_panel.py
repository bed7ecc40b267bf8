"""Held-out panel: ``fleetcast forecast backtest`` on every NAB series the model was not tuned on.

Issue 3 asks that the forecaster beat naive and seasonal naive by at least
10 % MASE at horizon 12, with 80 % intervals covering 70-92 %, "on real series
the project has never seen".  The model was tuned on World Cup 1998 and NAB
``nyc_taxi``; every other NAB file (realKnownCause, realTweets, realAdExchange,
realTraffic) is held out here, and none is dropped.

Each series runs through the CLI exactly as a user would::

    .venv/bin/fleetcast forecast backtest --csv F --horizon 12 --origins 20 \\
        --out TMP/rows.csv --json

When the reader rejects the file, the run follows the error's own advice,
once per kind of error, and the table lists the flags added:

* irregular, duplicated or unsorted timestamps ("use/resample with --freq"):
  ``--freq <the file's median step> --agg mean`` (NAB values are rates or
  gauges, so a step's points are averaged);
* a gap longer than ``--max-gap`` ("at most 12 are filled ... (--max-gap)"):
  ``--max-gap <the file's longest gap in steps>``.

Verdict ``pass`` = fleetcast's MASE at least 10 % below the better baseline
and 80 % coverage within 70-92 %.  Outputs stay in a temporary directory;
results go to ``benchmarks/results/forecaster_panel.{md,json}``.

    .venv/bin/python benchmarks/forecaster_panel.py [--origins 20] [--only SUBSTRING]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
NAB = ROOT.parent / "shared" / "data" / "nab" / "data"
TUNED = {"nyc_taxi.csv"}
FLEETCAST = ROOT / ".venv" / "bin" / "fleetcast"
HORIZON = 12
TARGET_RATIO = 0.90
COVERAGE = (0.70, 0.92)

NEEDS_FREQ = re.compile(r"irregular timestamps|duplicated timestamp|not sorted")
NEEDS_GAP = re.compile(r"gap of \d+ missing steps|empty \S+ bins in a row")

# Why a series fails, from looking at its data and at fits before its origins
# (figures measured on the runs of 2026-11-27); shown for series that fail.
_FILLED = ("the model is estimated and filtered on the filled-in straight lines as if they "
           "were observed; since c650462 the interval calibration leaves filled-in points out "
           "(on this panel that lifted occupancy_t4013 69.5 -> 81.0 %, speed_6005 69.8 -> "
           "85.9 % and speed_7578 61.5 -> 70.4 %), but here it is not enough.  Treating "
           "filled-in points as missing values in the estimation and the Kalman filter was "
           "tried on constructed gap cases and not kept: nyc_taxi with 45 % of its rows "
           "removed forecast worse (MASE 0.72 -> 0.83, coverage 78.8 -> 74.0 %)")
_FEW = ("scored on few observed steps, so the figures rest on a handful of windows")
REASONS: dict[str, str] = {
    "realKnownCause/machine_temperature_system_failure.csv":
        "a smooth gauge that moves like a random walk (naive MASE 0.17 vs seasonal naive "
        "1.33) with the failure's drops inside the scored span (its 10th percentile is 54 "
        "against a median of 91); no season helps at h=12 and naive is the right reference",
    "realKnownCause/rogue_agent_key_hold.csv":
        "1882 rows over 5338 five-minute steps (65 % filled in, --max-gap 546); origins that fell "
        "in gaps moved back to observed points, 7 of them onto points already taken (13 "
        "origins, 72 scored steps); " + _FEW + "; ratio 1.20 and coverage 64 % at 243a93d "
        "(1.09, 66.7 % at bcf0933: the harmonic search to Nyquist moved it on these few "
        "windows); coverage 65 -> 86 % with the mass at zero (forecaster/zeros.py, 95a3469: "
        "its key presses stop at any level), so it now fails on MASE alone: " + _FILLED,
    "realTraffic/TravelTime_387.csv":
        "2500 rows over about 9980 ten-minute steps (75 % filled in); passed (0.72, 75 %) "
        "only while filled-in points were scored: on the 76 observed steps 86 % of the "
        "error falls in 2 origins; coverage 57 % at 243a93d (63.2 % at bcf0933, 53.9 % before "
        "c650462), ratio 1.12 (1.22 at bcf0933): " + _FILLED,
    "realTraffic/TravelTime_451.csv":
        "2162 rows over 7376 ten-minute steps (72 % filled in); 67 scored steps, 64 % of the "
        "error in 2 origins; ties naive (1.01; 1.12 while filled-in points were scored)",
    "realTraffic/speed_7578.csv":
        "1127 rows over 2623 five-minute steps (57 % filled in); 135 scored steps; ties the "
        "better baseline (1.00 at 243a93d, 0.98 at bcf0933), coverage 68 % (70.4 % at "
        "bcf0933)",
    "realKnownCause/cpu_utilization_asg_misconfiguration.csv":
        "level shifts from the misconfiguration (in the scored span the median step change "
        "is 2.45 points, the mean 10.5); the SARIMA with the 12-step (hourly) season only "
        "ties seasonal naive at that season",
    "realKnownCause/ambient_temperature_system_failure.csv":
        "intervals too narrow out of sample only: at all 20 origins the fit window's own "
        "1-12-step errors stay within the model's sd (width factors 1.01-1.05), but over "
        "the scored span the 2-12-step errors run at 1.1-1.8x it (80th percentile of "
        "|error|/sd over 1.28) - the temperature wanders more after the origins than "
        "anywhere before them, which a calibration on the fit window cannot see (measured "
        "with --max-gap 173, 8 % of the file filled across gaps; since 24a0a57 the file is "
        "read from its last long gap on, ratio 0.79 -> 0.47, coverage 61 % -> 68 %)",
    "realKnownCause/rogue_agent_key_updown.csv":
        "a key-press gauge with many spikes: the outlier clean-up leaves about 4 % of the"
        " fit window's points out (185-235 at the origins looked at); it passed (0.84, 70"
        " %) until 1087f36, which stopped the clean-up from keeping a glitch's echo in th"
        "e point after it: the echoes had inflated sigma2 by 15-25 % and so widened the b"
        "ands; without them the width factors stay at their floor of 1 at every lead (als"
        "o when the calibration reads the raw series, tried), so the fit window's own err"
        "ors are covered and the scored span is simply more volatile (coverage 70 % -> 66"
        " %)",
    "realAdExchange/exchange-3_cpm_results.csv":
        "hourly ad-exchange price with a weak daily shape and spikes; fleetcast is 7-9 % "
        "better than seasonal naive, just short of the 10 % bar; coverage 75 % -> 70 % "
        "(just under the bar) at 1087f36, for the reason given for rogue_agent_key_updown",
    "realAdExchange/exchange-4_cpc_results.csv":
        "hourly ad-exchange price dominated by spikes and jumps (about 40 % of the error "
        "falls in 2 of the 20 origins); under the time-budgeted search the ratio moved "
        "between runs (0.90, 0.95) as busy and quiet runs got different models; the "
        "deterministic stepwise search gives the same models on every run (1.01 on both "
        "runs of 343246c and bc64ded; 0.98 at 3a5f3bc, whose seasonal candidates are "
        "estimated on the last 1200 points): seasonal ARIMA at 11 of the 20 origins at "
        "bc64ded (all four seasonal orders are always tried), ARIMA(0,1,1) at 6, other "
        "orders at 3",
    "realTraffic/speed_t4013.csv":
        "ties the better baseline at 243a93d (0.99; 1.25 at bcf0933, with at most ten "
        "harmonics per season). At bcf0933: "
        "read with --freq 5min --max-gap 1012, 47 % of the steps filled in; on the 174 "
        "observed steps fleetcast's mean 12-step error is 3.76 against naive's 3.18, and one "
        "origin (2015-09-16 08:50, the speed just back from a dip: 39, 21, 22, 41, 65, 61) "
        "costs most of it (15.6 against 2.0: the forecast starts at 49 and stays near 47 "
        "while the actuals are 60-65).  The stepwise search rejects AR orders whose "
        "conditional-sum-of-squares fit has a root within 1 % of the unit circle (as "
        "auto.arima does); re-checking those orders by exact likelihood changed no origin's "
        "model (the exact fit puts the root there too), and leaving the filled-in steps out "
        "of the CSS criterion chose ARIMA(1,1,1) at most origins but raised the error to "
        "4.12; neither was kept (the earlier ratios 1.08 and 0.87 were measured with "
        "filled-in points scored)",
    "realAdExchange/exchange-3_cpc_results.csv":
        "hourly ad-exchange price with large spikes",
    "realAdExchange/exchange-4_cpm_results.csv":
        "hourly ad-exchange price with large spikes",
}


def _duration(seconds: float) -> str:
    for unit, size in (("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def file_facts(path: Path) -> dict[str, Any]:
    """Rows, median step and longest gap (in median steps) of a NAB CSV."""
    frame = pd.read_csv(path)
    stamps = pd.to_datetime(frame["timestamp"]).sort_values()
    diffs = np.diff(stamps.to_numpy().astype("datetime64[s]").astype(np.int64))
    median = float(np.median(diffs[diffs > 0]))
    longest = int(np.ceil(diffs.max() / median)) - 1 if len(diffs) else 0
    return {"rows": len(frame), "median_step_s": median, "longest_gap_steps": longest}


def run_backtest(path: Path, origins: int, tmp: Path) -> dict[str, Any]:
    """The CLI's backtest, following the reader's advice when it rejects the file."""
    facts = file_facts(path)
    extra: list[str] = []
    attempts: list[dict[str, Any]] = []
    started = time.perf_counter()
    for _ in range(3):
        cmd = [str(FLEETCAST), "forecast", "backtest", "--csv", str(path),
               "--horizon", str(HORIZON), "--origins", str(origins),
               "--out", str(tmp / "rows.csv"), "--json", *extra]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - t0
        error = proc.stderr.strip().splitlines()[-1] if proc.returncode and proc.stderr else ""
        attempts.append({"flags": list(extra), "exit": proc.returncode,
                         "seconds": round(wall, 1), "error": error})
        if proc.returncode == 0:
            summary = json.loads(proc.stdout)
            rows = pd.read_csv(tmp / "rows.csv")
            return {**facts, "flags": extra, "attempts": attempts, "wall_seconds": round(wall, 1),
                    "summary": summary,
                    "diagnostics": diagnostics(rows, summary)}
        if NEEDS_FREQ.search(error) and "--freq" not in extra:
            extra += ["--freq", _duration(facts["median_step_s"]), "--agg", "mean"]
        elif NEEDS_GAP.search(error) and "--max-gap" not in extra:
            extra += ["--max-gap", str(max(facts["longest_gap_steps"], 12))]
        else:
            break
    return {**facts, "flags": extra, "attempts": attempts,
            "wall_seconds": round(time.perf_counter() - started, 1),
            "error": attempts[-1]["error"]}


def diagnostics(rows: pd.DataFrame, summary: dict[str, Any]) -> dict[str, Any]:
    """Facts about the forecast windows that explain a failure.

    How concentrated the error is (a level shift or an incident puts most of it
    in one or two origins), over the scored steps, and how many forecast steps
    fell on points the reader filled in across a gap: those are not scored (the
    backtest leaves their actual empty), so a file that is mostly gaps is scored
    on few points.
    """
    scored = rows.dropna(subset=["actual"])
    err = (scored["actual"] - scored["mean"]).abs()
    per_origin = scored.assign(err=err).groupby("origin")["err"].mean()
    worst = per_origin.sort_values(ascending=False)
    share = float(worst.iloc[:2].sum() / max(per_origin.sum(), 1e-12))
    return {
        "share_of_error_in_worst_2_origins": round(share, 3),
        "forecast_steps_on_filled_points_not_scored": (
            f"{summary['excluded_filled']} of {summary['forecasts']}"),
    }


def meets(ratio: float, coverage: float) -> tuple[bool, bool]:
    """Whether a MASE ratio and an 80 % coverage meet issue 3's bars, each."""
    return ratio <= TARGET_RATIO, COVERAGE[0] <= coverage <= COVERAGE[1]


def verdict(result: dict[str, Any]) -> str:
    if "summary" not in result:
        return "error"
    s = result["summary"]
    ok_ratio, ok_cov = meets(s["mase_vs_best_baseline"], s["model"]["coverage80"])
    if ok_ratio and ok_cov:
        return "pass"
    why = []
    if not ok_ratio:
        why.append("MASE")
    if not ok_cov:
        why.append("coverage")
    return "fail (" + ", ".join(why) + ")"


def before_figures(path: Path) -> dict[str, Any]:
    """Ratio, coverage and verdict per series from an earlier run's json (for a before/after)."""
    saved = json.loads(path.read_text())
    out: dict[str, Any] = {"started": saved["started"], "passed": saved["passed"],
                           "total": saved["total"], "series": {}}
    for r in saved["series"]:
        s = r.get("summary")
        out["series"][r["name"]] = {
            "ratio": s["mase_vs_best_baseline"] if s else None,
            "coverage80": s["model"]["coverage80"] if s else None,
            "verdict": r["verdict"],
        }
    return out


def markdown(report: dict[str, Any]) -> str:
    before = report.get("before")
    lines = [
        "# Forecaster held-out panel (NAB, horizon 12)",
        "",
        f"Run {report['started']} on {report['machine']}; command: `{report['command']}`.",
        "",
        f"Every NAB series except the tuned `nyc_taxi` (World Cup 1998 is the other tuned "
        f"series), each through `fleetcast forecast backtest --csv F --horizon {HORIZON} "
        f"--origins {report['origins']} --out TMP --json` plus the flags shown, added only "
        "when the reader rejected the file and its error asked for them (`--freq` at the "
        "file's median step with `--agg mean` for irregular/duplicated/unsorted timestamps, "
        "`--max-gap` for long gaps).  Pass = MASE at least 10 % below the better of naive "
        "and seasonal naive and 80 % coverage in 70-92 %.  Only forecast steps whose actual "
        "is in the file are scored (the same steps for fleetcast and both baselines), and no "
        "origin sits on a point the reader filled in across a gap; `scored` counts the "
        f"scored steps of the {HORIZON} x origins (fewer origins when two moved off a gap "
        "onto the same point), the rest fell on filled points.",
        "",
        f"**{report['passed']} of {report['total']} pass.**"
        + (f" Before (run {before['started']}, {report.get('before_label', 'earlier model')}): "
           f"{before['passed']} of {before['total']}." if before else ""),
        "",
        "| series | rows | step | flags added | model (last origin) | MASE fleetcast | naive "
        "| seasonal naive (m) | ratio to better | 80 % cov | scored | fit s | wall s | verdict |"
        + (" before: ratio, cov, verdict |" if before else ""),
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
        + (" --- |" if before else ""),
    ]
    for r in report["series"]:
        flags = " ".join(r["flags"]) or "-"
        if "summary" not in r:
            lines.append(f"| {r['name']} | {r['rows']} | {_duration(r['median_step_s'])} | "
                         f"{flags} | - | - | - | - | - | - | - | - | {r['wall_seconds']} | "
                         f"error: {r['error']} |")
            continue
        s = r["summary"]
        lines.append(
            f"| {r['name']} | {r['rows']} | {_duration(s['step_seconds'])} | {flags} | "
            f"`{s['model']['name']}` | {s['model']['mase']:.3f} | {s['naive']['mase']:.3f} | "
            f"{s['seasonal_naive']['mase']:.3f} ({s['season']}) | "
            f"{s['mase_vs_best_baseline']:.2f} | {s['model']['coverage80']:.0%} | "
            f"{s.get('scored', s['forecasts'])} | {s['model']['fit_seconds_median']:.2f} | "
            f"{r['wall_seconds']} | {r['verdict']} |"
            + (_before_cell(before, r["name"]) if before else "")
        )
    failed = [r for r in report["series"] if r["verdict"] != "pass"]
    if failed:
        lines += ["", "## Failures", ""]
        for r in failed:
            reason = REASONS.get(r["name"], "")
            diag = r.get("diagnostics", {})
            facts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in diag.items())
            lines.append(f"- **{r['name']}** ({r['verdict']}): {reason or 'not analysed'}"
                         + (f" [{facts}]" if facts else ""))
    lines.append("")
    return "\n".join(lines)


def _before_cell(before: dict[str, Any], name: str) -> str:
    b = before["series"].get(name)
    if b is None or b["ratio"] is None:
        return " - |"
    return f" {b['ratio']:.2f}, {b['coverage80']:.0%}, {b['verdict']} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--origins", type=int, default=20)
    parser.add_argument("--only", default=None, help="run only files whose path contains this")
    parser.add_argument("--markdown-only", action="store_true",
                        help="rewrite forecaster_panel.md from the saved json")
    parser.add_argument("--before", type=Path, default=None,
                        help="an earlier run's forecaster_panel.json, shown side by side")
    parser.add_argument("--before-label", default="earlier model",
                        help="what the earlier run was (e.g. a commit)")
    args = parser.parse_args()
    if args.markdown_only:
        saved = json.loads((RESULTS / "forecaster_panel.json").read_text())
        if args.before is not None:
            saved["before"] = before_figures(args.before)
            saved["before_label"] = args.before_label
            (RESULTS / "forecaster_panel.json").write_text(
                json.dumps(saved, indent=2, default=str) + "\n")
        (RESULTS / "forecaster_panel.md").write_text(markdown(saved))
        return
    files = sorted(p for p in NAB.glob("*/*.csv") if p.name not in TUNED)
    if args.only:
        files = [p for p in files if args.only in str(p)]
    if not files:
        sys.exit(f"no NAB series found under {NAB}")
    report: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus, "
                   f"Python {platform.python_version()}",
        "command": "python benchmarks/forecaster_panel.py " + " ".join(sys.argv[1:]),
        "origins": args.origins,
        "horizon": HORIZON,
        "series": [],
    }
    if args.before is not None:
        report["before"] = before_figures(args.before)
        report["before_label"] = args.before_label
    with tempfile.TemporaryDirectory() as tmp:
        for path in files:
            name = f"{path.parent.name}/{path.name}"
            result = {"name": name, **run_backtest(path, args.origins, Path(tmp))}
            result["verdict"] = verdict(result)
            report["series"].append(result)
            s = result.get("summary")
            print(f"{name}: {result['verdict']}"
                  + (f" ratio {s['mase_vs_best_baseline']:.2f} cov "
                     f"{s['model']['coverage80']:.0%}" if s else f" {result.get('error')}")
                  + f" ({result['wall_seconds']} s)", file=sys.stderr, flush=True)
    report["total"] = len(report["series"])
    report["passed"] = sum(r["verdict"] == "pass" for r in report["series"])
    if args.only is None:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "forecaster_panel.json").write_text(
            json.dumps(report, indent=2, default=str) + "\n")
        (RESULTS / "forecaster_panel.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
