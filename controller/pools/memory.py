"""An in-memory ``NodePool``: the fake at the pool boundary.

Planner, executor and loop tests need a pool that behaves like a real one
(nodes are launched ``starting``, become ``ready``, drain, stop, crash; every
move obeys the lifecycle table) without processes or sleeps.  Like httpx's
``MockTransport`` it is small and honest: time comes from a clock you pass in,
nodes become ready after ``startup_seconds`` of that clock (or when a test says
so), and tests can script launch failures and crashes.  The simulator's
``SimPool`` is this pool driven by a virtual clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from controller.lifecycle import NodeState, check_transition
from controller.pools.base import NodeInfo


class LaunchFailed(RuntimeError):
    """A scripted launch failure (see ``MemoryPool.fail_next_launches``)."""


class UnknownNode(KeyError):
    """The pool has no node with that id."""


class MemoryPool:
    """A ``NodePool`` kept in a dict.

    ``clock`` returns the current time; with ``startup_seconds`` set, a starting
    node turns ready the first time ``nodes()`` is called at or after its launch
    time plus ``startup_seconds``; with ``None`` it stays starting until
    ``mark_ready``.  ``stop`` on a draining node stops it at once (the fake has no
    in-flight requests).  ``calls`` records every protocol call for assertions.
    """

    def __init__(
        self,
        clock: Callable[[], datetime],
        *,
        startup_seconds: float | None = 0.0,
        id_prefix: str = "node",
        keep_stopped: bool = True,
        record_calls: bool = True,
    ) -> None:
        self.clock = clock
        self.startup_seconds = startup_seconds
        self.id_prefix = id_prefix
        self.keep_stopped = keep_stopped
        self.record_calls = record_calls
        self.calls: list[tuple[object, ...]] = []
        self._nodes: dict[str, NodeInfo] = {}
        self._launched_at: dict[str, datetime] = {}
        self._counter = 0
        self._launch_failures: list[Exception] = []

    # --- NodePool protocol -------------------------------------------------

    def nodes(self) -> list[NodeInfo]:
        self._record(("nodes",))
        self._promote_started()
        return list(self._nodes.values())

    def launch(self, n: int, *, replaces: str | None = None) -> list[NodeInfo]:
        self._record(("launch", n, replaces))
        if n < 0:
            raise ValueError(f"cannot launch a negative number of nodes ({n})")
        if self._launch_failures:
            raise self._launch_failures.pop(0)
        now = self.clock()
        launched = []
        for _ in range(n):
            self._counter += 1
            node_id = f"{self.id_prefix}-{self._counter}"
            info = NodeInfo(
                id=node_id,
                url=f"mem://{node_id}",
                state=NodeState.STARTING,
                since=now,
                replaces=replaces,
            )
            self._nodes[node_id] = info
            self._launched_at[node_id] = now
            launched.append(info)
        if self.startup_seconds == 0:
            self._promote_started()
            launched = [self._nodes[info.id] for info in launched]
        return launched

    def drain(self, node_id: str) -> None:
        self._record(("drain", node_id))
        self._move(node_id, NodeState.DRAINING)

    def stop(self, node_id: str, *, wait: bool = True) -> None:
        self._record(("stop", node_id))  # an in-memory node stops at once either way
        node = self._get(node_id)
        if node.state is NodeState.STOPPED:
            return  # stopping twice is harmless, like killing a dead process
        if node.state is NodeState.READY:
            # a ready node cannot stop directly: it goes through failed, as a
            # killed process would
            self._move(node_id, NodeState.FAILED)
        self._move(node_id, NodeState.STOPPED)

    # --- test helpers --------------------------------------------------------

    def launched_at(self, node_id: str) -> datetime:
        return self._launched_at[node_id]

    def mark_ready(self, node_id: str) -> None:
        self._move(node_id, NodeState.READY)

    def crash(self, node_id: str) -> None:
        """The node's process dies: it moves to ``failed``."""
        self._move(node_id, NodeState.FAILED)

    def fail_next_launches(self, count: int = 1, message: str = "scripted launch failure") -> None:
        self._launch_failures.extend(LaunchFailed(message) for _ in range(count))

    def states(self) -> dict[str, NodeState]:
        return {node_id: node.state for node_id, node in self._nodes.items()}

    def count(self, *states: NodeState) -> int:
        return sum(1 for node in self._nodes.values() if node.state in states)

    # --- internals -----------------------------------------------------------

    def _record(self, call: tuple[object, ...]) -> None:
        if self.record_calls:
            self.calls.append(call)

    def _get(self, node_id: str) -> NodeInfo:
        try:
            return self._nodes[node_id]
        except KeyError:
            raise UnknownNode(node_id) from None

    def _move(self, node_id: str, target: NodeState) -> None:
        node = self._get(node_id)
        check_transition(node.state, target)
        if target is NodeState.STOPPED and not self.keep_stopped:
            del self._nodes[node_id]
            self._launched_at.pop(node_id, None)
            return
        self._nodes[node_id] = replace(node, state=target, since=self.clock())

    def _promote_started(self) -> None:
        if self.startup_seconds is None:
            return
        now = self.clock()
        lead = timedelta(seconds=self.startup_seconds)
        for node_id, node in list(self._nodes.items()):
            if node.state is NodeState.STARTING and self._launched_at[node_id] + lead <= now:
                ready_at = self._launched_at[node_id] + lead
                self._nodes[node_id] = replace(node, state=NodeState.READY, since=ready_at)
