"""Human-readable output of a simulation: a markdown table and a PNG plot.

``fleetcast simulate --report-dir D`` and the benchmark script both write these,
so what the README shows is exactly what a user gets on their own trace.  The
plot puts demand in the unit that matters for sizing (nodes needed at the 80 %
under-provisioning line) on the same axis as each policy's ready nodes, with the
under-provisioned ticks marked per policy underneath.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from controller.simulate import UNDERPROVISION_UTILIZATION, SimResult

COLORS = {
    "predictive": "tab:blue",
    "reactive": "tab:orange",
    "static": "tab:gray",
    "oracle": "tab:green",
}


def markdown_table(result: SimResult | dict[str, Any], title: str | None = None) -> str:
    """The per-policy table; accepts a ``SimResult`` or its ``to_json()``."""
    data = result.to_json() if isinstance(result, SimResult) else result
    policies = data["policies"]
    lines = []
    if title:
        lines += [f"### {title}", ""]
    trace = data["trace"]
    settings = data["settings"]
    lines.append(
        f"{trace['points']} steps of {trace['step_seconds']:g} s ({trace['start']} to "
        f"{trace['end']}); trained on the first {trace['train_points']}, scored on "
        f"{trace['evaluation_ticks']} ticks of {settings['tick_seconds']:g} s; node capacity "
        f"{settings['node_capacity_rps']:g} rps, start-up {settings['startup_seconds']:g} s, "
        f"target utilization {settings['target_utilization']:g}, "
        + _quantile_note(settings, policies.get("predictive"))
    )
    lines.append("")
    lines.append(
        "| policy | under-provisioned | node-hours | × oracle | scaling actions | peak nodes |"
    )
    lines.append("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, s in policies.items():
        ratio = s.get("node_hours_vs_oracle")
        lines.append(
            f"| {name} | {s['underprovisioned_fraction']:.2%} ({s['underprovisioned_steps']}) "
            f"| {s['node_hours']:.1f} | {'' if ratio is None else f'{ratio:.3f}'} "
            f"| {s['scaling_actions']} | {s['peak_nodes']} |"
        )
    onsets = trace.get("burst_onsets")
    short = [(name, s) for name, s in policies.items()
             if s.get("underprovisioned_steps") and "underprovisioned_onsets" in s]
    if onsets is not None and short:
        lines += ["", (
            f"Burst onsets (ticks that need more nodes than any tick of the hour before; the "
            f"load just seen does not announce them): {onsets}. Short ticks that were onsets: "
            + ", ".join(f"{name} {s['underprovisioned_onsets']} of {s['underprovisioned_steps']}"
                        for name, s in short) + "."
        )]
    return "\n".join(lines) + "\n"


def _quantile_note(settings: dict[str, Any], predictive: dict[str, Any] | None) -> str:
    budget = settings.get("capacity_budget")
    if not budget:
        return f"forecast quantile {settings['forecast_quantile']:g}."
    text = f"capacity budget {budget:g} × the hindsight minimum"
    params = (predictive or {}).get("params", {})
    if "quantile_median" in params:
        text += (
            f" (forecast quantile adapted from {settings['forecast_quantile']:g}: median "
            f"{params['quantile_median']:.3f}, 10-90 % {params['quantile_p10']:.3f}-"
            f"{params['quantile_p90']:.3f})"
        )
    cap = settings.get("capacity_headroom", 1)
    if params.get("floor_headroom_share"):
        text += (
            f", then a floor headroom up to {cap:g} × (the reactive floor's target divided by "
            f"a mean {params['floor_headroom_mean']:.2f}, above 1 on "
            f"{params['floor_headroom_share']:.0%} of ticks)"
        )
    if params.get("headroom_share"):
        text += (
            f", then a forecast headroom up to {cap:g} × "
            f"(mean {params['headroom_mean']:.2f}, above 1 on {params['headroom_share']:.0%} "
            "of ticks)"
        )
    return text + "."


def plot_result(result: SimResult, path: str | Path, title: str | None = None) -> Path:
    """Demand (as nodes needed), ready nodes per policy, under-provisioned ticks."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = list(result.runs)
    fig, (top, bottom) = plt.subplots(
        2,
        1,
        figsize=(12, 6.5),
        sharex=True,
        gridspec_kw={"height_ratios": [4, max(1, len(names)) * 0.45]},
    )
    times = result.tick_times
    needed = result.demand_rps / (result.settings.node_capacity_rps * UNDERPROVISION_UTILIZATION)
    top.fill_between(
        times, needed, step="post", color="black", alpha=0.12, label="demand (nodes at 80 %)"
    )
    for name in names:
        top.step(
            times,
            result.runs[name].ready,
            where="post",
            lw=0.9,
            color=COLORS.get(name),
            label=f"{name} ready nodes",
        )
    top.set_ylabel("nodes")
    top.legend(loc="upper left", fontsize=8, ncol=2)
    top.set_title(title or "demand and ready nodes per policy")
    for row, name in enumerate(names):
        hits = times[result.runs[name].underprovisioned]
        bottom.scatter(
            hits, np.full(len(hits), row), marker="|", s=60, color=COLORS.get(name), lw=0.8
        )
    bottom.set_yticks(range(len(names)), names, fontsize=8)
    bottom.set_ylim(-0.7, len(names) - 0.3)
    bottom.set_xlabel("time")
    bottom.set_title("under-provisioned ticks", fontsize=9)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_report(result: SimResult, directory: str | Path, name: str = "simulate") -> list[Path]:
    """``<name>.md`` (table) and ``<name>.png`` (plot) under ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    table = directory / f"{name}.md"
    table.write_text("# Simulation\n\n" + markdown_table(result) + f"\n![plot]({name}.png)\n")
    return [table, plot_result(result, directory / f"{name}.png")]
