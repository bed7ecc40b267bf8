"""The planner's value types: what it is told and what it answers.

Kept apart from the rules so that the executor, the store, the live loop and the
simulator share one vocabulary; ``controller.planner`` re-exports every name, so
callers import them from there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from controller.lifecycle import NodeState

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
    forecast_headroom: float = 1.0  # multiplier on that quantile (the capacity budget's stage 2)
    # multiplier on that quantile after a load above the forecast's band (controller.margin)
    forecast_carry: float = 1.0
    # the most load (rps) the predictive need is sized for, after the carry and before the
    # headroom: a multiple of the recent peak load (controller.margin.PeakCeiling); None: no bound
    forecast_ceiling_rps: float | None = None
    # the reactive floor sizes for target_utilization / floor_headroom (capacity budget, stage 2)
    floor_headroom: float = 1.0
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
