"""``fleetcast gateway|node|balancer`` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from click.testing import CliRunner

from controller.cli import main
from tests.ports import free_ports


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
