"""Gateway benchmark: throughput and latency through the load balancer, and what it costs.

Runs real processes on loopback (a ``LocalPool`` of nodes on a fresh SQLite file,
the balancer as its own process) and the built-in load generator:

1. saturation: 3 nodes behind the balancer, 32 closed-loop clients -> payments/s, p50, p99;
   then the same with the ledger on PostgreSQL (a temporary database on the test server,
   ``FLEETCAST_TEST_DATABASE_URL`` or 127.0.0.1:5432, created and dropped);
2. overhead: light open-loop load (so no queueing) straight to one node vs through the
   balancer with only that node -> p50/p99 each, added ms and ratio;
3. slow node: 3 nodes, one with a +200 ms latency fault, open-loop load, ``--repeats``
   rounds per strategy (median reported)
   -> p50/p99 per strategy (least_request and peak_ewma should keep p99 far below
   round_robin's);
4. kill drill (the issue's "done when"): 3000 payments from 32 clients retrying with the
   same key, one node SIGKILLed a third of the way -> lost / doubled / ledger balance.

    .venv/bin/python benchmarks/gateway.py [--quick] [--out benchmarks/results]
        [--only saturation|postgres|slow_node] [--repeats 3]

``--only`` runs one section and merges it into the existing ``gateway.json``/``.md``.

Writes ``gateway.json`` and ``gateway.md``.  The machine is shared and has 2 cores,
and the load generator runs on it too, so compare ratios within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from controller.pools.local import BalancerProcess, LocalPool, port_free  # noqa: E402
from gateway.db import make_engine, temporary_database  # noqa: E402
from gateway.ledger import payments_by_key, verify_ledger  # noqa: E402
from gateway.loadgen import LoadReport, RequestRecord, run_load  # noqa: E402
from gateway.strategies import STRATEGIES  # noqa: E402

TOKEN = "bench-token"


def free_port(start: int) -> int:
    port = start
    while not port_free("127.0.0.1", port):
        port += 1
    return port


def stats(report: LoadReport) -> dict[str, Any]:
    s = report.summary()
    return {k: s[k] for k in ("requests", "acked", "throughput_rps", "p50_ms", "p90_ms",
                              "p99_ms", "statuses", "retried")}


class Fleet:
    def __init__(self, workdir: Path, nodes: int, *, latency_ms: float = 2.0,
                 db_url: str | None = None) -> None:
        self.workdir = workdir
        self.db_url = db_url or f"sqlite:///{workdir / 'bench.db'}"
        self.pool = LocalPool(workdir, self.db_url, free_port(19101), TOKEN, True,
                              node_options={"processing_latency_ms": latency_ms})
        self.pool.launch(nodes)
        self.pool.wait_ready()
        self.lb: BalancerProcess | None = None

    def balancer(self, strategy: str, only: list[str] | None = None) -> str:
        self.stop_balancer()
        self.lb = BalancerProcess(free_port(19050), strategy, TOKEN, data_dir=self.workdir)
        self.lb.start()
        self.lb.push([n for n in self.pool.nodes() if only is None or n.id in only])
        return self.lb.url

    def stop_balancer(self) -> None:
        if self.lb is not None:
            self.lb.stop()
            self.lb = None

    def close(self) -> None:
        self.stop_balancer()
        self.pool.close()


def load(url: str, *, seconds: float, rate: float | None = None, concurrency: int = 32,
         total: int | None = None, on_record: Any = None) -> LoadReport:
    rate_fn = None if rate is None else (lambda _t: rate)
    return asyncio.run(run_load(url, rate_fn, seconds, total=total, concurrency=concurrency,
                                on_record=on_record, seed=1))


def saturation(workdir: Path, seconds: float) -> dict[str, Any]:
    fleet = Fleet(workdir / "saturation", 3)
    try:
        url = fleet.balancer("least_request")
        load(url, seconds=1.5)  # warm-up: connections, SQLite pages
        return stats(load(url, seconds=seconds))
    finally:
        fleet.close()


PG_ADMIN_URL = os.environ.get("FLEETCAST_TEST_DATABASE_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def saturation_postgres(workdir: Path, seconds: float) -> dict[str, Any]:
    """Section 1 again with the ledger on PostgreSQL (127.0.0.1:5432) instead of SQLite."""
    with temporary_database(PG_ADMIN_URL, "fleetcast_bench") as url:
        fleet = Fleet(workdir / "saturation_pg", 3, db_url=url)
        try:
            lb = fleet.balancer("least_request")
            load(lb, seconds=1.5)  # warm-up: connections, plans
            return {"database": PG_ADMIN_URL.rsplit("@", 1)[-1].rsplit("/", 1)[0],
                    **stats(load(lb, seconds=seconds))}
        finally:
            fleet.close()


def overhead(workdir: Path, seconds: float, rate: float) -> dict[str, Any]:
    """Both paths are driven at the same time (rate/2 each), so the noise of a shared
    machine hits them alike and the difference is the balancer's own cost."""
    fleet = Fleet(workdir / "overhead", 1)
    try:
        node = fleet.pool.nodes()[0]
        via_lb = fleet.balancer("round_robin")

        async def both() -> tuple[LoadReport, LoadReport]:
            def half(_t: float) -> float:
                return rate / 2

            a, b = await asyncio.gather(run_load(node.url, half, seconds, seed=2),
                                        run_load(via_lb, half, seconds, seed=3))
            return a, b

        asyncio.run(both())  # warm-up
        direct_report, lb_report = asyncio.run(both())
        direct, through = stats(direct_report), stats(lb_report)
        # Saturation of the same single node, straight and through the balancer.
        direct_max = stats(load(node.url, seconds=seconds))
        lb_max = stats(load(via_lb, seconds=seconds))
        return {
            "saturation_direct": direct_max,
            "saturation_via_balancer": lb_max,
            "throughput_ratio": round(lb_max["throughput_rps"] / direct_max["throughput_rps"], 3),
            "rate_rps": rate,
            "direct": direct,
            "via_balancer": through,
            "added_p50_ms": round(through["p50_ms"] - direct["p50_ms"], 2),
            "added_p99_ms": round(through["p99_ms"] - direct["p99_ms"], 2),
            "p50_ratio": round(through["p50_ms"] / direct["p50_ms"], 2),
        }
    finally:
        fleet.close()


