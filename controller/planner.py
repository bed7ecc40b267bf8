"""The pure planner: what the pool should look like next, and why.

``plan(snapshot, forecast, anomalies, policy, now) -> Plan`` is a purely
computational function with no side effects: no database, no HTTP, no clock,
no randomness.  Time and ids come in as arguments, so tests compare whole plans
and the simulator replays the very same function over a trace.

(Types below are the contract shared by the executor, the live loop and the
simulator; the decision logic is implemented under the controller issue.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

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
    count) within the scale-in stabilization window; the caller keeps it.
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


@dataclass(frozen=True)
class Decision:
    kind: str  # one of DECISION_KINDS
    node_id: str | None
    reason: str
    details: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    desired: int  # ready-node count the pool should converge to
    to_launch: int
    to_drain: tuple[str, ...]  # scale-in drains and drains of replaced nodes
    to_replace: tuple[str, ...]  # nodes that get a replacement launched now
    decisions: tuple[Decision, ...]
    recommendation: tuple[datetime, int] | None = None  # append to Snapshot.recommendations

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(d.reason for d in self.decisions)


def plan(
    snapshot: Snapshot,
    forecast: Forecast | None,
    anomalies: tuple[Anomaly, ...] | list[Anomaly],
    policy: Policy,
    now: datetime,
    fleet_anomaly: FleetAnomaly | None = None,
) -> Plan:
    raise NotImplementedError("planner logic lands with the controller issue")
