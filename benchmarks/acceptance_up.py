"""Acceptance scenario for ``fleetcast up`` (issue 5, "Done when"), run as a new user would.

``fleetcast up --config F`` (2 initial nodes, max 6, tick 2 s, node capacity 30
payments/s, fault injection on, admin token set, ports 18000/18080/18101+) while a
client holds 20 payments/s for 50 s and then ramps to 110/s over 80 s; at second
60 one ready node gets a +400 ms latency fault.  Checks: the slow node is drained
within 30 s of the fault and replaced; >= 4 ready nodes at the peak; ``/forecast``
answers; an unauthenticated drain gets 401; every acknowledged payment is in the
ledger exactly once; nothing is left running after SIGTERM.

    .venv/bin/python benchmarks/acceptance_up.py [--ports 18000,18080,18101] [--keep]

Prints a JSON summary and writes it to ``benchmarks/results/acceptance_up.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
# benchmarks/gateway.py and benchmarks/controller.py would shadow the packages.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
TOKEN = "acceptance-admin-token"


def config_text(data_dir: Path, lb: int, api: int, base: int) -> str:
    return f"""
data_dir = "{data_dir}"
[pool]
initial_nodes = 2
max_nodes = 6
node_base_port = {base}
[balancer]
port = {lb}
[api]
port = {api}
[controller]
tick_seconds = 2
node_capacity_rps = 30
[security]
admin_token = "{TOKEN}"
fault_injection = true
"""


def rate(t: float) -> float:
    return 20.0 if t < 50 else min(110.0, 20.0 + 90.0 * (t - 50) / 80)


class Monitor(threading.Thread):
    """Polls /nodes every 0.5 s and keeps (t, nodes) for the checks."""

    def __init__(self, api: str, t0: float) -> None:
        super().__init__(daemon=True)
        self.api, self.t0 = api, t0
        self.samples: list[tuple[float, list[dict[str, Any]]]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=2.0) as client:
            while not self.stop.is_set():
                try:
                    nodes = client.get(f"{self.api}/nodes").json()
                    self.samples.append((time.monotonic() - self.t0, nodes))
                except httpx.HTTPError:
                    pass
                self.stop.wait(0.5)


def wait_up(api: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"fleetcast up exited with {proc.returncode}")
        try:
            if httpx.get(f"{api}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit("fleetcast up did not come up")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ports", default="18000,18080,18101")
    parser.add_argument("--keep", action="store_true", help="keep the data dir")
    parser.add_argument(
        "--out", default=str(REPO / "benchmarks" / "results" / "acceptance_up.json")
    )
    args = parser.parse_args()
    lb_port, api_port, base_port = (int(p) for p in args.ports.split(","))
    work = Path(tempfile.mkdtemp(prefix="fleetcast-acceptance-"))
    data_dir = work / "var"
    cfg = work / "fleetcast.toml"
    cfg.write_text(config_text(data_dir, lb_port, api_port, base_port))
    lb, api = f"http://127.0.0.1:{lb_port}", f"http://127.0.0.1:{api_port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETCAST_")}
    fleetcast = str(Path(sys.executable).parent / "fleetcast")
    proc = subprocess.Popen([fleetcast, "up", "--config", str(cfg)], cwd=work, env=env,
                            stdout=open(work / "up.log", "wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    result: dict[str, Any] = {"config": str(cfg)}
    try:
        wait_up(api, proc)
        from gateway.loadgen import run_load

        t0 = time.monotonic()
        monitor = Monitor(api, t0)
        monitor.start()
        fault: dict[str, Any] = {}

        def inject() -> None:
            time.sleep(max(0.0, 60 - (time.monotonic() - t0)))
            nodes = [n for n in httpx.get(f"{api}/nodes").json() if n["state"] == "ready"]
            victim = sorted(nodes, key=lambda n: n["since"])[0]
            httpx.post(f"{victim['url']}/admin/faults", timeout=3.0,
                       headers={"Authorization": f"Bearer {TOKEN}"},
                       json={"kind": "latency", "params": {"ms": 400}, "duration_s": 600}
                       ).raise_for_status()
            fault.update(node_id=victim["id"], t=time.monotonic() - t0,
                         at=datetime.now(UTC).isoformat())

        injector = threading.Thread(target=inject, daemon=True)
        injector.start()
        load = asyncio.run(run_load(lb, rate, 130.0, max_attempts=30, timeout_s=15.0, seed=1))
        injector.join()
        time.sleep(4)
        monitor.stop.set()
        monitor.join()

        forecast = httpx.get(f"{api}/forecast", params={"horizon": 5}, timeout=5.0)
        unauth = httpx.post(f"{api}/nodes/{fault['node_id']}/drain", timeout=5.0)
        decisions = httpx.get(f"{api}/decisions", params={"limit": 1000}, timeout=5.0).json()
        victim = fault["node_id"]
        drained_t = next((t for t, nodes in monitor.samples if t >= fault["t"] and any(
            n["id"] == victim and n["state"] != "ready" for n in nodes)
            or (t >= fault["t"] and all(n["id"] != victim for n in nodes))), None)
        replaced = [d for d in decisions if d["node_id"] == victim and d["kind"] in
                    ("replace", "drain")]
        fault_at = datetime.fromisoformat(fault["at"])
        def since_fault(d: dict[str, Any]) -> float:
            at = datetime.fromisoformat(d["at"].replace("Z", "+00:00"))
            return (at - fault_at).total_seconds()

        victim_log = [
            f"+{since_fault(d):.1f}s {d['kind']}: {d['reason'][:140]}"
            for d in reversed(decisions)
            if (d["node_id"] == victim or d["kind"] == "fleet_anomaly") and since_fault(d) >= 0
        ][:15]
        peak_window = [n for t, n in monitor.samples if t >= 120]
        peak_ready = max((sum(x["state"] == "ready" for x in nodes) for nodes in peak_window),
                         default=0)
        max_ready = max((sum(x["state"] == "ready" for x in n) for _, n in monitor.samples),
                        default=0)

        from gateway.db import make_engine
        from gateway.ledger import payments_by_key, verify_ledger

        engine = make_engine(f"sqlite:///{data_dir / 'fleetcast.db'}")
        by_key = payments_by_key(engine)
        check = verify_ledger(engine)
        engine.dispose()
        acked = load.acked
        lost = sum(1 for r in acked if r.key not in by_key)
        dup = sum(1 for r in acked if len(by_key.get(r.key, [])) > 1)
        wrong = sum(1 for r in acked if r.key in by_key and r.payment_id not in by_key[r.key])
        result.update({
            "load": load.summary() | {"by_node": None},
            "fault": fault,
            "slow_node_drained_after_s": None if drained_t is None
            else round(drained_t - fault["t"], 1),
            "slow_node_decisions": [f"{d['kind']}: {d['reason']}" for d in reversed(replaced)],
            "after_fault": victim_log,
            "ready_at_peak": peak_ready,
            "max_ready": max_ready,
            "forecast_status": forecast.status_code,
            "forecast_model": forecast.json().get("model") if forecast.status_code == 200
            else forecast.json(),
            "unauthenticated_drain_status": unauth.status_code,
            "acknowledged": len(acked), "lost": lost, "duplicated": dup, "mismatched": wrong,
            "ledger_balanced": check.ok if hasattr(check, "ok") else None,
            "decision_kinds": sorted({d["kind"] for d in decisions}),
            "scale_outs": [f"{d['at'][11:19]} {d['reason']}" for d in reversed(decisions)
                           if d["kind"] == "scale_out"],
            "ready_over_time": [(round(t), sum(x["state"] == "ready" for x in n))
                                for t, n in monitor.samples[::10]],
        })
        result["checks"] = {
            "slow_node_drained_within_30s": drained_t is not None
            and drained_t - fault["t"] <= 30,
            "slow_node_replaced": any(d["kind"] == "replace" for d in replaced),
            "at_least_4_ready_at_peak": peak_ready >= 4,
            "forecast_answers": forecast.status_code == 200,
            "unauthenticated_drain_401": unauth.status_code == 401,
            "every_ack_in_ledger_exactly_once": lost == 0 and dup == 0 and wrong == 0,
        }
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        result["up_exit_code"] = proc.returncode
        from controller.pools.local import port_free

        busy = [p for p in [lb_port, api_port, *range(base_port, base_port + 12)]
                if not port_free("127.0.0.1", p)]
        result["ports_still_in_use_after_stop"] = busy
        if not args.keep:
            import shutil

            shutil.rmtree(work, ignore_errors=True)
        else:
            result["work_dir"] = str(work)
    result["passed"] = all(result.get("checks", {"x": False}).values())
    text = json.dumps(result, indent=2, default=str)
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text + "\n")
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
