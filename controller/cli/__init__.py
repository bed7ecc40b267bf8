"""The ``fleetcast`` command line.

Subcommands live in their own modules and are imported only when called, so
``fleetcast --help`` stays fast and ``fleetcast gateway`` never pays for
statsmodels.  Each module exposes one click command or group.
"""

from __future__ import annotations

import importlib

import click

# name -> "module:attribute"; each module owns its command's flags and help.
_GW = "controller.cli.gateway_cmd"
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "gateway": (f"{_GW}:gateway", "Run the data plane only: load balancer + N nodes."),
    "node": (f"{_GW}:node", "Run one payment node (used by the local pool)."),
    "balancer": (f"{_GW}:balancer", "Run the load balancer alone."),
    "forecast": (
        "controller.cli.forecast_cmd:forecast",
        "Forecast load from a CSV: predict, backtest.",
    ),
    "detect": (
        "controller.cli.detect_cmd:detect",
        "Find faulty nodes in a fleet metrics CSV: run, eval.",
    ),
    "train": ("controller.cli.train_cmd:train", "Offline training: forecaster or detector model."),
    "simulate": (
        "controller.cli.simulate_cmd:simulate",
        "Replay a demand trace against scaling policies.",
    ),
    "up": ("controller.cli.up_cmd:up", "Run controller + load balancer + nodes."),
    "demo": (
        "controller.cli.up_cmd:demo",
        "Run everything with replayed traffic and a fault; write a report.",
    ),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in SUBCOMMANDS:
            return None
        target, _ = SUBCOMMANDS[cmd_name]
        module_name, attr = target.split(":")
        module = importlib.import_module(module_name)
        command = getattr(module, attr)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, SUBCOMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="fleetcast")
def main() -> None:
    """fleetcast: forecast-driven autoscaling and fault localization for payment nodes."""
