"""``fleetcast gateway|node|balancer`` as a user runs them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from click.testing import CliRunner

from controller.cli import main
from tests.gateway.conftest import body
from tests.ports import free_ports
from tests.waiting import wait_until


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["gateway", "--nodes", "0"], "--nodes"),
        (["gateway", "--strategy", "fastest"], "--strategy"),
        (["gateway", "--load", "-1"], "--load"),
        (["node", "--port", "70000"], "--port"),
        # a processing time as long as the idempotency lease (2 s) would let retries take
        # a payment in processing over, again and again
        (["node", "--processing-latency-ms", "2000"], "--processing-latency-ms"),
        (["balancer", "--backend", "nonsense"], "--backend"),
        (["balancer", "--backend", "a=https://127.0.0.1:8101"], "--backend"),
        (["balancer", "--backend", "a=http://127.0.0.1:99999"], "--backend"),
    ],
)
def test_usage_errors_name_the_flag(args: list[str], flag: str) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert flag in result.output


def test_gateway_port_in_use_is_a_usage_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        result = CliRunner().invoke(main, ["gateway", "--port", str(port),
                                           "--data-dir", str(tmp_path)])
    assert result.exit_code == 2 and "already in use" in result.output


@pytest.mark.slow
def test_gateway_with_built_in_load_runs_and_cleans_up(tmp_path: Path) -> None:
    port, nodes = free_ports(1, 2)
    cmd = [sys.executable, "-c", "from controller.cli import main; main()", "gateway",
           "--nodes", "2", "--port", str(port), "--node-base-port", str(nodes),
           "--data-dir", str(tmp_path), "--load", "1.5", "--load-concurrency", "8"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout[out.stdout.index("{"):])
    assert summary["acked"] > 0 and summary["statuses"].keys() == {"201"}
    state = json.loads((tmp_path / "pool" / "nodes.json").read_text())
    pids = [n["pid"] for n in state["nodes"]]
    assert {n["state"] for n in state["nodes"]} == {"stopped"}
    assert not [p for p in pids if psutil.pid_exists(p)
                and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]


def _backends(client: httpx.Client, url: str) -> list[dict[str, Any]]:
    try:
        response = client.get(f"{url}/admin/backends", timeout=2.0)
    except httpx.HTTPError:
        return []
    result: list[dict[str, Any]] = response.json() if response.status_code == 200 else []
    return result


@pytest.mark.slow
def test_gateway_starts_a_node_in_place_of_one_that_dies(tmp_path: Path) -> None:
    port, nodes = free_ports(1, 3)
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-c", "from controller.cli import main; main()", "gateway",
           "--nodes", "2", "--port", str(port), "--node-base-port", str(nodes),
           "--data-dir", str(tmp_path), "--admin-token", "test-token-1234"]
    gateway = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    state_file = tmp_path / "pool" / "nodes.json"
    try:
        with httpx.Client() as client:
            first = wait_until(lambda: len(_backends(client, url)) == 2 and _backends(client, url),
                           60, "two backends")
            victim = json.loads(state_file.read_text())["nodes"][0]
            os.kill(victim["pid"], signal.SIGKILL)

            def replaced() -> list[dict[str, Any]] | None:
                now = _backends(client, url)
                ids = {b["id"] for b in now if b["state"] == "ready"}
                return now if len(ids) == 2 and victim["id"] not in ids else None

            after = wait_until(replaced, 60, f"a ready node in place of {victim['id']}")
            new_id = ({b["id"] for b in after} - {b["id"] for b in first}).pop()
            paid = client.post(f"{url}/payments", json=body(),
                               headers={"Idempotency-Key": "after-replacement"}, timeout=10)
            assert paid.status_code == 201, paid.text
        records = {n["id"]: n for n in json.loads(state_file.read_text())["nodes"]}
        assert records[victim["id"]]["state"] == "failed"
        assert records[new_id]["replaces"] == victim["id"]
    finally:
        gateway.send_signal(signal.SIGTERM)
        out, err = gateway.communicate(timeout=60)
    assert gateway.returncode == 0, err
    assert f"{victim['id']} died; starting {new_id} in its place" in out
    pids = [n["pid"] for n in json.loads(state_file.read_text())["nodes"]]
    assert not [p for p in pids if psutil.pid_exists(p)
                and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
