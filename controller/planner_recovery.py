"""Recovery rules of the planner: crashed, anomalous and leaking nodes.

Rules 1-4 of ``controller.planner`` (see its docstring): crashed nodes are
replaced at once; anomalous nodes are replaced within the ejection budget and the
cooldown unless too many look anomalous together (a fleet-wide anomaly);
nodes whose memory trends to their limit are replaced before they fail; a
replaced node drains once its replacement is ready or the others carry the load.
Pure functions over a ``Fleet`` view, writing into the ``Draft`` of one plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from controller.lifecycle import NodeState
from controller.planner_types import Decision, NodeView, Policy, Snapshot
from detector.types import Anomaly, FleetAnomaly


@dataclass(frozen=True)
class Fleet:
    """The snapshot's nodes sorted into the groups the rules talk about."""

    crashed: list[NodeView]
    healthy: list[NodeView]  # live and not crashed
    ready: list[NodeView]
    starting: list[NodeView]
    draining: list[NodeView]
    by_id: dict[str, NodeView]
    replacement_of: dict[str, NodeView]  # node id -> its live (starting/ready) replacement

    @classmethod
    def of(cls, nodes: tuple[NodeView, ...]) -> Fleet:
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
class Draft:
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
Candidate = tuple[NodeView, str, str, dict[str, object]]


def replace_crashed(fleet: Fleet, draft: Draft) -> None:
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


def screen_fleet_anomaly(
    fleet: Fleet,
    anomalies: tuple[Anomaly, ...] | list[Anomaly],
    fleet_anomaly: FleetAnomaly | None,
    allowance: int,
    policy: Policy,
    draft: Draft,
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


def fault_candidates(fleet: Fleet, faulty: list[Anomaly]) -> list[Candidate]:
    out: list[Candidate] = []
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


def prevention_candidates(fleet: Fleet, anomalous: set[str], policy: Policy) -> list[Candidate]:
    """Rule 3: RSS that reaches the memory limit within the horizon, at its current slope."""
    out: list[Candidate] = []
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


def launch_replacements(
    fleet: Fleet,
    candidates: list[Candidate],
    allowance: int,
    snapshot: Snapshot,
    policy: Policy,
    now: datetime,
    draft: Draft,
) -> None:
    """Rule 2b/3: replace candidates within the cooldown and the ejection budget."""
    in_progress = sum(1 for n in fleet.draining if n.drain_reason in ("fault", "prevent"))
    in_progress += sum(1 for n in fleet.ready if n.id in fleet.replacement_of)
    cooldown_from = dict(snapshot.fault_replaced_at)
    for node, kind, why, details in candidates:
        if node.id in fleet.replacement_of:
            continue  # already being replaced; its drain is handled by drain_replaced
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


def drain_replaced(fleet: Fleet, snapshot: Snapshot, policy: Policy, draft: Draft) -> None:
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


def serving(ready: list[NodeView], leaving: set[str]) -> list[NodeView]:
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
    others = [n for n in serving(ready, leaving) if n.id != node.id]
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
