"""``BalancerProcess``: the load balancer as a child process of the launcher.

The balancer runs as its own OS process (``python -m gateway.balancer``) so the
data plane keeps serving if whoever launched it (``fleetcast gateway``, the
controller) dies or restarts.  This wrapper starts it, waits until it answers,
pushes membership to it and stops it; it lives apart from ``LocalPool`` because
it is used with any pool.  ``controller.pools.local`` re-exports it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from controller.lifecycle import NodeState
from controller.pools.base import NodeInfo
from controller.pools.procutil import die_with_parent as _die_with_parent
from controller.pools.procutil import port_free


class BalancerProcess:
    """The load balancer as a child process (``python -m gateway.balancer``).

    ``start()`` launches it and waits for ``/healthz``; ``push(nodes)`` sends the
    membership (ready and draining nodes; others are left out); ``stop()`` ends it.
    Like nodes, it gets PR_SET_PDEATHSIG and its token through the environment.
    """

    def __init__(self, port: int, strategy: str, admin_token: str, *, data_dir: str | Path,
                 host: str = "127.0.0.1", die_with_parent: bool = True,
                 options: dict[str, Any] | None = None) -> None:
        self.port, self.strategy, self.admin_token = port, strategy, admin_token
        self.host = host
        self.data_dir = Path(data_dir)
        self.die_with_parent = die_with_parent
        self.options = dict(options or {})
        self.url = f"http://{host}:{port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lb-spawn")
        self._http = httpx.Client(timeout=2.0)

    def start(self, timeout_s: float = 20.0) -> None:
        if not port_free(self.host, self.port):
            raise RuntimeError(f"port {self.port} on {self.host} is already in use")
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETCAST_LB_")}
        options = {"host": self.host, "port": self.port, "strategy": self.strategy,
                   "admin_token": self.admin_token, **self.options}
        env.update({f"FLEETCAST_LB_{k.upper()}": str(v) for k, v in options.items()})
        log_dir = self.data_dir / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        preexec = _die_with_parent(os.getpid()) if self.die_with_parent else None

        def spawn() -> subprocess.Popen[bytes]:
            with open(log_dir / "balancer.log", "ab") as log:
                return subprocess.Popen([sys.executable, "-m", "gateway.balancer"], env=env,
                                        stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True,
                                        preexec_fn=preexec)

        self.proc = self._spawner.submit(spawn).result()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"balancer exited (see {log_dir / 'balancer.log'})")
            with contextlib.suppress(httpx.HTTPError):
                if self._http.get(f"{self.url}/healthz", timeout=0.5).status_code == 200:
                    return
            time.sleep(0.1)
        raise TimeoutError(f"balancer not up after {timeout_s:.0f}s")

    def push(self, nodes: Iterable[NodeInfo]) -> list[dict[str, Any]]:
        backends = [{"id": n.id, "url": n.url, "state": n.state.value, "weight": n.weight}
                    for n in nodes if n.state in (NodeState.READY, NodeState.DRAINING)]
        response = self._http.put(f"{self.url}/admin/backends", json={"backends": backends},
                                  headers={"Authorization": f"Bearer {self.admin_token}"})
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()
        return result

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._spawner.shutdown(wait=False)
        self._http.close()
