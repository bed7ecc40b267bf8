"""Held-out detector test on a recorded fleet of real gateway nodes, scored through the CLI.

Issue 4 asks that ``fleetcast detect run`` on a fleet CSV of real machine metrics the
project has never seen find most labelled faults on the right node, with few false
alerts, clearly better than the robust z-score peer.  Every NAB folder has been used in
development, so this script records a new fleet: a ``LocalPool`` of real payment node
processes behind the real balancer (the machinery of ``benchmarks/detector_live.py``),
open-loop payments whose rate swings 3x, and every ``--scrape-seconds`` a scrape turned
into windows by ``controller.observe.Observer``.

1. a minute of warm-up (not recorded: a collector started after the fleet is up);
2. phase A, ``--train-seconds`` healthy: the training history;
3. phase B, a schedule drawn from ``--seed``: every fault kind at least once (latency
   +300 and +100 ms, errors 20 % and 5 %, cpu, memory leak, hang), each on a random node
   for 60–120 s after a 60–120 s healthy gap, injected with ``POST /admin/faults`` and
   cleared with ``DELETE``; a node the clear does not heal (still hung, memory not given
   back) is replaced as the controller would, and the replacement is recorded;
4. the recording is written as the documented CSVs (``timestamp,node,metric,value``; labels
   ``node,start,end`` from injection to clear plus one window) and scored as a user would:
   ``fleetcast detect eval --json`` (all labels, then each label alone for per-fault peer
   results) and ``fleetcast detect run --out ALERTS.csv``, trained before the end of phase A.

Nothing here is tuned: the CLI's defaults (``auto``) decide everything.  The recording
itself is ``benchmarks/detector_recording.py``.  A recording that has been looked at is
tuning data from then on: record a new one (new ``--seed``, new ``--name``) to hold out.

    .venv/bin/python benchmarks/detector_recorded.py [--train-seconds 600] [--seed 20261127]
        [--nodes 6] [--faults 9] [--out-dir benchmarks/results] [--name recorded] [--role R]
    .venv/bin/python benchmarks/detector_recorded.py --quick   # 60 s history, 2 faults, /tmp
    .venv/bin/python benchmarks/detector_recorded.py --from-recording benchmarks/results/recorded

Writes ``detector_NAME.{json,md}`` and ``NAME/`` (the CSVs) under ``--out-dir``.  A re-score
keeps the first scoring in the JSON as ``before``; every report ends with a table of all
``detector_recorded*.json`` under ``--out-dir`` (before/after per recording).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]
sys.path.insert(0, str(ROOT))

from benchmarks.detector_recording import (  # noqa: E402
    WARMUP_SECONDS,
    record,
    squeeze,
    stamp,
    unpack,
    write_recording,
)
from detector.auto import auto_params  # noqa: E402
from detector.evaluate import episodes, explain_misses, read_labels  # noqa: E402
from detector.frame import infer_step, read_fleet_csv  # noqa: E402
from detector.model import NodeDetector  # noqa: E402

METHODS = ("detector", "robust_z", "envoy")


def fleetcast(*argv: str) -> subprocess.CompletedProcess[str]:
    """The installed ``fleetcast`` entry point, importing this checkout's code."""
    exe = Path(sys.executable).parent / "fleetcast"
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    proc = subprocess.run([str(exe), *argv], capture_output=True, text=True, env=env, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"fleetcast {' '.join(argv)} exited {proc.returncode}: {proc.stderr}")
    return proc


def eval_json(fleet: Path, labels: Path, until: str) -> dict[str, Any]:
    """``fleetcast detect eval --json`` on the recording with these labels."""
    argv = ["detect", "eval", "--metrics", str(fleet), "--labels", str(labels)]
    return json.loads(fleetcast(*argv, "--train-until", until, "--json").stdout)


