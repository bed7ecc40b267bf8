"""The demo's console view: a note is timed from the first tick, with --quiet too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from controller.demo import LiveView
from controller.executor import ExecutionResult
from controller.loop import TickReport
from controller.planner_types import Plan


def test_a_quiet_view_times_the_fault_note_from_the_first_tick() -> None:
    lines: list[str] = []
    view = LiveView(controller=None, echo=lines.append, quiet=True)
    first = datetime.now(UTC) - timedelta(seconds=1000)
    view.on_tick(TickReport(at=first, seconds=0.01, load_rps=0.0, nodes=(),
                            plan=Plan(desired=0, to_launch=0, to_drain=(), to_replace=(),
                                      decisions=()),
                            executed=ExecutionResult()))
    view.note("FAULT  injected latency into node-1")
    assert lines == [lines[-1]] and float(lines[-1].split("s  FAULT")[0]) >= 1000
