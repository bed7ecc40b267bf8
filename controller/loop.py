"""The control loop: one tick = observe → update models → plan → execute → record.

``Controller.tick(now)`` is the whole algorithm and reads like its steps; the
scheduled job around it only supplies ``now`` and makes sure a failing tick is
logged with its cause and the next one still runs (APScheduler, one instance
at a time, missed runs coalesced).  On start the controller rebuilds what it
knows from the store and the pool (nodes the pool adopted, drain reasons,
planner memory, load history), so a restart neither orphans nor double-launches
nodes.  Decisions are made by the pure ``plan()``; effects by the executor.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from controller.config import Settings
from controller.executor import ExecutionResult, Executor
from controller.lifecycle import NodeState
from controller.live_models import DetectionResult, DetectorKeeper, ForecastKeeper
from controller.observe import NodeWindow, Observer
from controller.planner import Decision, NodeView, Plan, Snapshot, plan
from controller.pools.base import NodeInfo, NodePool
from controller.store import Store
from controller.wiring import (
    ControllerMetrics,
    budget_from,
    carry_from,
    ceiling_from,
    policy_from,
)

log = logging.getLogger(__name__)
UNRESPONSIVE_SCRAPES = 3  # consecutive missed scrapes after which a live node counts as crashed
RSS_TREND_POINTS = 10
WARMUP_TICKS = 3  # windows of a freshly ready node the detector does not see yet


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class TickReport:
    at: datetime
    seconds: float
    load_rps: float
    nodes: tuple[NodeView, ...]
    plan: Plan
    executed: ExecutionResult
    forecast_reason: str | None = None


@dataclass
class _NodeMemory:
    """What the loop remembers about a node between ticks (not the planner's memory)."""

    drain_reason: str | None = None
    missed_scrapes: int = 0
    rss: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=RSS_TREND_POINTS))
    window: NodeWindow | None = None
    score: float | None = None


def _slope(points: deque[tuple[float, float]]) -> float | None:
    if len(points) < 4:
        return None
    n = len(points)
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    var = sum((t - mx) ** 2 for t, _ in points)
    if var <= 0:
        return None
    return sum((t - mx) * (v - my) for t, v in points) / var


