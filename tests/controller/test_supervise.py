"""``fleetcast gateway``'s supervisor decisions: which nodes to start, and how often."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from controller.lifecycle import NodeState
from controller.pools.base import NodeInfo
from controller.pools.supervise import RestartBudget, replacements

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def node(number: int, state: NodeState, *, replaces: str | None = None,
         minute: int = 0) -> NodeInfo:
    return NodeInfo(id=f"node-{number}", url=f"http://127.0.0.1:{8100 + number}", state=state,
                    since=T0 + timedelta(minutes=minute), replaces=replaces)


R, S, F, D, X = (NodeState.READY, NodeState.STARTING, NodeState.FAILED, NodeState.DRAINING,
                 NodeState.STOPPED)


@pytest.mark.parametrize(
    ("nodes", "wanted", "expected"),
    [
        pytest.param([node(1, R), node(2, R), node(3, R)], 3, [], id="all-up"),
        pytest.param([node(1, F), node(2, R), node(3, R)], 3, ["node-1"], id="one-died"),
        pytest.param([node(1, F), node(2, R), node(3, R), node(4, S, replaces="node-1")], 3, [],
                     id="already-being-replaced"),
        pytest.param([node(1, F), node(2, R), node(3, R), node(4, F, replaces="node-1")], 3,
                     ["node-4"], id="the-replacement-died-too"),
        pytest.param([node(1, F, minute=5), node(2, F, minute=1), node(3, R)], 3,
                     ["node-2", "node-1"], id="two-died-earliest-first"),
        pytest.param([node(1, F), node(2, F), node(3, R)], 2, ["node-1"],
                     id="only-the-shortfall"),
        pytest.param([node(1, X), node(2, R), node(3, R)], 3, [None], id="stopped-not-failed"),
        pytest.param([node(1, D), node(2, R), node(3, R)], 3, [None],
                     id="draining-is-not-live"),
        pytest.param([node(1, F), node(2, R), node(3, R), node(4, R)], 3, [],
                     id="more-than-wanted"),
        pytest.param([], 2, [None, None], id="empty-pool"),
    ],
)
def test_replacements(nodes: list[NodeInfo], wanted: int, expected: list[str | None]) -> None:
    assert replacements(nodes, wanted) == expected


def test_restart_budget_holds_back_a_burst_until_the_window_passes() -> None:
    budget = RestartBudget(burst=2, window_s=10.0)
    assert budget.next_at() is None
    assert budget.allow(0.0) and budget.allow(1.0)
    assert not budget.allow(2.0)
    assert budget.next_at() == 10.0
    assert not budget.allow(9.9)
    assert budget.allow(10.0)  # the launch at 0.0 has left the window
    assert not budget.allow(10.5)
    assert budget.allow(11.0)


@pytest.mark.parametrize(("burst", "window"), [(0, 10.0), (2, 0.0), (2, -1.0)])
def test_restart_budget_rejects_nonsense(burst: int, window: float) -> None:
    with pytest.raises(ValueError, match="burst"):
        RestartBudget(burst=burst, window_s=window)
