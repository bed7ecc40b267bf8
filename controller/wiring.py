"""How ``Settings`` become the control loop's parts: the planner ``Policy``, the
capacity budget and the loop's Prometheus metrics (kept out of ``loop.py`` so the
loop reads as its algorithm)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from controller.budget import QuantileBudget
from controller.config import Settings
from controller.lifecycle import NodeState
from controller.margin import PeakCeiling, SurpriseCarry
from controller.planner import Policy


def policy_from(settings: Settings) -> Policy:
    c, r, p = settings.controller, settings.recovery, settings.pool
    return Policy(
        min_nodes=p.min_nodes,
        max_nodes=p.max_nodes,
        node_capacity_rps=c.node_capacity_rps,
        target_utilization=c.target_utilization,
        startup_seconds=c.startup_seconds,
        tick_seconds=c.tick_seconds,
        scale_in_stabilization_seconds=c.scale_in_stabilization_seconds,
        forecast_quantile=c.forecast_quantile,
        max_ejection_percent=r.max_ejection_percent,
        cooldown_seconds=r.cooldown_seconds,
        prevention_horizon_seconds=r.prevention_horizon_seconds,
    )


def budget_from(settings: Settings) -> QuantileBudget | None:
    c = settings.controller
    if not c.capacity_budget:
        return None
    return QuantileBudget.from_policy(
        policy_from(settings), c.capacity_budget, max_headroom=c.capacity_headroom
    )


def carry_from(settings: Settings) -> SurpriseCarry | None:
    """The live loop's surprise carry (``controller.margin``), None when turned off."""
    return SurpriseCarry.up_to(settings.controller.forecast_carry)


def ceiling_from(settings: Settings) -> PeakCeiling | None:
    """The live loop's bound on the forecast (``controller.margin``), None when turned off."""
    c = settings.controller
    return PeakCeiling.at(c.forecast_ceiling, c.forecast_ceiling_seconds)


class ControllerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.ticks = Counter(
            "fleetcast_controller_ticks", "Ticks by outcome", ["outcome"], registry=r
        )
        self.tick_seconds = Histogram(
            "fleetcast_controller_tick_seconds", "Tick duration",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30), registry=r,
        )
        self.nodes = Gauge("fleetcast_controller_nodes", "Nodes by state", ["state"], registry=r)
        self.decisions = Counter(
            "fleetcast_controller_decisions", "Decisions by kind", ["kind"], registry=r
        )
        self.load = Gauge("fleetcast_controller_load_rps", "Observed load (req/s)", registry=r)
        self.desired = Gauge("fleetcast_controller_desired_nodes", "Planner's desired", registry=r)
        self.anomalous = Gauge(
            "fleetcast_controller_anomalous_nodes", "Nodes flagged anomalous", registry=r
        )
        self.quantile = Gauge(
            "fleetcast_controller_forecast_quantile",
            "Forecast quantile the planner sizes for (adapted by the capacity budget)",
            registry=r,
        )
        self.floor_headroom = Gauge(
            "fleetcast_controller_floor_headroom",
            "Divisor of the reactive floor's target utilization: above 1 past the quantile "
            "ceiling (the second stage's first leg; capacity_headroom 1 turns it off), below 1 "
            "(down to target / 0.8) when over budget at the quantile floor (the relief leg)",
            registry=r,
        )
        self.headroom = Gauge(
            "fleetcast_controller_forecast_headroom",
            "Multiplier on the forecast once the floor's headroom is full (the second "
            "stage's second leg; stays 1 with capacity_headroom 1)",
            registry=r,
        )
        self.carry = Gauge(
            "fleetcast_controller_forecast_carry",
            "Multiplier on the forecast after a load above its 80 % quantile (the surprise "
            "carry; stays 1 with forecast_carry 1)",
            registry=r,
        )
        self.ceiling = Gauge(
            "fleetcast_controller_forecast_ceiling_rps",
            "Most load the forecast is sized for: forecast_ceiling x the highest load of the "
            "lookback (0 until the loads seen span it, or with forecast_ceiling 0)",
            registry=r,
        )
        self.capped = Counter(
            "fleetcast_controller_forecast_capped",
            "Ticks whose forecast was cut to the ceiling", registry=r,
        )
        self.budget_ratio = Gauge(
            "fleetcast_controller_capacity_ratio",
            "Allocated over hindsight-needed node-time (decayed; the budget's input)",
            registry=r,
        )
        self.launch_failures = Counter(
            "fleetcast_controller_launch_failures", "Failed node launches", registry=r
        )
        for state in NodeState:
            self.nodes.labels(state.value).set(0)
