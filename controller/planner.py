"""The pure planner: what the pool should look like next, and why.

``plan(snapshot, forecast, anomalies, policy, now) -> Plan`` is a purely
computational function with no side effects: no database, no HTTP, no clock,
no randomness.  Time and ids come in as arguments, so tests compare whole plans
and the simulator replays the very same function over a trace.

Rules, in the order they are applied (each produces ``Decision`` records):

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
   [now + startup, now + startup + tick] / (node_capacity × target_utilization))``.
   Forecast values are load in the unit of ``node_capacity_rps`` (requests per
   second); callers convert per-step counts to rates.  A forecast point stamped
   ``T`` covers ``[T, T + step)``.  The reactive floor is the Kubernetes HPA
   formula ``ceil(ready × utilization / target)``, unchanged within ``tolerance``.
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
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from statistics import NormalDist

import numpy as np
import pandas as pd

from controller.lifecycle import NodeState
from detector.types import Anomaly, FleetAnomaly
from forecaster.types import Forecast

DECISION_KINDS = (
    "scale_out",
    "scale_in",
    "drain",
    "replace",
    "prevent",
    "hold",
    "fleet_anomaly",
)

HPA_SCALE_UP_PERIOD_SECONDS = 15.0
HPA_SCALE_UP_MIN_NODES = 4  # HPA's default scale-up policy: +100 % or +4 pods per 15 s


@dataclass(frozen=True)
class NodeView:
    """What the planner knows about one node at ``now``."""

    id: str
    state: NodeState
    since: datetime
    inflight: int = 0
    anomaly_score: float | None = None
    replaces: str | None = None  # this node was launched to replace that one
    drain_reason: str | None = None  # "fault" | "scale_in" | "prevent" | None
    crashed: bool = False  # the process died / stopped answering
    rss_bytes: float | None = None
    rss_slope_bytes_per_s: float | None = None  # trend of RSS over the recent window
    memory_limit_bytes: float | None = None


@dataclass(frozen=True)
class Snapshot:
    """Observed state of the pool at ``now`` plus the memory the planner needs.

    ``recommendations`` holds the planner's previous desired counts (time,
    count); the caller appends ``Plan.recommendation`` each tick and may drop
    entries older than the stabilization window plus one tick
    (``prune_recommendations`` does that).
    ``fault_replaced_at`` maps a node id that was *launched as a fault
    replacement* to when it was launched (for the cooldown rule).
    """

    nodes: tuple[NodeView, ...]
    observed_rps: float
    utilization: float | None = None  # mean observed utilization of ready nodes, 0..1+
    recommendations: tuple[tuple[datetime, int], ...] = ()
    fault_replaced_at: tuple[tuple[str, datetime], ...] = ()


@dataclass(frozen=True)
class Policy:
    min_nodes: int = 2
    max_nodes: int = 10
    node_capacity_rps: float = 50.0
    target_utilization: float = 0.7
    startup_seconds: float = 20.0
    tick_seconds: float = 15.0
    scale_in_stabilization_seconds: float = 300.0
    tolerance: float = 0.1
    forecast_quantile: float = 0.95  # upper quantile of the forecast used for need
    max_ejection_percent: float = 10.0
    cooldown_seconds: float = 300.0
    prevention_horizon_seconds: float = 300.0  # replace if RSS would hit the limit this soon
    scale_up_rate_limit: bool = False  # HPA's max(+100 %, +4) per 15 s; the reactive baseline


@dataclass(frozen=True)
class Decision:
    kind: str  # one of DECISION_KINDS
    node_id: str | None
    reason: str
    details: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    """What to do this tick.

    The executor launches ``to_launch`` plain nodes plus one replacement per id
    in ``to_replace`` (``launch(1, replaces=id)``), drains ``to_drain`` and stops
    ``to_stop`` at once without draining (crashed or failed nodes; a ready one
    moves through ``failed``).
    """

    desired: int  # serving-node count the pool should converge to
    to_launch: int
    to_drain: tuple[str, ...]  # scale-in drains and drains of replaced nodes
    to_replace: tuple[str, ...]  # nodes that get a replacement launched now
    decisions: tuple[Decision, ...]
    recommendation: tuple[datetime, int] | None = None  # append to Snapshot.recommendations
    to_stop: tuple[str, ...] = ()

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(d.reason for d in self.decisions)


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


@dataclass(frozen=True)
class _Fleet:
    """The snapshot's nodes sorted into the groups the rules talk about."""

    crashed: list[NodeView]
    healthy: list[NodeView]  # live and not crashed
    ready: list[NodeView]
    starting: list[NodeView]
    draining: list[NodeView]
    by_id: dict[str, NodeView]
    replacement_of: dict[str, NodeView]  # node id -> its live (starting/ready) replacement

    @classmethod
    def of(cls, nodes: tuple[NodeView, ...]) -> _Fleet:
        live = [n for n in nodes if n.state is not NodeState.STOPPED]
        crashed = [n for n in live if n.crashed or n.state is NodeState.FAILED]
        healthy = [n for n in live if not (n.crashed or n.state is NodeState.FAILED)]
        ready = [n for n in healthy if n.state is NodeState.READY]
        starting = [n for n in healthy if n.state is NodeState.STARTING]
        return cls(
            crashed=crashed,
            healthy=healthy,
            ready=ready,
            starting=starting,
            draining=[n for n in healthy if n.state is NodeState.DRAINING],
            by_id={n.id: n for n in live},
            replacement_of={n.replaces: n for n in ready + starting if n.replaces is not None},
        )


