"""The cost/risk trade-off: node-hours against under-provisioning, per policy knob.

One operating point says little: any policy buys fewer under-provisioned steps
with more nodes.  The honest comparison is the curve each policy traces as its
knob turns — the forecast quantile for ``predictive``, the target utilization
for the HPA ``reactive`` baseline — and whether one curve lies below the other.
The forecasts do not depend on the policy's decisions, so one forecast tape
serves every quantile; each point is a full planner run over the trace.
``predictive`` is drawn twice: at fixed quantiles, and with the capacity budget
(``controller/budget.py``, its default mode) at several budgets — there the
quantile adapts over the trace and the knob is the budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from controller.budget import DEFAULT_BUDGET
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
BUDGETS = (1.1, 1.15, 1.2, 1.25, 1.3, 1.4)
FLOOR_PERCENT = 0.005  # log axis: zero under-provisioning is drawn here


def tradeoff(
    counts: pd.Series,
    settings: SimSettings,
    quantiles: Sequence[float] = QUANTILES,
    utilizations: Sequence[float] = UTILIZATIONS,
    tape: list[Forecast] | None = None,
    progress: Progress[Any] | None = None,
    predictive_utilizations: Sequence[float] = (0.7,),
    budgets: Sequence[float] = BUDGETS,
) -> dict[str, Any]:
    """Points ``{policy, knob, value, node_hours, underprovisioned_fraction}`` plus the oracle.

    The predictive policy traces one curve over ``quantiles`` per target
    utilization in ``predictive_utilizations`` and one over capacity ``budgets``
    (at the settings' target utilization); the reactive one a curve over
    ``utilizations``.
    """
    trace = Trace.split(counts, settings)
    settings = resolve_tick(settings, trace)
    info: dict[str, Any] = {}
    if tape is None:
        tape, info = forecast_tape(trace, settings, progress)
    points = []
    for target in predictive_utilizations:
        tuned = replace(settings, target_utilization=target)
        for q in quantiles:
            run = run_planner("predictive", trace, tuned, tuned.policy(forecast_quantile=q), tape)
            point = _point("predictive", "forecast_quantile", q, run.summary())
            points.append({**point, "target_utilization": target})
    for b in budgets:
        tuned = replace(settings, capacity_budget=b)
        run = run_planner(
            "predictive", trace, tuned, tuned.policy(), tape, budget=tuned.budget()
        )
        point = _point("predictive", "capacity_budget", b, run.summary())
        points.append({**point, "target_utilization": settings.target_utilization})
    for u in utilizations:
        tuned = replace(settings, target_utilization=u)
        run = run_planner("reactive", trace, tuned, tuned.policy(scale_up_rate_limit=True), None)
        points.append(_point("reactive", "target_utilization", u, run.summary()))
    oracle = run_oracle(trace, settings).summary()
    return {
        "points": points,
        "oracle": {
            "node_hours": oracle["node_hours"],
            "underprovisioned_fraction": oracle["underprovisioned_fraction"],
        },
        "predictive_target_utilizations": list(predictive_utilizations),
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


def frontier(points: list[dict[str, Any]]) -> list[tuple[float, float]]:
    """The Pareto frontier (node-hours, under-provisioning) of ``points``, cheapest first."""
    out: list[tuple[float, float]] = []
    for p in sorted(points, key=lambda p: (p["node_hours"], p["underprovisioned_fraction"])):
        if not out or p["underprovisioned_fraction"] < out[-1][1]:
            out.append((p["node_hours"], p["underprovisioned_fraction"]))
    return out


def at_equal_cost(curve: dict[str, Any]) -> list[dict[str, Any]]:
    """For each reactive point, the predictive under-provisioning at the same node-hours.

    Read off the predictive Pareto frontier, linearly interpolated between its
    points; ``None`` where the reactive point is cheaper than every predictive one.
    """
    front = frontier([p for p in curve["points"] if p["policy"] == "predictive"])
    rows = []
    for r in (p for p in curve["points"] if p["policy"] == "reactive"):
        hours, value = r["node_hours"], None
        if front and hours >= front[0][0]:
            value = front[-1][1]
            for (h0, f0), (h1, f1) in zip(front, front[1:], strict=False):
                if h0 <= hours <= h1:
                    value = f0 + (f1 - f0) * (hours - h0) / (h1 - h0) if h1 > h0 else f1
                    break
        rows.append(
            {
                "target_utilization": r["value"],
                "node_hours": hours,
                "reactive_underprovisioned_fraction": r["underprovisioned_fraction"],
                "predictive_underprovisioned_fraction": value,
            }
        )
    return rows


Series = tuple[str, str, float | None, str, str, str, str]


def _series(curve: dict[str, Any]) -> list[Series]:
    """(policy, knob, predictive target or None, label, color, marker, line style) per curve."""
    out: list[Series] = []
    for i, target in enumerate(curve["predictive_target_utilizations"]):
        label = f"predictive, target {target:g} (fixed forecast quantile)"
        style = ("--", ":", "-.", "--")[i % 4]
        color = ("tab:blue", "tab:cyan", "navy", "tab:purple")[i % 4]
        out.append(("predictive", "forecast_quantile", target, label, color, "o", style))
    budget_points = [p for p in curve["points"] if p["knob"] == "capacity_budget"]
    if budget_points:
        target = budget_points[0]["target_utilization"]
        label = f"predictive, target {target:g} (capacity budget; default {DEFAULT_BUDGET:g})"
        out.append(("predictive", "capacity_budget", target, label, "black", "D", "-"))
    out.append(
        ("reactive", "target_utilization", None, "reactive HPA (target utilization)",
         "tab:orange", "s", "-")
    )
    return out


def plot_tradeoff(curves: dict[str, dict[str, Any]], path: str | Path) -> Path:
    """One panel per trace: node-hours (× oracle) against under-provisioned fraction."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, len(curves), figsize=(6.5 * len(curves), 5), squeeze=False)
    for ax, (title, curve) in zip(axes[0], curves.items(), strict=True):
        base = curve["oracle"]["node_hours"]
        for policy, knob, target, label, color, marker, style in _series(curve):
            pts = [
                p
                for p in curve["points"]
                if p["policy"] == policy
                and p["knob"] == knob
                and p.get("target_utilization") == target
            ]
            xs = [p["node_hours"] / base for p in pts]
            ys = [max(100 * p["underprovisioned_fraction"], FLOOR_PERCENT) for p in pts]
            ax.plot(xs, ys, marker=marker, color=color, label=label, ls=style, ms=4)
            for p, x, y in zip(pts, xs, ys, strict=True):
                ax.annotate(
                    f"{p['value']:g}",
                    (x, y),
                    textcoords="offset points",
                    xytext=(4, 4),
                    fontsize=6,
                    color=color,
                )
        ax.scatter(
            [1.0],
            [FLOOR_PERCENT],
            marker="*",
            s=140,
            color="tab:green",
            label="oracle (0 %; zero is drawn at the floor)",
            zorder=5,
        )
        ax.axvline(1.3, color="gray", ls=":", lw=0.8)
        ax.set_xlabel("node-hours (× oracle)")
        ax.set_ylabel("under-provisioned steps (%)")
        ax.set_title(title)
        ax.set_yscale("log")
        ax.set_ylim(bottom=FLOOR_PERCENT * 0.7)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def equal_cost_table(curves: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| trace | reactive target | node-hours × oracle | reactive under-provisioned "
        "| predictive at the same node-hours |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for title, curve in curves.items():
        base = curve["oracle"]["node_hours"]
        for row in at_equal_cost(curve):
            pred = row["predictive_underprovisioned_fraction"]
            lines.append(
                f"| {title} | {row['target_utilization']:g} | {row['node_hours'] / base:.3f} "
                f"| {row['reactive_underprovisioned_fraction']:.2%} "
                f"| {'cheaper than any predictive point' if pred is None else f'{pred:.2%}'} |"
            )
    return "\n".join(lines) + "\n"


def tradeoff_table(curves: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| trace | policy | setting | target utilization | node-hours × oracle "
        "| under-provisioned |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for title, curve in curves.items():
        base = curve["oracle"]["node_hours"]
        for p in curve["points"]:
            if p["knob"] == "forecast_quantile":
                q, u = f"quantile {p['value']:g}", f"{p['target_utilization']:g}"
            elif p["knob"] == "capacity_budget":
                q, u = f"budget {p['value']:g}", f"{p['target_utilization']:g}"
            else:
                q, u = "", f"{p['value']:g}"
            lines.append(
                f"| {title} | {p['policy']} | {q} | {u} | {p['node_hours'] / base:.3f} "
                f"| {p['underprovisioned_fraction']:.2%} |"
            )
    return "\n".join(lines) + "\n"
