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

Nothing here is tuned: the CLI's defaults (``auto``) decide everything.

    .venv/bin/python benchmarks/detector_recorded.py [--train-seconds 600] [--seed 20261127]
        [--nodes 6] [--faults 9] [--out-dir benchmarks/results]
    .venv/bin/python benchmarks/detector_recorded.py --quick   # 60 s history, 2 faults, /tmp

Writes ``detector_recorded.{json,md}`` and ``recorded/`` (the CSVs) under ``--out-dir``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]
sys.path.insert(0, str(ROOT))

from benchmarks.detector_live import TOKEN, Bench, Traffic  # noqa: E402
from controller.observe import Observer  # noqa: E402
from detector.auto import auto_params  # noqa: E402
from detector.evaluate import episodes, explain_misses, read_labels  # noqa: E402
from detector.frame import infer_step, read_fleet_csv  # noqa: E402
from detector.model import NodeDetector  # noqa: E402

# Every kind once; the extra faults of a longer schedule are drawn from the same list.
FAULT_SPECS: list[tuple[str, dict[str, float]]] = [
    ("latency", {"ms": 300}),
    ("latency", {"ms": 100}),
    ("errors", {"fraction": 0.2}),
    ("errors", {"fraction": 0.05}),
    ("cpu", {"threads": 2}),
    ("memory", {"mb_per_s": 20}),
    ("hang", {}),
]
METHODS = ("detector", "robust_z", "envoy")
WARMUP_SECONDS = 60.0
LEAK_LEFT_MB = 100.0  # RSS this far above its pre-fault level after a clear: replace the node


def stamp(at: datetime) -> str:
    """Naive UTC with milliseconds, the same in the metrics, labels and --train-until."""
    utc = at if at.tzinfo is None else at.astimezone(UTC)  # naive values are UTC already
    return utc.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def draw_schedule(seed: int, faults: int, low_s: float, high_s: float) -> list[dict[str, Any]]:
    """Kinds (all of them when ``faults`` allows), lengths, gaps and node picks from ``seed``."""
    rng = random.Random(seed)
    if faults >= len(FAULT_SPECS):
        specs = FAULT_SPECS + [rng.choice(FAULT_SPECS) for _ in range(faults - len(FAULT_SPECS))]
    else:
        specs = rng.sample(FAULT_SPECS, faults)
    rng.shuffle(specs)
    return [
        {
            "kind": kind,
            "params": params,
            "gap_s": rng.uniform(low_s, high_s),
            "duration_s": rng.uniform(low_s, high_s),
            "node_pick": rng.random(),
        }
        for kind, params in specs
    ]


