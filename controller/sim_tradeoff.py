"""The cost/risk trade-off: node-hours against under-provisioning, per policy knob.

One operating point says little: any policy buys fewer under-provisioned steps
with more nodes.  The honest comparison is the curve each policy traces as its
knob turns — the forecast quantile for ``predictive``, the target utilization
for the HPA ``reactive`` baseline — and whether one curve lies below the other.
The forecasts do not depend on the policy's decisions, so one forecast tape
serves every quantile; each point is a full planner run over the trace.
``predictive`` is drawn twice: at fixed quantiles, and with the capacity budget
(``controller/budget.py``, its default mode) at several budgets — there the
quantile adapts over the trace and the knob is the budget — and once more with the
budget's second stage (``capacity_headroom`` 2, the default: past the 0.995 quantile the
reactive floor's target utilization is lowered, then the forecast multiplied).

The budget is a node-hours knob, so each reactive setting is also compared at
equal spend by measurement, not by reading a curve between its points: a short
bracketed secant search on the budget (:func:`match_budget`, each step one full
planner run on the same forecast tape) finds the budget whose node-hours come
within ±0.5 % of the reactive setting's, and that run's under-provisioning is
reported beside the reactive one (:func:`match_reactive`).  The search is run with
the settings' budget with the second stage off and again with it on, one row each;
the second row is left out where budget 1 already spends more than the reactive
setting.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
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
STAGED_BUDGETS = (1.2, 1.25, 1.3, 1.4, 1.5)  # the budget curve with the second stage on
FLOOR_PERCENT = 0.005  # log axis: zero under-provisioning is drawn here
MATCH_TOLERANCE = 0.005  # matched node-hours within ±0.5 % of the reactive setting's
MATCH_MAX_RUNS = 8  # new full planner runs per search
MATCH_MAX_BUDGET = 2.0  # the search's upper end
SECOND_STAGE_HEADROOM = 2.0  # capacity_headroom of the staged curve and its matched searches
SECOND_STAGE_OFF = 1.0  # ... and of the plain budget curve, whatever the settings' default


def tradeoff(
    counts: pd.Series,
    settings: SimSettings,
    quantiles: Sequence[float] = QUANTILES,
    utilizations: Sequence[float] = UTILIZATIONS,
    tape: list[Forecast] | None = None,
    progress: Progress[Any] | None = None,
    predictive_utilizations: Sequence[float] = (0.7,),
    budgets: Sequence[float] = BUDGETS,
    match: bool = True,
    staged_budgets: Sequence[float] = STAGED_BUDGETS,
) -> dict[str, Any]:
    """Points ``{policy, knob, value, node_hours, underprovisioned_fraction}`` plus the oracle.

    The predictive policy traces one curve over ``quantiles`` per target
    utilization in ``predictive_utilizations`` and one over capacity ``budgets``
    (at the settings' target utilization), and one over ``staged_budgets`` with the
    second stage on (``capacity_headroom`` = ``SECOND_STAGE_HEADROOM``; budget points
    carry their ``capacity_headroom``); the reactive one a curve over
    ``utilizations``.  With ``match``, ``matched`` holds predictive (capacity budget,
    the settings' target utilization, second stage off and on) measured at each
    reactive setting's node-hours.
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
            run = run_planner(
                "predictive", trace, tuned, tuned.policy(forecast_quantile=q), tape,
                carry=tuned.carry(), ceiling=tuned.ceiling(),
            )
            point = _point("predictive", "forecast_quantile", q, run.summary())
            points.append({**point, "target_utilization": target})
    staged = max(settings.capacity_headroom, SECOND_STAGE_HEADROOM)
    for headroom, values in ((SECOND_STAGE_OFF, budgets), (staged, staged_budgets)):
        for b in values:
            summary = _budget_run(trace, settings, tape, b, headroom)
            point = _point("predictive", "capacity_budget", b, summary)
            points.append(
                {
                    **point,
                    "target_utilization": settings.target_utilization,
                    "capacity_headroom": headroom,
                }
            )
    for u in utilizations:
        tuned = replace(settings, target_utilization=u)
        run = run_planner("reactive", trace, tuned, tuned.policy(scale_up_rate_limit=True), None)
        points.append(_point("reactive", "target_utilization", u, run.summary()))
    oracle = run_oracle(trace, settings).summary()
    matched = match_reactive(trace, settings, tape, points) if match else []
    return {
        "points": points,
        "matched": matched,
        "oracle": {
            "node_hours": oracle["node_hours"],
            "underprovisioned_fraction": oracle["underprovisioned_fraction"],
        },
        "predictive_target_utilizations": list(predictive_utilizations),
        "forecaster": info,
    }


def _budget_run(
    trace: Trace, settings: SimSettings, tape: list[Forecast], budget: float, headroom: float
) -> dict[str, Any]:
    """Summary of predictive run with capacity ``budget`` and second stage ``headroom``."""
    tuned = replace(settings, capacity_budget=budget, capacity_headroom=headroom)
    run = run_planner(
        "predictive", trace, tuned, tuned.policy(), tape, budget=tuned.budget(),
        carry=tuned.carry(), ceiling=tuned.ceiling(),
    )
    return run.summary()


def _point(policy: str, knob: str, value: float, summary: dict[str, Any]) -> dict[str, Any]:
    return {
        "policy": policy,
        "knob": knob,
        "value": value,
        "node_hours": summary["node_hours"],
        "underprovisioned_fraction": summary["underprovisioned_fraction"],
        "scaling_actions": summary["scaling_actions"],
    }


def match_reactive(
    trace: Trace,
    settings: SimSettings,
    tape: list[Forecast],
    points: list[dict[str, Any]],
    tolerance: float = MATCH_TOLERANCE,
    max_runs: int = MATCH_MAX_RUNS,
    stages: Sequence[float] | None = None,
) -> list[dict[str, Any]]:
    """Predictive with the capacity budget run at each reactive point's node-hours.

    ``settings`` must have its tick resolved.  The budget curves' points in ``points``
    (same settings; a point without ``capacity_headroom`` has the settings') seed the
    search; every run is kept, so the searches of one trace share their runs.  Per reactive
    point, one row per ``capacity_headroom`` in ``stages`` (default: off, 1, and the
    second stage's ``SECOND_STAGE_HEADROOM``; later stages are skipped when the first is
    ``below``): its node-hours and under-provisioning, the search's ``status`` (see
    :func:`match_budget`), the budget found, the node-hours that budget spent and its
    under-provisioned fraction (``None`` for ``below``), the ``capacity_headroom`` the
    search used, the new runs and the budgets tried.
    """
    runs: dict[float, dict[float, dict[str, Any]]] = {}  # headroom -> budget -> summary

    def searched(headroom: float, target: float) -> dict[str, Any]:
        done = runs.setdefault(headroom, {})
        for p in points:
            if (
                p["knob"] == "capacity_budget"
                and p.get("capacity_headroom", settings.capacity_headroom) == headroom
            ):
                done.setdefault(round(p["value"], 6), p)

        def spend(budget: float) -> float:
            done[budget] = _budget_run(trace, settings, tape, budget, headroom)
            return float(done[budget]["node_hours"])

        known = {b: float(p["node_hours"]) for b, p in done.items()}
        found = match_budget(
            spend, target, known=known, tolerance=tolerance, max_runs=max_runs
        )
        return {**found, "summary": done[found["budget"]], "capacity_headroom": headroom}

    if stages is None:
        staged = max(settings.capacity_headroom, SECOND_STAGE_HEADROOM)
        stages = (SECOND_STAGE_OFF, staged)
    stages = list(dict.fromkeys(stages))
    rows: list[dict[str, Any]] = []
    for r in (p for p in points if p["policy"] == "reactive"):
        hours = float(r["node_hours"])
        for k, headroom in enumerate(stages):
            if k > 0 and rows[-1]["status"] == "below":
                break  # budget 1 spends more already; the second stage only adds
            found = searched(headroom, hours)
            summary = found["summary"]
            rows.append(
                {
                    "target_utilization": r["value"],
                    "node_hours": hours,
                    "reactive_underprovisioned_fraction": r["underprovisioned_fraction"],
                    "status": found["status"],
                    "budget": found["budget"],
                    "capacity_headroom": found["capacity_headroom"],
                    "predictive_node_hours": summary["node_hours"],
                    "predictive_underprovisioned_fraction": (
                        None
                        if found["status"] == "below"
                        else summary["underprovisioned_fraction"]
                    ),
                    "runs": found["runs"],
                    "tried": [[b, h] for b, h in found["tried"]],
                    "same_spend_point": (
                        None
                        if found["status"] == "matched"
                        else _same_spend(points, hours, tolerance)
                    ),
                }
            )
    return rows


def _same_spend(
    points: list[dict[str, Any]], hours: float, tolerance: float
) -> dict[str, Any] | None:
    """The predictive curve point (any knob) nearest ``hours``, if within ``tolerance``."""
    near = [
        p for p in points
        if p["policy"] == "predictive" and abs(p["node_hours"] - hours) <= tolerance * hours
    ]
    if not near:
        return None
    best = min(near, key=lambda p: abs(p["node_hours"] - hours))
    keys = ("knob", "value", "target_utilization", "node_hours", "underprovisioned_fraction")
    return {k: best[k] for k in keys}


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


def match_budget(
    spend: Callable[[float], float],
    target: float,
    *,
    known: dict[float, float] | None = None,
    low: float = 1.0,
    high: float = MATCH_MAX_BUDGET,
    tolerance: float = MATCH_TOLERANCE,
    max_runs: int = MATCH_MAX_RUNS,
) -> dict[str, Any]:
    """The budget whose node-hours ``spend(budget)`` come within ``tolerance`` of ``target``.

    A bracketed secant search over ``[low, high]``, bisecting when the secant creeps from
    one end of the bracket: ``spend`` is one full planner run, so
    at most ``max_runs`` new calls; ``known`` (budget -> node-hours, already run with the
    same settings) seeds the bracket and is extended in place.  Node-hours need not be
    monotone in the budget; the bracket only needs a budget below the target and one above.
    ``status``: ``matched`` (within tolerance), ``closest`` (runs used up, or the bracket
    shrank to a step of node-hours; the closest budget tried), ``below`` (``target`` is
    cheaper than the budget ``low`` spends: the budget would have to be under it) or
    ``above`` (more than the budget ``high`` spends).
    """
    evals = known if known is not None else {}
    runs = 0
    order: list[float] = []  # the budgets this search ran, in turn

    def at(budget: float) -> float:
        nonlocal runs
        budget = round(budget, 6)
        if budget not in evals:
            evals[budget] = float(spend(budget))
            runs += 1
            order.append(budget)
        return evals[budget]

    def close(hours: float) -> bool:
        return abs(hours - target) <= tolerance * target

    def result(status: str) -> dict[str, Any]:
        inside = {b: h for b, h in evals.items() if low <= b <= high}
        best = min(inside, key=lambda b: (abs(inside[b] - target), b))
        return {
            "status": status,
            "budget": best,
            "node_hours": inside[best],
            "runs": runs,
            "tried": sorted(inside.items()),
        }

    if close(at(low)):
        return result("matched")
    if evals[round(low, 6)] > target:
        return result("below")
    while True:
        inside = sorted((b, h) for b, h in evals.items() if low <= b <= high)
        if any(close(h) for _, h in inside):
            return result("matched")
        over = [(b, h) for b, h in inside if h > target]
        if not over:
            if round(high, 6) in evals:
                return result("above")
            if runs >= max_runs:
                return result("closest")
            at(high)
            continue
        b_hi, h_hi = over[0]
        b_lo, h_lo = max((b, h) for b, h in inside if b < b_hi and h < target)
        if runs >= max_runs or b_hi - b_lo < 1e-4:
            return result("closest")
        # secant between the bracket's ends, kept off them so the bracket shrinks; after
        # two new runs on the same side of the target (a curved spend, where the secant
        # creeps from one end), bisect
        width = b_hi - b_lo
        sides = [evals[b] > target for b in order[-2:]]
        if len(sides) == 2 and sides[0] == sides[1]:
            guess = b_lo + 0.5 * width
        else:
            guess = b_lo + (target - h_lo) * width / (h_hi - h_lo)
        at(min(max(guess, b_lo + 0.1 * width), b_hi - 0.1 * width))


# policy, knob, predictive target or None, capacity_headroom or None (any), label, color,
# marker, line style
Series = tuple[str, str, float | None, float | None, str, str, str, str]


def _series(curve: dict[str, Any]) -> list[Series]:
    """One entry per curve drawn (see ``Series``)."""
    out: list[Series] = []
    for i, target in enumerate(curve["predictive_target_utilizations"]):
        label = f"predictive, target {target:g} (fixed forecast quantile)"
        style = ("--", ":", "-.", "--")[i % 4]
        color = ("tab:blue", "tab:cyan", "navy", "tab:purple")[i % 4]
        out.append(("predictive", "forecast_quantile", target, None, label, color, "o", style))
    budget_points = [p for p in curve["points"] if p["knob"] == "capacity_budget"]
    headrooms = sorted({p.get("capacity_headroom", 1.0) for p in budget_points})
    for headroom in headrooms:
        target = budget_points[0]["target_utilization"]
        if headroom == 1.0:
            label = f"predictive, target {target:g} (capacity budget; default {DEFAULT_BUDGET:g})"
            color, style = "black", "-"
        else:
            label = (
                f"predictive, target {target:g} (capacity budget, second stage ≤ {headroom:g}: "
                "floor target, then forecast)"
            )
            color, style = "tab:red", "-"
        out.append(
            ("predictive", "capacity_budget", target, headroom, label, color, "D", style)
        )
    out.append(
        ("reactive", "target_utilization", None, None, "reactive HPA (target utilization)",
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
    fig, axes = plt.subplots(1, len(curves), figsize=(6.5 * len(curves), 6), squeeze=False)
    for ax, (title, curve) in zip(axes[0], curves.items(), strict=True):
        base = curve["oracle"]["node_hours"]
        for policy, knob, target, headroom, label, color, marker, style in _series(curve):
            pts = [
                p
                for p in curve["points"]
                if p["policy"] == policy
                and p["knob"] == knob
                and p.get("target_utilization") == target
                and (headroom is None or p.get("capacity_headroom", 1.0) == headroom)
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
        shown = [r for r in curve.get("matched", []) if r["status"] != "below"]
        if shown:
            xs = [r["predictive_node_hours"] / base for r in shown]
            ys = [max(100 * r["predictive_underprovisioned_fraction"], FLOOR_PERCENT)
                  for r in shown]
            ax.scatter(
                xs, ys, marker="X", s=70, color="magenta", zorder=6,
                label="predictive, capacity budget matched to each reactive setting's node-hours",
            )
            for r, x, y in zip(shown, xs, ys, strict=True):
                ax.annotate(
                    f"b={r['budget']:.3g}" + (", 2nd stage" if r["capacity_headroom"] > 1 else ""),
                    (x, y), textcoords="offset points",
                    xytext=(4, -9), fontsize=6, color="magenta",
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
    # one legend under the panels: inside, it hid the reactive curve on some traces
    legend: dict[str, Any] = {}
    for ax in axes[0]:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            legend.setdefault(label, handle)
    rows = math.ceil(len(legend) / 2)
    fig.legend(list(legend.values()), list(legend), loc="lower center", ncol=2, fontsize=8)
    fig.tight_layout(rect=(0.0, min(0.035 * rows, 0.4), 1.0, 1.0))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def matched_outcome(row: dict[str, Any], points: list[dict[str, Any]]) -> str:
    """The predictive cell of a matched row, in words where there is no measurement."""
    pred = row["predictive_underprovisioned_fraction"]
    if row["status"] == "below":
        cheapest = min(
            (p["node_hours"] for p in points if p["policy"] == "predictive"), default=math.inf
        )
        if row["node_hours"] < cheapest:
            return "cheaper than any predictive point"
        text = f"cheaper than predictive at budget {row['budget']:g}"
    elif row["status"] == "above":
        text = f"more than predictive spends at budget {row['budget']:g}: {pred:.2%}"
    else:
        text = f"{pred:.2%}"
    same = row.get("same_spend_point")
    if same is not None:
        setting = (
            f"quantile {same['value']:g}" if same["knob"] == "forecast_quantile"
            else f"budget {same['value']:g}"
        )
        text += (
            f"; the curve point {setting} at target {same['target_utilization']:g} spends "
            f"within ±{MATCH_TOLERANCE:.1%} ({same['node_hours'] / row['node_hours'] - 1:+.2%}):"
            f" {same['underprovisioned_fraction']:.2%}"
        )
    return text


def equal_cost_table(curves: dict[str, dict[str, Any]]) -> str:
    """Each reactive setting beside predictive run with the budget matched to its node-hours."""
    lines = [
        "| trace | reactive target | reactive node-hours × oracle | reactive under-provisioned "
        "| budget found | predictive node-hours × oracle (vs reactive) "
        "| predictive under-provisioned, measured | new runs |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for title, curve in curves.items():
        base = curve["oracle"]["node_hours"]
        for row in curve.get("matched", []):
            budget = f"{row['budget']:.4g}"
            if row["status"] == "below":
                budget = f"would be < {row['budget']:g}"
            elif row["capacity_headroom"] > 1:
                budget += f" (second stage, headroom ≤ {row['capacity_headroom']:g})"
            if row["status"] == "closest":
                budget += " (closest; not within tolerance)"
            gap = row["predictive_node_hours"] / row["node_hours"] - 1
            lines.append(
                f"| {title} | {row['target_utilization']:g} | {row['node_hours'] / base:.3f} "
                f"| {row['reactive_underprovisioned_fraction']:.2%} | {budget} "
                f"| {row['predictive_node_hours'] / base:.3f} ({gap:+.2%})"
                + (f" at budget {row['budget']:g}" if row["status"] == "below" else "")
                + " "
                f"| {matched_outcome(row, curve['points'])} | {row['runs']} |"
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
                if p.get("capacity_headroom", 1.0) > 1:
                    q += f", second stage ≤ {p['capacity_headroom']:g}"
            else:
                q, u = "", f"{p['value']:g}"
            lines.append(
                f"| {title} | {p['policy']} | {q} | {u} | {p['node_hours'] / base:.3f} "
                f"| {p['underprovisioned_fraction']:.2%} |"
            )
    return "\n".join(lines) + "\n"