@dataclass
class _Draft:
    """The plan being built; local to one ``plan`` call, so ``plan`` stays pure."""

    decisions: list[Decision] = field(default_factory=list)
    to_replace: list[str] = field(default_factory=list)
    replace_kind: dict[str, str] = field(default_factory=dict)  # "crash"|"replace"|"prevent"
    to_drain: list[str] = field(default_factory=list)
    to_stop: list[str] = field(default_factory=list)
    leaving: set[str] = field(default_factory=set)  # ready nodes that stop serving now

    def drain(self, node_id: str) -> None:
        self.to_drain.append(node_id)
        self.leaving.add(node_id)


# (node, kind, why, details): a ready node that should get a replacement
_Candidate = tuple[NodeView, str, str, dict[str, object]]


def plan(
    snapshot: Snapshot,
    forecast: Forecast | None,
    anomalies: tuple[Anomaly, ...] | list[Anomaly],
    policy: Policy,
    now: datetime,
    fleet_anomaly: FleetAnomaly | None = None,
) -> Plan:
    fleet = _Fleet.of(snapshot.nodes)
    draft = _Draft()
    _replace_crashed(fleet, draft)
    allowance = max(1, math.floor(len(fleet.healthy) * policy.max_ejection_percent / 100.0))
    faulty = _screen_fleet_anomaly(fleet, anomalies, fleet_anomaly, allowance, policy, draft)
    candidates = _fault_candidates(fleet, faulty) + _prevention_candidates(
        fleet, {a.node for a in anomalies}, policy
    )
    _launch_replacements(fleet, candidates, allowance, snapshot, policy, now, draft)
    _drain_replaced(fleet, snapshot, policy, draft)
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


def _replace_crashed(fleet: _Fleet, draft: _Draft) -> None:
    """Rule 1: a crashed node is stopped and replaced at once, outside every limit."""
    for node in sorted(fleet.crashed, key=lambda n: n.id):
        draft.to_stop.append(node.id)
        draft.leaving.add(node.id)
        if node.state is NodeState.DRAINING or node.id in fleet.replacement_of:
            continue
        draft.to_replace.append(node.id)
        draft.replace_kind[node.id] = "crash"
        draft.decisions.append(
            Decision(
                "replace",
                node.id,
                f"node {node.id} crashed (state {node.state.value}); stopping it and "
                "launching a replacement at once",
                {"state": node.state.value, "crashed": True},
            )
        )


def _screen_fleet_anomaly(
    fleet: _Fleet,
    anomalies: tuple[Anomaly, ...] | list[Anomaly],
    fleet_anomaly: FleetAnomaly | None,
    allowance: int,
    policy: Policy,
    draft: _Draft,
) -> list[Anomaly]:
    """Rule 2a: too many anomalous nodes at once is a fleet event; returns node faults."""
    ready_ids = {n.id for n in fleet.ready}
    faulty = sorted((a for a in anomalies if a.node in ready_ids), key=lambda a: (-a.score, a.node))
    faulty = list({a.node: a for a in reversed(faulty)}.values())[::-1]  # one per node
    if faulty and (fleet_anomaly is not None or len(faulty) > allowance):
        fraction = len(faulty) / max(len(fleet.healthy), 1)
        draft.decisions.append(
            Decision(
                "fleet_anomaly",
                None,
                f"{len(faulty)} of {len(fleet.healthy)} nodes ({fraction:.0%}) look anomalous "
                f"together (budget {allowance} at max_ejection_percent "
                f"{policy.max_ejection_percent:g} %); recording a fleet-wide anomaly and "
                "replacing none",
                {
                    "nodes": [a.node for a in faulty],
                    "fraction": round(fraction, 4),
                    "allowance": allowance,
                    "detector_fleet_anomaly": fleet_anomaly is not None,
                },
            )
        )
        return []
    if fleet_anomaly is not None:
        draft.decisions.append(
            Decision(
                "fleet_anomaly",
                None,
                f"the detector reports a fleet-wide anomaly over {len(fleet_anomaly.nodes)} "
                f"nodes ({fleet_anomaly.fraction:.0%}); replacing none for faults",
                {"nodes": list(fleet_anomaly.nodes), "fraction": fleet_anomaly.fraction},
            )
        )
    return faulty