class Recorder(Bench):
    """detector_live's pool, balancer and fault calls; windows become CSV rows, not steps."""

    def __init__(self, workdir: Path, scrape_seconds: float) -> None:
        super().__init__(workdir, scrape_seconds)
        self.rows: list[tuple[str, str, str, float]] = []
        self.next_at = time.monotonic()
        self.windows = 0

    def window(self, phase: str) -> dict[str, Any]:
        """Sleep to the next slot on the scrape grid (skipping slots lost to a replacement)."""
        assert self.observer is not None
        self.next_at += self.scrape_seconds
        now_mono = time.monotonic()
        if now_mono > self.next_at + self.scrape_seconds / 2:
            self.next_at = now_mono
        time.sleep(max(0.0, self.next_at - now_mono))
        wins, lb_rps, _ = self.observer.observe(self.members)
        at = datetime.now(UTC)
        if phase != "warm-up":
            ts = stamp(at)
            for nid, w in sorted(wins.items()):
                self.rows += [(ts, nid, m, float(v)) for m, v in w.metrics.items()]
        self.windows += 1
        if self.windows % 12 == 0 or phase.startswith("fault"):
            rps = "-" if lb_rps is None else f"{lb_rps:.1f}"
            print(
                f"[{self.windows:4d}] {stamp(at)} {phase:<22} lb={rps} "
                f"reporting={len(wins)}/{len(self.members)}",
                flush=True,
            )
        return {"at": at, "reporting": sorted(wins)}

    def windows_for(self, seconds: float, phase: str) -> list[dict[str, Any]]:
        return [self.window(phase) for _ in range(max(1, round(seconds / self.scrape_seconds)))]

    def rss_mb(self, node_id: str) -> float | None:
        info = next((n for n in self.pool.nodes() if n.id == node_id), None)
        if info is None or info.pid is None:
            return None
        try:
            return psutil.Process(info.pid).memory_info().rss / 1e6
        except psutil.Error:
            return None

    def heal(self, node_id: str, kind: str, rss_before: float | None) -> dict[str, Any]:
        """Clear the fault; if the node is still hung or keeps the leak, replace it."""
        url = self.members[node_id]
        headers = {"Authorization": f"Bearer {TOKEN}"}
        outcome: dict[str, Any] = {"cleared_by": "DELETE /admin/faults", "replaced_by": None}
        try:
            httpx.delete(f"{url}/admin/faults", headers=headers, timeout=5).raise_for_status()
            outcome["cleared_at"] = stamp(datetime.now(UTC))
            active = httpx.get(f"{url}/admin/faults", timeout=5).json()["fault"]
            healthy = httpx.get(f"{url}/healthz", timeout=3).status_code == 200
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            active, healthy = f"clear failed: {exc}", False
        rss_after = None
        if kind == "memory" and rss_before is not None:
            for _ in range(6):  # the leak's chunks are freed by the node's own thread
                time.sleep(0.5)
                rss_after = self.rss_mb(node_id)
                if rss_after is not None and rss_after < rss_before + LEAK_LEFT_MB:
                    break
        outcome |= {
            "active_after_clear": active,
            "healthz_after_clear": healthy,
            "rss_before_mb": rss_before,
            "rss_after_clear_mb": rss_after,
        }
        leak_left = (
            rss_after is not None
            and rss_before is not None
            and (rss_after >= rss_before + LEAK_LEFT_MB)
        )
        if active or not healthy or leak_left:
            outcome["replaced_by"] = self.replace(node_id)
            outcome["replace_reason"] = (
                "leak kept" if leak_left else "still hung" if not healthy else "fault still active"
            )
        return outcome


