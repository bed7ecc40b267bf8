"""Controller benchmarks: tick duration, and time to detect / recover per fault kind.

1. Tick duration with 6 real nodes (LocalPool, load balancer, light traffic, SQLite store):
   ``Controller.tick`` called once a second, wall time per tick.
2. Tick duration with 64 simulated nodes: the in-memory pool and synthetic scrape windows
   (the scrape is the only fake), with the real detector, planner, executor and store.
3. Mean time to detect and to recover, per fault kind (latency, errors, cpu, memory, hang,
   crash), from the live system: 4 nodes, tick 1 s, 20 payments/s; detect = the fault's
   injection to the controller's first replace/drain/prevent decision for that node;
   recover = injection until the faulty node has left service and its replacement is ready;
   longest tick = the slowest control tick from the injection until recovery (a tick that
   waited for a hung node's stop would show the pool's stop timeout, 3 s here).

    .venv/bin/python benchmarks/controller.py [--repeats 2] [--skip-live]

Writes ``benchmarks/results/controller.json`` and ``benchmarks/results/controller.md``.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
# benchmarks/controller.py must not shadow the controller package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))  # the repository, for tests.ports

import httpx  # noqa: E402

from controller.config import Settings, load_settings, node_port_span  # noqa: E402
from controller.executor import Executor  # noqa: E402
from controller.lifecycle import NodeState  # noqa: E402
from controller.live_models import DetectorKeeper, ForecastKeeper  # noqa: E402
from controller.loop import Controller  # noqa: E402
from controller.observe import WINDOW_METRICS, NodeWindow  # noqa: E402
from controller.pools.memory import MemoryPool  # noqa: E402
from controller.store import Store  # noqa: E402
from tests.ports import free_ports  # noqa: E402

TOKEN = "bench-admin-token"
FAULTS = {
    "latency": {"ms": 400},
    "errors": {"fraction": 0.5},
    "cpu": {"threads": 2},
    "memory": {"mb_per_s": 60},
    "hang": {},
    "crash": {},
}


def quantiles(xs: list[float]) -> dict[str, float]:
    xs = sorted(xs)
    return {"n": len(xs), "median_ms": round(1000 * statistics.median(xs), 1),
            "p90_ms": round(1000 * xs[int(0.9 * (len(xs) - 1))], 1),
            "max_ms": round(1000 * xs[-1], 1)}


def live_settings(data_dir: Path, nodes: int) -> Settings:
    # the node range, the balancer's and the API's ports are held until all are chosen
    # (one free port at a time can come back twice, tests/ports.py)
    node_base, balancer, api = free_ports(node_port_span(nodes + 2), 1, 1)
    return load_settings(environ={}, overrides={
        "data_dir": str(data_dir),
        "pool": {"initial_nodes": nodes, "min_nodes": nodes, "max_nodes": nodes + 2,
                 "node_base_port": node_base},
        "balancer": {"port": balancer},
        "api": {"port": api},
        "controller": {"tick_seconds": 1, "node_capacity_rps": 20, "startup_seconds": 2,
                       "scale_in_stabilization_seconds": 3600, "scrape_timeout_seconds": 0.5},
        "recovery": {"drain_timeout_seconds": 3, "cooldown_seconds": 0,
                     "max_ejection_percent": 25},
        "security": {"admin_token": TOKEN, "fault_injection": True},
    })


class Traffic(threading.Thread):
    def __init__(self, url: str, rate: float) -> None:
        super().__init__(daemon=True)
        self.url, self.rate, self.stop = url, rate, threading.Event()

    def run(self) -> None:
        import asyncio

        from gateway.loadgen import run_load

        async def go() -> None:
            task = asyncio.create_task(run_load(self.url, lambda _t: self.rate, 3600.0))
            while not self.stop.is_set():
                await asyncio.sleep(0.2)
            task.cancel()

        try:
            asyncio.run(go())
        except BaseException:  # noqa: BLE001 - cancelled at the end
            pass


def bench_real_ticks(ticks: int) -> dict[str, Any]:
    from controller.runtime import Fleet

    with tempfile.TemporaryDirectory() as tmp:
        settings = live_settings(Path(tmp), 6)
        fleet = Fleet(settings, pool_stop_timeout_s=3.0)
        fleet.start(start_loop=False)
        traffic = Traffic(settings.balancer_url, 30.0)
        traffic.start()
        try:
            controller = fleet.controller
            assert controller is not None
            durations = []
            for _ in range(ticks + 3):
                time.sleep(1.0)
                report = controller.tick(datetime.now(UTC))
                durations.append(report.seconds)
            return quantiles(durations[3:]) | {"nodes": 6}
        finally:
            traffic.stop.set()
            traffic.join(timeout=10)
            fleet.stop()


class SimulatedScrapes:
    """64 healthy nodes' windows with noise: the scrape is the only fake here."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = random.Random(seed)

    def observe(self, targets: dict[str, str]) -> tuple[dict[str, NodeWindow], float, set[str]]:
        windows = {}
        for n in targets:
            m = {"rps": 20 * self.rng.lognormvariate(0, 0.1),
                 "error_rate": 0.0,
                 "latency_p50_ms": 8 * self.rng.lognormvariate(0, 0.1),
                 "latency_p99_ms": 30 * self.rng.lognormvariate(0, 0.2),
                 "inflight": float(self.rng.randint(0, 2)),
                 "cpu_percent": 15 * self.rng.lognormvariate(0, 0.2),
                 "rss_mb": 80 + self.rng.random(),
                 "loop_lag_ms": self.rng.random()}
            assert tuple(m) == WINDOW_METRICS
            windows[n] = NodeWindow(n, 1.0, m, m["rss_mb"] * 1e6, 512e6)
        return windows, 20.0 * len(windows), set(windows)


