"""``fleetcast gateway|node|balancer``: run the data plane without the controller.

``gateway`` starts the load balancer and N nodes (a ``LocalPool``), pushes the
membership, keeps it in sync, starts a node in place of each one that dies on its
own (``--no-replace`` turns that off; at most 5 in a minute, so a node that cannot
start never becomes a fork loop: ``controller.pools.supervise``), and stops
everything on Ctrl-C or SIGTERM.  ``--load SECONDS`` then runs the built-in load generator against
the balancer and prints throughput and latency before shutting down.
``node`` and ``balancer`` run one process each (the pool uses the same modules).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import signal
import time
from pathlib import Path
from types import FrameType
from typing import Any

import click
from pydantic import ValidationError

STRATEGY_CHOICES = ("round_robin", "random", "weighted_round_robin", "least_request", "peak_ewma")


def _settings(cls: Any, **given: Any) -> Any:
    """Build settings from flags (None = not given: env/default), naming a bad flag."""
    try:
        return cls(**{k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        flag = "--" + str(first["loc"][0]).replace("_", "-") if first["loc"] else "settings"
        raise click.BadParameter(first["msg"], param_hint=flag) from None


@click.command()
@click.option("--node-id", default=None, help="Node id reported in /healthz and payments.")
@click.option("--host", default=None, help="Bind address (default 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port (default 8101).")
@click.option("--database-url", default=None, help="SQLAlchemy URL (default SQLite under ./var).")
@click.option("--admin-token", default=None, envvar="FLEETCAST_NODE_ADMIN_TOKEN",
              help="Bearer token for /admin routes.")
@click.option("--enable-fault-injection", "fault_injection", is_flag=True, default=None,
              help="Allow POST /admin/faults (with the token).")
@click.option("--processing-latency-ms", type=click.FloatRange(0), default=None,
              help="Simulated issuer latency per payment.")
def node(**flags: Any) -> None:
    """Run one payment node."""
    from gateway.node import run_node
    from gateway.settings import NodeSettings

    settings = _settings(NodeSettings, **flags)
    click.echo(f"node {settings.node_id} on http://{settings.host}:{settings.port} "
               f"(fault injection {'on' if settings.fault_injection else 'off'})")
    run_node(settings)


@click.command()
@click.option("--host", default=None, help="Bind address (default 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port (default 8000).")
@click.option("--strategy", type=click.Choice(STRATEGY_CHOICES), default=None,
              help="Backend choice rule (default least_request).")
@click.option("--admin-token", default=None, envvar="FLEETCAST_LB_ADMIN_TOKEN",
              help="Bearer token for PUT /admin/backends.")
@click.option("--backend", "backends", multiple=True, metavar="ID=URL",
              help="Initial backend (repeatable), e.g. node-1=http://127.0.0.1:8101.")
def balancer(backends: tuple[str, ...], **flags: Any) -> None:
    """Run the load balancer alone (membership via PUT /admin/backends)."""
    from pydantic import ValidationError

    from gateway.balancer import BackendIn, run_balancer
    from gateway.settings import BalancerSettings

    initial = []
    for spec in backends:
        backend_id, sep, url = spec.partition("=")
        if not sep or not backend_id or not url.startswith("http"):
            raise click.BadParameter(f"expected ID=URL, got {spec!r}", param_hint="--backend")
        try:
            initial.append(BackendIn(id=backend_id, url=url))
        except ValidationError as exc:  # the rules PUT /admin/backends applies
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                                 for e in exc.errors(include_input=False))
            raise click.BadParameter(f"{spec!r}: {problems}", param_hint="--backend") from None
    settings = _settings(BalancerSettings, **flags)
    click.echo(f"balancer on http://{settings.host}:{settings.port} strategy={settings.strategy}"
               f" backends={len(initial)}")
    run_balancer(settings, initial)


@click.command()
@click.option("--nodes", "node_count", type=click.IntRange(1, 64), default=3, show_default=True,
              help="How many payment nodes.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True,
              help="Load balancer port.")
@click.option("--node-base-port", type=click.IntRange(1, 65535), default=8101,
              show_default=True, help="First node port (ports in use are skipped).")
@click.option("--strategy", type=click.Choice(STRATEGY_CHOICES), default="least_request",
              show_default=True)
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("./var"), show_default=True, help="SQLite file, logs, pool state.")
@click.option("--database-url", default=None,
              envvar=["FLEETCAST_DATABASE_URL", "FLEETCAST_STORAGE_DATABASE_URL"],
              help="Ledger database (default SQLite under --data-dir).")
@click.option("--admin-token", default=None, envvar="FLEETCAST_SECURITY_ADMIN_TOKEN",
              help="Bearer token for admin routes (default: random, printed).")
@click.option("--enable-fault-injection", is_flag=True, help="Allow /admin/faults on nodes.")
@click.option("--processing-latency-ms", type=click.FloatRange(0), default=None,
              help="Simulated issuer latency per payment on each node.")
@click.option("--load", "load_seconds", type=click.FloatRange(0, min_open=True), default=None,
              help="Run the built-in load generator for SECONDS, print results, then stop.")
@click.option("--load-concurrency", type=click.IntRange(1, 1024), default=32, show_default=True,
              help="Closed-loop clients of the built-in load (each retries with its key).")
@click.option("--replace/--no-replace", default=True, show_default=True,
              help="Start a node in place of each one that dies (at most 5 a minute).")
def gateway(node_count: int, port: int, node_base_port: int, strategy: str, data_dir: Path,
            database_url: str | None, admin_token: str | None, enable_fault_injection: bool,
            processing_latency_ms: float | None, load_seconds: float | None,
            load_concurrency: int, replace: bool) -> None:
    """Run the data plane only: load balancer + N payment nodes (no controller)."""
    from controller.lifecycle import NodeState
    from controller.pools.local import BalancerProcess, LocalPool, port_free

    if not port_free("127.0.0.1", port):
        raise click.BadParameter(f"port {port} is already in use", param_hint="--port")
    if node_base_port <= port < node_base_port + node_count:
        raise click.BadParameter("overlaps the node port range", param_hint="--port")
    data_dir.mkdir(parents=True, exist_ok=True)
    token = admin_token or secrets.token_urlsafe(18)
    options = {} if processing_latency_ms is None else {
        "processing_latency_ms": processing_latency_ms}

    def _stop(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    pool = LocalPool(data_dir, database_url, node_base_port, token, enable_fault_injection,
                     node_options=options)
    lb = BalancerProcess(port, strategy, token, data_dir=data_dir)
    try:
        lb.start()
        existing = [n for n in pool.nodes() if n.state in (NodeState.READY, NodeState.STARTING)]
        if len(existing) < node_count:
            pool.launch(node_count - len(existing))
        ready = pool.wait_ready()
        failed = [n for n in ready if n.state is not NodeState.READY]
        if failed:
            raise click.ClickException(_failure_message(failed[0].id, data_dir))
        lb.push(pool.nodes())
        click.echo(f"load balancer  {lb.url}  strategy={strategy}")
        for n in ready:
            click.echo(f"  {n.id:<8} {n.url}  pid={n.pid}  {n.state.value}")
        if not admin_token:
            click.echo(f"admin token    {token}")
        click.echo(f"data dir       {data_dir.resolve()}")
        if load_seconds is not None:
            _run_load(lb.url, load_seconds, load_concurrency)
            return
        click.echo("running; Ctrl-C to stop")
        _watch(pool, lb, node_count if replace else None)
    except KeyboardInterrupt:
        click.echo("stopping...")
    except (TimeoutError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        lb.stop()
        pool.close()


def _failure_message(node_id: str, data_dir: Path) -> str:
    log = data_dir / "logs" / f"{node_id}.log"
    try:
        lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        lines = []
    cause = next((ln for ln in reversed(lines) if ln.startswith("fleetcast node:")), "")
    cause = cause or next((ln for ln in reversed(lines) if "Error" in ln), "no output")
    hint = " (check --database-url)" if "database" in cause else ""
    return f"{node_id} failed to start{hint}: {cause.strip()[:300]} (log: {log})"


def _watch(pool: Any, lb: Any, wanted: int | None) -> None:
    """Keep the balancer's membership in line with the pool (a dead node drops out) and,
    unless ``wanted`` is None, keep ``wanted`` nodes up by replacing the ones that die."""
    from controller.pools.supervise import RestartBudget, replacements

    budget = RestartBudget()
    held_back = False
    last: list[tuple[str, str]] = []
    while True:
        time.sleep(1.0)
        nodes = pool.nodes()
        if wanted is not None:
            for replaced in replacements(nodes, wanted):
                now = time.monotonic()
                if not budget.allow(now):
                    if not held_back:
                        wait = (budget.next_at() or now) - now
                        click.echo(f"  {budget.burst} nodes started in the last "
                                   f"{budget.window_s:g}s; the next in {wait:.0f}s "
                                   f"(logs: {pool.data_dir / 'logs'})", err=True)
                    held_back = True
                    break
                held_back = False
                new = pool.launch(1, replaces=replaced)[0]
                click.echo(f"  {replaced} died; starting {new.id} in its place" if replaced
                           else f"  starting {new.id} to keep {wanted} nodes")
            nodes = pool.nodes()
        current = sorted((n.id, n.state.value) for n in nodes)
        if current != last:
            lb.push(nodes)
            for node_id, state in current:
                if (node_id, state) not in last and (state != "ready" or last):
                    click.echo(f"  {node_id} is {state}")
            last = current
        if not lb.alive():
            raise click.ClickException("the load balancer process exited")


def _run_load(url: str, seconds: float, concurrency: int) -> None:
    from gateway.loadgen import run_load

    click.echo(f"load: {concurrency} closed-loop clients for {seconds:g}s ...")
    report = asyncio.run(run_load(url, None, seconds, concurrency=concurrency))
    click.echo(json.dumps(report.summary(), indent=2))
