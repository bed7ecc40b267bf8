"""Live detector benchmark: real gateway nodes, real faults, the shipped default model.

A 4-node ``LocalPool`` of real payment nodes behind the real load balancer
(round robin), open-loop payment traffic whose rate swings 3x (sinusoid), and
every ``--scrape-seconds`` a scrape of each node's ``/metrics`` turned into
windows by ``controller.observe.Observer`` and fed to ``NodeDetector.default()``
through ``step()`` — the same path as the live control loop.

1. warm-up windows (baselines fill; not scored);
2. healthy run (``--healthy-seconds``, 600 for the full benchmark): no node may be
   flagged while the load varies 3x;
3. each fault kind through ``POST /admin/faults`` on a different node — latency
   +300 ms, errors 20 %, cpu (busy threads), memory leak, hang — must be flagged and
   localized (right node, plausible top metric) within 3 scrape windows; after each
   fault the node is replaced (as the controller would) and the pool settles;
4. beside the detector, Envoy-style outlier rules (``detector.baselines.envoy``:
   consecutive 5xx and success-rate outlier) run on the same windows.

    .venv/bin/python benchmarks/detector_live.py [--healthy-seconds 600] [--scrape-seconds 5]

Writes ``benchmarks/results/detector_live.{json,md}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]
sys.path.insert(0, str(ROOT))

from controller.observe import Observer  # noqa: E402
from controller.pools.local import BalancerProcess, LocalPool, port_free  # noqa: E402
from detector import NodeDetector  # noqa: E402
from detector.baselines import envoy  # noqa: E402
from detector.frame import Cube  # noqa: E402
from gateway.loadgen import run_load  # noqa: E402

TOKEN = "detector-live-token"
RESULTS = ROOT / "benchmarks" / "results"
FAULTS: list[tuple[str, dict[str, float], tuple[str, ...]]] = [
    ("latency", {"ms": 300}, ("latency_p50_ms", "latency_p99_ms")),
    ("errors", {"fraction": 0.2}, ("error_rate",)),
    ("cpu", {"threads": 2}, ("cpu_percent", "loop_lag_ms", "latency_p50_ms", "latency_p99_ms")),
    ("memory", {"mb_per_s": 20}, ("rss_mb",)),
    ("hang", {}, ("absent",)),
]


def free_port(start: int) -> int:
    port = start
    while not port_free("127.0.0.1", port):
        port += 1
    return port


class Traffic:
    """Open-loop payments in a background thread; rate = mean·(1 + 0.5·sin): a 3x swing."""

    def __init__(self, url: str, mean_rps: float, period_s: float, horizon_s: float) -> None:
        self.url, self.mean, self.period, self.horizon = url, mean_rps, period_s, horizon_s
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="traffic")

    def rate(self, t: float) -> float:
        if self.stopped.is_set():
            return 0.0
        return self.mean * (1.0 + 0.5 * math.sin(2 * math.pi * t / self.period))

    def _run(self) -> None:
        asyncio.run(run_load(self.url, self.rate, self.horizon, seed=7, timeout_s=12.0,
                             max_attempts=3))

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()


class Bench:
    def __init__(self, workdir: Path, scrape_seconds: float) -> None:
        self.scrape_seconds = scrape_seconds
        db = f"sqlite:///{workdir / 'live.db'}"
        self.pool = LocalPool(workdir, db, free_port(19301), TOKEN, True,
                              node_options={"processing_latency_ms": 2})
        self.lb = BalancerProcess(free_port(19290), "round_robin", TOKEN, data_dir=workdir)
        self.detector = NodeDetector.default()
        self.observer: Observer | None = None
        self.members: dict[str, str] = {}
        self.log: list[dict[str, Any]] = []
        self.t0 = time.monotonic()

    def start(self, nodes: int) -> None:
        self.pool.launch(nodes)
        self.pool.wait_ready()
        self.lb.start()
        self.push()
        self.observer = Observer(self.lb.url, timeout=min(2.0, self.scrape_seconds / 2))

    def push(self) -> None:
        ready = [n for n in self.pool.nodes() if n.state.value == "ready"]
        self.lb.push(ready)
        self.members = {n.id: n.url for n in ready}

    def window(self, phase: str) -> dict[str, Any]:
        """Sleep to the next scrape, observe, step the detector and the Envoy rules."""
        assert self.observer is not None
        next_at = self.t0 + self.scrape_seconds * (1 + len(self.log))
        time.sleep(max(0.0, next_at - time.monotonic()))
        wins, lb_rps, _ = self.observer.observe(self.members)
        window = {nid: dict(w.metrics) for nid, w in wins.items()}
        now = datetime.now(UTC)
        result = self.detector.step(now, window, members=list(self.members))
        entry = {
            "i": len(self.log),
            "phase": phase,
            "at": now.isoformat(timespec="seconds"),
            "lb_rps": None if lb_rps is None else round(lb_rps, 1),
            "reporting": sorted(window),
            "anomalies": [
                {"node": a.node, "score": round(a.score, 3), "top": list(a.top_metrics)}
                for a in result.anomalies
            ],
            "fleet": None if result.fleet is None else list(result.fleet.nodes),
            "envoy": sorted(self.envoy_flags(window)),
            "scores": {n: round(s, 3) for n, s in result.scores.items()},
        }
        self.log.append(entry)
        anomalies = ", ".join(f"{a['node']}({';'.join(a['top'])})" for a in entry["anomalies"])
        print(f"[{entry['i']:3d}] {phase:<14} lb={entry['lb_rps']} nodes={len(window)} "
              f"anomalies=[{anomalies}] envoy={entry['envoy']} fleet={entry['fleet']}",
              flush=True)
        return entry

    def envoy_flags(self, window: dict[str, dict[str, float]]) -> set[str]:
        nodes = tuple(sorted(window))
        if not nodes:
            return set()
        metrics = ("error_rate", "rps")
        values = np.array([[[window[n].get(m, np.nan) for m in metrics] for n in nodes]])
        cube = Cube(np.array([np.datetime64("now", "ns")]), nodes, metrics, values)
        flags = envoy(cube, self.scrape_seconds)
        return {nodes[i] for i in np.flatnonzero(flags.flagged[0])}

    def fault(self, node_id: str, kind: str, params: dict[str, float], seconds: float) -> None:
        body = {"kind": kind, "params": params, "duration_s": seconds}
        httpx.post(f"{self.members[node_id]}/admin/faults", json=body, timeout=5,
                   headers={"Authorization": f"Bearer {TOKEN}"}).raise_for_status()

    def clear(self, node_id: str, url: str) -> None:
        try:
            httpx.delete(f"{url}/admin/faults", timeout=5,
                         headers={"Authorization": f"Bearer {TOKEN}"})
        except httpx.HTTPError:
            pass

    def replace(self, node_id: str) -> str:
        url = self.members[node_id]
        self.clear(node_id, url)
        self.pool.drain(node_id)
        self.push()
        self.pool.stop(node_id)
        (new,) = self.pool.launch(1, replaces=node_id)
        self.pool.wait_ready([new.id])
        self.push()
        return new.id

    def close(self) -> None:
        try:
            self.lb.stop()
        finally:
            self.pool.close()


def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="fleetcast-detector-live-"))
    bench = Bench(workdir, args.scrape_seconds)
    traffic = None
    try:
        bench.start(4)
        horizon = args.healthy_seconds + 60 * len(FAULTS) * args.scrape_seconds + 900
        traffic = Traffic(bench.lb.url, args.mean_rps, args.period_seconds, horizon)
        traffic.start()
        for _ in range(args.warmup_windows):
            bench.window("warm-up")
        healthy = [bench.window("healthy")
                   for _ in range(int(args.healthy_seconds / args.scrape_seconds))]
        healthy_flags = [a for e in healthy for a in e["anomalies"]]
        rps = [e["lb_rps"] for e in healthy if e["lb_rps"]]
        faults = []
        for k, (kind, params, expected) in enumerate(FAULTS):
            node = sorted(bench.members)[k % len(bench.members)]
            bench.fault(node, kind, params, seconds=args.scrape_seconds * args.fault_windows + 30)
            injected_at = len(bench.log)
            entries = [bench.window(f"fault:{kind}") for _ in range(args.fault_windows)]
            found_at = next((j + 1 for j, e in enumerate(entries)
                             if any(a["node"] == node for a in e["anomalies"])), None)
            hit = entries[found_at - 1] if found_at else None
            top = next((a["top"] for a in hit["anomalies"] if a["node"] == node), []) if hit else []
            wrong = sorted(
                {a["node"] for e in entries for a in e["anomalies"] if a["node"] != node}
            )
            envoy_at = next((j + 1 for j, e in enumerate(entries) if node in e["envoy"]), None)
            row = {
                "kind": kind, "params": params, "node": node, "first_window": injected_at,
                "detected_in_windows": found_at,
                "localized": bool(found_at) and not wrong,
                "top_metrics": top,
                "top_metric_expected": bool(top) and top[0] in expected,
                "other_nodes_flagged": wrong,
                "fleet_anomaly_windows": sum(1 for e in entries if e["fleet"]),
                "envoy_detected_in_windows": envoy_at,
                "within_3_windows": bool(found_at) and found_at <= 3,
            }
            faults.append(row)
            print(json.dumps(row), flush=True)
            replacement = bench.replace(node)
            settle = [bench.window(f"settle:{replacement}") for _ in range(args.settle_windows)]
            row["replacement"] = replacement
            row["flags_while_settling"] = sorted(
                {a["node"] for e in settle[2:] for a in e["anomalies"]}
            )
        return {
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": " ".join(["benchmarks/detector_live.py", *sys.argv[1:]]),
            "setup": {
                "nodes": 4, "strategy": "round_robin", "scrape_seconds": args.scrape_seconds,
                "mean_rps": args.mean_rps, "load_swing": "mean x (1 ± 0.5 sin), period "
                f"{args.period_seconds:.0f} s (3x)", "model": "NodeDetector.default()",
                "warmup_windows": args.warmup_windows,
            },
            "healthy": {
                "seconds": args.healthy_seconds, "windows": len(healthy),
                "node_flags": len(healthy_flags),
                "flagged": sorted({a["node"] for a in healthy_flags}),
                "fleet_anomaly_windows": sum(1 for e in healthy if e["fleet"]),
                "envoy_flags": sum(len(e["envoy"]) for e in healthy),
                "lb_rps_min": min(rps) if rps else None, "lb_rps_max": max(rps) if rps else None,
            },
            "faults": faults,
            "windows": bench.log,
        }
    finally:
        if traffic is not None:
            traffic.stop()
        bench.close()


def render(report: dict[str, Any]) -> str:
    h = report["healthy"]
    s = report["setup"]
    lines = [
        "# Detector live: real gateway nodes, injected faults, default model",
        "",
        f"Command: `.venv/bin/python {report['command']}` ({report['generated_at']}). "
        f"{s['nodes']} real node processes behind the real balancer ({s['strategy']}), "
        f"open-loop payments, mean {s['mean_rps']} rps swinging {s['load_swing']}; a scrape "
        f"window every {s['scrape_seconds']} s; {s['model']}.",
        "",
        f"Healthy run: {h['seconds']} s = {h['windows']} windows, balancer load "
        f"{h['lb_rps_min']}–{h['lb_rps_max']} rps → **{h['node_flags']} node flags** "
        f"({', '.join(h['flagged']) or 'none'}), {h['fleet_anomaly_windows']} fleet-wide "
        f"windows, {h['envoy_flags']} Envoy-rule ejections.",
        "",
        "| fault | node | detected in (windows) | ≤ 3 | localized | top metrics | "
        "Envoy rules | other nodes flagged | flags after replacement |",
        "| --- | --- | ---: | --- | --- | --- | --- | --- | --- |",
    ]
    for f in report["faults"]:
        envoy_cell = (f"window {f['envoy_detected_in_windows']}" if f["envoy_detected_in_windows"]
                      else "missed")
        lines.append(
            f"| {f['kind']} {json.dumps(f['params'])} | {f['node']} | "
            f"{f['detected_in_windows'] or 'missed'} | "
            f"{'yes' if f['within_3_windows'] else 'NO'} | "
            f"{'yes' if f['localized'] else 'NO'} | {';'.join(f['top_metrics'])} | {envoy_cell} | "
            f"{', '.join(f['other_nodes_flagged']) or '-'} | "
            f"{', '.join(f.get('flags_while_settling', [])) or '-'} |"
        )
    lines += [
        "",
        "Envoy-style rules: consecutive 5xx (expected runs of 5 failures ≥ 1 per window) and "
        "success-rate outlier below mean − 1.9σ (minimum 3 hosts; with 4 hosts one outlier can "
        "never be 1.9σ below the mean, its largest possible z is √3).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--healthy-seconds", type=float, default=600.0)
    parser.add_argument("--scrape-seconds", type=float, default=5.0)
    parser.add_argument("--warmup-windows", type=int, default=12)
    parser.add_argument("--fault-windows", type=int, default=5)
    parser.add_argument("--settle-windows", type=int, default=8)
    parser.add_argument("--mean-rps", type=float, default=30.0)
    parser.add_argument("--period-seconds", type=float, default=180.0)
    args = parser.parse_args()
    report = run(args)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "detector_live.json").write_text(json.dumps(report, indent=2) + "\n")
    text = render(report)
    (RESULTS / "detector_live.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
