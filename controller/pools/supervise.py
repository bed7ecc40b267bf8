"""Keep a fixed number of nodes running without the controller (``fleetcast gateway``).

The controller replaces a node that died as part of its tick.  ``fleetcast gateway``
runs the data plane alone, so it needs the plain supervisor's rule instead: keep
``wanted`` nodes starting or ready, and start one in place of each node that died
on its own (``failed``).  Both decisions here are pure; the command applies them.

A node that dies at once every time it starts (a bad database URL, a port taken
by another program) must not turn into a fork loop, so replacements are rate
limited the way systemd limits restarts (``StartLimitBurst`` within
``StartLimitIntervalSec``): at most ``burst`` in any ``window_s`` seconds.  Past
that the supervisor waits until the oldest replacement leaves the window.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from controller.lifecycle import NodeState
from controller.pools.base import NodeInfo

LIVE = (NodeState.STARTING, NodeState.READY)
RESTART_BURST = 5
RESTART_WINDOW_S = 60.0


def replacements(nodes: Sequence[NodeInfo], wanted: int) -> list[str | None]:
    """What to launch so that ``wanted`` nodes are starting or ready.

    One entry per node to launch: the id of the failed node it takes the place of
    (failed nodes nothing replaces yet, earliest failure first), or None when the
    shortfall has no failed node behind it (one was stopped).  Draining nodes do
    not count as live: they are on their way out.
    """
    live = sum(1 for n in nodes if n.state in LIVE)
    missing = max(wanted - live, 0)
    replaced = {n.replaces for n in nodes if n.replaces is not None}
    orphans = sorted((n for n in nodes if n.state is NodeState.FAILED and n.id not in replaced),
                     key=lambda n: n.since)
    plan: list[str | None] = [n.id for n in orphans[:missing]]
    return plan + [None] * (missing - len(plan))


@dataclass
class RestartBudget:
    """At most ``burst`` launches in any ``window_s`` seconds (time is passed in)."""

    burst: int = RESTART_BURST
    window_s: float = RESTART_WINDOW_S
    _times: deque[float] = field(default_factory=deque)

    def __post_init__(self) -> None:
        if self.burst < 1 or self.window_s <= 0:
            raise ValueError("burst must be >= 1 and window_s > 0")

    def allow(self, now: float) -> bool:
        """Take one launch from the budget if there is one left at ``now``."""
        while self._times and now - self._times[0] >= self.window_s:
            self._times.popleft()
        if len(self._times) >= self.burst:
            return False
        self._times.append(now)
        return True

    def next_at(self) -> float | None:
        """When a launch is next allowed (None: now)."""
        if len(self._times) < self.burst:
            return None
        return self._times[0] + self.window_s
