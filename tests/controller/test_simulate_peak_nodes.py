"""``fleetcast simulate --peak-nodes``: the node size derived from the trace's busiest step."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from controller.budget import UNDERPROVISION_UTILIZATION
from controller.cli import main
from tests.controller.simtraces import STEP_MINUTES, wave


def run(tmp_path: Path, *extra: str):
    counts = wave(days=3)
    trace = tmp_path / "t.csv"
    counts.rename_axis("timestamp").rename("value").to_csv(trace)
    args = ["simulate", "--trace", str(trace), "--policy", "reactive,oracle",
            "--out", str(tmp_path / "r.json"), *extra]
    return counts, CliRunner().invoke(main, args, catch_exceptions=False)


def test_peak_nodes_sizes_nodes_so_the_busiest_step_needs_that_many(tmp_path: Path) -> None:
    counts, result = run(tmp_path, "--peak-nodes", "20")
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "r.json").read_text())
    capacity = data["settings"]["node_capacity_rps"]
    peak_rps = counts.max() / (STEP_MINUTES * 60)
    assert capacity == pytest.approx(peak_rps / (20 * UNDERPROVISION_UTILIZATION))
    # the wave peaks every day, so the scored days hold the busiest step too
    assert data["policies"]["oracle"]["peak_nodes"] == 20
    assert "node capacity" in result.output and "needs 20 nodes" in result.output


@pytest.mark.parametrize("extra", [(), ("--node-capacity", "1", "--peak-nodes", "20")],
                         ids=["neither", "both"])
def test_exactly_one_of_capacity_and_peak_nodes(tmp_path: Path, extra: tuple[str, ...]) -> None:
    _, result = run(tmp_path, *extra)
    assert result.exit_code == 2
    assert "--node-capacity" in result.output and "--peak-nodes" in result.output
    assert not (tmp_path / "r.json").exists()
