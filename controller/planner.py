"""The pure planner: what the pool should look like next, and why.

``plan(snapshot, forecast, anomalies, policy, now) -> Plan`` is a purely
computational function with no side effects: no database, no HTTP, no clock,
no randomness.  Time and ids come in as arguments, so tests compare whole plans
and the simulator replays the very same function over a trace.

Rules, in the order they are applied (each produces ``Decision`` records; rules
1-4 live in ``controller.planner_recovery``, the value types in
``controller.planner_types``, all re-exported here):

1. Crashed nodes (``crashed`` or state ``failed``) are stopped and replaced at
   once, outside the ejection limit and the cooldown.
2. Anomalous ready nodes: when more than ``max_ejection_percent`` of the live
   fleet (at least one node) looks anomalous together, or the detector reports a
   ``FleetAnomaly``, one ``fleet_anomaly`` decision is recorded and nothing is
   replaced.  Otherwise each gets a replacement (``replace``), unless it was itself
   launched as a fault replacement within ``cooldown_seconds`` or the ejection
   budget (nodes being replaced or draining for a fault/prevention, at most
   ``max(1, floor(live × max_ejection_percent / 100))``) is used up (``hold``).
3. Prevention: a ready node whose RSS, at its current slope, reaches its memory
   limit within ``prevention_horizon_seconds`` is replaced the same way (``prevent``).
4. A node with a replacement is drained (``drain``) once the replacement is
   ready, or earlier when the other ready nodes alone carry the observed load at
   the target utilization and number at least ``min_nodes``.  A drain never
   leaves fewer than ``min_nodes`` ready nodes.
5. Capacity: need = max(predictive, reactive floor), bounded by min/max nodes.
   Predictive need is ``ceil(q-quantile of the forecast over
   [now + startup, now + startup + tick] × forecast_headroom / (node_capacity ×
   target_utilization))`` (``forecast_headroom`` is 1 unless the capacity budget's
   second stage raised it; ``forecast_carry`` is 1 unless the last observed load
   came in above the forecast's band, see ``controller.margin``); the load it sizes for
   is capped at ``forecast_ceiling_rps`` when set (a multiple of the highest load seen
   over the last week, ``controller.margin.PeakCeiling``), so a forecast thrown far off by
   a data dropout cannot launch a fleet no recent load needed.
   Forecast values are load in the unit of ``node_capacity_rps`` (requests per
   second); callers convert per-step counts to rates.  A forecast point stamped
   ``T`` covers ``[T, T + step)``.  The reactive floor is the Kubernetes HPA
   formula ``ceil(ready × utilization / target)``, unchanged within ``tolerance``,
   with ``target = target_utilization / floor_headroom`` (``floor_headroom`` is 1
   unless the capacity budget's second stage raised it or its relief leg lowered it).
   Starting nodes count as capacity being provisioned.  Scale-in takes the max
   of the recommendations within the stabilization window (as HPA does) and only
   happens once the recorded recommendations span the window; it drains ready
   nodes, most anomalous first, then youngest, and never drains starting nodes
   (they may be the capacity the forecast asked for).  With
   ``scale_up_rate_limit`` the HPA scale-up policy (max(+100 %, +4 nodes) per 15 s)
   caps growth; the simulator turns it on for the ``reactive`` baseline only.
   When scale-in is due, a faulty node is drained instead of replaced.

Every tick yields its capacity decision — one ``scale_out`` or ``hold`` with
``node_id=None``, or one ``scale_in`` per drained node — plus the recovery
decisions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from statistics import NormalDist

import numpy as np
import pandas as pd

from controller.lifecycle import NodeState
from controller.planner_recovery import (
    Draft,
    Fleet,
    drain_replaced,
    fault_candidates,
    launch_replacements,
    prevention_candidates,
    replace_crashed,
    screen_fleet_anomaly,
    serving,
)
from controller.planner_types import (
    DECISION_KINDS,
    Decision,
    NodeView,
    Plan,
    Policy,
    Snapshot,
)
from detector.types import Anomaly, FleetAnomaly
from forecaster.types import Forecast

__all__ = [
    "DECISION_KINDS",
    "Decision",
    "NodeView",
    "Plan",
    "Policy",
    "Snapshot",
    "forecast_quantile",
    "plan",
    "point_at",
    "prune_recommendations",
]

HPA_SCALE_UP_PERIOD_SECONDS = 15.0
HPA_SCALE_UP_MIN_NODES = 4  # HPA's default scale-up policy: +100 % or +4 pods per 15 s


def prune_recommendations(
    recommendations: tuple[tuple[datetime, int], ...] | list[tuple[datetime, int]],
    now: datetime,
    policy: Policy,
) -> tuple[tuple[datetime, int], ...]:
    """Keep what the planner still needs: the window plus one tick."""
    horizon = now - timedelta(seconds=policy.scale_in_stabilization_seconds + policy.tick_seconds)
    return tuple((t, c) for t, c in recommendations if t >= horizon)


def forecast_quantile(forecast: Forecast, q: float) -> np.ndarray:
    """The q-quantile per step: ``Forecast.quantile`` when the forecaster has it,
    else a normal approximation from the 95 % band (``hi95`` is the 0.975 quantile)."""
    quantile = getattr(forecast, "quantile", None)
    if callable(quantile):
        return np.asarray(quantile(q), dtype=float)
    mean = np.asarray(forecast.mean, dtype=float)
    if q == 0.5:
        return mean
    sigma = (np.asarray(forecast.hi95, dtype=float) - mean) / NormalDist().inv_cdf(0.975)
    return np.maximum(mean + NormalDist().inv_cdf(q) * sigma, 0.0)


@dataclass(frozen=True)
class _Need:
    desired_raw: int
    predictive: int | None
    reactive: int | None
    details: dict[str, object]
    summary: str


def plan(
    snapshot: Snapshot,
    forecast: Forecast | None,
    anomalies: tuple[Anomaly, ...] | list[Anomaly],
    policy: Policy,
    now: datetime,
    fleet_anomaly: FleetAnomaly | None = None,
) -> Plan:
    fleet = Fleet.of(snapshot.nodes)
    draft = Draft()
    replace_crashed(fleet, draft)
    allowance = max(1, math.floor(len(fleet.healthy) * policy.max_ejection_percent / 100.0))
    faulty = screen_fleet_anomaly(fleet, anomalies, fleet_anomaly, allowance, policy, draft)
    candidates = fault_candidates(fleet, faulty) + prevention_candidates(
        fleet, {a.node for a in anomalies}, policy
    )
    launch_replacements(fleet, candidates, allowance, snapshot, policy, now, draft)
    drain_replaced(fleet, snapshot, policy, draft)
    need, desired, to_launch = _scale(fleet, snapshot, forecast, policy, now, draft)
    return Plan(
        desired=desired,
        to_launch=to_launch,
        to_drain=tuple(draft.to_drain),
        to_replace=tuple(draft.to_replace),
        decisions=tuple(draft.decisions),
        recommendation=(now, need.desired_raw),
        to_stop=tuple(draft.to_stop),
    )


def _scale(
    fleet: Fleet,
    snapshot: Snapshot,
    forecast: Forecast | None,
    policy: Policy,
    now: datetime,
    draft: Draft,
) -> tuple[_Need, int, int]:
    """Rule 5: capacity.  Returns the need, the desired count and how many to launch."""
    replaced_ids = set(fleet.replacement_of) | set(draft.to_replace)
    keepers = [n for n in fleet.ready + fleet.starting if n.id not in replaced_ids]
    ready_keepers = [n for n in keepers if n.state is NodeState.READY]
    planned = len(keepers) + len(draft.to_replace)
    need = _capacity_need(snapshot, forecast, policy, now, fleet.ready, planned)
    desired, stabilized_from = _stabilize(need.desired_raw, planned, snapshot, policy, now)
    details = {
        **need.details,
        "ready": len(fleet.ready),
        "starting": len(fleet.starting),
        "draining": len(fleet.draining),
        "replacing": len(replaced_ids),
        "planned": planned,
        "desired": desired,
        "stabilized_from": stabilized_from,
    }
    if desired > planned:
        to_launch = desired - planned
        draft.decisions.append(
            Decision(
                "scale_out",
                None,
                f"launching {to_launch} node(s): {need.summary}; {planned} serving or "
                f"starting, {desired} desired",
                details,
            )
        )
        return need, desired, to_launch
    if desired == planned:
        why = need.summary
        if stabilized_from is not None:
            why += (
                f"; scale-in to {stabilized_from} waits for the "
                f"{policy.scale_in_stabilization_seconds:g} s stabilization window"
            )
        draft.decisions.append(
            Decision("hold", None, f"holding at {planned} node(s): {why}", details)
        )
        return need, desired, 0

    excess = planned - desired
    # cheapest first: do not launch replacements for faulty nodes that are not needed
    for node_id in [i for i in reversed(draft.to_replace) if draft.replace_kind[i] != "crash"]:
        if excess == 0:
            break
        draft.to_replace.remove(node_id)
        excess -= 1
        draft.decisions = [d for d in draft.decisions if d.node_id != node_id]
        still_serving = len(serving(fleet.ready, draft.leaving))
        if node_id not in draft.leaving and still_serving - 1 >= policy.min_nodes:
            draft.drain(node_id)
        draft.decisions.append(
            Decision(
                "drain",
                node_id,
                f"node {node_id} is drained without a replacement: scale-in is due "
                f"({desired} desired, {planned} planned)",
                details,
            )
        )
    room = max(min(excess, len(ready_keepers) - desired), 0)
    order = sorted(
        ready_keepers,
        key=lambda n: (
            -(n.anomaly_score if n.anomaly_score is not None else -math.inf),
            -n.since.timestamp(),
            n.id,
        ),
    )
    for node in order[:room]:
        draft.drain(node.id)
        draft.decisions.append(
            Decision(
                "scale_in",
                node.id,
                f"draining {node.id}: {need.summary}; {planned} serving or starting, "
                f"{desired} desired after the {policy.scale_in_stabilization_seconds:g} s "
                "stabilization window",
                details,
            )
        )
    if room == 0:
        why = (
            f"{desired} desired, {planned} planned; the excess is starting nodes, which are "
            "not drained"
            if excess
            else f"scale-in to {desired} by not replacing faulty nodes"
        )
        draft.decisions.append(Decision("hold", None, f"holding: {need.summary}; {why}", details))
    return need, desired, 0


def _stabilize(
    desired: int, planned: int, snapshot: Snapshot, policy: Policy, now: datetime
) -> tuple[int, int | None]:
    """HPA's scale-down stabilization: the max recommendation within the window.

    Scale-in also waits until the recorded recommendations span the window (a
    freshly started controller does not scale in on its first tick).  Returns the
    stabilized count and, when it differs, the raw one.
    """
    if desired >= planned:
        return desired, None
    window_start = now - timedelta(seconds=policy.scale_in_stabilization_seconds)
    in_window = [c for t, c in snapshot.recommendations if window_start <= t <= now]
    spans = any(
        t <= window_start + timedelta(seconds=policy.tick_seconds)
        for t, _ in snapshot.recommendations
    )
    stabilized = max([desired, *in_window]) if spans else planned
    stabilized = min(stabilized, planned)
    return stabilized, (desired if stabilized != desired else None)


def _capacity_need(
    snapshot: Snapshot,
    forecast: Forecast | None,
    policy: Policy,
    now: datetime,
    ready: list[NodeView],
    planned: int,
) -> _Need:
    per_node = policy.node_capacity_rps * policy.target_utilization
    details: dict[str, object] = {
        "observed_rps": round(snapshot.observed_rps, 3),
        "node_capacity_rps": policy.node_capacity_rps,
        "target_utilization": policy.target_utilization,
    }
    parts: list[str] = []
    predictive = None
    if forecast is not None:
        start = now + timedelta(seconds=policy.startup_seconds)
        end = start + timedelta(seconds=policy.tick_seconds)
        upper = _window_upper(forecast, policy.forecast_quantile, start, end)
        if upper is not None and not math.isfinite(upper):
            # a diverged fit: sizing from it would fail (ceil of inf/nan) or hold nothing
            details["forecast_note"] = f"forecast not finite ({upper}); reactive only"
            parts.append("forecast not finite, reactive only")
            upper = None
        elif upper is not None:
            if policy.forecast_carry != 1.0:
                details["forecast_carry"] = round(policy.forecast_carry, 4)
                parts.append(f"last load {policy.forecast_carry:.2f} x the forecast's median")
                upper *= policy.forecast_carry
            ceiling = policy.forecast_ceiling_rps
            if ceiling is not None and upper > ceiling:
                details["forecast_ceiling_rps"] = round(ceiling, 3)
                details["forecast_capped_from_rps"] = round(upper, 3)
                parts.append(f"forecast capped at {ceiling:.1f} rps, a multiple of the recent peak")
                upper = ceiling
            if policy.forecast_headroom != 1.0:
                details["forecast_headroom"] = round(policy.forecast_headroom, 4)
                upper *= policy.forecast_headroom
        if upper is not None:
            predictive = math.ceil(upper / per_node - 1e-9)
            details.update(
                forecast_upper_rps=round(upper, 3),
                forecast_quantile=policy.forecast_quantile,
                window_start=_iso(start),
                window_end=_iso(end),
                predictive=predictive,
            )
            parts.append(
                f"forecast q{policy.forecast_quantile:.3g} {upper:.1f} rps over the "
                f"{policy.startup_seconds:g} s start-up lead needs {predictive}"
            )
        elif "forecast_note" not in details:
            details["forecast_note"] = "forecast does not reach the start-up lead window"
            parts.append("forecast does not reach the start-up lead window")
    else:
        parts.append("no forecast, reactive only")

    floor_target = policy.target_utilization / policy.floor_headroom
    if policy.floor_headroom != 1.0:
        details["floor_target_utilization"] = round(floor_target, 4)
    utilization = snapshot.utilization
    if utilization is None and ready:
        utilization = snapshot.observed_rps / (len(ready) * policy.node_capacity_rps)
    if ready and utilization is not None:
        ratio = utilization / floor_target
        if abs(ratio - 1.0) <= policy.tolerance:
            reactive = planned
            parts.append(f"utilization {utilization:.2f} within tolerance of target")
        else:
            reactive = math.ceil(len(ready) * ratio - 1e-9)
            parts.append(f"reactive floor {reactive} at utilization {utilization:.2f}")
        details.update(utilization=round(utilization, 4), ratio=round(ratio, 4))
    else:
        floor_per_node = policy.node_capacity_rps * floor_target
        reactive = math.ceil(snapshot.observed_rps / floor_per_node - 1e-9)
        parts.append(f"reactive floor {reactive} from {snapshot.observed_rps:.1f} rps observed")
    details["reactive"] = reactive

    desired = max(reactive, predictive or 0)
    if policy.scale_up_rate_limit and desired > planned:
        limit = max(planned, 1)
        for _ in range(max(1, math.ceil(policy.tick_seconds / HPA_SCALE_UP_PERIOD_SECONDS))):
            limit = max(2 * limit, limit + HPA_SCALE_UP_MIN_NODES)
        if desired > limit:
            details["rate_limited_from"] = desired
            parts.append(f"scale-up limited to {limit}")
            desired = limit
    bounded = min(max(desired, policy.min_nodes), policy.max_nodes)
    if bounded != desired:
        parts.append(f"bounded to [{policy.min_nodes}, {policy.max_nodes}]")
    details["needed"] = desired
    return _Need(bounded, predictive, reactive, details, "; ".join(parts))


def _window_upper(forecast: Forecast, q: float, start: datetime, end: datetime) -> float | None:
    stamps = forecast.timestamps
    if len(stamps) == 0:
        return None
    # integer nanoseconds: pandas index arithmetic costs more than the rest of plan()
    nanos = stamps.as_unit("ns").asi8
    start_ns, end_ns = _align(start, stamps).value, _align(end, stamps).value  # .value is ns
    step_ns = round(forecast.step_seconds * 1e9)
    mask = (nanos < end_ns) & (nanos + step_ns > start_ns)
    if not mask.any():
        return None
    with np.errstate(all="ignore"):  # a diverged forecast (inf, nan) is judged by the caller
        return float(np.max(forecast_quantile(forecast, q)[mask]))


def point_at(forecast: Forecast, moment: datetime) -> int | None:
    """Index of the forecast point whose ``[T, T + step)`` holds ``moment`` (None: none)."""
    stamps = forecast.timestamps
    if len(stamps) == 0:
        return None
    at_ns = _align(moment, stamps).value
    nanos = stamps.as_unit("ns").asi8
    step_ns = round(forecast.step_seconds * 1e9)
    hits = np.flatnonzero((nanos <= at_ns) & (nanos + step_ns > at_ns))
    return int(hits[0]) if len(hits) else None


def _align(moment: datetime, stamps: pd.DatetimeIndex) -> pd.Timestamp:
    """Compare naive and aware times by reading naive ones as UTC."""
    ts = pd.Timestamp(moment)
    if stamps.tz is None and ts.tzinfo is not None:
        return ts.tz_convert(UTC).tz_localize(None)
    if stamps.tz is not None and ts.tzinfo is None:
        return ts.tz_localize(UTC)
    return ts


def _iso(moment: datetime) -> str:
    return moment.isoformat()
