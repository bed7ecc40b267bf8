"""Walk every state of the node lifecycle table, in the table and through the in-memory pool."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest

from controller.lifecycle import (
    TRANSITIONS,
    IllegalTransition,
    NodeState,
    check_transition,
    is_terminal,
)
from controller.pools.base import NodePool
from controller.pools.memory import LaunchFailed, MemoryPool, UnknownNode

EXPECTED_EDGES = {
    ("starting", "ready"),
    ("starting", "failed"),
    ("starting", "stopped"),
    ("ready", "draining"),
    ("ready", "failed"),
    ("draining", "stopped"),
    ("draining", "failed"),
    ("failed", "stopped"),
}


def test_table_covers_every_state():
    assert set(TRANSITIONS) == set(NodeState)


@pytest.mark.parametrize("target", list(NodeState), ids=lambda s: f"to-{s.value}")
@pytest.mark.parametrize("current", list(NodeState), ids=lambda s: f"from-{s.value}")
def test_every_edge_is_allowed_or_raises(current, target):
    if (current.value, target.value) in EXPECTED_EDGES:
        assert check_transition(current, target) is target
    else:
        with pytest.raises(IllegalTransition, match=current.value):
            check_transition(current, target)


@pytest.mark.parametrize(
    "state,terminal",
    [
        ("starting", False),
        ("ready", False),
        ("draining", False),
        ("stopped", True),
        ("failed", True),
    ],
)
def test_terminal_states(state, terminal):
    assert is_terminal(NodeState(state)) is terminal


def test_every_state_is_reachable_from_starting():
    seen, frontier = {NodeState.STARTING}, [NodeState.STARTING]
    while frontier:
        for nxt in TRANSITIONS[frontier.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    assert seen == set(NodeState)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 27, 12, 0, 0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_memory_pool_is_a_node_pool(clock):
    assert isinstance(MemoryPool(clock), NodePool)


@pytest.mark.parametrize(
    "path",
    [
        ("ready", "draining", "stopped"),
        ("ready", "failed", "stopped"),
        ("ready", "draining", "failed", "stopped"),
        ("failed", "stopped"),
        ("stopped",),
    ],
    ids=lambda p: "starting-" + "-".join(p),
)
def test_memory_pool_walks_lifecycle_paths(clock, path):
    pool = MemoryPool(clock, startup_seconds=None)
    (info,) = pool.launch(1)
    assert info.state is NodeState.STARTING
    actions = {
        "ready": pool.mark_ready,
        "draining": pool.drain,
        "failed": pool.crash,
        "stopped": pool.stop,
    }
    for state in path:
        clock.advance(1)
        actions[state](info.id)
        assert pool.states()[info.id] is NodeState(state)
    (final,) = pool.nodes()
    assert final.since == clock.now


def test_memory_pool_rejects_illegal_moves(clock):
    pool = MemoryPool(clock, startup_seconds=None)
    (info,) = pool.launch(1)
    with pytest.raises(IllegalTransition):
        pool.drain(info.id)  # a starting node cannot drain
    with pytest.raises(UnknownNode):
        pool.drain("nope")


def test_memory_pool_ready_after_startup_and_stop_of_ready_goes_through_failed(clock):
    pool = MemoryPool(clock, startup_seconds=20)
    a, b = pool.launch(2, replaces="old")
    assert (a.id, b.id, a.replaces) == ("node-1", "node-2", "old")
    clock.advance(19)
    assert {n.state for n in pool.nodes()} == {NodeState.STARTING}
    clock.advance(1)
    assert {n.state for n in pool.nodes()} == {NodeState.READY}
    assert pool.nodes()[0].since == pool.launched_at("node-1") + timedelta(seconds=20)
    pool.stop(a.id)
    pool.stop(a.id)  # idempotent
    assert pool.states()[a.id] is NodeState.STOPPED
    assert pool.count(NodeState.READY) == 1


def test_memory_pool_scripted_launch_failures_and_forgetting_stopped(clock):
    pool = MemoryPool(clock, keep_stopped=False)
    pool.fail_next_launches(1)
    with pytest.raises(LaunchFailed):
        pool.launch(1)
    (info,) = pool.launch(1)
    assert info.state is NodeState.READY  # startup_seconds=0 → ready at once
    pool.drain(info.id)
    pool.stop(info.id)
    assert pool.nodes() == []
    assert [c[0] for c in pool.calls] == ["launch", "launch", "drain", "stop", "nodes"]


def test_table_edges_match_expected():
    edges = {
        (a.value, b.value)
        for a, b in itertools.product(NodeState, NodeState)
        if b in TRANSITIONS[a]
    }
    assert edges == EXPECTED_EDGES