def evaluate(data: Path, rec: dict[str, Any]) -> dict[str, Any]:
    """Score through the CLI; per-fault peer results from one-label evals; miss diagnosis."""
    fleet, labels, alerts_csv = data / "fleet.csv", data / "labels.csv", data / "alerts.csv"
    until = rec["train_until"]
    started = time.monotonic()
    overall = eval_json(fleet, labels, until)
    eval_seconds = time.monotonic() - started
    run = fleetcast(
        "detect", "run", "--metrics", str(fleet), "--train-until", until, "--out", str(alerts_csv)
    )
    alerts = pd.read_csv(alerts_csv, parse_dates=["timestamp"])
    label_frame = pd.read_csv(labels)
    per_fault = []
    for fault, label in zip(rec["faults"], label_frame.itertuples(index=False), strict=True):
        one = data / f"label_{fault['n']}.csv"
        pd.DataFrame([label._asdict()]).to_csv(one, index=False)
        report = eval_json(fleet, one, until)
        start, end = pd.Timestamp(label.start), pd.Timestamp(label.end)
        during = alerts[(alerts["timestamp"] >= start) & (alerts["timestamp"] <= end)]
        mine = during[during["node"] == label.node]
        hits = mine[mine["anomalous"] == 1]
        others = during[(during["node"] != label.node) & (during["anomalous"] == 1)]
        per_fault.append(
            {
                "n": fault["n"],
                **{
                    m: {
                        "found": bool(report[m].get("found")),
                        "delay_s": report[m].get("median_delay_seconds"),
                    }
                    if report[m].get("applicable", True)
                    else {"applicable": False}
                    for m in METHODS
                },
                "alert_rows": len(mine),
                "flagged_rows": len(hits),
                "max_score": None if mine["score"].isna().all() else round(mine["score"].max(), 4),
                "top_metrics": sorted(
                    {m for tops in hits["top_metrics"].fillna("") for m in tops.split(";") if m}
                ),
                "other_nodes_flagged": sorted(others["node"].unique().tolist()),
            }
        )
    model, frame, label_df, start = fit_as_cli(fleet, labels, until)
    misses = explain_misses(model, frame, label_df, start)
    diagnosis = json.loads(misses.to_json(orient="records", date_format="iso"))
    eps = episodes(alerts)
    label_df = label_df.assign(
        start=pd.to_datetime(label_df["start"]), end=pd.to_datetime(label_df["end"])
    )
    false_eps = []
    for ep in eps.itertuples(index=False):
        same = label_df[
            (label_df["node"] == ep.node)
            & (label_df["start"] <= ep.last)
            & (label_df["end"] >= ep.first)
        ]
        if same.empty:
            rows = alerts[
                (alerts["node"] == ep.node)
                & (alerts["timestamp"] >= ep.first)
                & (alerts["timestamp"] <= ep.last)
            ]
            false_eps.append(
                {
                    "node": ep.node,
                    "first": stamp(ep.first.to_pydatetime()),
                    "last": stamp(ep.last.to_pydatetime()),
                    "windows": len(rows),
                    "top_metrics": sorted(set(rows["top_metrics"].fillna(""))),
                }
            )
    flagged = alerts[alerts["anomalous"] == 1]
    return {
        "eval": overall,
        "eval_seconds": round(eval_seconds, 1),
        "run_stderr": run.stderr.strip(),
        "alert_rows": len(alerts),
        "flagged_rows_per_node": {
            n: int((flagged["node"] == n).sum()) for n in sorted(alerts["node"].unique())
        },
        "per_fault": per_fault,
        "diagnosis": diagnosis,
        "false_episodes": false_eps,
        "fleet_rows": len(read_fleet_csv(fleet)),
    }


def fit_as_cli(
    fleet: Path, labels: Path, until: str
) -> tuple[NodeDetector, pd.DataFrame, pd.DataFrame, pd.Timestamp]:
    """The detector ``fleetcast detect eval`` fits (auto settings), for the miss diagnosis."""
    frame = read_fleet_csv(fleet)
    start = pd.Timestamp(until)
    history = frame[frame["timestamp"] < start]
    params: dict[str, Any] = auto_params(history, infer_step(frame))
    return (
        NodeDetector(**params, max_ejection_percent=10.0).fit(history),
        frame,
        read_labels(labels),
        start,
    )


