"""``LocalPool``: payment nodes as real OS processes on loopback ports.

The embedded default pool backend.  ``LocalPool(data_dir, database_url,
base_port=8101, admin_token="", fault_injection=False, *, host="127.0.0.1",
node_options=None, stop_timeout_s=10.0, die_with_parent=True)``:

- ``launch(n)`` starts ``n`` nodes (``python -m gateway.node``) on free ports
  from ``base_port`` up (ports in use are skipped), with ids ``node-<n>`` unique
  per ``data_dir``, and returns them ``starting``; ``wait_ready()`` blocks until
  their ``/readyz`` answers (``nodes()`` also promotes them when it does).
  Settings reach a node through ``FLEETCAST_NODE_*`` environment variables
  (so the token is not visible in ``ps``); ``node_options`` adds more (e.g.
  ``{"processing_latency_ms": 5}``).  Logs go to ``data_dir/logs/<id>.log``.
- ``drain(id)`` tells the node (``POST /admin/drain``) and marks it ``draining``
  (a node still ``starting`` is simply stopped: it never served anything);
  ``stop(id)`` sends SIGTERM (the node finishes in-flight requests), then
  SIGKILL after ``stop_timeout_s``, and returns when the process has gone;
  ``stop(id, wait=False)`` only begins that (the node shows ``draining`` until
  it exits, then ``stopped``; a timer thread sends the SIGKILL), which is what
  the control loop uses so a hung node never holds up a tick;
  ``kill(id)`` is an immediate SIGKILL (tests).
- ``nodes()`` notices a process that died on its own (-> ``failed``).
- State (id, pid, port, state, replaces...) is kept in ``data_dir/pool/nodes.json``;
  a new ``LocalPool`` on the same ``data_dir`` adopts the live nodes it finds
  there (checked by pid, process start time and command line) and marks dead
  ones ``failed``, so a restarted controller never launches twice.
- No orphans: children get ``PR_SET_PDEATHSIG`` (SIGTERM) so they go when this
  process dies, even by SIGKILL (Linux; spawned from one long-lived thread,
  because the signal follows the spawning *thread*); ``close()`` stops them all.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

from controller.lifecycle import NodeState, check_transition
from controller.pools.balancer_process import BalancerProcess  # re-export
from controller.pools.base import NodeInfo
from controller.pools.procutil import die_with_parent as _die_with_parent
from controller.pools.procutil import port_free

NODE_MODULE = "gateway.node"
__all__ = ["BalancerProcess", "LocalPool", "NODE_MODULE", "port_free"]


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class _Record:
    id: str
    port: int
    pid: int | None
    state: NodeState
    since: datetime
    create_time: float | None = None
    replaces: str | None = None
    weight: int = 100

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "port": self.port, "pid": self.pid, "state": self.state.value,
                "since": self.since.isoformat(), "create_time": self.create_time,
                "replaces": self.replaces, "weight": self.weight}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> _Record:
        return cls(id=d["id"], port=int(d["port"]), pid=d.get("pid"),
                   state=NodeState(d["state"]), since=datetime.fromisoformat(d["since"]),
                   create_time=d.get("create_time"), replaces=d.get("replaces"),
                   weight=int(d.get("weight", 100)))


class LocalPool:
    def __init__(
        self,
        data_dir: str | Path,
        database_url: str | None = None,
        base_port: int = 8101,
        admin_token: str = "",
        fault_injection: bool = False,
        *,
        host: str = "127.0.0.1",
        node_options: dict[str, Any] | None = None,
        stop_timeout_s: float = 10.0,
        ready_timeout_s: float = 30.0,
        die_with_parent: bool = True,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.data_dir = Path(data_dir)
        default_db = f"sqlite:///{(self.data_dir / 'fleetcast.db').resolve()}"
        self.database_url = database_url or default_db
        self.base_port = base_port
        self.admin_token = admin_token
        self.fault_injection = fault_injection
        self.host = host
        self.node_options = dict(node_options or {})
        self.stop_timeout_s = stop_timeout_s
        self.ready_timeout_s = ready_timeout_s
        self.die_with_parent = die_with_parent
        self.clock = clock
        self._lock = threading.RLock()
        self._records: dict[str, _Record] = {}
        self._procs: dict[str, subprocess.Popen[bytes] | psutil.Process] = {}
        self._kill_timers: dict[str, threading.Timer] = {}  # stops begun, not yet finished
        self._next_index = 1
        self._state_file = self.data_dir / "pool" / "nodes.json"
        self._log_dir = self.data_dir / "logs"
        self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="localpool-spawn")
        self._http = httpx.Client(timeout=1.0)
        self._closed = False
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._adopt()
        atexit.register(self.close)

    # -- NodePool protocol ------------------------------------------------------------
    def nodes(self) -> list[NodeInfo]:
        with self._lock:
            self._refresh()
            return [self._info(r) for r in self._records.values()]

    def launch(self, n: int, *, replaces: str | None = None) -> list[NodeInfo]:
        if n < 0:
            raise ValueError("n must be >= 0")
        launched = []
        with self._lock:
            for _ in range(n):
                launched.append(self._info(self._launch_one(replaces)))
            self._save()
        return launched

    def drain(self, node_id: str) -> None:
        with self._lock:
            record = self._get(node_id)
            if record.state is NodeState.STARTING:
                self._terminate([node_id])  # it never served anything
                return
            if record.state is NodeState.DRAINING:
                return
            self._set_state(node_id, NodeState.DRAINING)
            self._save()
        with contextlib.suppress(httpx.HTTPError):
            self._http.post(f"{self.url_of(record)}/admin/drain",
                            headers={"Authorization": f"Bearer {self.admin_token}"})

    def stop(self, node_id: str, *, wait: bool = True) -> None:
        with self._lock:
            record = self._get(node_id)
            if record.state is NodeState.STOPPED:
                return
            if record.state is NodeState.READY:
                self._set_state(node_id, NodeState.DRAINING)
                self._save()
            if not wait:
                self._begin_stop(node_id)
                return
        self._terminate([node_id])

    def stopping(self) -> list[str]:
        """Nodes whose stop has begun and whose process has not exited yet."""
        with self._lock:
            self._refresh()
            return sorted(self._kill_timers)

    # -- extras --------------------------------------------------------------------------
    def wait_ready(self, ids: Iterable[str] | None = None, timeout_s: float | None = None
                   ) -> list[NodeInfo]:
        """Block until the given (default: all starting) nodes are ready or have failed."""
        deadline = time.monotonic() + (timeout_s or self.ready_timeout_s)
        with self._lock:
            wanted = set(ids) if ids is not None else {
                r.id for r in self._records.values() if r.state is NodeState.STARTING}
        while True:
            infos = {i.id: i for i in self.nodes() if i.id in wanted}
            if all(i.state is not NodeState.STARTING for i in infos.values()):
                return list(infos.values())
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"nodes not ready after {timeout_s or self.ready_timeout_s:.0f}s: "
                    + ", ".join(i for i, v in infos.items() if v.state is NodeState.STARTING)
                    + f" (see {self._log_dir})")
            time.sleep(0.1)

    def kill(self, node_id: str) -> None:
        """SIGKILL a node at once (fault drills and tests); ``nodes()`` will report it failed."""
        with self._lock:
            proc = self._procs.get(node_id)
        if proc is not None:
            with contextlib.suppress(ProcessLookupError, psutil.NoSuchProcess):
                proc.send_signal(signal.SIGKILL)

    def url_of(self, record: _Record | NodeInfo | str) -> str:
        port = self._get(record).port if isinstance(record, str) else (
            record.port if isinstance(record, _Record) else int(record.url.rsplit(":", 1)[1]))
        return f"http://{self.host}:{port}"

    def close(self) -> None:
        """Stop every node this pool runs (SIGTERM, then SIGKILL after the timeout)."""
        if self._closed:
            return
        self._closed = True
        with self._lock:
            live = [r.id for r in self._records.values()
                    if r.state not in (NodeState.STOPPED,) and r.id in self._procs]
        self._terminate(live)
        self._spawner.shutdown(wait=False)
        self._http.close()
        with contextlib.suppress(Exception):
            atexit.unregister(self.close)

    def __enter__(self) -> LocalPool:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- internals -------------------------------------------------------------------------
    def _info(self, r: _Record) -> NodeInfo:
        return NodeInfo(id=r.id, url=self.url_of(r), state=r.state, since=r.since,
                        weight=r.weight, pid=r.pid, replaces=r.replaces)

    def _get(self, node_id: str) -> _Record:
        try:
            return self._records[node_id]
        except KeyError:
            raise KeyError(f"unknown node {node_id!r}") from None

    def _set_state(self, node_id: str, state: NodeState) -> None:
        record = self._records[node_id]
        if record.state is state:
            return
        check_transition(record.state, state)
        self._records[node_id] = replace(record, state=state, since=self.clock())

    def _pick_port(self) -> int:
        taken = {r.port for r in self._records.values()
                 if r.state not in (NodeState.STOPPED, NodeState.FAILED)}
        port = self.base_port
        while port in taken or not port_free(self.host, port):
            port += 1
            if port > 65535:
                raise RuntimeError(f"no free port at or above {self.base_port}")
        return port

    def _node_env(self, node_id: str, port: int) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETCAST_NODE_")}
        options = {
            "node_id": node_id, "host": self.host, "port": port,
            "database_url": self.database_url, "admin_token": self.admin_token,
            "fault_injection": "true" if self.fault_injection else "false",
            **self.node_options,
        }
        env.update({f"FLEETCAST_NODE_{k.upper()}": str(v) for k, v in options.items()})
        return env

    def _launch_one(self, replaces: str | None) -> _Record:
        node_id = f"node-{self._next_index}"
        self._next_index += 1
        port = self._pick_port()
        self._log_dir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", NODE_MODULE]
        env = self._node_env(node_id, port)
        log_path = self._log_dir / f"{node_id}.log"
        preexec = _die_with_parent(os.getpid()) if self.die_with_parent else None

        def spawn() -> subprocess.Popen[bytes]:
            with open(log_path, "ab") as log:
                return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True,
                                        preexec_fn=preexec)

        proc = self._spawner.submit(spawn).result()
        create_time = None
        with contextlib.suppress(psutil.Error):
            create_time = psutil.Process(proc.pid).create_time()
        record = _Record(id=node_id, port=port, pid=proc.pid, state=NodeState.STARTING,
                         since=self.clock(), create_time=create_time, replaces=replaces)
        self._records[node_id] = record
        self._procs[node_id] = proc
        return record

    def _alive(self, node_id: str) -> bool:
        proc = self._procs.get(node_id)
        if proc is None:
            return False
        if isinstance(proc, subprocess.Popen):
            return proc.poll() is None
        try:
            return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    def _refresh(self) -> None:
        changed = False
        for record in list(self._records.values()):
            if record.state in (NodeState.STOPPED, NodeState.FAILED):
                continue
            if record.id in self._kill_timers:  # being stopped: gone means stopped, not failed
                if not self._alive(record.id):
                    self._finish_stop(record.id)
                    changed = True
                continue
            if not self._alive(record.id):
                self._set_state(record.id, NodeState.FAILED)
                changed = True
            elif record.state is NodeState.STARTING and self._ready(record):
                self._set_state(record.id, NodeState.READY)
                changed = True
        if changed:
            self._save()

    def _ready(self, record: _Record) -> bool:
        try:
            response = self._http.get(f"{self.url_of(record)}/readyz", timeout=0.5)
            return response.status_code == 200 and response.json().get("node_id") == record.id
        except (httpx.HTTPError, ValueError):
            return False

    def _terminate(self, ids: list[str]) -> None:
        """SIGTERM, wait up to ``stop_timeout_s``, SIGKILL what is left; blocks until gone."""
        procs = {i: self._procs[i] for i in ids if i in self._procs}
        for proc in procs.values():
            self._signal(proc, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout_s
        for proc in procs.values():
            if not self._wait_exit(proc, deadline):
                self._signal(proc, signal.SIGKILL)
                self._wait_exit(proc, time.monotonic() + 5)
        with self._lock:
            for node_id in ids:
                self._finish_stop(node_id)
            self._save()

    def _begin_stop(self, node_id: str) -> None:
        """SIGTERM now and SIGKILL from a timer after ``stop_timeout_s``; returns at once.

        Called with the lock held.  ``_refresh`` marks the node stopped once its
        process has exited; a stop already begun is not begun again.
        """
        if node_id in self._kill_timers:
            return
        proc = self._procs.get(node_id)
        if proc is None or not self._alive(node_id):
            self._finish_stop(node_id)
            self._save()
            return
        self._signal(proc, signal.SIGTERM)
        timer = threading.Timer(self.stop_timeout_s, self._escalate, args=(node_id,))
        timer.daemon = True
        self._kill_timers[node_id] = timer
        timer.start()

    def _escalate(self, node_id: str) -> None:
        """The stop timeout passed: SIGKILL the node if it is still there, then record it."""
        with self._lock:
            proc = self._procs.get(node_id)
            if node_id not in self._kill_timers or proc is None:
                return
            if self._alive(node_id):
                self._signal(proc, signal.SIGKILL)
        self._wait_exit(proc, time.monotonic() + 5)
        with self._lock:
            if node_id in self._kill_timers and not self._alive(node_id):
                self._finish_stop(node_id)
                self._save()

    def _finish_stop(self, node_id: str) -> None:
        """Record a node whose process is gone as stopped (lock held; no save)."""
        timer = self._kill_timers.pop(node_id, None)
        if timer is not None:
            timer.cancel()
        record = self._records.get(node_id)
        if record is None or record.state is NodeState.STOPPED:
            return
        if record.state is NodeState.READY:
            self._set_state(node_id, NodeState.DRAINING)
        self._set_state(node_id, NodeState.STOPPED)
        self._procs.pop(node_id, None)

    @staticmethod
    def _signal(proc: subprocess.Popen[bytes] | psutil.Process, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, psutil.Error):
            proc.send_signal(sig)

    @staticmethod
    def _wait_exit(proc: subprocess.Popen[bytes] | psutil.Process, deadline: float) -> bool:
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            return True
        except (subprocess.TimeoutExpired, psutil.TimeoutExpired):
            return False
        except psutil.NoSuchProcess:
            return True

    # -- persistence and adoption -----------------------------------------------------
    def _save(self) -> None:
        self._state_file.parent.mkdir(parents=True, exist_ok=True)
        payload = {"next_index": self._next_index,
                   "nodes": [r.to_json() for r in self._records.values()]}
        tmp = self._state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(payload, indent=1))
        os.replace(tmp, self._state_file)

    def _adopt(self) -> None:
        if not self._state_file.exists():
            return
        try:
            payload = json.loads(self._state_file.read_text())
        except (OSError, ValueError):
            return
        self._next_index = int(payload.get("next_index", 1))
        for raw in payload.get("nodes", []):
            record = _Record.from_json(raw)
            if record.state in (NodeState.STOPPED, NodeState.FAILED):
                continue  # finished in an earlier run: forget it
            proc = self._find_process(record)
            self._records[record.id] = record
            if proc is None:
                self._set_state(record.id, NodeState.FAILED)
            else:
                self._procs[record.id] = proc
        self._save()

    @staticmethod
    def _find_process(record: _Record) -> psutil.Process | None:
        if record.pid is None:
            return None
        try:
            proc = psutil.Process(record.pid)
            if record.create_time is not None and abs(proc.create_time() - record.create_time) > 1:
                return None  # the pid was reused by another process
            if NODE_MODULE not in " ".join(proc.cmdline()):
                return None
            if proc.status() == psutil.STATUS_ZOMBIE:
                return None
            return proc
        except psutil.Error:
            return None

