"""The executor against the in-memory pool and a fake load balancer (httpx MockTransport)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from controller.executor import Executor
from controller.lifecycle import NodeState
from controller.planner import Decision, Plan
from controller.pools.memory import MemoryPool

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


class FakeBalancer:
    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.pushes: list[tuple[str | None, list[dict[str, object]]]] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        assert request.method == "PUT" and request.url.path == "/admin/backends"
        self.pushes.append((request.headers.get("authorization"),
                            json.loads(request.content)["backends"]))
        return httpx.Response(self.status, json={})


def make(clock: Clock, lb: FakeBalancer, **kw: float) -> tuple[MemoryPool, Executor]:
    pool = MemoryPool(clock, startup_seconds=kw.pop("startup", 0.0))
    ex = Executor(
        pool, balancer_url="http://lb", admin_token="tok-123456",
        http=httpx.Client(transport=httpx.MockTransport(lb.handler)), **kw,
    )
    return pool, ex


def p(to_launch: int = 0, drain: tuple[str, ...] = (), replace: tuple[str, ...] = (),
      stop: tuple[str, ...] = (), decisions: tuple[Decision, ...] = ()) -> Plan:
    return Plan(desired=0, to_launch=to_launch, to_drain=drain, to_replace=replace,
                decisions=decisions, to_stop=stop)


def test_launch_and_push_membership_with_token() -> None:
    clock, lb = Clock(), FakeBalancer()
    pool, ex = make(clock, lb)
    result = ex.apply(p(to_launch=2), clock.now)
    assert len(result.launched) == 2 and result.membership_pushed
    auth, backends = lb.pushes[-1]
    assert auth == "Bearer tok-123456"
    assert [(b["id"], b["state"]) for b in backends] == [("node-1", "ready"), ("node-2", "ready")]
    assert set(backends[0]) == {"id", "url", "state", "weight"}
    ex.apply(p(), clock.advance(1))
    assert len(lb.pushes) == 1  # unchanged membership is not pushed again


def test_replacement_ready_before_replaced_node_stops() -> None:
    clock, lb = Clock(), FakeBalancer()
    pool, ex = make(clock, lb, startup=60.0, drain_timeout_seconds=5.0)
    pool.launch(1)
    clock.advance(60)
    ex.apply(p(replace=("node-1",)), clock.now)
    assert pool.states() == {"node-1": NodeState.READY, "node-2": NodeState.STARTING}
    drained = ex.apply(
        p(drain=("node-1",), decisions=(Decision("drain", "node-1", "slow"),)), clock.advance(1)
    )
    assert drained.drained == ("node-1",) and drained.drain_reasons == {"node-1": "fault"}
    ex.apply(p(), clock.advance(30), inflight={"node-1": 0})
    assert pool.states()["node-1"] is NodeState.DRAINING  # replacement still starting
    result = ex.apply(p(), clock.advance(30), inflight={"node-1": 0})
    assert result.stopped == ("node-1",)
    assert pool.states() == {"node-1": NodeState.STOPPED, "node-2": NodeState.READY}
    assert [b["id"] for b in lb.pushes[-1][1]] == ["node-2"]


@pytest.mark.parametrize(("inflight", "advance", "stops"), [
    (0, 1, True), (3, 1, False), (3, 6, True),
], ids=["idle-stops", "busy-waits", "timeout-forces"])
def test_draining_stops_when_idle_or_after_timeout(inflight: int, advance: float,
                                                   stops: bool) -> None:
    clock, lb = Clock(), FakeBalancer()
    pool, ex = make(clock, lb, drain_timeout_seconds=5.0)
    pool.launch(2)
    ex.apply(p(drain=("node-1",)), clock.now, inflight={"node-1": inflight})
    result = ex.apply(p(), clock.advance(advance), inflight={"node-1": inflight})
    assert ("node-1" in result.stopped) is stops


def test_crashed_nodes_are_stopped() -> None:
    clock, lb = Clock(), FakeBalancer()
    pool, ex = make(clock, lb)
    pool.launch(2)
    pool.crash("node-1")
    result = ex.apply(p(replace=("node-1",), stop=("node-1",)), clock.now)
    assert result.stopped == ("node-1",)
    assert pool.states()["node-1"] is NodeState.STOPPED
    assert pool.launched_at("node-3") == clock.now


def test_failed_launch_backs_off_and_is_recorded() -> None:
    clock, lb = Clock(), FakeBalancer()
    pool, ex = make(clock, lb, retry_base_seconds=2.0, retry_max_seconds=5.0)
    pool.fail_next_launches(3, "no ports left")
    first = ex.apply(p(to_launch=1), clock.now)
    assert first.launched == () and "no ports left" in first.events[0].reason
    assert "retry in 2s" in first.events[0].reason
    deferred = ex.apply(p(to_launch=1), clock.advance(1))
    assert "deferred" in deferred.events[0].reason
    delays = []
    for _ in range(2):
        clock.advance(10)
        delays.append(ex.apply(p(to_launch=1), clock.now).events[0].details["retry_in_s"])
    assert delays == [4.0, 5.0]  # doubling, capped
    ok = ex.apply(p(to_launch=1), clock.advance(10))
    assert len(ok.launched) == 1 and ok.events == () and ex.launch_failures == 0


def test_balancer_failure_is_retried_next_tick() -> None:
    clock, lb = Clock(), FakeBalancer(status=503)
    pool, ex = make(clock, lb)
    assert ex.apply(p(to_launch=1), clock.now).membership_pushed is False
    lb.status = 200
    assert ex.apply(p(), clock.advance(1)).membership_pushed is True


@pytest.mark.slow
def test_stopping_a_hung_node_does_not_hold_up_the_tick(tmp_path: Path) -> None:
    """A real node frozen by SIGSTOP (deaf to SIGTERM): the tick begins its stop and
    goes on; the pool kills it after its stop timeout; the stop is reported once."""
    import os
    import signal
    import time

    from controller.pools.local import LocalPool
    from tests.gateway.conftest import TOKEN
    from tests.ports import free_port

    lb = FakeBalancer()
    with LocalPool(tmp_path, None, free_port(), TOKEN, stop_timeout_s=3) as pool:
        hung, spare = pool.launch(2)
        pool.wait_ready()
        ex = Executor(pool, balancer_url="http://lb", admin_token="tok-123456",
                      http=httpx.Client(transport=httpx.MockTransport(lb.handler)))
        assert hung.pid is not None
        os.kill(hung.pid, signal.SIGSTOP)
        result = ex.apply(p(stop=(hung.id,)), T0)
        assert result.stopped == (hung.id,)
        assert pool.stopping() == [hung.id]  # begun, not waited for
        states = {b["id"]: b["state"] for b in lb.pushes[-1][1]}
        assert states == {hung.id: "draining", spare.id: "ready"}  # no new work for it
        again = ex.apply(p(stop=(hung.id,)), T0 + timedelta(seconds=15))
        assert again.stopped == ()  # not begun or reported twice
        deadline = time.monotonic() + 20
        while {n.id: n.state for n in pool.nodes()}[hung.id] is not NodeState.STOPPED:
            assert time.monotonic() < deadline, "the hung node was never killed"
            time.sleep(0.1)
        ex.apply(p(), T0 + timedelta(seconds=30))
        assert [b["id"] for b in lb.pushes[-1][1]] == [spare.id]


def test_a_node_that_dies_after_the_snapshot_is_left_to_the_next_plan() -> None:
    """Stopping it here would turn a crash into a silently missing node."""
    clock, lb = Clock(), FakeBalancer()
    pool, ex = make(clock, lb)
    pool.launch(2)
    pool.crash("node-1")  # died between the tick's snapshot and the executor
    result = ex.apply(p(), clock.now)
    assert result.stopped == () and pool.states()["node-1"] is NodeState.FAILED
    result = ex.apply(p(replace=("node-1",), stop=("node-1",)), clock.advance(15))
    assert result.stopped == ("node-1",) and pool.states()["node-1"] is NodeState.STOPPED
