"""Assemble and run a whole fleet: nodes, load balancer, controller loop, REST API.

``fleetcast up`` and ``fleetcast demo`` (and the integration tests) need the same
composition: a store, a ``LocalPool`` of node processes, the load balancer
process, the ``Controller`` on its schedule and the API served by uvicorn on a
thread.  ``Fleet`` owns all of them and stops exactly what it started, in the
right order (stop deciding, drain, stop nodes, stop the balancer), whether it
ends by Ctrl-C, SIGTERM or an error.

Databases: with ``storage.database_url`` set, the ledger and the controller
share it (different tables).  With the SQLite default they use two files under
``data_dir`` (``fleetcast.db`` for the ledger, ``controller.db`` for the
controller) so the control loop's writes never contend with payments.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn

from controller.api import create_app
from controller.config import Settings
from controller.lifecycle import NodeState
from controller.loop import Controller
from controller.store import Store

log = logging.getLogger(__name__)


def ensure_admin_token(settings: Settings) -> str:
    """The configured token, or one generated and kept in ``data_dir/admin_token`` (0600)."""
    if settings.security.admin_token:
        return settings.security.admin_token
    path = settings.data_dir / "admin_token"
    if path.exists():
        token = path.read_text().strip()
    else:
        token = secrets.token_urlsafe(18)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(token + "\n")
    settings.security.admin_token = token
    return token


def controller_database_url(settings: Settings) -> str:
    if settings.storage.database_url:
        return settings.storage.database_url
    return f"sqlite:///{(settings.data_dir / 'controller.db').resolve()}"


def ledger_database_url(settings: Settings) -> str:
    return settings.database_url


def setup_logging(data_dir: Path, *, console_level: int = logging.INFO) -> None:
    (data_dir / "logs").mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_fleetcast", False):
            root.removeHandler(handler)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    file_handler = logging.FileHandler(data_dir / "logs" / "controller.log")
    file_handler.setFormatter(fmt)
    file_handler.setLevel(logging.INFO)
    console = logging.StreamHandler()
    console.setFormatter(fmt)
    console.setLevel(console_level)
    for handler in (file_handler, console):
        setattr(handler, "_fleetcast", True)  # noqa: B010 - marks handlers we may replace
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    for noisy in ("httpx", "apscheduler", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class ApiServer:
    """uvicorn on a background thread (no signal handlers: the main thread owns those)."""

    def __init__(self, app: Any, host: str, port: int) -> None:
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="api", daemon=True)

    def start(self, timeout_s: float = 10.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the controller API did not start (port in use?)")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5.0)


class Fleet:
    """Everything ``fleetcast up`` runs; ``start()`` then ``stop()`` (or use as a context)."""

    def __init__(
        self,
        settings: Settings,
        *,
        node_options: dict[str, Any] | None = None,
        pool_stop_timeout_s: float = 5.0,
    ) -> None:
        self.settings = settings
        self.node_options = node_options
        self.pool_stop_timeout_s = pool_stop_timeout_s
        self.store: Store | None = None
        self.pool: Any = None
        self.balancer: Any = None
        self.controller: Controller | None = None
        self.api: ApiServer | None = None

    def start(self, *, start_loop: bool = True) -> Fleet:
        from controller.pools.local import BalancerProcess, LocalPool

        s = self.settings
        s.data_dir.mkdir(parents=True, exist_ok=True)
        token = ensure_admin_token(s)
        try:
            self.store = Store(controller_database_url(s)).create_all()
            self.pool = LocalPool(
                s.data_dir, ledger_database_url(s), s.pool.node_base_port, token,
                s.security.fault_injection, host=s.pool.host, node_options=self.node_options,
                stop_timeout_s=self.pool_stop_timeout_s,
            )
            self.balancer = BalancerProcess(
                s.balancer.port, s.balancer.strategy, token, data_dir=s.data_dir,
                host=s.balancer.host,
            )
            self.balancer.start()
            self.controller = Controller(s, self.pool, self.store)
            self.controller.recover()
            self.controller.ensure_initial_nodes()
            self.pool.wait_ready()
            self.controller.executor.push_membership(force=True)
            self.api = ApiServer(create_app(self.controller), s.api.host, s.api.port)
            self.api.start()
            if start_loop:
                self.controller.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop deciding, take every node out of the balancer, stop nodes, balancer, API."""
        if self.controller is not None:
            self.controller.stop()
        if self.pool is not None:
            try:
                for node in self.pool.nodes():
                    if node.state is NodeState.READY:
                        self.pool.drain(node.id)
                if self.controller is not None:
                    self.controller.executor.push_membership(force=True)
            except Exception:  # noqa: BLE001 - shutting down regardless
                log.exception("draining on shutdown failed")
            self.pool.close()
        if self.balancer is not None:
            self.balancer.stop()
        if self.api is not None:
            self.api.stop()
        if self.controller is not None:
            self.controller.executor.close()
        if self.store is not None:
            self.store.close()
        self.controller = self.api = self.balancer = self.pool = self.store = None

    def __enter__(self) -> Fleet:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
