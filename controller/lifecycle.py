"""Node lifecycle as one transition table.

Every node managed by fleetcast moves through ``starting -> ready -> draining ->
stopped`` (plus ``failed``).  Keeping the allowed moves in a single mapping means
the pool backends, the executor and the store all agree on what can happen, and
an illegal move is a bug that raises instead of silently corrupting state.
"""

from __future__ import annotations

from enum import StrEnum


class NodeState(StrEnum):
    STARTING = "starting"
    READY = "ready"
    DRAINING = "draining"
    STOPPED = "stopped"
    FAILED = "failed"


TRANSITIONS: dict[NodeState, frozenset[NodeState]] = {
    NodeState.STARTING: frozenset({NodeState.READY, NodeState.FAILED, NodeState.STOPPED}),
    NodeState.READY: frozenset({NodeState.DRAINING, NodeState.FAILED}),
    NodeState.DRAINING: frozenset({NodeState.STOPPED, NodeState.FAILED}),
    NodeState.STOPPED: frozenset(),
    NodeState.FAILED: frozenset({NodeState.STOPPED}),
}


class IllegalTransition(ValueError):
    """Raised when code asks a node to move along an edge the table does not have."""


def check_transition(current: NodeState, target: NodeState) -> NodeState:
    """Return ``target`` if ``current -> target`` is allowed, else raise."""
    if target not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[current])) or "none"
        raise IllegalTransition(
            f"node cannot move from {current.value!r} to {target.value!r} (allowed: {allowed})"
        )
    return target


def is_terminal(state: NodeState) -> bool:
    return not TRANSITIONS[state] or state is NodeState.FAILED