def record(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Run the fleet, inject the schedule, return the recording's rows, labels and log."""
    low, high = (30.0, 45.0) if args.quick else (60.0, 120.0)
    schedule = draw_schedule(args.seed, args.faults, low, high)
    planned = (
        WARMUP_SECONDS
        + args.train_seconds
        + sum(f["gap_s"] + f["duration_s"] for f in schedule)
        + high
    )
    rec = Recorder(workdir, args.scrape_seconds)
    traffic = None
    faults: list[dict[str, Any]] = []
    try:
        rec.pool.launch(args.nodes)
        rec.pool.wait_ready()
        rec.lb.start()
        rec.push()
        rec.observer = Observer(rec.lb.url, timeout=min(2.0, args.scrape_seconds / 2))
        traffic = Traffic(rec.lb.url, args.mean_rps, args.period_seconds, planned + 600)
        traffic.start()
        rec.next_at = time.monotonic()
        rec.windows_for(WARMUP_SECONDS, "warm-up")
        train_from = datetime.now(UTC)
        history = rec.windows_for(args.train_seconds, "A: healthy history")
        # half a scrape after the last training window: strictly between phase A and phase B
        train_until = history[-1]["at"] + pd.Timedelta(seconds=args.scrape_seconds / 2)
        print(f"phase A done; --train-until {stamp(train_until)}", flush=True)
        for k, plan in enumerate(schedule):
            rec.windows_for(plan["gap_s"], "B: healthy gap")
            members = sorted(rec.members)
            node = members[int(plan["node_pick"] * len(members))]
            rss_before = rec.rss_mb(node)
            injected = datetime.now(UTC)  # just before the POST: the label never starts late
            rec.fault(node, plan["kind"], plan["params"], seconds=plan["duration_s"] + 120)
            entries = rec.windows_for(plan["duration_s"], f"fault {plan['kind']} {node}")
            outcome = rec.heal(node, plan["kind"], rss_before)
            healed = datetime.now(UTC)  # after the clear (and the replacement, if any)
            row = {
                "n": k + 1,
                "kind": plan["kind"],
                "params": plan["params"],
                "node": node,
                "injected": stamp(injected),
                "healed": stamp(healed),
                "label_end": stamp(healed + pd.Timedelta(seconds=args.scrape_seconds)),
                "seconds": round((healed - injected).total_seconds(), 1),
                "gap_before_s": round(plan["gap_s"], 1),
                "windows_node_reported": sum(node in e["reporting"] for e in entries),
                "windows": len(entries),
            } | outcome
            faults.append(row)
            print(json.dumps(row), flush=True)
        rec.windows_for(high, "B: final healthy gap")
        nodes_seen = sorted({r[1] for r in rec.rows})
        return {
            "rows": rec.rows,
            "faults": faults,
            "train_from": stamp(train_from),
            "train_until": stamp(train_until),
            "end": stamp(datetime.now(UTC)),
            "schedule_drawn": schedule,
            "nodes_seen": nodes_seen,
            "windows": rec.windows,
        }
    finally:
        if traffic is not None:
            traffic.stop()
        rec.close()


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


def write_recording(data: Path, meta: dict[str, Any]) -> None:
    """The documented CSVs, plus ``recording.json`` (setup, schedule, phases) to re-score from."""
    data.mkdir(parents=True, exist_ok=True)
    rows = meta["recording"].pop("rows")
    frame = pd.DataFrame(rows, columns=["timestamp", "node", "metric", "value"])
    frame.to_csv(data / "fleet.csv", index=False, float_format="%.6g")
    faults = meta["recording"]["faults"]
    labels = pd.DataFrame(
        [{"node": f["node"], "start": f["injected"], "end": f["label_end"]} for f in faults]
    )
    labels.to_csv(data / "labels.csv", index=False)
    (data / "recording.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")


def unpack(data: Path, scratch: Path) -> None:
    """Plain copies of a kept recording's CSVs (gzipped or not) for the CLI to read."""
    for name in ("fleet.csv", "labels.csv"):
        packed = data / (name + ".gz")
        if packed.exists():
            with gzip.open(packed, "rb") as src, (scratch / name).open("wb") as dst:
                shutil.copyfileobj(src, dst)
        else:
            shutil.copy(data / name, scratch / name)


def squeeze(data: Path) -> list[str]:
    """Gzip the kept CSVs in place when together over ~1 MB, or when the recording is
    already kept gzipped (a re-score); the kept file names."""
    files = [data / n for n in ("fleet.csv", "labels.csv", "alerts.csv") if (data / n).exists()]
    packed = (data / "fleet.csv.gz").exists()
    if packed or sum(f.stat().st_size for f in files) > 1_000_000:
        for f in files:
            with (
                f.open("rb") as src,
                gzip.GzipFile(f.with_name(f.name + ".gz"), "wb", mtime=0) as dst,
            ):
                shutil.copyfileobj(src, dst)
            f.unlink()
    return sorted(p.name for p in data.iterdir())


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


def render(report: dict[str, Any]) -> str:
    s, rec, ev = report["setup"], report["recording"], report["evaluation"]
    lines = [
        "# Detector on a recorded, never-seen fleet of real gateway nodes (held-out)",
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
        f"{', '.join('`recorded/' + f + '`' for f in report['files'])}. Timestamps are UTC.",
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
    return "\n".join(lines)


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
    data = args.from_recording or out / "recorded"
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
    out.mkdir(parents=True, exist_ok=True)
    (out / "detector_recorded.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    text = render(report)
    (out / "detector_recorded.md").write_text(text)
    print(text)
    print(f"results in {out}")


if __name__ == "__main__":
    main()