def slow_node(workdir: Path, seconds: float, rate: float, repeats: int = 1) -> dict[str, Any]:
    """Each strategy behind a fresh balancer, ``repeats`` rounds (strategies interleaved so
    drift in the shared machine's load hits them alike).  p99 of ~800 requests rests on its
    8 worst, so a round is noisy: the row gives the median of the rounds' figures."""
    fleet = Fleet(workdir / "slow", 3)
    try:
        slow = fleet.pool.nodes()[0]
        fault = {"kind": "latency", "params": {"ms": 200}, "duration_s": 3600}
        httpx.post(f"{slow.url}/admin/faults", json=fault,
                   headers={"Authorization": f"Bearer {TOKEN}"}).raise_for_status()
        rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in STRATEGIES}
        for _ in range(repeats):
            for strategy in STRATEGIES:
                url = fleet.balancer(strategy)
                report = load(url, seconds=seconds, rate=rate)
                row = stats(report)
                row["to_slow_node"] = sum(1 for r in report.acked if r.node_id == slow.id)
                rounds[strategy].append(row)
        results = {}
        for strategy, rows in rounds.items():
            acked = sum(r["acked"] for r in rows)
            results[strategy] = {
                **{k: statistics.median(r[k] for r in rows) for k in ("p50_ms", "p90_ms",
                                                                       "p99_ms")},
                "acked": acked,
                "p99_runs_ms": [r["p99_ms"] for r in rows],
                "share_to_slow_node": round(sum(r["to_slow_node"] for r in rows)
                                            / max(1, acked), 4),
                "runs": rows,
            }
        return {"rate_rps": rate, "seconds_per_run": seconds, "repeats": repeats,
                "slow_node": slow.id, "extra_latency_ms": 200, "strategies": results}
    finally:
        fleet.close()


def kill_drill(workdir: Path, total: int) -> dict[str, Any]:
    fleet = Fleet(workdir / "kill", 3)
    try:
        url = fleet.balancer("least_request")
        victim = fleet.pool.nodes()[0]
        done: list[RequestRecord] = []

        def on_record(record: RequestRecord) -> None:
            done.append(record)
            if len(done) == total // 3:
                fleet.pool.kill(victim.id)

        report = load(url, seconds=0, total=total, concurrency=32, on_record=on_record)
        engine = make_engine(fleet.db_url)
        try:
            by_key = payments_by_key(engine)
            check = verify_ledger(engine)
        finally:
            engine.dispose()
        acked = report.acked
        lost = sum(1 for r in acked if r.payment_id not in by_key.get(r.key, []))
        doubled = sum(1 for ids in by_key.values() if len(ids) > 1)
        return {
            "payments": total, "clients": 32, "killed": victim.id, **stats(report),
            "lost": lost, "doubled": doubled, "ledger_payments": check.payments,
            "ledger_balance_minor": check.balance_minor, "ledger_ok": check.ok,
        }
    finally:
        fleet.close()