def _fault_candidates(fleet: _Fleet, faulty: list[Anomaly]) -> list[_Candidate]:
    out: list[_Candidate] = []
    for a in faulty:
        metrics = ", ".join(a.top_metrics) or "unspecified metrics"
        out.append(
            (
                fleet.by_id[a.node],
                "replace",
                f"node {a.node} is anomalous (score {a.score:.3f}, top metrics: {metrics})",
                {"score": a.score, "top_metrics": list(a.top_metrics), "since": _iso(a.since)},
            )
        )
    return out


def _prevention_candidates(fleet: _Fleet, anomalous: set[str], policy: Policy) -> list[_Candidate]:
    """Rule 3: RSS that reaches the memory limit within the horizon, at its current slope."""
    out: list[_Candidate] = []
    for node in sorted(fleet.ready, key=lambda n: n.id):
        seconds = _seconds_to_memory_limit(node)
        if node.id in anomalous or seconds is None or seconds > policy.prevention_horizon_seconds:
            continue
        out.append(
            (
                node,
                "prevent",
                f"node {node.id} RSS {_mib(node.rss_bytes)} MiB grows "
                f"{_mib(node.rss_slope_bytes_per_s, 3)} MiB/s and reaches its limit "
                f"{_mib(node.memory_limit_bytes)} MiB in {seconds:.0f} s "
                f"(horizon {policy.prevention_horizon_seconds:g} s)",
                {
                    "rss_bytes": node.rss_bytes,
                    "rss_slope_bytes_per_s": node.rss_slope_bytes_per_s,
                    "memory_limit_bytes": node.memory_limit_bytes,
                    "seconds_to_limit": round(seconds, 1),
                },
            )
        )
    return out


def _launch_replacements(
    fleet: _Fleet,
    candidates: list[_Candidate],
    allowance: int,
    snapshot: Snapshot,
    policy: Policy,
    now: datetime,
    draft: _Draft,
) -> None:
    """Rule 2b/3: replace candidates within the cooldown and the ejection budget."""
    in_progress = sum(1 for n in fleet.draining if n.drain_reason in ("fault", "prevent"))
    in_progress += sum(1 for n in fleet.ready if n.id in fleet.replacement_of)
    cooldown_from = dict(snapshot.fault_replaced_at)
    for node, kind, why, details in candidates:
        if node.id in fleet.replacement_of:
            continue  # already being replaced; its drain is handled by _drain_replaced
        launched = cooldown_from.get(node.id)
        if launched is None and node.replaces is not None:
            launched = node.since
        if launched is not None and (now - launched).total_seconds() < policy.cooldown_seconds:
            age = (now - launched).total_seconds()
            draft.decisions.append(
                Decision(
                    "hold",
                    node.id,
                    f"{why}, but it was launched as a replacement {age:.0f} s ago "
                    f"(cooldown {policy.cooldown_seconds:g} s); not replacing it again",
                    {**details, "cooldown_seconds": policy.cooldown_seconds, "age": age},
                )
            )
            continue
        if in_progress >= allowance:
            draft.decisions.append(
                Decision(
                    "hold",
                    node.id,
                    f"{why}, but {in_progress} node(s) are already being replaced or drained "
                    f"for faults (budget {allowance}); waiting",
                    {**details, "in_progress": in_progress, "allowance": allowance},
                )
            )
            continue
        in_progress += 1
        draft.to_replace.append(node.id)
        draft.replace_kind[node.id] = kind
        draft.decisions.append(Decision(kind, node.id, f"{why}; launching a replacement", details))


def _drain_replaced(fleet: _Fleet, snapshot: Snapshot, policy: Policy, draft: _Draft) -> None:
    """Rule 4: drain a replaced node once its replacement is ready or others suffice."""
    replaced = [
        n for n in fleet.ready if n.id in fleet.replacement_of or n.id in draft.replace_kind
    ]
    for node in sorted(replaced, key=lambda n: n.id):
        replacement = fleet.replacement_of.get(node.id)
        decision, ok = _fault_drain(node, replacement, fleet.ready, draft.leaving, snapshot, policy)
        draft.decisions.append(decision)
        if ok:
            draft.drain(node.id)


