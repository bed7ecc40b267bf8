"""LocalPool with real node processes: launch, ready, drain, stop, death, adoption."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from controller.lifecycle import NodeState
from controller.pools.base import NodePool
from controller.pools.local import LocalPool
from tests.gateway.conftest import TOKEN
from tests.ports import free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[LocalPool]:
    local = LocalPool(tmp_path / "data", None, free_port(), TOKEN, True,
                      node_options={"processing_latency_ms": 0}, stop_timeout_s=5)
    try:
        yield local
    finally:
        local.close()


def test_protocol_launch_ready_drain_stop(pool: LocalPool) -> None:
    assert isinstance(pool, NodePool)
    started = pool.launch(2)
    assert [n.state for n in started] == [NodeState.STARTING] * 2
    assert [n.id for n in started] == ["node-1", "node-2"]
    ready = pool.wait_ready()
    assert {n.state for n in ready} == {NodeState.READY}
    first = ready[0]
    health = httpx.get(f"{first.url}/healthz").json()
    assert health == {"status": "ok", "node_id": first.id, "pid": first.pid}

    pool.drain(first.id)
    assert httpx.get(f"{first.url}/readyz").status_code == 503
    states = {n.id: n.state for n in pool.nodes()}
    assert states[first.id] is NodeState.DRAINING

    pool.stop(first.id)
    assert {n.id: n.state for n in pool.nodes()}[first.id] is NodeState.STOPPED
    assert first.pid is not None and not _running(first.pid)


def test_killed_node_is_noticed_as_failed(pool: LocalPool) -> None:
    (node,) = pool.launch(1)
    pool.wait_ready()
    pool.kill(node.id)
    for _ in range(50):
        if {n.id: n.state for n in pool.nodes()}[node.id] is NodeState.FAILED:
            break
        time.sleep(0.1)
    assert {n.id: n.state for n in pool.nodes()}[node.id] is NodeState.FAILED


def test_ports_in_use_are_skipped(tmp_path: Path) -> None:
    import socket

    base = free_port()
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", base))
        blocker.listen()
        with LocalPool(tmp_path, None, base, TOKEN) as local:
            (node,) = local.launch(1)
            assert not node.url.endswith(f":{base}")
            local.wait_ready()


def test_restarted_pool_adopts_live_nodes_and_forgets_dead(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = LocalPool(data, None, free_port(), TOKEN)
    try:
        a, b = first.launch(2)
        started = {n.id: n.state for n in first.wait_ready()}
        # both must have started for the restart below to mean anything (a node that died
        # starting is FAILED already, and a restarted pool rightly forgets it): say why not
        assert started == {a.id: NodeState.READY, b.id: NodeState.READY}, "\n".join(
            (data / "logs" / f"{i}.log").read_text()[-2000:] for i in (a.id, b.id))
        first.kill(b.id)
        first._procs[b.id].wait()  # type: ignore[union-attr]
        second = LocalPool(data, None, free_port(), TOKEN)  # same data_dir: a restart
        try:
            states = {n.id: n.state for n in second.nodes()}
            assert states == {a.id: NodeState.READY, b.id: NodeState.FAILED}
            (c,) = second.launch(1)
            assert c.id == "node-3"  # ids stay unique per data_dir
            second.wait_ready()
            second.stop(a.id)  # it can stop what it adopted
            assert a.pid is not None and not _running(a.pid)
        finally:
            second.close()
    finally:
        first.close()


def test_close_leaves_no_process(tmp_path: Path) -> None:
    local = LocalPool(tmp_path, None, free_port(), TOKEN)
    nodes = local.launch(2)
    local.wait_ready()
    local.close()
    assert all(n.pid is not None and not _running(n.pid) for n in nodes)
    assert os.path.exists(tmp_path / "pool" / "nodes.json")


def test_nodes_die_with_a_sigkilled_parent(tmp_path: Path) -> None:
    """Even SIGKILL of the process that owns the pool leaves no orphan node."""
    script = textwrap.dedent(f"""
        import sys, time
        from controller.pools.local import LocalPool
        pool = LocalPool({str(tmp_path)!r}, None, {free_port()}, "t")
        nodes = pool.launch(1)
        pool.wait_ready()
        print(nodes[0].pid, flush=True)
        time.sleep(60)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        node_pid = int(parent.stdout.readline())
        assert _running(node_pid)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 15
        while _running(node_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _running(node_pid)
    finally:
        parent.kill()
        parent.wait()
        with contextlib.suppress(Exception):
            os.kill(node_pid, signal.SIGKILL)


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _states(pool: LocalPool) -> dict[str, NodeState]:
    return {n.id: n.state for n in pool.nodes()}


def test_stop_without_wait_leaves_a_hung_node_to_the_kill_timer(tmp_path: Path) -> None:
    with LocalPool(tmp_path, None, free_port(), TOKEN, stop_timeout_s=3) as local:
        node, other = local.launch(2)
        local.wait_ready()
        assert node.pid is not None
        os.kill(node.pid, signal.SIGSTOP)  # frozen: deaf to SIGTERM, as a wedged process is
        local.stop(node.id, wait=False)
        assert _running(node.pid)  # the call did not wait for it
        assert _states(local)[node.id] is NodeState.DRAINING  # out of service, not failed
        assert local.stopping() == [node.id]
        local.stop(node.id, wait=False)  # begun once; asking again changes nothing
        deadline = time.monotonic() + 20
        while _states(local)[node.id] is not NodeState.STOPPED:
            assert time.monotonic() < deadline, "the kill timer never finished the stop"
            time.sleep(0.1)
        assert not _running(node.pid) and local.stopping() == []
        assert _states(local)[other.id] is NodeState.READY


def test_stop_without_wait_on_a_dead_node_is_immediate(tmp_path: Path) -> None:
    with LocalPool(tmp_path, None, free_port(), TOKEN) as local:
        (node,) = local.launch(1)
        local.wait_ready()
        local.kill(node.id)
        local._procs[node.id].wait()  # type: ignore[union-attr]
        assert _states(local)[node.id] is NodeState.FAILED
        local.stop(node.id, wait=False)
        assert _states(local)[node.id] is NodeState.STOPPED and local.stopping() == []


def test_stop_lets_in_flight_payments_finish(tmp_path: Path) -> None:
    import threading

    from tests.gateway.conftest import body

    with LocalPool(tmp_path, None, free_port(), TOKEN,
                   node_options={"processing_latency_ms": 1500}) as local:
        (node,) = local.launch(1)
        local.wait_ready()
        answers: list[httpx.Response] = []
        sender = threading.Thread(target=lambda: answers.append(httpx.post(
            f"{node.url}/payments", json=body(), headers={"Idempotency-Key": "graceful-1"},
            timeout=20)))
        sender.start()
        deadline = time.monotonic() + 15
        while "fleetcast_node_inflight 1.0" not in httpx.get(f"{node.url}/metrics").text:
            assert time.monotonic() < deadline, "the payment never reached the node"
            time.sleep(0.02)
        local.stop(node.id)  # SIGTERM: finish in-flight work, then exit
        sender.join(timeout=20)
        assert answers and answers[0].status_code == 201
        assert {n.id: n.state for n in local.nodes()}[node.id] is NodeState.STOPPED