def render(result: dict[str, Any]) -> str:
    sat, ovh, slow, kill = (result[k] for k in ("saturation", "overhead", "slow_node",
                                                  "kill_drill"))
    lines = [
        "# Gateway benchmark",
        "",
        f"Run {result['started_at']} on {result['machine']} ({result['cpus']} CPUs, load "
        f"average {result['loadavg_before']} before / {result['loadavg_after']} after; the "
        "machine is shared, the load generator runs on it too). Command: "
        f"`{result['command']}`.",
        "",
        "## Throughput through the load balancer (3 nodes, SQLite, 32 closed-loop clients)",
        "",
        *([f"Run on its own at {sat['run']['started_at']} (load average "
            f"{sat['run']['loadavg_before']} before / {sat['run']['loadavg_after']} after). "
            f"Command: `{sat['run']['command']}`.", ""] if "run" in sat else []),
        f"- **{sat['throughput_rps']} payments/s**, p50 {sat['p50_ms']} ms, p99 {sat['p99_ms']} ms "
        f"({sat['acked']} acknowledged, statuses {sat['statuses']})",
        "",
        *_render_postgres(result.get("saturation_postgres")),
        f"## Load balancer overhead (one node, open loop at {ovh['rate_rps']} req/s, half "
        "straight to the node and half through the balancer, at the same time)",
        "",
        "| path | p50 ms | p99 ms |",
        "|---|---|---|",
        f"| direct to the node | {ovh['direct']['p50_ms']} | {ovh['direct']['p99_ms']} |",
        f"| through the balancer | {ovh['via_balancer']['p50_ms']} | "
        f"{ovh['via_balancer']['p99_ms']} |",
        "",
        f"Added at p50: **{ovh['added_p50_ms']} ms** (ratio {ovh['p50_ratio']}); "
        f"at p99: {ovh['added_p99_ms']} ms.",
        "",
        "Same single node driven to saturation by 32 closed-loop clients (one after the other):",
        "",
        "| path | payments/s | p50 ms | p99 ms |",
        "|---|---|---|---|",
        f"| direct to the node | {ovh['saturation_direct']['throughput_rps']} | "
        f"{ovh['saturation_direct']['p50_ms']} | {ovh['saturation_direct']['p99_ms']} |",
        f"| through the balancer | {ovh['saturation_via_balancer']['throughput_rps']} | "
        f"{ovh['saturation_via_balancer']['p50_ms']} | "
        f"{ovh['saturation_via_balancer']['p99_ms']} |",
        "",
        f"Throughput ratio (balancer / direct): **{ovh['throughput_ratio']}**.",
        "",
        f"## One node +{slow['extra_latency_ms']} ms (3 nodes, open loop at {slow['rate_rps']} "
        "req/s)",
        "",
        f"{slow.get('repeats', 1)} round(s) of {slow.get('seconds_per_run', 8.0)} s per "
        "strategy; p50/p90/p99 are the median over the rounds, the share is pooled.",
        "",
        "| strategy | p50 ms | p90 ms | p99 ms | p99 per round ms | share sent to the slow node |",
        "|---|---|---|---|---|---|",
    ]
    if "run" in slow:
        run = slow["run"]
        lines[-4:-4] = [f"Re-run on its own at {run['started_at']} (load average "
                        f"{run['loadavg_before']} before / {run['loadavg_after']} after). "
                        f"Command: `{run['command']}`.", ""]
    for name, row in slow["strategies"].items():
        per_round = ", ".join(str(x) for x in row.get("p99_runs_ms", [row["p99_ms"]]))
        lines.append(f"| {name} | {row['p50_ms']} | {row['p90_ms']} | {row['p99_ms']} | "
                     f"{per_round} | {row['share_to_slow_node']:.1%} |")
    if "before_change" in slow:  # the same command run on an earlier commit, for comparison
        prior = slow["before_change"]
        lines += ["", f"Before {prior['change']} (same command at {prior['started_at']}, load "
                  f"average {prior['loadavg_before']}): p99 per strategy "
                  + ", ".join(f"{k} {v['p99_ms']} ms ({v['share_to_slow_node']:.1%} to the slow "
                              "node)" for k, v in prior["strategies"].items()) + "."]
    lines += [
        "",
        f"## Kill drill: {kill['payments']} payments, {kill['clients']} clients retrying with "
        f"the same key, {kill['killed']} SIGKILLed a third of the way",
        "",
        f"- acknowledged {kill['acked']} / {kill['payments']}; lost **{kill['lost']}**, "
        f"doubled **{kill['doubled']}**; ledger payments {kill['ledger_payments']}, balance "
        f"{kill['ledger_balance_minor']} (ok: {kill['ledger_ok']})",
        f"- {kill['throughput_rps']} payments/s, p50 {kill['p50_ms']} ms, p99 {kill['p99_ms']} "
        f"ms, {kill['retried']} payments needed a client retry",
        "",
    ]
    return "\n".join(lines)