def git(*argv: str) -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), *argv], capture_output=True, text=True
    ).stdout.strip()


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "host": platform.node(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 1e9, 1),
        "python": platform.python_version(),
        "load_at_start": uptime(),
    }


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def _cell(result: dict[str, Any]) -> str:
    if not result.get("applicable", True):
        return "n/a"
    if not result["found"]:
        return "missed"
    return f"found, {result['delay_s']:.0f} s"


def _score(r: dict[str, Any]) -> str:
    return f"{r['found']}/{r['events']}, {r['false_episodes']} FP, F1 {r['f1']:.3f}"


def summary(out: Path) -> list[str]:
    """Before/after per recording, from every ``detector_recorded*.json`` under ``out``."""
    lines = [
        "## All recordings (`detector_recorded*.json`)",
        "",
        "Detector found/events, false episodes, event F1 (`fleetcast detect eval`); `before` is "
        "the first scoring kept in the JSON, `now` the latest.",
        "",
        "| recording | seed | role | before | now | robust z now | Envoy now |",
        "| --- | ---: | --- | --- | --- | --- | --- |",
    ]
    for path in sorted(out.glob("detector_recorded*.json")):
        r = json.loads(path.read_text())
        now, before = r["evaluation"]["eval"], r.get("before")
        was = f"{_score(before['eval']['detector'])} (at {before['commit']})" if before else "-"
        peers = [_score(now[m]) if now[m].get("applicable", True) else "n/a" for m in METHODS[1:]]
        lines.append(
            f"| `{path.stem.removeprefix('detector_')}/` | {r['setup']['seed']} | "
            f"{r.get('role', '-')} | {was} | {_score(now['detector'])} "
            f"(at {r['scored_with']['commit']}) | {' | '.join(peers)} |"
        )
    return [*lines, ""]


