"""``fleetcast up`` and ``fleetcast demo``: run the whole system from the command line.

``up`` runs the controller, the load balancer and the nodes from the embedded
defaults or a TOML file (plus ``FLEETCAST_*`` environment), validated before
anything starts; Ctrl-C or SIGTERM drains and stops everything it started.
``demo`` does the same with built-in traffic (a time-compressed day of real-shaped
load), a scheduled fault and a live console view, and ends with a report.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import click

from controller.config import ConfigError, Settings, load_settings


def _load(config: Path | None, overrides: dict[str, Any] | None = None) -> Settings:
    try:
        return load_settings(config, overrides=overrides)
    except ConfigError as exc:
        if str(exc).startswith(f"{config}:") and "cannot read" in str(exc):
            raise click.FileError(str(config), hint=str(exc)) from None
        raise click.UsageError(str(exc)) from None


def _check_ports(settings: Settings) -> None:
    from controller.pools.local import port_free

    for flag, host, port in (
        ("balancer.port", settings.balancer.host, settings.balancer.port),
        ("api.port", settings.api.host, settings.api.port),
    ):
        if not port_free(host, port):
            raise click.UsageError(f"{flag}: port {port} on {host} is already in use")


class _Stop:
    """Turns SIGINT/SIGTERM into an event the main thread waits on."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signal: int | None = None

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self._handler)
        signal.signal(signal.SIGINT, self._handler)

    def _handler(self, signum: int, _frame: FrameType | None) -> None:
        self.signal = signum
        self.event.set()


@click.command()
@click.option("--config", "config", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=None, help="TOML settings file (keys as in DESIGN's Configuration).")
def up(config: Path | None) -> None:
    """Run controller + load balancer + nodes until Ctrl-C / SIGTERM."""
    from controller.runtime import Fleet, setup_logging

    settings = _load(config)
    _check_ports(settings)
    setup_logging(settings.data_dir)
    stop = _Stop()
    stop.install()
    fleet = Fleet(settings)
    try:
        fleet.start()
    except (TimeoutError, RuntimeError, OSError) as exc:
        raise click.ClickException(f"start-up failed: {exc}") from None
    s = settings
    click.echo(f"load balancer  {s.balancer_url}   (send payments here)")
    click.echo(f"controller API {s.api_url}   (OpenAPI at {s.api_url}/docs)")
    click.echo(f"nodes          {s.pool.initial_nodes} initial, "
               f"{s.pool.min_nodes}..{s.pool.max_nodes} from port {s.pool.node_base_port}; "
               f"tick {s.controller.tick_seconds:g}s")
    if not (config and "admin_token" in Path(config).read_text()):
        click.echo(f"admin token    in {s.data_dir / 'admin_token'} (or security.admin_token)")
    click.echo(f"data dir       {s.data_dir.resolve()}")
    click.echo("running; Ctrl-C to drain and stop")
    try:
        while not stop.event.wait(1.0):
            if fleet.balancer is not None and not fleet.balancer.alive():
                raise click.ClickException("the load balancer process exited; stopping")
    finally:
        click.echo("draining and stopping everything...")
        fleet.stop()
        click.echo("stopped")


@click.command()
@click.option("--config", "config", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=None, help="TOML settings file; the demo overrides tick and recovery timing.")
@click.option("--minutes", type=click.FloatRange(0.5, 60), default=4.0, show_default=True,
              help="Wall-clock length of the replayed day.")
@click.option("--trace", "trace_path", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=None, help="Per-minute load CSV (default: World Cup 98 if present, else "
              "the generated trace in data/).")
@click.option("--peak-rps", type=click.FloatRange(5, 1000), default=60.0, show_default=True,
              help="Payments per second at the day's peak.")
@click.option("--fault", type=click.Choice(["latency", "errors", "cpu", "memory", "hang", "crash"]),
              default="latency", show_default=True, help="Fault injected into one node.")
@click.option("--fault-at", type=click.FloatRange(0.05, 0.95), default=0.55, show_default=True,
              help="When to inject the fault, as a fraction of the demo.")
@click.option("--tick-seconds", type=click.FloatRange(0.5, 60), default=2.0, show_default=True,
              help="Wall-clock seconds between control ticks.")
@click.option("--quiet", is_flag=True, help="No live console view (the report is still written).")
def demo(config: Path | None, minutes: float, trace_path: Path | None, peak_rps: float,
         fault: str, fault_at: float, tick_seconds: float, quiet: bool) -> None:
    """Run everything with a replayed day of traffic and a fault; write a report."""
    from controller.demo import DemoOptions, demo_overrides, run_demo

    settings = _load(config, demo_overrides(tick_seconds, peak_rps))
    _check_ports(settings)
    stop = _Stop()
    stop.install()
    options = DemoOptions(minutes=minutes, trace_path=trace_path, peak_rps=peak_rps,
                          fault=fault, fault_at=fault_at, quiet=quiet)
    try:
        report = run_demo(settings, options, stop.event, echo=click.echo)
    except (TimeoutError, RuntimeError, OSError, ValueError) as exc:
        raise click.ClickException(f"demo failed: {exc}") from None
    click.echo(f"report: {report.text_path}")
    click.echo(f"plot:   {report.plot_path}")