def bench_simulated_ticks(ticks: int, nodes: int = 64) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        now = [datetime(2026, 11, 26, tzinfo=UTC)]
        settings = live_settings(Path(tmp), nodes)
        settings.pool.max_nodes = nodes
        settings.controller.node_capacity_rps = 40
        pool = MemoryPool(lambda: now[0], startup_seconds=0)
        store = Store(f"sqlite:///{Path(tmp) / 'ctl.db'}").create_all()
        controller = Controller(
            settings, pool, store,
            executor=Executor(pool, balancer_url=None, admin_token=None),
            observer=SimulatedScrapes(),  # type: ignore[arg-type]
            forecasts=ForecastKeeper(1.0, min_points=30, background=True),
            detector=DetectorKeeper(max_ejection_percent=10.0), clock=lambda: now[0],
        )
        controller.recover(now[0])
        controller.ensure_initial_nodes(now[0])
        durations = []
        for _ in range(ticks + 5):
            now[0] += timedelta(seconds=1)
            durations.append(controller.tick(now[0]).seconds)
        controller.stop()
        store.close()
        return quantiles(durations[5:]) | {"nodes": nodes}


def bench_faults(repeats: int) -> dict[str, Any]:
    from controller.runtime import Fleet

    results: dict[str, list[dict[str, Any]]] = {k: [] for k in FAULTS}
    with tempfile.TemporaryDirectory() as tmp:
        settings = live_settings(Path(tmp), 4)
        fleet = Fleet(settings, pool_stop_timeout_s=3.0)
        fleet.start()
        ticks = _record_ticks(fleet.controller)
        traffic = Traffic(settings.balancer_url, 20.0)
        traffic.start()
        try:
            time.sleep(15)  # baselines
            for _ in range(repeats):
                for kind, params in FAULTS.items():
                    results[kind].append(_one_fault(fleet, kind, params, ticks))
                    time.sleep(8)  # let the fleet settle
        finally:
            traffic.stop.set()
            traffic.join(timeout=10)
            fleet.stop()
    summary = {}
    for kind, runs in results.items():
        detect = [r["detect_s"] for r in runs if r.get("detect_s") is not None]
        recover = [r["recover_s"] for r in runs if r.get("recover_s") is not None]
        summary[kind] = {
            "runs": len(runs),
            "detected": len(detect),
            "recovered": len(recover),
            "mean_time_to_detect_s": round(statistics.fmean(detect), 1) if detect else None,
            "mean_time_to_recover_s": round(statistics.fmean(recover), 1) if recover else None,
            "actions": [r.get("action") for r in runs],
            "longest_tick_s": max((r["longest_tick_s"] for r in runs), default=None),
        }
    return summary