def _scale(
    fleet: _Fleet,
    snapshot: Snapshot,
    forecast: Forecast | None,
    policy: Policy,
    now: datetime,
    draft: _Draft,
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
        serving = len(_serving(fleet.ready, draft.leaving))
        if node_id not in draft.leaving and serving - 1 >= policy.min_nodes:
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


def _serving(ready: list[NodeView], leaving: set[str]) -> list[NodeView]:
    return [n for n in ready if n.id not in leaving]


def _fault_drain(
    node: NodeView,
    replacement: NodeView | None,
    ready: list[NodeView],
    leaving: set[str],
    snapshot: Snapshot,
    policy: Policy,
) -> tuple[Decision, bool]:
    """Drain decision for a node that has (or just got) a replacement."""
    others = [n for n in _serving(ready, leaving) if n.id != node.id]
    if replacement is not None and replacement.state is NodeState.READY:
        if len(others) < policy.min_nodes:
            return (
                Decision(
                    "hold",
                    node.id,
                    f"not draining {node.id} yet: only {len(others)} other ready node(s), "
                    f"min_nodes is {policy.min_nodes}",
                    {"other_ready": len(others), "min_nodes": policy.min_nodes},
                ),
                False,
            )
        return (
            Decision(
                "drain",
                node.id,
                f"draining {node.id}: its replacement {replacement.id} is ready",
                {"replacement": replacement.id, "other_ready": len(others)},
            ),
            True,
        )
    headroom = len(others) * policy.node_capacity_rps * policy.target_utilization
    details: dict[str, object] = {
        "replacement": replacement.id if replacement else None,
        "other_ready": len(others),
        "observed_rps": round(snapshot.observed_rps, 3),
        "other_capacity_rps": round(headroom, 3),
        "min_nodes": policy.min_nodes,
    }
    if len(others) >= policy.min_nodes and headroom >= snapshot.observed_rps:
        return (
            Decision(
                "drain",
                node.id,
                f"draining {node.id} before its replacement is ready: the {len(others)} other "
                f"ready node(s) carry {snapshot.observed_rps:.1f} rps within "
                f"{headroom:.1f} rps at target utilization",
                details,
            ),
            True,
        )
    return (
        Decision(
            "hold",
            node.id,
            f"keeping {node.id} in service until its replacement is ready: the "
            f"{len(others)} other ready node(s) give {headroom:.1f} rps for "
            f"{snapshot.observed_rps:.1f} rps observed (min_nodes {policy.min_nodes})",
            details,
        ),
        False,
    )


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
                f"forecast q{policy.forecast_quantile:g} {upper:.1f} rps over the "
                f"{policy.startup_seconds:g} s start-up lead needs {predictive}"
            )
        else:
            details["forecast_note"] = "forecast does not reach the start-up lead window"
            parts.append("forecast does not reach the start-up lead window")
    else:
        parts.append("no forecast, reactive only")

    utilization = snapshot.utilization
    if utilization is None and ready:
        utilization = snapshot.observed_rps / (len(ready) * policy.node_capacity_rps)
    if ready and utilization is not None:
        ratio = utilization / policy.target_utilization
        if abs(ratio - 1.0) <= policy.tolerance:
            reactive = planned
            parts.append(f"utilization {utilization:.2f} within tolerance of target")
        else:
            reactive = math.ceil(len(ready) * ratio - 1e-9)
            parts.append(f"reactive floor {reactive} at utilization {utilization:.2f}")
        details.update(utilization=round(utilization, 4), ratio=round(ratio, 4))
    else:
        reactive = math.ceil(snapshot.observed_rps / per_node - 1e-9)
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
    return float(np.max(forecast_quantile(forecast, q)[mask]))


def _align(moment: datetime, stamps: pd.DatetimeIndex) -> pd.Timestamp:
    """Compare naive and aware times by reading naive ones as UTC."""
    ts = pd.Timestamp(moment)
    if stamps.tz is None and ts.tzinfo is not None:
        return ts.tz_convert(UTC).tz_localize(None)
    if stamps.tz is not None and ts.tzinfo is None:
        return ts.tz_localize(UTC)
    return ts


def _seconds_to_memory_limit(node: NodeView) -> float | None:
    if node.rss_bytes is None or node.memory_limit_bytes is None:
        return None
    remaining = node.memory_limit_bytes - node.rss_bytes
    if remaining <= 0:
        return 0.0
    slope = node.rss_slope_bytes_per_s
    if slope is None or slope <= 0:
        return None
    return remaining / slope


def _mib(value: float | None, digits: int = 0) -> str:
    return "?" if value is None else f"{value / 2**20:.{digits}f}"


def _iso(moment: datetime) -> str:
    return moment.isoformat()
