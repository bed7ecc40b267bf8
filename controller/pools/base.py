"""The ``NodePool`` protocol every pool backend implements.

The executor talks to a pool only through this protocol, so the same control
loop drives real OS processes (``local``), the simulator (``sim``) and, later,
Kubernetes.  Backends report what *is*; the planner decides what *should be*.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from controller.lifecycle import NodeState


@dataclass(frozen=True)
class NodeInfo:
    """One node as a pool backend sees it."""

    id: str
    url: str
    state: NodeState
    since: datetime
    weight: int = 100
    pid: int | None = None
    replaces: str | None = None  # id of the node this one was launched to replace


@runtime_checkable
class NodePool(Protocol):
    def nodes(self) -> list[NodeInfo]:
        """Every node the pool knows, in any state (refreshes liveness)."""
        ...

    def launch(self, n: int, *, replaces: str | None = None) -> list[NodeInfo]:
        """Start ``n`` nodes; they are returned in state ``starting``."""
        ...

    def drain(self, node_id: str) -> None:
        """Mark a node draining: no new requests; in-flight ones finish."""
        ...

    def stop(self, node_id: str, *, wait: bool = True) -> None:
        """Stop a node (graceful, then forced after a timeout).

        With ``wait=False`` the stop is only begun: the node leaves ``ready`` at once
        and shows ``stopped`` in ``nodes()`` once it has gone, so a node that does not
        answer its SIGTERM cannot hold up the caller (the control tick) for the timeout.
        """
        ...
