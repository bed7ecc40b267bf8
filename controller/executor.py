"""The one place where the controller changes the world.

The planner only says what should happen; the executor makes it so, against a
``NodePool`` and the load balancer: it launches nodes (retrying a failed launch
with exponential back-off, each failure recorded), drains nodes, stops a
draining node once its in-flight requests are done or its drain timeout has
passed — but never before the node launched to replace it is ready — cleans up
crashed nodes (a stop is begun, not awaited: the pool finishes it, SIGKILL
included, while the next ticks run), and pushes the membership to the load balancer
(``PUT /admin/backends``).  A failure here is not fatal: it becomes an
observation of the next tick.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx

from controller.lifecycle import NodeState
from controller.planner import Decision, Plan
from controller.pools.base import NodeInfo, NodePool

log = logging.getLogger(__name__)

# Which decision put a node into draining (NodeView.drain_reason for the planner).
DRAIN_REASON_BY_KIND = {
    "scale_in": "scale_in",
    "drain": "fault",
    "replace": "fault",
    "prevent": "prevent",
}
# A replaced node is kept draining until its replacement is ready, but not forever.
REPLACEMENT_WAIT_CAP = timedelta(minutes=5)


@dataclass(frozen=True)
class ExecutionResult:
    launched: tuple[NodeInfo, ...] = ()
    drained: tuple[str, ...] = ()
    stopped: tuple[str, ...] = ()
    drain_reasons: Mapping[str, str] = field(default_factory=dict)
    events: tuple[Decision, ...] = ()  # things the executor itself reports (launch failures)
    membership_pushed: bool = False


class Executor:
    """Applies plans to ``pool`` and keeps the load balancer's membership in step."""

    def __init__(
        self,
        pool: NodePool,
        *,
        balancer_url: str | None,
        admin_token: str | None,
        drain_timeout_seconds: float = 30.0,
        retry_base_seconds: float = 2.0,
        retry_max_seconds: float = 60.0,
        push_every_ticks: int = 10,
        http: httpx.Client | None = None,
    ) -> None:
        self.pool = pool
        self.balancer_url = balancer_url.rstrip("/") if balancer_url else None
        self.admin_token = admin_token
        self.drain_timeout = timedelta(seconds=drain_timeout_seconds)
        self.retry_base = retry_base_seconds
        self.retry_max = retry_max_seconds
        self.push_every_ticks = push_every_ticks
        self.http = http or httpx.Client(timeout=2.0, trust_env=False)
        self.launch_failures = 0
        self.next_launch_at: datetime | None = None
        self._last_membership: list[dict[str, object]] | None = None
        self._ticks_since_push = 0
        self._stopping: set[str] = set()  # stops begun whose process may not have gone yet

    # -- plan --------------------------------------------------------------------------------

    def apply(
        self,
        plan: Plan,
        now: datetime,
        *,
        inflight: Mapping[str, float] | None = None,
    ) -> ExecutionResult:
        """Launch, drain, stop and push membership; returns what actually happened."""
        launched: list[NodeInfo] = []
        events: list[Decision] = []
        drain_reasons: dict[str, str] = {}
        for d in plan.decisions:
            if d.node_id and d.kind in DRAIN_REASON_BY_KIND:
                drain_reasons.setdefault(d.node_id, DRAIN_REASON_BY_KIND[d.kind])

        wanted: list[tuple[str | None, int]] = [(None, plan.to_launch)] if plan.to_launch else []
        wanted += [(node_id, 1) for node_id in plan.to_replace]
        for replaces, n in wanted:
            result = self._launch(n, replaces, now)
            if isinstance(result, Decision):
                events.append(result)
                break  # back off: the rest waits for the next attempt
            launched.extend(result)

        current = {n.id: n for n in self.pool.nodes()}
        drained = []
        for node_id in plan.to_drain:
            node = current.get(node_id)
            if node is None or node.state is not NodeState.READY:
                continue
            try:
                self.pool.drain(node_id)
                drained.append(node_id)
            except Exception as exc:  # noqa: BLE001 - a pool error is an observation
                log.warning("drain of %s failed: %s", node_id, exc)
                events.append(Decision("hold", node_id, f"drain of {node_id} failed: {exc}"))

        stopped: list[str] = []
        for node_id in plan.to_stop:  # crashed or failed: nothing left to drain
            if node_id in current and current[node_id].state is not NodeState.STOPPED:
                self._stop(node_id, stopped)
        # A node drained this tick keeps serving what it has: its in-flight figure is older
        # than the drain, so it is reaped from the next tick on.
        stopped += self.reap(now, inflight=inflight or {}, skip=set(drained))
        pushed = self.push_membership()
        return ExecutionResult(
            launched=tuple(launched),
            drained=tuple(drained),
            stopped=tuple(stopped),
            drain_reasons={k: v for k, v in drain_reasons.items() if k in drained},
            events=tuple(events),
            membership_pushed=pushed,
        )

    def _launch(self, n: int, replaces: str | None, now: datetime) -> list[NodeInfo] | Decision:
        if self.next_launch_at is not None and now < self.next_launch_at:
            wait = (self.next_launch_at - now).total_seconds()
            return Decision(
                "hold",
                replaces,
                f"launch of {n} node(s) deferred {wait:.0f}s: backing off after "
                f"{self.launch_failures} failed launch(es)",
                {"failures": self.launch_failures, "retry_at": self.next_launch_at.isoformat()},
            )
        try:
            nodes = self.pool.launch(n, replaces=replaces)
        except Exception as exc:  # noqa: BLE001 - any launch error is retried with back-off
            self.launch_failures += 1
            delay = min(self.retry_max, self.retry_base * 2 ** (self.launch_failures - 1))
            self.next_launch_at = now + timedelta(seconds=delay)
            log.warning("launch of %d node(s) failed (%s); retry in %.0fs", n, exc, delay)
            return Decision(
                "hold",
                replaces,
                f"launch of {n} node(s) failed: {exc}; retry in {delay:.0f}s",
                {"failures": self.launch_failures, "retry_in_s": delay, "error": str(exc)},
            )
        self.launch_failures = 0
        self.next_launch_at = None
        return list(nodes)

    # -- draining and cleanup ----------------------------------------------------------------

    def reap(
        self, now: datetime, *, inflight: Mapping[str, float], skip: set[str] | None = None
    ) -> list[str]:
        """Stop draining nodes that are done.

        A node found ``failed`` here died after this tick's snapshot: it is left to the
        next plan, which replaces it as a crash and stops it (stopping it here would
        hide the crash: the next tick would see only a missing node).
        """
        nodes = self.pool.nodes()
        self._stopping &= {n.id for n in nodes if n.state is not NodeState.STOPPED}
        by_replaced = {n.replaces: n for n in nodes if n.replaces}
        stopped: list[str] = []
        for node in nodes:
            if node.state is not NodeState.DRAINING or node.id in (skip or set()):
                continue
            draining_for = now - node.since
            replacement = by_replaced.get(node.id)
            if (
                replacement is not None
                and replacement.state is NodeState.STARTING
                and draining_for < REPLACEMENT_WAIT_CAP
            ):
                continue  # keep capacity until the replacement serves
            idle = inflight.get(node.id, 1.0) <= 0
            if idle or draining_for >= self.drain_timeout:
                self._stop(node.id, stopped)
        return stopped

    def _stop(self, node_id: str, stopped: list[str]) -> None:
        """Begin a stop without waiting for it: a hung node must not hold up the tick.

        The pool reports the node ``stopped`` once its process has gone (SIGKILL after
        its stop timeout); a stop already begun is neither repeated nor reported again.
        """
        if node_id in self._stopping:
            return
        try:
            self.pool.stop(node_id, wait=False)
            self._stopping.add(node_id)
            stopped.append(node_id)
        except Exception as exc:  # noqa: BLE001
            log.warning("stop of %s failed: %s", node_id, exc)

    def drain_now(self, node_id: str) -> NodeInfo:
        """Operator drain (REST): the node must exist and be ready; returns it."""
        nodes = {n.id: n for n in self.pool.nodes()}
        if node_id not in nodes:
            raise KeyError(node_id)
        node = nodes[node_id]
        if node.state is not NodeState.READY:
            raise ValueError(f"node {node_id} is {node.state.value}, not ready")
        self.pool.drain(node_id)
        self.push_membership(force=True)
        return node

    # -- load balancer -----------------------------------------------------------------------

    def membership(self, nodes: list[NodeInfo] | None = None) -> list[dict[str, object]]:
        nodes = self.pool.nodes() if nodes is None else nodes
        return [
            {"id": n.id, "url": n.url, "state": n.state.value, "weight": n.weight}
            for n in sorted(nodes, key=lambda n: n.id)
            if n.state in (NodeState.READY, NodeState.DRAINING)
        ]

    def push_membership(self, *, force: bool = False) -> bool:
        """PUT the membership when it changed (and every few ticks, to heal a restarted LB)."""
        if self.balancer_url is None:
            return False
        body = self.membership()
        self._ticks_since_push += 1
        if (
            not force
            and body == self._last_membership
            and self._ticks_since_push < self.push_every_ticks
        ):
            return False
        headers = {"Authorization": f"Bearer {self.admin_token}"} if self.admin_token else {}
        try:
            resp = self.http.put(
                f"{self.balancer_url}/admin/backends", json={"backends": body}, headers=headers
            )
            resp.raise_for_status()
        except httpx.HTTPError as exc:
            log.warning("membership push to %s failed: %s", self.balancer_url, exc)
            self._last_membership = None  # retry next tick
            return False
        self._last_membership = body
        self._ticks_since_push = 0
        return True

    def close(self) -> None:
        self.http.close()