class Controller:
    """Owns the pool, the store, the models and the schedule of one fleet."""

    def __init__(
        self,
        settings: Settings,
        pool: NodePool,
        store: Store,
        *,
        executor: Executor | None = None,
        observer: Observer | None = None,
        forecasts: ForecastKeeper | None = None,
        detector: DetectorKeeper | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.store = store
        self.clock = clock
        self.policy = policy_from(settings)
        c = settings.controller
        self.executor = executor or Executor(
            pool,
            balancer_url=settings.balancer_url,
            admin_token=settings.security.admin_token,
            drain_timeout_seconds=settings.recovery.drain_timeout_seconds,
            retry_base_seconds=c.launch_retry_base_seconds,
            retry_max_seconds=c.launch_retry_max_seconds,
        )
        self.observer = observer or Observer(
            settings.balancer_url, timeout=c.scrape_timeout_seconds
        )
        self.forecasts = forecasts or ForecastKeeper.from_settings(settings)
        self.detector = detector or DetectorKeeper.from_settings(settings)
        self.metrics = ControllerMetrics()
        self.budget = budget_from(settings)
        self.carry = carry_from(settings)
        self.ceiling = ceiling_from(settings)
        self._allocated: int | None = None  # ready + starting after the last tick (record)
        self.lock = threading.RLock()  # tick vs. operator actions from the API
        self.memory: dict[str, _NodeMemory] = {}
        self.recommendations: list[tuple[datetime, int]] = []
        self.fault_replaced_at: dict[str, datetime] = {}
        self.last_report: TickReport | None = None
        self.last_detection = DetectionResult()
        self.last_load_rps = 0.0
        self._saved_states: dict[str, NodeState] = {}
        self._last_hold: tuple[Any, ...] | None = None
        self._unlocalized: set[str] = set()
        self._recent_flags: deque[set[str]] = deque(maxlen=4)  # raw flags, last windows
        self._load_known = False
        self._pending_decisions: list[Decision] = []
        self._holds_skipped = 0
        self._scheduler: BackgroundScheduler | None = None
        self.on_tick: list[Callable[[TickReport], None]] = []

    # -- start-up: rebuild from store + pool -------------------------------------------------

    def recover(self, now: datetime | None = None) -> None:
        """Rebuild state from the store and the pool after a (re)start."""
        now = now or self.clock()
        self.store.create_all()
        pool_nodes = {n.id: n for n in self.pool.nodes()}
        for rec in self.store.nodes():
            if rec.id in pool_nodes:
                self.memory.setdefault(rec.id, _NodeMemory()).drain_reason = rec.drain_reason
                self._saved_states[rec.id] = rec.state
            else:
                # The pool no longer has it (process gone while we were down): close it out.
                info = NodeInfo(rec.id, rec.url, NodeState.STOPPED, now, pid=rec.pid)
                self.store.save_node(info, at=now, reason="gone after controller restart")
        for node in pool_nodes.values():
            self._save_node(node, now, reason="adopted on start")
            if node.state is NodeState.FAILED:
                # Died while we were down: clean it up now, so the first plan does not
                # count it as a crash to replace on top of the initial nodes.
                self.pool.stop(node.id)
        for node in self.pool.nodes():
            self._save_node(node, now)
        mem = self.store.get_memory("planner", {}) or {}
        window = timedelta(seconds=self.policy.scale_in_stabilization_seconds)
        self.recommendations = [
            (datetime.fromisoformat(t), int(n))
            for t, n in mem.get("recommendations", [])
            if datetime.fromisoformat(t) >= now - window
        ]
        self.fault_replaced_at = {
            k: datetime.fromisoformat(v) for k, v in mem.get("fault_replaced_at", {}).items()
        }
        if self.budget is not None and mem.get("capacity_budget"):
            self.budget.restore(mem["capacity_budget"])
        if self.ceiling is not None:  # the recent peak, as far back as the store still holds
            ticks = self.ceiling.params.lookback_seconds / self.policy.tick_seconds
            self.ceiling.seed(self.store.load_series(limit=int(ticks) + 1))
        self.forecasts.seed(self.store.load_series(limit=self.forecasts.history_points))
        log.info(
            "recovered: %d node(s) in pool, %d load point(s), %d recommendation(s)",
            len(pool_nodes), len(self.forecasts.history), len(self.recommendations),
        )

    def ensure_initial_nodes(self, now: datetime | None = None) -> list[NodeInfo]:
        """Launch up to ``pool.initial_nodes`` live nodes (none if the pool adopted enough)."""
        now = now or self.clock()
        live = [n for n in self.pool.nodes() if n.state in (NodeState.STARTING, NodeState.READY)]
        missing = max(0, self.settings.pool.initial_nodes - len(live))
        launched = self.pool.launch(missing) if missing else []
        for node in launched:
            self._save_node(node, now, reason="initial node")
        return launched

    # -- the tick ----------------------------------------------------------------------------

    def tick(self, now: datetime) -> TickReport:
        started = time.perf_counter()
        with self.lock:
            nodes, windows, load_rps = self.observe(now)
            forecast, detection = self.update_models(now, nodes, windows, load_rps)
            snapshot = self.snapshot(nodes, load_rps)
            policy = self.policy
            if self.budget is not None:
                if self._allocated is not None:  # the load seen now ran on last tick's nodes
                    self.budget.observe(self._allocated, load_rps)
                policy = self.budget.apply(policy)  # quantile and both headrooms
                if self.budget.ratio is not None:
                    self.metrics.budget_ratio.set(self.budget.ratio)
            if self.carry is not None:
                if self._load_known:  # the load just seen, against last tick's forecast
                    self.carry.observe(now, load_rps)
                policy = self.carry.apply(policy)
                self.metrics.carry.set(policy.forecast_carry)
            if self.ceiling is not None:
                if self._load_known:
                    self.ceiling.observe(now, load_rps)
                policy = self.ceiling.apply(policy)
                self.metrics.ceiling.set(policy.forecast_ceiling_rps or 0.0)
            self.metrics.quantile.set(policy.forecast_quantile)
            self.metrics.floor_headroom.set(policy.floor_headroom)
            self.metrics.headroom.set(policy.forecast_headroom)
            the_plan = plan(
                snapshot, forecast, detection.anomalies, policy, now,
                fleet_anomaly=detection.fleet,
            )
            if self.carry is not None:
                self.carry.hold(forecast)
            if any("forecast_ceiling_rps" in d.details for d in the_plan.decisions):
                self.metrics.capped.inc()
            inflight = {nid: w.metrics["inflight"] for nid, w in windows.items()}
            executed = self.executor.apply(the_plan, now, inflight=inflight)
            self.record(now, snapshot, the_plan, executed, forecast, detection)
        report = TickReport(
            at=now,
            seconds=time.perf_counter() - started,
            load_rps=load_rps,
            nodes=snapshot.nodes,
            plan=the_plan,
            executed=executed,
            forecast_reason=None if forecast is not None else self.forecasts.reason,
        )
        self.metrics.tick_seconds.observe(report.seconds)
        self.metrics.ticks.labels("ok").inc()
        self.last_report = report
        for callback in self.on_tick:
            callback(report)
        return report

    def observe(self, now: datetime) -> tuple[list[NodeInfo], dict[str, NodeWindow], float]:
        nodes = self.pool.nodes()
        targets = {
            n.id: n.url for n in nodes
            if n.state in (NodeState.READY, NodeState.DRAINING, NodeState.STARTING)
        }
        windows, lb_rps, answered = self.observer.observe(targets)
        load = lb_rps if lb_rps is not None else sum(w.metrics["rps"] for w in windows.values())
        # The first scrape of the balancer has no rate yet: that 0 is not a load observation.
        self._load_known = lb_rps is not None or bool(windows)
        for n in nodes:
            mem = self.memory.setdefault(n.id, _NodeMemory())
            mem.missed_scrapes = 0 if n.id in answered else mem.missed_scrapes + 1
            if n.id in windows:
                mem.window = windows[n.id]
                mem.rss.append((now.timestamp(), windows[n.id].rss_bytes))
        self.store.add_samples(
            now, [(nid, m, v) for nid, w in windows.items() for m, v in w.metrics.items()]
        )
        if self._load_known:
            self.store.add_load(now, load)
        self.last_load_rps = load
        return nodes, windows, load

    def update_models(
        self, now: datetime, nodes: list[NodeInfo], windows: dict[str, NodeWindow],
        load_rps: float,
    ) -> tuple[Any, DetectionResult]:
        if self._load_known:
            self.forecasts.add(now, load_rps)
        self.store.score_forecasts(
            now, load_rps, tolerance=timedelta(seconds=self.settings.controller.tick_seconds / 2)
        )
        horizon = max(2, math.ceil(
            (self.policy.startup_seconds + 2 * self.policy.tick_seconds) / self.policy.tick_seconds
        ))
        forecast = self.forecasts.forecast(horizon)
        if forecast is not None and self.forecasts.issued_new(forecast):
            self.store.record_forecast(
                now, [t.to_pydatetime() for t in forecast.timestamps], forecast.mean,
                forecast.lo80, forecast.hi80, forecast.lo95, forecast.hi95, forecast.model,
            )
        # Only nodes that serve traffic and are past their warm-up are compared: a draining
        # node's traffic falls to zero and a fresh one gets a burst, both by design.
        warmup = timedelta(seconds=WARMUP_TICKS * self.policy.tick_seconds)
        serving = {n.id for n in nodes if n.state is NodeState.READY and now - n.since >= warmup}
        live_windows = {nid: dict(w.metrics) for nid, w in windows.items() if nid in serving}
        detection = self.detector.step(now, live_windows, expected=sorted(serving))
        for nid, mem in self.memory.items():
            mem.score = detection.scores.get(nid)
        detection = self._localizable(detection, len(live_windows))
        self.last_detection = detection
        return forecast, detection

    def _localizable(self, detection: DetectionResult, compared: int) -> DetectionResult:
        """With fewer nodes than the detector needs for peer comparison, a node's change
        against its own past could be a load change.  It is acted on only when it is
        alone: no other serving node was flagged in the recent windows (a load change
        moves them all).  'absent' nodes are always acted on.  Anything else is recorded
        as a hold, once per episode."""
        flagged_now = {n for n, f in detection.flagged.items() if f}
        self._recent_flags.append(flagged_now)
        min_peers = self.detector.min_peers
        if compared >= min_peers:
            self._unlocalized = set()
            return detection
        recently = set().union(*self._recent_flags)

        def alone(node: str) -> bool:
            return compared >= 2 and not (recently - {node})

        kept = tuple(
            a for a in detection.anomalies if a.top_metrics == ("absent",) or alone(a.node)
        )
        dropped = {a.node for a in detection.anomalies} - {a.node for a in kept}
        for node in sorted(dropped - self._unlocalized):
            self._pending_decisions.append(Decision(
                "hold", node,
                f"node {node} looks anomalous but only {compared} node(s) are serving and "
                "others changed too; with fewer than "
                f"{min_peers} to compare this may be a load change, so it is not replaced "
                "for now",
                {"compared": compared, "min_peers": min_peers,
                 "also_flagged": sorted(recently - {node})},
            ))
        self._unlocalized = dropped
        return replace(detection, anomalies=kept)

    def snapshot(self, nodes: list[NodeInfo], load_rps: float) -> Snapshot:
        views = []
        for n in nodes:
            if n.state is NodeState.STOPPED:
                continue
            mem = self.memory.setdefault(n.id, _NodeMemory())
            w = mem.window
            unresponsive = n.state is NodeState.READY and mem.missed_scrapes >= UNRESPONSIVE_SCRAPES
            views.append(
                NodeView(
                    id=n.id,
                    state=n.state,
                    since=n.since,
                    inflight=int(w.metrics["inflight"]) if w else 0,
                    anomaly_score=mem.score,
                    replaces=n.replaces,
                    drain_reason=mem.drain_reason if n.state is NodeState.DRAINING else None,
                    crashed=n.state is NodeState.FAILED or unresponsive,
                    rss_bytes=w.rss_bytes if w else None,
                    rss_slope_bytes_per_s=_slope(mem.rss),
                    memory_limit_bytes=w.memory_limit_bytes if w else None,
                )
            )
        ready = sum(v.state is NodeState.READY for v in views)
        capacity = ready * self.policy.node_capacity_rps
        return Snapshot(
            nodes=tuple(views),
            observed_rps=load_rps,
            utilization=(load_rps / capacity) if capacity > 0 else None,
            recommendations=tuple(self.recommendations),
            fault_replaced_at=tuple(self.fault_replaced_at.items()),
        )

    def record(
        self, now: datetime, snapshot: Snapshot, the_plan: Plan, executed: ExecutionResult,
        forecast: Any, detection: DetectionResult,
    ) -> None:
        decisions = [d for d in the_plan.decisions if not self._repeated_hold(d)]
        decisions += list(executed.events) + self._pending_decisions
        self._pending_decisions = []
        if forecast is None and self.forecasts.reason and not any(
            d.kind == "hold" and "forecast" in d.reason for d in decisions
        ) and self.forecasts.should_report_reason():
            decisions.append(Decision("hold", None, f"reactive only: {self.forecasts.reason}"))
        inputs = {
            "load_rps": snapshot.observed_rps,
            "utilization": snapshot.utilization,
            "ready": sum(v.state is NodeState.READY for v in snapshot.nodes),
            "desired": the_plan.desired,
            "forecast_model": forecast.model if forecast is not None else None,
            "forecast_hi": float(forecast.hi95.max()) if forecast is not None else None,
            "anomalies": [a.node for a in detection.anomalies],
        }
        self.store.record_decisions(now, decisions, inputs)
        for d in decisions:
            self.metrics.decisions.labels(d.kind).inc()
            log.info("decision %s %s: %s", d.kind, d.node_id or "-", d.reason)
        self.metrics.launch_failures.inc(
            sum(1 for e in executed.events if "failed" in e.reason and "launch" in e.reason)
        )
        for node_id, reason in executed.drain_reasons.items():
            self.memory.setdefault(node_id, _NodeMemory()).drain_reason = reason
            self.store.set_drain_reason(node_id, reason)
        replaced_for_fault = {
            d.node_id for d in the_plan.decisions if d.kind in ("replace", "drain", "prevent")
        }
        for node in executed.launched:
            if node.replaces and node.replaces in replaced_for_fault:
                self.fault_replaced_at[node.id] = now
        cooldown = timedelta(seconds=self.policy.cooldown_seconds)
        self.fault_replaced_at = {
            k: v for k, v in self.fault_replaced_at.items() if v >= now - cooldown
        }
        if the_plan.recommendation is not None:
            self.recommendations.append(the_plan.recommendation)
        window = timedelta(seconds=self.policy.scale_in_stabilization_seconds)
        self.recommendations = [r for r in self.recommendations if r[0] >= now - window]
        self.store.set_memory(
            "planner",
            {
                "recommendations": [(t.isoformat(), n) for t, n in self.recommendations],
                "fault_replaced_at": {k: v.isoformat() for k, v in self.fault_replaced_at.items()},
                **({"capacity_budget": self.budget.state()} if self.budget is not None else {}),
            },
            at=now,
        )
        self._record_anomalies(now, detection)
        counts = {s: 0 for s in NodeState}
        for node in self.pool.nodes():
            self._save_node(node, now)
            counts[node.state] += 1
        for state, count in counts.items():
            self.metrics.nodes.labels(state.value).set(count)
        self._allocated = counts[NodeState.READY] + counts[NodeState.STARTING]
        self.metrics.load.set(snapshot.observed_rps)
        self.metrics.desired.set(the_plan.desired)
        self.metrics.anomalous.set(len(detection.anomalies))

    def _repeated_hold(self, d: Decision) -> bool:
        """A capacity 'hold' identical in outcome to the last one is not recorded again
        (one per tick would bury the decisions that matter); one in 20 still is."""
        if d.kind != "hold" or d.node_id is not None:
            return False
        key = (d.details.get("planned"), d.details.get("desired"), d.reason.split(":")[0])
        if key == self._last_hold and self._holds_skipped < 20:
            self._holds_skipped += 1
            return True
        self._last_hold, self._holds_skipped = key, 0
        return False

    def _record_anomalies(self, now: datetime, detection: DetectionResult) -> None:
        for a in detection.anomalies:
            self.store.open_anomaly(
                a.node, since=a.since, at=now, score=a.score, top_metrics=a.top_metrics
            )
        self.store.resolve_anomalies([a.node for a in detection.anomalies], now)

    def _save_node(self, node: NodeInfo, now: datetime, reason: str | None = None) -> None:
        if self._saved_states.get(node.id) == node.state and reason is None:
            return
        self.store.save_node(node, at=now, reason=reason)
        self._saved_states[node.id] = node.state
        if node.state is NodeState.STOPPED:
            self.memory.pop(node.id, None)

    # -- operator actions --------------------------------------------------------------------

    def drain_and_replace(self, node_id: str, now: datetime | None = None) -> dict[str, Any]:
        """Operator drain (REST): launch a replacement and drain the node now.

        Raises KeyError for an unknown node and ValueError when it is not ready."""
        now = now or self.clock()
        with self.lock:
            nodes = {n.id: n for n in self.pool.nodes()}
            if node_id not in nodes or nodes[node_id].state is NodeState.STOPPED:
                raise KeyError(node_id)
            if nodes[node_id].state is not NodeState.READY:
                raise ValueError(f"node {node_id} is {nodes[node_id].state.value}, not ready")
            replacement = self.pool.launch(1, replaces=node_id)
            self.executor.drain_now(node_id)
            self.memory.setdefault(node_id, _NodeMemory()).drain_reason = "operator"
            self.store.set_drain_reason(node_id, "operator")
            decision = Decision(
                "drain", node_id, "operator requested drain and replace",
                {"replacement": [n.id for n in replacement]},
            )
            self.store.record_decisions(now, [decision], {"source": "api"})
            self.metrics.decisions.labels("drain").inc()
            for node in [*replacement, *self.pool.nodes()]:
                self._save_node(node, now)
        return {"node_id": node_id, "state": "draining", "replacement": [n.id for n in replacement]}

    # -- scheduling --------------------------------------------------------------------------

    def scheduled_tick(self) -> None:
        """The job APScheduler runs: a failed tick is logged with its cause and skipped."""
        try:
            self.tick(self.clock())
        except Exception:  # noqa: BLE001 - never let one tick kill the loop
            self.metrics.ticks.labels("error").inc()
            log.exception("tick failed; the next tick runs as scheduled")

    def housekeeping(self) -> None:
        now = self.clock()
        try:
            retention = timedelta(seconds=self.settings.controller.metrics_retention_seconds)
            self.store.compact_samples(
                now, raw_retention=min(retention, timedelta(hours=1)), retention=retention
            )
            self.detector.maybe_retrain(now)
        except Exception:  # noqa: BLE001
            log.exception("housekeeping failed")

    def start(self, *, first_tick_delay: float = 0.0) -> None:
        tick_s = self.settings.controller.tick_seconds
        self._scheduler = BackgroundScheduler(timezone=UTC)
        first = datetime.now(UTC) + timedelta(seconds=first_tick_delay)
        self._scheduler.add_job(
            self.scheduled_tick, "interval", seconds=tick_s, id="tick",
            max_instances=1, coalesce=True, misfire_grace_time=max(1, int(tick_s)),
            next_run_time=first,
        )
        self._scheduler.add_job(
            self.housekeeping, "interval", seconds=max(60.0, 20 * tick_s), id="housekeeping",
            max_instances=1, coalesce=True,
        )
        self._scheduler.start()

    def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
        self.forecasts.close()

    # -- views for the API -------------------------------------------------------------------

    def node_rows(self) -> list[dict[str, Any]]:
        rows = []
        for n in self.pool.nodes():
            if n.state is NodeState.STOPPED:
                continue
            mem = self.memory.get(n.id)
            w = mem.window if mem else None
            rows.append({
                "id": n.id, "url": n.url, "state": n.state.value, "since": n.since,
                "weight": n.weight,
                "inflight": int(w.metrics["inflight"]) if w else 0,
                "anomaly_score": mem.score if mem else None,
            })
        return rows

