"""``fleetcast simulate``: replay a demand trace against scaling policies.

Thin edge over ``controller.simulate``: parse and validate flags (errors name the
flag or the file and line), read the trace with the forecaster's CSV reader, run
the policies with a progress bar on a terminal, write RESULT.json and, with
``--report-dir``, the markdown table and plot.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

import click

from controller.budget import DEFAULT_BUDGET, DEFAULT_MAX_HEADROOM, UNDERPROVISION_UTILIZATION
from controller.cli.forecast_cmd import check_freq
from controller.cli.output import atomic_directory_output, atomic_output, check_output
from controller.margin import DEFAULT_CEILING, DEFAULT_MAX_FACTOR

T = TypeVar("T")

ALL_POLICIES = "predictive,reactive,static,oracle"


def _policies(ctx: click.Context, param: click.Parameter, value: str) -> list[str]:
    from controller.simulate import POLICIES

    names = [p.strip() for p in value.split(",") if p.strip()]
    if not names:
        raise click.BadParameter("give at least one policy", ctx=ctx, param=param)
    for name in names:
        if name not in POLICIES:
            raise click.BadParameter(
                f"unknown policy {name!r}; choose from {', '.join(POLICIES)}", ctx=ctx, param=param
            )
    return list(dict.fromkeys(names))


def _ceiling(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if 0 < value < 1:
        raise click.BadParameter(f"{value:g} is below 1: the bound is a multiple of the "
                                 "recent peak, at least 1 (or 0 = off)", ctx, param)
    return value


def _tqdm_progress(items: Iterable[T], desc: str, total: int) -> Iterable[T]:
    from tqdm import tqdm

    return tqdm(items, desc=desc, total=total, leave=False, unit="step", mininterval=0.5)


@click.command("simulate")
@click.option(
    "--trace",
    "trace_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="CSV of counts per step (time and value columns), steps of at most 7 h: the "
         "first 30% (at most two weeks, at least 48 steps) trains the forecaster.",
)
@click.option(
    "--time-col",
    default=None,
    help="Time column (any case). Default: timestamp, or the first of a two-column file.",
)
@click.option(
    "--value-col",
    default=None,
    help="Count column (any case). Default: value, or the second of a two-column file.",
)
@click.option(
    "--freq",
    default=None,
    callback=check_freq,
    help="Resample raw or finer data to this step (e.g. 5min).",
)
@click.option(
    "--agg",
    type=click.Choice(["sum", "mean", "max", "count"]),
    default="sum",
    show_default=True,
    help="Aggregation when resampling with --freq; count counts rows (events) per step, "
    "so an event log of bare timestamps needs no value column.",
)
@click.option(
    "--tz",
    default=None,
    help="Time zone of naive timestamps, e.g. Europe/London: read them as that zone's local "
    "time (daylight-saving changes included).",
)
@click.option(
    "--policy",
    "policies",
    default=ALL_POLICIES,
    show_default=True,
    callback=_policies,
    help="Comma-separated policies to run.",
)
@click.option(
    "--node-capacity",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Requests per second one node serves (this or --peak-nodes is required).",
)
@click.option(
    "--peak-nodes",
    type=click.IntRange(min=1),
    default=None,
    help="Instead of --node-capacity: size the nodes so the trace's busiest step needs this "
    "many at the 80 % line where a step counts as under-provisioned.",
)
@click.option(
    "--startup-seconds",
    type=click.FloatRange(min=0),
    default=300.0,
    show_default=True,
    help="Seconds from launch to ready.",
)
@click.option(
    "--tick-seconds",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Control tick; must divide the trace step. Default: the trace step.",
)
@click.option(
    "--target-utilization",
    type=click.FloatRange(min=0, max=1, min_open=True),
    default=0.7,
    show_default=True,
    help="Per-node utilization the policies aim at.",
)
@click.option(
    "--quantile",
    type=click.FloatRange(min=0, max=1, min_open=True, max_open=True),
    default=0.9,
    show_default=True,
    help="Forecast quantile the predictive policy sizes for (0.9 = upper end of the 80 % band); "
    "with a capacity budget, the quantile it starts from.",
)
@click.option(
    "--capacity-budget",
    type=click.FloatRange(min=0),
    default=DEFAULT_BUDGET,
    show_default=True,
    help="Predictive adapts its quantile so its node-hours stay near this multiple of the "
    "hindsight minimum (the oracle's); 0 turns it off (fixed --quantile).",
)
@click.option(
    "--capacity-headroom",
    type=click.FloatRange(min=1, max=10),
    default=DEFAULT_MAX_HEADROOM,
    show_default=True,
    help="Second stage of the capacity budget: once the quantile sits at its 0.995 "
    "ceiling with budget to spare, first lower the HPA floor's target utilization by up to "
    "this factor, then multiply the forecast by up to this (1 = off).",
)
@click.option(
    "--forecast-carry",
    type=click.FloatRange(min=1, max=3),
    default=DEFAULT_MAX_FACTOR,
    show_default=True,
    help="After a step whose load came in above the forecast's 80 % quantile, predictive "
    "multiplies the forecast by that load over the forecast's median, up to this (1 = off).",
)
@click.option(
    "--forecast-ceiling",
    type=click.FloatRange(min=0, max=10),
    default=DEFAULT_CEILING,
    callback=_ceiling,
    show_default=True,
    help="Predictive sizes for at most this multiple of the highest load of the last week, "
    "so a forecast thrown off by a data dropout cannot launch a fleet no recent load needed; "
    "the reactive floor still meets real surges (0 = off).",
)
@click.option(
    "--min-nodes",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Fewest nodes any policy keeps.",
)
@click.option(
    "--max-nodes",
    type=click.IntRange(min=1),
    default=10_000,
    show_default=True,
    help="Most nodes any policy runs.",
)
@click.option(
    "--stabilization-seconds",
    type=click.FloatRange(min=0),
    default=300.0,
    show_default=True,
    help="Scale-in stabilization window.",
)
@click.option(
    "--refit-every-hours",
    type=click.FloatRange(min=0, min_open=True),
    default=168.0,
    show_default=True,
    help="Trace time between forecaster refits.",
)
@click.option(
    "--max-refits",
    type=click.IntRange(min=0),
    default=12,
    show_default=True,
    help="Most forecaster refits over the whole run (bounds its time); between refits the "
    "model is only updated with each new point.",
)
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="RESULT.json to write.",
)
@click.option(
    "--report-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Also write simulate.md and simulate.png here.",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bars (default: on when stderr is a terminal).",
)
def simulate(
    trace_path: str,
    time_col: str | None,
    value_col: str | None,
    freq: str | None,
    agg: str,
    tz: str | None,
    policies: list[str],
    node_capacity: float | None,
    peak_nodes: int | None,
    startup_seconds: float,
    tick_seconds: float | None,
    target_utilization: float,
    quantile: float,
    capacity_budget: float,
    capacity_headroom: float,
    forecast_carry: float,
    forecast_ceiling: float,
    min_nodes: int,
    max_nodes: int,
    stabilization_seconds: float,
    refit_every_hours: float,
    max_refits: int,
    out_path: str,
    report_dir: str | None,
    progress: bool | None,
) -> None:
    """Replay a trace of counts per step against scaling policies.

    predictive (the planner with the ARIMA forecaster), reactive (the Kubernetes
    HPA algorithm), static (the training peak) and oracle (perfect foresight).
    Writes per policy underprovisioned_fraction, node_hours, scaling_actions and
    peak_nodes under {"policies": {...}} in RESULT.json.
    """
    from controller.simulate import SimSettings, TraceError, capacity_for_peak
    from controller.simulate import simulate as run
    from forecaster.busdays import on_business_days
    from forecaster.io import SeriesError, read_series

    if 0 < capacity_budget < 1:
        raise click.BadParameter(
            f"{capacity_budget:g} is below 1: the budget is a multiple of the minimum node-hours "
            "(e.g. 1.25), or 0 for a fixed quantile",
            param_hint="--capacity-budget",
        )
    if (node_capacity is None) == (peak_nodes is None):
        raise click.BadParameter(
            "give exactly one of --node-capacity (requests per second per node) and "
            "--peak-nodes (nodes the busiest step needs)",
            param_hint="--node-capacity",
        )
    if min_nodes > max_nodes:
        raise click.BadParameter(
            f"--min-nodes {min_nodes} is above --max-nodes {max_nodes}", param_hint="--min-nodes"
        )
    check_output(out_path, "--out", inputs=[trace_path])
    if report_dir:
        check_output(Path(report_dir) / "simulate.md", "--report-dir")
    try:
        counts = read_series(trace_path, time_col, value_col, freq=freq, agg=agg, tz=tz)
    except SeriesError as exc:
        raise click.BadParameter(str(exc), param_hint=exc.option or "--trace") from None
    if on_business_days(counts):
        raise click.BadParameter(
            f"{trace_path}: rows on weekdays only (business days); the simulator replays "
            "fixed steps: read it with --freq 1D (weekend days then count as empty)",
            param_hint="--trace",
        )
    for note in counts.attrs.get("notes", []):
        click.echo(f"note: {trace_path}: {note}", err=True)
    if node_capacity is None:
        assert peak_nodes is not None
        node_capacity = capacity_for_peak(counts, peak_nodes)
        if node_capacity is None:
            raise click.BadParameter(
                f"{trace_path}: every count is 0, so no node size makes the peak need "
                f"{peak_nodes} nodes; give --node-capacity",
                param_hint="--peak-nodes",
            )
        click.echo(
            f"node capacity {node_capacity:.6g} rps: the busiest step needs {peak_nodes} nodes "
            f"at {UNDERPROVISION_UTILIZATION:.0%}",
            err=True,
        )
    settings = SimSettings(
        node_capacity_rps=node_capacity,
        startup_seconds=startup_seconds,
        tick_seconds=tick_seconds,
        target_utilization=target_utilization,
        forecast_quantile=quantile,
        capacity_budget=capacity_budget or None,
        capacity_headroom=capacity_headroom,
        forecast_carry=forecast_carry,
        forecast_ceiling=forecast_ceiling or None,
        min_nodes=min_nodes,
        max_nodes=max_nodes,
        scale_in_stabilization_seconds=stabilization_seconds,
        refit_every_seconds=refit_every_hours * 3600.0,
        max_refits=max_refits,
    )
    show = sys.stderr.isatty() if progress is None else progress
    try:
        result = run(counts, settings, policies, progress=_tqdm_progress if show else None)
    except TraceError as exc:
        if exc.option:  # a flag at fault: its value first, the trace after
            raise click.BadParameter(f"{exc} ({trace_path})", param_hint=exc.option) from None
        raise click.BadParameter(f"{trace_path}: {exc}", param_hint="--trace") from None
    except (ValueError, ArithmeticError) as exc:
        raise click.ClickException(f"simulation failed on {trace_path}: {exc}") from None
    data: dict[str, Any] = result.to_json()
    data["trace"]["path"] = str(trace_path)
    out = Path(out_path)
    with atomic_output(out, "--out") as partial:
        partial.write_text(json.dumps(data, indent=2) + "\n")
    from controller.sim_report import markdown_table, write_report

    click.echo(markdown_table(data), nl=False)
    click.echo(f"wrote {out} in {result.elapsed_seconds:.1f} s")
    if report_dir:
        with atomic_directory_output(Path(report_dir), "--report-dir") as partial:
            names = [p.name for p in write_report(result, partial)]
        click.echo("wrote " + ", ".join(str(Path(report_dir) / n) for n in names))
