"""The whole control loop with real processes: nodes, load balancer, store on SQLite and PostgreSQL.

One fleet per backend goes through the scenarios in order (each waits for an
outcome, never for a fixed time): scale-out under a ramp, drain-and-replace of
a slow node, crash replacement, a node that hangs on ``/metrics``, a database
error during a tick.  A second test kills ``fleetcast up`` with SIGKILL and
starts it again on the same data directory: nothing is orphaned and nothing is
launched twice.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from sqlalchemy import text

from controller.config import Settings, load_settings, node_port_span
from controller.lifecycle import NodeState
from controller.runtime import Fleet
from tests.ports import free_ports
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]
TOKEN = "integration-token"


def fleet_settings(data_dir: Path, database_url: str | None) -> Settings:
    # the node port range the config keeps for max_nodes 5, the balancer's and the API's:
    # disjoint, so the config's collision check cannot fail by chance
    nodes, balancer, api = free_ports(node_port_span(5), 1, 1)
    return load_settings(environ={}, overrides={
        "data_dir": str(data_dir),
        "pool": {"initial_nodes": 2, "min_nodes": 2, "max_nodes": 5,
                 "node_base_port": nodes},
        "balancer": {"port": balancer},
        "api": {"port": api},
        "controller": {"tick_seconds": 1, "node_capacity_rps": 8, "startup_seconds": 2,
                       "scale_in_stabilization_seconds": 600, "scrape_timeout_seconds": 0.5},
        "recovery": {"drain_timeout_seconds": 2, "cooldown_seconds": 0,
                     "max_ejection_percent": 50},
        "security": {"admin_token": TOKEN, "fault_injection": True},
        "storage": {"database_url": database_url},
    })


class Traffic(threading.Thread):
    """A steady open-loop client through the balancer; ``rate`` can change while it runs."""

    def __init__(self, url: str, rate: float) -> None:
        super().__init__(daemon=True)
        self.url, self.rate, self.stop = url, rate, threading.Event()
        self.report: Any = None

    def run(self) -> None:
        import asyncio

        from gateway.loadgen import run_load

        def rate_fn(_t: float) -> float:
            return 0.0 if self.stop.is_set() else self.rate

        async def go() -> Any:
            task = asyncio.create_task(run_load(self.url, rate_fn, 600.0, max_attempts=30))
            while not self.stop.is_set():
                await asyncio.sleep(0.2)
            task.cancel()

        try:
            asyncio.run(go())
        except BaseException:  # noqa: BLE001 - cancellation at the end is expected
            pass


def fault(node_url: str, kind: str, **params: float) -> None:
    try:
        httpx.post(f"{node_url}/admin/faults", timeout=2.0,
                   headers={"Authorization": f"Bearer {TOKEN}"},
                   json={"kind": kind, "params": params, "duration_s": 300}).raise_for_status()
    except httpx.ReadTimeout:
        pass  # a crashing node may not answer


@pytest.fixture
def fleet(tmp_path: Path, db_url: str) -> Iterator[Fleet]:
    url = None if db_url.startswith("sqlite") else db_url
    f = Fleet(fleet_settings(tmp_path / "var", url), pool_stop_timeout_s=3.0)
    try:
        f.start()
        yield f
    finally:
        f.stop()


def ready_nodes(fleet: Fleet) -> list[Any]:
    return [n for n in fleet.pool.nodes() if n.state is NodeState.READY]


def kinds_for(fleet: Fleet, node_id: str | None) -> set[str]:
    return {d.kind for d in fleet.store.decisions(1000) if d.node_id == node_id}


def test_fleet_scales_recovers_and_survives_a_db_error(fleet: Fleet) -> None:
    s = fleet.settings
    traffic = Traffic(s.balancer_url, rate=4.0)
    traffic.start()
    try:
        # 1. ramp: 2 nodes x 8 rps x 0.7 target = 11 rps; 20 rps needs 4
        traffic.rate = 20.0
        wait_until(lambda: len(ready_nodes(fleet)) >= 4, 60, ">= 4 ready nodes under the ramp")
        assert "scale_out" in kinds_for(fleet, None)

        # 2. a slow node is replaced, then drained and stopped
        victim = ready_nodes(fleet)[0]
        fault(victim.url, "latency", ms=400)
        wait_until(lambda: "replace" in kinds_for(fleet, victim.id), 60,
                   f"a replace decision for slow {victim.id}")
        wait_until(lambda: {n.id: n.state for n in fleet.pool.nodes()}[victim.id]
                   is NodeState.STOPPED, 60, f"{victim.id} stopped after draining")
        history = [st for _, st, _ in fleet.store.node_history(victim.id)]
        assert NodeState.DRAINING in history

        # 3. a crashed node is replaced at once
        victim = ready_nodes(fleet)[0]
        fault(victim.url, "crash")
        wait_until(lambda: "replace" in kinds_for(fleet, victim.id), 30,
                   f"a replace decision for crashed {victim.id}")

        # 4. a node that hangs (on /metrics too) is treated as gone and replaced
        victim = ready_nodes(fleet)[0]
        fault(victim.url, "hang")
        wait_until(lambda: "replace" in kinds_for(fleet, victim.id), 45,
                   f"a replace decision for hung {victim.id}")

        # 5. a database error fails a tick; the loop keeps going
        metrics = fleet.controller.metrics
        with fleet.store.engine.begin() as conn:
            conn.execute(text("drop table ctl_load"))
        wait_until(lambda: metrics.ticks.labels("error")._value.get() >= 1, 15, "a failed tick")
        fleet.store.create_all()
        ok = metrics.ticks.labels("ok")._value.get()
        wait_until(lambda: metrics.ticks.labels("ok")._value.get() >= ok + 2, 15,
                   "ticks succeeding again after the database came back")
    finally:
        traffic.stop.set()
        traffic.join(timeout=30)


def _live_node_pids(data_dir: Path) -> set[int]:
    pids = set()
    for proc in psutil.process_iter(["cmdline", "environ"]):
        try:
            cmd = " ".join(proc.info["cmdline"] or [])
            env = proc.info["environ"] or {}
        except psutil.Error:
            continue
        if "gateway.node" in cmd and str(data_dir) in env.get("FLEETCAST_NODE_DATABASE_URL", ""):
            pids.add(proc.pid)
    return pids


def test_controller_restart_neither_orphans_nor_double_launches(tmp_path: Path) -> None:
    s = fleet_settings(tmp_path / "var", None)
    config = tmp_path / "fleetcast.toml"
    config.write_text(
        f'data_dir = "{s.data_dir}"\n'
        f"[pool]\ninitial_nodes = 2\nmin_nodes = 2\nnode_base_port = {s.pool.node_base_port}\n"
        f"[balancer]\nport = {s.balancer.port}\n[api]\nport = {s.api.port}\n"
        f'[controller]\ntick_seconds = 1\n[security]\nadmin_token = "{TOKEN}"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETCAST_")}
    cmd = [str(Path(sys.executable).parent / "fleetcast"), "up", "--config", str(config)]

    def start() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)

        def ready() -> bool:
            try:
                nodes = httpx.get(f"{s.api_url}/nodes", timeout=1).json()
            except httpx.HTTPError:
                return False
            return sum(n["state"] == "ready" for n in nodes) >= 2

        wait_until(ready, 60, "fleetcast up serving with 2 ready nodes")
        return proc

    first = start()
    try:
        before = _live_node_pids(s.data_dir)
        assert len(before) == 2
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        wait_until(lambda: not (_live_node_pids(s.data_dir) & before), 20,
                   "the killed controller's nodes to go with it (no orphans)")
        second = start()
        try:
            time.sleep(3)  # a few ticks: nothing more may be launched
            nodes = httpx.get(f"{s.api_url}/nodes", timeout=2).json()
            assert [n["state"] for n in nodes] == ["ready", "ready"]
            assert len(_live_node_pids(s.data_dir)) == 2
        finally:
            os.killpg(second.pid, signal.SIGTERM)
            second.wait(timeout=60)
        assert not _live_node_pids(s.data_dir), "SIGTERM stops every node it started"
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