def _record_ticks(controller: Any) -> list[tuple[float, float]]:
    """(monotonic time at its end, seconds) of every tick the scheduler runs from now on."""
    ticks: list[tuple[float, float]] = []
    inner = controller.tick

    def timed(now: datetime) -> Any:
        report = inner(now)
        ticks.append((time.monotonic(), report.seconds))
        return report

    controller.tick = timed  # the scheduled job looks the method up on every run
    return ticks


def _one_fault(fleet: Any, kind: str, params: dict[str, float],
               ticks: list[tuple[float, float]], timeout: float = 60.0) -> dict[str, Any]:
    store, pool = fleet.store, fleet.pool
    started = time.monotonic()
    ready = [n for n in pool.nodes() if n.state is NodeState.READY]
    victim = sorted(ready, key=lambda n: n.since)[0]
    t0 = datetime.now(UTC)
    try:
        httpx.post(f"{victim.url}/admin/faults", timeout=2.0,
                   headers={"Authorization": f"Bearer {TOKEN}"},
                   json={"kind": kind, "params": params, "duration_s": 120}).raise_for_status()
    except httpx.ReadTimeout:
        pass
    out: dict[str, Any] = {"node": victim.id}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        acted = [d for d in store.decisions(200) if d.node_id == victim.id and d.at >= t0
                 and d.kind in ("replace", "drain", "prevent")]
        if acted and "detect_s" not in out:
            first = min(acted, key=lambda d: d.at)
            out["detect_s"] = (first.at - t0).total_seconds()
            out["action"] = first.kind
        states = {n.id: n for n in pool.nodes()}
        gone = states[victim.id].state in (NodeState.STOPPED, NodeState.FAILED,
                                           NodeState.DRAINING)
        replacement = [n for n in states.values() if n.replaces == victim.id
                       and n.state is NodeState.READY]
        if gone and replacement and "detect_s" in out:
            out["recover_s"] = (datetime.now(UTC) - t0).total_seconds()
            break
        time.sleep(0.25)
    time.sleep(2.0)  # a tick running at recovery ends within the next tick interval
    out["longest_tick_s"] = round(max((s for end, s in ticks if end >= started), default=0.0), 2)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--skip-live", action="store_true")
    args = parser.parse_args()
    results: dict[str, Any] = {"when": datetime.now(UTC).isoformat(timespec="seconds")}
    results["tick_64_simulated_nodes"] = bench_simulated_ticks(args.ticks)
    if not args.skip_live:
        results["tick_6_real_nodes"] = bench_real_ticks(args.ticks)
        results["faults"] = bench_faults(args.repeats)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "controller.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = ["# Controller benchmark", "", f"Run {results['when']} "
             "(2 shared cores; other work was running).", "",
             "| tick | nodes | median | p90 | max |", "| --- | --- | --- | --- | --- |"]
    for key in ("tick_6_real_nodes", "tick_64_simulated_nodes"):
        if key in results:
            r = results[key]
            lines.append(f"| {key} | {r['nodes']} | {r['median_ms']} ms | {r['p90_ms']} ms | "
                         f"{r['max_ms']} ms |")
    if "faults" in results:
        lines += ["", "| fault | detected | recovered | mean time to detect | "
                  "mean time to recover | longest tick | first action |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        for kind, r in results["faults"].items():
            lines.append(f"| {kind} | {r['detected']}/{r['runs']} | {r['recovered']}/{r['runs']} "
                         f"| {r['mean_time_to_detect_s']} s | {r['mean_time_to_recover_s']} s | "
                         f"{r['longest_tick_s']} s | "
                         f"{', '.join(str(a) for a in r['actions'])} |")
    (out / "controller.md").write_text("\n".join(lines) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
