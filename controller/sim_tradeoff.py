"""The cost/risk trade-off: node-hours against under-provisioning, per policy knob.

One operating point says little: any policy buys fewer under-provisioned steps
with more nodes.  The honest comparison is the curve each policy traces as its
knob turns — the forecast quantile for ``predictive``, the target utilization
for the HPA ``reactive`` baseline — and whether one curve lies below the other.
The forecasts do not depend on the policy's decisions, so one forecast tape
serves every quantile; each point is a full planner run over the trace.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from controller.simulate import (
    Progress,
    SimSettings,
    Trace,
    forecast_tape,
    resolve_tick,
    run_oracle,
    run_planner,
)
from forecaster.types import Forecast

QUANTILES = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.975, 0.99)
UTILIZATIONS = (0.5, 0.6, 0.7, 0.8, 0.9)


def tradeoff(
    counts: pd.Series,
    settings: SimSettings,
    quantiles: Sequence[float] = QUANTILES,
    utilizations: Sequence[float] = UTILIZATIONS,
    tape: list[Forecast] | None = None,
    progress: Progress[Any] | None = None,
) -> dict[str, Any]:
    """Points ``{policy, knob, value, node_hours, underprovisioned_fraction}`` plus the oracle."""
    trace = Trace.split(counts, settings)
    settings = resolve_tick(settings, trace)
    info: dict[str, Any] = {}
    if tape is None:
        tape, info = forecast_tape(trace, settings, progress)
    points = []
    for q in quantiles:
        run = run_planner("predictive", trace, settings, settings.policy(forecast_quantile=q), tape)
        points.append(_point("predictive", "forecast_quantile", q, run.summary()))
    for u in utilizations:
        tuned = replace(settings, target_utilization=u)
        policy = tuned.policy(scale_up_rate_limit=True)
        run = run_planner("reactive", trace, tuned, policy, None)
        points.append(_point("reactive", "target_utilization", u, run.summary()))
    oracle = run_oracle(trace, settings).summary()
    return {
        "points": points,
        "oracle": {
            "node_hours": oracle["node_hours"],
            "underprovisioned_fraction": oracle["underprovisioned_fraction"],
        },
        "predictive_target_utilization": settings.target_utilization,
        "forecaster": info,
    }


def _point(policy: str, knob: str, value: float, summary: dict[str, Any]) -> dict[str, Any]:
    return {
        "policy": policy,
        "knob": knob,
        "value": value,
        "node_hours": summary["node_hours"],
        "underprovisioned_fraction": summary["underprovisioned_fraction"],
        "scaling_actions": summary["scaling_actions"],
    }


def dominates(curve: dict[str, Any]) -> bool:
    """True when every reactive point is matched or beaten by some predictive point:
    no more node-hours and no more under-provisioning."""
    pred = [p for p in curve["points"] if p["policy"] == "predictive"]
    reac = [p for p in curve["points"] if p["policy"] == "reactive"]
    return all(
        any(
            p["node_hours"] <= r["node_hours"]
            and p["underprovisioned_fraction"] <= r["underprovisioned_fraction"]
            for p in pred
        )
        for r in reac
    )


def plot_tradeoff(curves: dict[str, dict[str, Any]], path: str | Path) -> Path:
    """One panel per trace: node-hours (× oracle) against under-provisioned fraction."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, len(curves), figsize=(6 * len(curves), 4.6), squeeze=False)
    for ax, (title, curve) in zip(axes[0], curves.items(), strict=True):
        base = curve["oracle"]["node_hours"]
        for policy, color, marker in (
            ("predictive", "tab:blue", "o"),
            ("reactive", "tab:orange", "s"),
        ):
            pts = [p for p in curve["points"] if p["policy"] == policy]
            xs = [p["node_hours"] / base for p in pts]
            ys = [100 * p["underprovisioned_fraction"] for p in pts]
            label = (
                "predictive (forecast quantile)"
                if policy == "predictive"
                else "reactive HPA (target utilization)"
            )
            ax.plot(xs, ys, marker=marker, color=color, label=label)
            for p, x, y in zip(pts, xs, ys, strict=True):
                ax.annotate(
                    f"{p['value']:g}",
                    (x, y),
                    textcoords="offset points",
                    xytext=(4, 4),
                    fontsize=7,
                    color=color,
                )
        ax.scatter([1.0], [0.0], marker="*", s=140, color="tab:green", label="oracle", zorder=5)
        ax.axvline(1.3, color="gray", ls=":", lw=0.8)
        ax.set_xlabel("node-hours (× oracle)")
        ax.set_ylabel("under-provisioned steps (%)")
        ax.set_title(title)
        ax.set_yscale("symlog", linthresh=1.0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def tradeoff_table(curves: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| trace | policy | knob | value | node-hours × oracle | under-provisioned |",
        "| --- | --- | --- | ---: | ---: | ---: |",
    ]
    for title, curve in curves.items():
        base = curve["oracle"]["node_hours"]
        for p in curve["points"]:
            lines.append(
                f"| {title} | {p['policy']} | {p['knob']} | {p['value']:g} "
                f"| {p['node_hours'] / base:.3f} | {p['underprovisioned_fraction']:.2%} |"
            )
    return "\n".join(lines) + "\n"