def render(report: dict[str, Any], name: str, out: Path) -> str:
    s, rec, ev = report["setup"], report["recording"], report["evaluation"]
    lines = [
        f"# Detector on a recorded fleet of real gateway nodes: `{name}/` "
        f"({report.get('role', 'held out')})",
        "",
        f"Command: `{report['command']}` — {report['generated_at']}, commit {report['commit']}, "
        f"seed {s['seed']}. Machine: {report['machine']['cpu']}, {report['machine']['cores']} "
        f"cores, {report['machine']['memory_gb']} GB; load at start "
        f"`{report['machine']['load_at_start']}`, "
        f"at end `{report['load_at_end']}` (run without nice; another helper's benchmarks may "
        "run at nice 19).",
        "",
        f"{s['nodes']} real payment node processes behind the real balancer (round robin), "
        f"open-loop payments {s['load']}; a scrape window every {s['scrape_seconds']} s "
        f"(`controller.observe.Observer`). {s['warmup_seconds']:.0f} s warm-up not recorded; "
        f"phase A (training history) {rec['train_from']} → {rec['train_until']} "
        f"({s['train_seconds']:.0f} s, healthy); phase B (test) to {rec['end']}: "
        f"{len(rec['faults'])} faults from seed {s['seed']}. Recording: "
        f"{ev['fleet_rows']} rows `timestamp,node,metric,value` (8 metrics; a hung node has "
        f"no rows), nodes {', '.join(rec['nodes_seen'])}; files "
        f"{', '.join(f'`{name}/{f}`' for f in report['files'])}. Timestamps are UTC.",
        "",
        "## Fault schedule",
        "",
        "| # | fault | node | injected | healed | s | healthy gap before (s) | windows node "
        "reported | healed by |",
        "| ---: | --- | --- | --- | --- | ---: | ---: | ---: | --- |",
    ]
    for f in rec["faults"]:
        healed = (
            f"replaced by {f['replaced_by']} ({f['replace_reason']})"
            if f["replaced_by"]
            else f["cleared_by"]
        )
        if f.get("rss_after_clear_mb") is not None:
            healed += (
                f"; RSS {f['rss_before_mb']:.0f} MB before, {f['rss_after_clear_mb']:.0f} after"
            )
        lines.append(
            f"| {f['n']} | {f['kind']} {json.dumps(f['params'])} | {f['node']} | {f['injected']} | "
            f"{f['healed']} | {f['seconds']:.0f} | {f['gap_before_s']:.0f} | "
            f"{f['windows_node_reported']}/{f['windows']} | {healed} |"
        )
    lines += [
        "",
        "Labels: `node,start,end` = injection → healed (cleared, or replaced) + one window.",
        "",
        "## Scores (`fleetcast detect eval --json`, trained before the end of phase A)",
        "",
        f"Settings chosen by the CLI's `auto`: {json.dumps(ev['eval'].get('settings'))}.",
        "",
        "| method | events | found | false episodes | precision | recall | F1 | median delay (s) "
        "| localization | anomalous windows |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for m in METHODS:
        r = ev["eval"][m]
        if not r.get("applicable", True):
            lines.append(f"| {m} | not applicable: {r['reason']} |||||||||")
            continue
        delay = "-" if r["median_delay_seconds"] is None else f"{r['median_delay_seconds']:.0f}"
        loc = "-" if r["localization_accuracy"] is None else f"{r['localization_accuracy']:.3f}"
        lines.append(
            f"| {m} | {r['events']} | {r['found']} | {r['false_episodes']} | {r['precision']:.3f} "
            f"| {r['recall']:.3f} | {r['f1']:.3f} | {delay} | {loc} | {r['anomalous_windows']} |"
        )
    lines += [
        "",
        "## Per fault",
        "",
        "Found/delay per method from `fleetcast detect eval` with that label alone; the "
        "rest from `ALERTS.csv` (`fleetcast detect run`) inside the label; stage that lost a "
        "miss from `detector.evaluate.explain_misses` on the same auto fit.",
        "",
        "| # | fault | node | detector | robust z | Envoy | flagged rows on node | max score "
        "| top metrics | other nodes flagged | why missed (stage, peak ratio, peak feature) |",
        "| ---: | --- | --- | --- | --- | --- | ---: | ---: | --- | --- | --- |",
    ]
    diag = {(d["node"], d["end"][:19]): d for d in ev["diagnosis"]}
    for f, p in zip(rec["faults"], ev["per_fault"], strict=True):
        d = diag.get((f["node"], pd.Timestamp(f["label_end"]).isoformat()[:19]))
        why = (
            f"{d['reason']}, {d['peak_ratio']}, {d['peak_feature']} ×{d['peak_vs_envelope']}"
            if d and d["reason"] != "found"
            else "-"
        )
        lines.append(
            f"| {f['n']} | {f['kind']} {json.dumps(f['params'])} | {f['node']} | "
            f"{_cell(p['detector'])} | {_cell(p['robust_z'])} | {_cell(p['envoy'])} | "
            f"{p['flagged_rows']}/{p['alert_rows']} | {p['max_score']} | "
            f"{';'.join(p['top_metrics']) or '-'} | {', '.join(p['other_nodes_flagged']) or '-'} "
            f"| {why} |"
        )
    lines += [
        "",
        f"`fleetcast detect run`: {ev['run_stderr']}",
        "",
        "Flagged rows in ALERTS.csv per node: "
        + ", ".join(f"{n} {c}" for n, c in ev["flagged_rows_per_node"].items())
        + ".",
        "",
        f"False alert episodes of the detector ({len(ev['false_episodes'])}):",
        "",
    ]
    lines += [
        f"- {e['node']} {e['first']} → {e['last']} ({e['windows']} windows, top "
        f"{', '.join(t for t in e['top_metrics'] if t) or '-'})"
        for e in ev["false_episodes"]
    ] or ["- none"]
    lines.append("")
    return "\n".join([*lines, *summary(out)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-seconds", type=float, default=600.0)
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--nodes", type=int, default=6)
    parser.add_argument("--faults", type=int, default=9)
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=None,
        help="default benchmarks/results (--quick: a temporary folder)",
    )
    parser.add_argument("--scrape-seconds", type=float, default=5.0)
    parser.add_argument("--mean-rps", type=float, default=45.0)
    parser.add_argument("--period-seconds", type=float, default=180.0)
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 60 s history, 2 faults of 30-45 s"
    )
    parser.add_argument(
        "--from-recording",
        type=Path,
        default=None,
        help="score a kept recording folder (recorded/) again instead of recording",
    )
    parser.add_argument(
        "--name", default=None, help="recording folder and report name (default: recorded, "
        "or the --from-recording folder's name)",
    )
    parser.add_argument("--role", default=None, help="e.g. 'held out' or 'tuning' (kept)")
    args = parser.parse_args()
    # a SIGTERM ends the run through the finally blocks, so every node process is stopped
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.quick:
        args.train_seconds, args.faults = 60.0, 2
    out = args.out_dir or (
        Path(tempfile.mkdtemp(prefix="fleetcast-recorded-out-"))
        if args.quick
        else ROOT / "benchmarks" / "results"
    )
    name = args.name or (args.from_recording.name if args.from_recording else "recorded")
    data = args.from_recording or out / name
    if args.from_recording is None:
        started = datetime.now(UTC)
        meta = {
            "generated_at": started.isoformat(timespec="seconds"),
            "command": " ".join(
                [".venv/bin/python benchmarks/detector_recorded.py", *sys.argv[1:]]
            ),
            "commit": git("rev-parse", "--short", "HEAD")
            + (" (dirty)" if git("status", "--porcelain", "--untracked-files=no") else ""),
            "machine": machine(),
            "setup": {
                "seed": args.seed,
                "nodes": args.nodes,
                "scrape_seconds": args.scrape_seconds,
                "train_seconds": args.train_seconds,
                "warmup_seconds": WARMUP_SECONDS,
                "faults": args.faults,
                "quick": args.quick,
                "mean_rps": args.mean_rps,
                "load": f"mean {args.mean_rps:.0f} rps x (1 ± 0.5 sin), period "
                f"{args.period_seconds:.0f} s (3x swing)",
            },
        }
        with tempfile.TemporaryDirectory(prefix="fleetcast-detector-recorded-") as workdir:
            rec = record(args, Path(workdir))
        meta |= {"load_at_end": uptime(), "recording": rec}
        write_recording(data, meta)  # saved before scoring: a failed evaluation loses nothing
    meta = json.loads((data / "recording.json").read_text())
    json_path = out / f"detector_{name}.json"
    previous = json.loads(json_path.read_text()) if json_path.exists() else {}
    if args.role:
        meta["role"] = args.role
    elif "role" in previous:
        meta["role"] = previous["role"]
    with tempfile.TemporaryDirectory(prefix="fleetcast-detector-scored-") as scratch:
        unpack(data, Path(scratch))
        evaluation = evaluate(Path(scratch), meta["recording"])
        shutil.copy(Path(scratch) / "alerts.csv", data / "alerts.csv")
    report = meta | {
        "scored_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "scored_with": {
            "fleetcast": str(Path(sys.executable).parent / "fleetcast"),
            "commit": git("rev-parse", "--short", "HEAD"),
        },
        "files": squeeze(data),
        "evaluation": evaluation,
    }
    if previous:  # the first scoring stays the 'before' of every later re-score
        report["before"] = previous.get("before") or {
            "commit": previous["scored_with"]["commit"],
            "scored_at": previous.get("scored_at"),
            "eval": previous["evaluation"]["eval"],
        }
    out.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    text = render(report, name, out)
    json_path.with_suffix(".md").write_text(text)
    print(text)
    print(f"results in {out}")


if __name__ == "__main__":
    main()
