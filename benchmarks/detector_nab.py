"""Real-data check of the detector: NAB folders as fleets (realTweets to tune, others held out).

A fleet is built from one NAB folder: node k is file k (one metric ``value``,
very different scales per node), aligned by position and cut to the shortest
file (see :func:`build_fleet`); labels are NAB's ``combined_windows.json``
windows of each file, moved to the same positions.  ``realTweets`` (seven
Twitter mention volumes on one 5-minute grid, train-until 2015-03-02 00:00,
before the first labelled window) is the fleet the defaults were tuned on;
``realAdExchange``, ``realTraffic`` and ``realKnownCause5min`` are held out:
built the same way, never used to choose anything, reported to show whether
the tuning generalises.  Each fleet is scored by ``fleetcast detect eval`` (the
CLI, as a user would run it) against the robust z-score and Envoy-style peers.

    .venv/bin/python benchmarks/detector_nab.py [--fleet NAME ...] [--data ../shared/data/nab]

The fleet and labels CSVs go to a temporary directory (never the repo's
``data/``); the report lands in ``benchmarks/results/detector_nab.{json,md}``
(all fleets; ``--fleet`` narrows the run and writes ``detector_nab_<fleet>.*``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
# run as a script, this file's folder comes first on sys.path and benchmarks/detector.py
# would shadow the ``detector`` package (imported by the in-process diagnosis)
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(REPO))  # so the sibling module is reached as benchmarks.nab_fleet

from benchmarks.nab_fleet import FLEETS, build_fleet  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
DEFAULT_DATA = REPO.parent / "shared" / "data" / "nab"


TUNING_FLEET = "realTweets"
# The tuning fleet is also scored with other training splits (days after its default
# train-until): a default chosen on one split should not be a knife-edge of that split.
SPLIT_DAYS = (-1, 1, 2, 4, 7)


def days_after(until: str) -> list[str]:
    """``until`` moved by each of ``SPLIT_DAYS`` (the tuning fleet's other training splits)."""
    return [str(pd.Timestamp(until) + pd.Timedelta(days=d)) for d in SPLIT_DAYS]


# Extra variants per fleet (the defaults always run).  ``--smooth-windows 6,36`` is
# what ``auto`` resolved to for 5-minute data before the quarter-day mean was added
# (commit 17e4e5d), run in the same pass for a before/after on the same build.  The
# 0.999 variant was chosen after looking at realTweets, so its figure is optimistic.
PREVIOUS_AUTO = ("--smooth-windows 6,36 (auto before)", ["--smooth-windows", "6,36"])
VARIANTS: dict[str, list[tuple[str, list[str]]]] = {
    "realTweets": [
        PREVIOUS_AUTO,
        (
            "--smooth-windows 6,36 --threshold-quantile 0.999",
            ["--smooth-windows", "6,36", "--threshold-quantile", "0.999"],
        ),
    ],
    "realKnownCause5min": [PREVIOUS_AUTO],
}


# Default-settings event F1 (found/events, false episodes) of the detector at commit
# 3e00750, before per-node thresholds and the auto batch defaults, on the same fleets
# (reproduce: `git archive 3e00750 detector controller forecaster gateway | tar -x -C OLD`,
# then `PYTHONPATH=OLD python -c "from controller.cli import main; main()" detect eval ...`).
BEFORE = {
    "realTweets": (0.339, "11/21", 33),
    "realAdExchange": (0.182, "2/14", 6),
    "realTraffic": (0.500, "3/7", 2),
    "realKnownCause5min": (0.000, "0/7", 0),
}
# The same at commit 17e4e5d (per-node thresholds, auto spans 6,36, health gate), before
# the quarter-day trailing mean joined the auto spans; measured with this script there.
PREVIOUS = {
    "realTweets": (0.457, "8/21", 6),
    "realAdExchange": (0.273, "3/14", 5),
    "realTraffic": (0.421, "4/7", 8),
    "realKnownCause5min": (0.333, "2/7", 3),
}


# Candidate changes for recall (model parameters the CLI does not expose), each fitted
# in-process on the tuning fleet at all six training splits with the CLI's auto settings;
# a candidate would become a default only if it raised the mean F1 over the splits.
CANDIDATES: list[tuple[str, dict[str, object]]] = [
    ("defaults", {}),
    ("per-node envelope", {"per_node_envelope": True}),
    ("self baseline 40 windows", {"baseline_windows": 40}),
    ("self baseline 60 windows", {"baseline_windows": 60}),
    ("self baseline 72 windows (6 h)", {"baseline_windows": 72}),
    ("immediate level at 2x", {"immediate_ratio": 2.0}),
    ("hysteresis 2 of 6", {"k": 2, "n": 6}),
    ("hysteresis 1 of 1", {"k": 1, "n": 1}),
    ("no fleet guard", {"max_ejection_percent": 100.0}),
]


def fit_in_process(
    fleet_csv: Path, labels_csv: Path, until: str, overrides: dict[str, object]
) -> tuple[object, pd.DataFrame, pd.DataFrame, pd.Timestamp]:
    """A detector fitted as ``fleetcast detect eval`` would (auto settings), plus overrides."""
    from detector.auto import auto_params
    from detector.evaluate import read_labels
    from detector.frame import infer_step, read_fleet_csv
    from detector.model import NodeDetector

    frame = read_fleet_csv(fleet_csv)
    labels = read_labels(labels_csv)
    start = pd.Timestamp(until)
    history = frame[frame["timestamp"] < start]
    params = auto_params(history, infer_step(frame)) | {"max_ejection_percent": 10.0} | overrides
    return NodeDetector(**params).fit(history), frame, labels, start


def diagnose(fleet_csv: Path, labels_csv: Path, until: str) -> list[dict]:
    """Every labelled window after ``until`` with the stage that lost it (explain_misses)."""
    from detector.evaluate import explain_misses

    model, frame, labels, start = fit_in_process(fleet_csv, labels_csv, until, {})
    misses = explain_misses(model, frame, labels, start)  # type: ignore[arg-type]
    return json.loads(misses.to_json(orient="records", date_format="iso"))


def curve(fleet_csv: Path, labels_csv: Path, splits: list[str]) -> list[dict]:
    """Thresholds scaled about each node's median (threshold_curve), summed over splits."""
    from detector.evaluate import threshold_curve

    per_split = []
    for until in splits:
        model, frame, labels, start = fit_in_process(fleet_csv, labels_csv, until, {})
        per_split.append(threshold_curve(model, frame, labels, start))  # type: ignore[arg-type]
    return [
        {
            "scale": rows[0]["scale"],
            "mean_f1": round(float(np.mean([r["f1"] for r in rows])), 4),
            "found": sum(r["found"] for r in rows),
            "events": sum(r["events"] for r in rows),
            "false_episodes": sum(r["false_episodes"] for r in rows),
        }
        for rows in zip(*per_split, strict=True)
    ]


def curve_lines(runs: list[dict]) -> list[str]:
    with_curve = [run for run in runs if run.get("curve")]
    if not with_curve:
        return []
    scales = [point["scale"] for point in with_curve[0]["curve"]]
    lines = [
        "## Threshold scale: is it calibration or ranking?",
        "",
        "Every node's thresholds moved to `median + s × (threshold − median)` (s = 1: as "
        "fitted; `detector.evaluate.threshold_curve`).  Cells: F1 (found/events, false "
        f"episodes); {TUNING_FLEET}: mean F1 and sums over its six training splits, the "
        "others at their default split.  A diagnostic, not a tuning knob: the held-out rows "
        "were computed after the defaults were fixed and chose nothing.",
        "",
        "| fleet | " + " | ".join(f"s = {s:g}" for s in scales) + " |",
        "| --- | " + " | ".join("---:" for _ in scales) + " |",
    ]
    for run in with_curve:
        lines.append(
            f"| {run['fleet']} | "
            + " | ".join(
                f"{p['mean_f1']:.3f} ({p['found']}/{p['events']}, {p['false_episodes']})"
                for p in run["curve"]
            )
            + " |"
        )
    return [*lines, ""]


def candidates(fleet_csv: Path, labels_csv: Path, splits: list[str]) -> list[dict]:
    from detector.batch import detect_frame
    from detector.evaluate import score_events

    out = []
    for name, overrides in CANDIDATES:
        per_split = []
        for until in splits:
            model, frame, labels, start = fit_in_process(fleet_csv, labels_csv, until, overrides)
            result = detect_frame(model, frame, start)  # type: ignore[arg-type]
            per_split.append(score_events(result.alerts, labels, start))
        out.append({"candidate": name, "overrides": overrides, "splits": per_split})
        print(f"candidate {name}: mean F1 {np.mean([r['f1'] for r in per_split]):.3f}", flush=True)
    return out


def diagnosis_lines(runs: list[dict]) -> list[str]:
    lines = [
        "## Why labelled windows are missed (default settings, default split)",
        "",
        "From `detector.evaluate.explain_misses` on the same fit as the `defaults` run: the "
        "first stage that lost each window (`fleet guard`: found with the guard off; "
        "`hysteresis`: raw flags but never k of n; `below threshold`: no score above it).  "
        "`peak` places the node's highest score in the window between its median (0) and its "
        "threshold (1); `vs envelope` is the most extreme feature at that peak over its "
        "training envelope (below 1: no larger than deviations seen in training).",
        "",
        "| fleet | found | fleet guard | hysteresis | health gate | node threshold | "
        "below threshold | median peak of misses | misses inside the envelope |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    detail = []
    for run in runs:
        rows = run.get("misses")
        if rows is None:
            continue
        reasons = pd.Series([r["reason"] for r in rows])
        missed = [r for r in rows if r["reason"] != "found"]
        peaks = [r["peak_ratio"] for r in missed]
        inside = sum(r["peak_vs_envelope"] <= 1.0 for r in missed)
        counts = [
            int((reasons == k).sum())
            for k in (
                "found",
                "fleet guard",
                "hysteresis",
                "health gate",
                "node threshold",
                "below threshold",
            )
        ]
        lines.append(
            f"| {run['fleet']} | {' | '.join(map(str, counts))} | "
            f"{np.median(peaks) if peaks else float('nan'):.2f} | {inside} of {len(missed)} |"
        )
        detail += [
            f"**{run['fleet']}**: "
            + "; ".join(
                f"{r['node']} {r['start'][:16]} {r['reason']} (peak {r['peak_ratio']:.2f}, "
                f"{r['peak_feature']} {r['peak_vs_envelope']:.2f}x envelope)"
                for r in missed
            ),
            "",
        ]
    return [*lines, "", *detail]


def candidate_lines(cands: list[dict], splits: list[str]) -> list[str]:
    if not cands:
        return []
    lines = [
        f"## {TUNING_FLEET}: candidate changes over all six training splits (in-process fits)",
        "",
        "| candidate | mean F1 | found (all splits) | false episodes (all splits) | "
        + " | ".join(s[:10] for s in splits)
        + " |",
        "| --- | ---: | ---: | ---: | " + " | ".join("---:" for _ in splits) + " |",
    ]
    for cand in cands:
        rs = cand["splits"]
        lines.append(
            f"| {cand['candidate']} | **{np.mean([r['f1'] for r in rs]):.3f}** | "
            f"{sum(r['found'] for r in rs)}/{sum(r['events'] for r in rs)} | "
            f"{sum(r['false_episodes'] for r in rs)} | "
            + " | ".join(f"{r['f1']:.2f}" for r in rs)
            + " |"
        )
    return [*lines, ""]


# The same at commit c4ed5ae (the quarter-day trailing mean in the auto spans), the
# defaults this file's runs had before explain_misses and the candidate table.
QUARTER_DAY = {
    "realTweets": (0.514, "9/21", 5),
    "realAdExchange": (0.273, "3/14", 5),
    "realTraffic": (0.421, "4/7", 8),
    "realKnownCause5min": (0.333, "2/7", 3),
}


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


def split_table(runs: list[dict]) -> list[str]:
    """The tuning fleet's detector F1 at several train-until dates: defaults vs auto before."""
    rows = [
        run
        for run in runs
        if run["fleet"] == TUNING_FLEET and run["variant"] in ("defaults", PREVIOUS_AUTO[0])
    ]
    if not any(run.get("split_check") for run in rows):
        return []
    by_until: dict[str, dict[str, dict]] = {}
    for run in rows:
        by_until.setdefault(run["train_until"], {})[run["variant"]] = run["report"]["detector"]
    lines = [
        f"## {TUNING_FLEET}: other training splits (defaults vs `{PREVIOUS_AUTO[0]}`)",
        "",
        "| train until | events after it | detector (defaults) | detector (auto before) |",
        "| --- | ---: | ---: | ---: |",
    ]
    means: dict[str, list[float]] = {"defaults": [], PREVIOUS_AUTO[0]: []}
    for until in sorted(by_until):
        cells = []
        for variant in ("defaults", PREVIOUS_AUTO[0]):
            det = by_until[until].get(variant)
            if det is None:
                cells.append("-")
                continue
            means[variant].append(det["f1"])
            cells.append(f"{det['f1']:.3f} ({det['found']} found, {det['false_episodes']} FP)")
        events = next(iter(by_until[until].values()))["events"]
        lines.append(f"| {until} | {events} | {cells[0]} | {cells[1]} |")
    lines.append(
        f"| mean | | {sum(means['defaults']) / max(1, len(means['defaults'])):.3f} | "
        f"{sum(means[PREVIOUS_AUTO[0]]) / max(1, len(means[PREVIOUS_AUTO[0]])):.3f} |"
    )
    return [*lines, ""]


def markdown(runs: list[dict], cands: list[dict] | None = None) -> str:
    lines = [
        "# Detector on real data: NAB folders as fleets",
        "",
        "Command: `.venv/bin/python benchmarks/detector_nab.py` — builds each fleet and labels "
        "CSV in a temporary directory and runs `fleetcast detect eval --metrics FLEET.csv "
        "--labels LABELS.csv --train-until TS --json [flags]` once per variant.  "
        "`realTweets` is the fleet the defaults were tuned on; the others are held out "
        "(built the same way, never used to choose anything).",
        "",
        "Event-level scores, no point-adjust: a labelled window is found when its node is "
        "anomalous (after hysteresis) inside it; an alert episode touching no window of its node "
        "is a false positive; precision = found / (found + false episodes). NAB's windows start "
        "long before the labelled spike, so 'median delay' is mostly window geometry.",
        "",
        "## Summary (event F1, default settings)",
        "",
        "| fleet | role | nodes | rows/node | train until | detector at 3e00750 | "
        "detector at 17e4e5d | detector at c4ed5ae | detector | robust z | envoy |",
        "| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    main_runs = [run for run in runs if not run.get("split_check")]
    for run in main_runs:
        if run["variant"] != "defaults":
            continue
        rep = run["report"]
        role = "tuning" if run["fleet"] == TUNING_FLEET else "held out"
        envoy = rep["envoy"]
        envoy_f1 = f"{envoy['f1']:.3f}" if envoy.get("applicable", True) else "n/a"
        det = rep["detector"]
        before, previous, quarter = (
            f"{old[0]:.3f} ({old[1]}, {old[2]} FP)" if old else "-"
            for old in (
                BEFORE.get(run["fleet"]),
                PREVIOUS.get(run["fleet"]),
                QUARTER_DAY.get(run["fleet"]),
            )
        )
        lines.append(
            f"| {run['fleet']} | {role} | {rep['nodes']} | {run['rows']} | {run['train_until']} | "
            f"{before} | {previous} | {quarter} | "
            f"**{det['f1']:.3f}** ({det['found']}/{det['events']}, "
            f"{det['false_episodes']} FP) | {rep['robust_z']['f1']:.3f} | "
            f"{envoy_f1} |"
        )
    settings = {
        run["fleet"]: run["report"].get("settings", {})
        for run in main_runs
        if run["variant"] == "defaults"
    }
    lines += [
        "",
        "Default settings resolved by `auto` per fleet (detector/auto.py): "
        + "; ".join(
            f"{fleet}: smooth windows {','.join(map(str, s.get('smooth_windows', []))) or 'none'}, "
            f"threshold quantile {s.get('threshold_quantile')}"
            for fleet, s in settings.items()
        )
        + ".",
        "",
    ]
    lines += split_table(runs)
    splits = sorted({run["train_until"] for run in runs if run["fleet"] == TUNING_FLEET})
    lines += candidate_lines(cands or [], splits)
    lines += diagnosis_lines(main_runs)
    lines += curve_lines(main_runs)
    for run in main_runs:
        lines += [
            f"## {run['fleet']}: `{run['variant']}` ({run['seconds']:.1f} s)",
            "",
            f"{FLEETS[run['fleet']][0]} as nodes: {', '.join(run['files'])}.",
            "",
            *table(run["report"]),
            "",
        ]
    lines += [
        "`--smooth-windows 6,36 (auto before)` is what `auto` resolved to for 5-minute data "
        "before the quarter-day trailing mean joined the spans (commit 17e4e5d): the same "
        "build in the same run, i.e. the before/after of that change.  The quarter-day span "
        "was chosen by measuring on realTweets (the tuning fleet), so its realTweets figure is "
        "a tuning figure; the held-out fleets were run after the choice.  The "
        "`--threshold-quantile 0.999` variant was also chosen after looking at realTweets, so "
        "its figure is optimistic.  Envoy's rules need an error-rate metric; none of these "
        "series has one.",
        "",
        "Read the realTweets figures with the split table above: moving train-until by a "
        "day or more moves the F1 by about ±0.1, and over those splits the quarter-day mean "
        "gains little on average, so 0.514 at the default split is within the benchmark's "
        "noise rather than a clear step.  On this fleet every raw flag comes from the score's "
        "envelope-excess term (the Isolation Forest part alone never crosses the threshold), "
        "so forest settings do not change the result; the remaining false episodes are real "
        "but unlabelled bursts (e.g. node5-KO: 3, then 393 and 148 tweets at 2015-03-19 00:22), "
        "and most misses are labelled bursts smaller than those (node6-PFE's 10-22 tweets in "
        "a mostly-zero series).",
        "",
        "Reading the diagnosis tables: on realTweets the misses are mostly `below threshold` "
        "and the threshold-scale row peaks within a few hundredths of s = 1, so recall can "
        "only be bought with about as many false episodes (a ranking limit of the features, "
        "not a calibration error); no candidate change raised the six-split mean beyond the "
        "split noise, so the defaults did not change.  The per-node envelope finds more "
        "labelled windows but on a worse found-vs-false-episodes curve.  On the held-out "
        "fleets most misses have the node's peak score well under its threshold and "
        "realAdExchange loses windows to the fleet guard (two series of one exchange fail "
        "together, and a 6-node fleet at 10 % allows one anomalous node).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument(
        "--fleet",
        action="append",
        choices=sorted(FLEETS),
        help="Fleet(s) to run (repeatable; default: all, tuning fleet first).",
    )
    parser.add_argument(
        "--no-candidates",
        action="store_true",
        help="Skip the tuning fleet's candidate changes (in-process fits at every split).",
    )
    parser.add_argument(
        "--no-splits",
        action="store_true",
        help="Skip the tuning fleet's training-split check (other train-until dates).",
    )
    args = parser.parse_args()
    fleets = args.fleet or list(FLEETS)
    runs: list[dict] = []
    cands: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="fleetcast-nab-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        fleetcast = Path(sys.executable).with_name("fleetcast")
        for fleet in fleets:
            fleet_csv, labels_csv, train_until = build_fleet(args.data, fleet, workdir)
            files = pd.read_csv(fleet_csv, usecols=["node"])["node"]
            jobs = [
                (name, flags, train_until, False)
                for name, flags in [("defaults", []), *VARIANTS.get(fleet, [])]
            ]
            if fleet == TUNING_FLEET and not args.no_splits:
                for until in days_after(train_until):
                    for name, flags in [("defaults", []), PREVIOUS_AUTO]:
                        jobs.append((name, flags, until, True))
            for name, flags, until, split in jobs:
                cmd = [
                    str(fleetcast),
                    "detect",
                    "eval",
                    "--metrics",
                    str(fleet_csv),
                    "--labels",
                    str(labels_csv),
                    "--train-until",
                    until,
                    "--json",
                    *flags,
                ]
                started = time.perf_counter()
                proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
                seconds = time.perf_counter() - started
                if proc.returncode != 0:
                    raise SystemExit(f"{fleet}: detect eval failed: {proc.stderr}")
                run = {
                    "fleet": fleet,
                    "variant": name,
                    "train_until": until,
                    "split_check": split,
                    "rows": int(files.value_counts().iloc[0]),
                    "files": sorted(files.unique().tolist()),
                    "seconds": round(seconds, 1),
                    "report": json.loads(proc.stdout),
                }
                if name == "defaults" and not split:
                    run["misses"] = diagnose(fleet_csv, labels_csv, until)
                    tuning_splits = fleet == TUNING_FLEET and not args.no_splits
                    others = days_after(until) if tuning_splits else []
                    run["curve"] = curve(fleet_csv, labels_csv, sorted([until, *others]))
                runs.append(run)
            if fleet == TUNING_FLEET and not args.no_splits and not args.no_candidates:
                cands = candidates(
                    fleet_csv, labels_csv, sorted([train_until, *days_after(train_until)])
                )
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = "detector_nab" if args.fleet is None else "detector_nab_" + "_".join(fleets)
    payload = {"runs": runs, "candidates": cands}
    (RESULTS / f"{stem}.json").write_text(json.dumps(payload, indent=2) + "\n")
    text = markdown(runs, cands)
    (RESULTS / f"{stem}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
