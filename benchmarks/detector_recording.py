"""Recording a fleet of real gateway nodes for ``benchmarks/detector_recorded.py``.

A ``LocalPool`` of real payment node processes behind the real balancer (the machinery
of ``benchmarks/detector_live.py``), open-loop payments whose rate swings 3x, and every
``--scrape-seconds`` a scrape turned into windows by ``controller.observe.Observer``:
a minute of warm-up (not recorded), a healthy training history, then a fault schedule
drawn from a seed.  Also the recording's files: the documented CSVs
(``timestamp,node,metric,value``; labels ``node,start,end``) and ``recording.json``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import psutil

from benchmarks.detector_live import TOKEN, Bench, Traffic
from controller.observe import Observer

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