def _render_postgres(pg: dict[str, Any] | None) -> list[str]:
    if not pg:
        return []
    lines = ["## Throughput through the load balancer (3 nodes, PostgreSQL at "
             f"{pg['database']}, 32 closed-loop clients)", ""]
    if "run" in pg:
        lines += [f"Run on its own at {pg['run']['started_at']} (load average "
                  f"{pg['run']['loadavg_before']} before / {pg['run']['loadavg_after']} after). "
                  f"Command: `{pg['run']['command']}`.", ""]
    lines += [f"- **{pg['throughput_rps']} payments/s**, p50 {pg['p50_ms']} ms, p99 "
              f"{pg['p99_ms']} ms ({pg['acked']} acknowledged, statuses {pg['statuses']})", ""]
    return lines


SECTIONS = {"saturation": "saturation", "postgres": "saturation_postgres",
            "slow_node": "slow_node"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs (smoke test)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--only", choices=tuple(SECTIONS),
                        help="run one section and merge it into the existing results")
    parser.add_argument("--repeats", type=int, default=3,
                        help="rounds per strategy in the slow-node section (default 3)")
    args = parser.parse_args()
    seconds = 3.0 if args.quick else 8.0
    result: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": platform.platform(), "cpus": os.cpu_count(),
        "loadavg_before": [round(x, 2) for x in os.getloadavg()],
        "command": "python benchmarks/gateway.py" + (" --quick" if args.quick else ""),
    }
    if args.only is not None:
        with tempfile.TemporaryDirectory(prefix="fleetcast-bench-") as tmp:
            if args.only == "slow_node":
                section = slow_node(Path(tmp), seconds, rate=100.0, repeats=args.repeats)
            elif args.only == "saturation":
                section = saturation(Path(tmp), seconds)
            else:
                section = saturation_postgres(Path(tmp), seconds)
        section["run"] = {
            "started_at": result["started_at"], "loadavg_before": result["loadavg_before"],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
            "command": f"python benchmarks/gateway.py --only {args.only}"
                       + (f" --repeats {args.repeats}" if args.only == "slow_node" else "")
                       + (" --quick" if args.quick else ""),
        }
        print(json.dumps(section, indent=1))
        previous = args.out / "gateway.json"
        if not args.quick and previous.exists():  # re-run of one section: merge, re-render
            merged = json.loads(previous.read_text())
            merged[SECTIONS[args.only]] = section
            previous.write_text(json.dumps(merged, indent=2) + "\n")
            (args.out / "gateway.md").write_text(render(merged))
        return
    with tempfile.TemporaryDirectory(prefix="fleetcast-bench-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        result["saturation"] = saturation(work, seconds)
        print("saturation", result["saturation"], flush=True)
        result["saturation_postgres"] = saturation_postgres(work, seconds)
        print("saturation (PostgreSQL)", result["saturation_postgres"], flush=True)
        result["overhead"] = overhead(work, seconds, rate=50.0)
        print("overhead", result["overhead"], flush=True)
        result["slow_node"] = slow_node(work, seconds, rate=100.0, repeats=args.repeats)
        print("slow node", json.dumps(result["slow_node"]), flush=True)
        result["kill_drill"] = kill_drill(work, 1000 if args.quick else 3000)
        print("kill drill", result["kill_drill"], flush=True)
        result["wall_seconds"] = round(time.perf_counter() - t0, 1)
    result["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gateway.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "gateway.md").write_text(render(result))
    print(render(result))


if __name__ == "__main__":
    main()
