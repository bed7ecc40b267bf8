"""``fleetcast demo``: a compressed day of real-shaped traffic, one fault, one report.

The demo shows the whole loop in a few minutes: a day of the World Cup 98 trace
(or the generated trace in ``data/`` when the real data is not beside the repo)
is compressed so that one control tick stands for ``1440 / steps`` trace minutes,
scaled to ``peak_rps`` payments per second, and replayed through the load
balancer by the gateway's load generator.  A short demo has far too little
history for a daily season, so the forecaster is *pretrained* on the six
preceding days of the same trace, compressed the same way and laid on the wall
clock just before the replay starts; ``/forecast`` therefore works from the first
tick and the scale-outs are predictive.  At ``fault_at`` of the way through, one
ready node gets the chosen fault; the report shows when it was detected,
drained and replaced.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

from controller.config import Settings
from controller.lifecycle import NodeState
from controller.live_models import grid_time

REPO_ROOT = Path(__file__).resolve().parents[1]
WORLDCUP = Path("shared") / "data" / "worldcup98" / "invocation_count.csv"
GENERATED_TRACE = REPO_ROOT / "data" / "demo_trace.csv"
DEMO_DAY = "1998-06-18"  # a match day: night trough, morning ramp, evening spikes
HISTORY_DAYS = 6
FAULT_PARAMS: dict[str, dict[str, float]] = {
    "latency": {"ms": 400},
    "errors": {"fraction": 0.5},
    "cpu": {"threads": 2},
    "memory": {"mb_per_s": 40},
    "hang": {},
    "crash": {},
}


@dataclass(frozen=True)
class DemoOptions:
    minutes: float = 4.0
    trace_path: Path | None = None
    peak_rps: float = 60.0
    fault: str = "latency"
    fault_at: float = 0.55
    quiet: bool = False


@dataclass(frozen=True)
class DemoTrace:
    source: str
    day: pd.Series  # rps per demo step (len = steps)
    history: pd.Series  # rps per step for the pretraining days
    step_minutes: float  # trace minutes per demo step


def demo_overrides(tick_seconds: float, peak_rps: float, minutes: float = 4.0) -> dict[str, Any]:
    """Settings the demo needs on top of the defaults / the user's file."""
    steps = max(24, round(minutes * 60 / tick_seconds))
    return {
        "pool": {"initial_nodes": 3, "min_nodes": 3, "max_nodes": 8},
        "controller": {
            "tick_seconds": tick_seconds,
            "node_capacity_rps": round(peak_rps / 3.5, 2),
            "target_utilization": 0.7,
            "startup_seconds": max(2 * tick_seconds, 4.0),
            "scale_in_stabilization_seconds": 15 * tick_seconds,
            "forecast_season_steps": steps,
            "forecast_refit_seconds": 60.0,
            "scrape_timeout_seconds": min(1.0, tick_seconds / 2),
        },
        "recovery": {"drain_timeout_seconds": 5.0, "cooldown_seconds": 30.0},
        "security": {"fault_injection": True},
    }


def find_trace(explicit: Path | None = None) -> Path:
    """The trace to replay: explicit, else World Cup 98 beside the repo or CWD, else generated."""
    if explicit is not None:
        return explicit
    for base in (REPO_ROOT.parent, Path.cwd().parent, Path.cwd()):
        candidate = base / WORLDCUP
        if candidate.is_file():
            return candidate
    if not GENERATED_TRACE.is_file():
        write_generated_trace(GENERATED_TRACE)
    return GENERATED_TRACE


def write_generated_trace(path: Path, days: int = 7, seed: int = 7) -> Path:
    """A 5-minute, World-Cup-shaped synthetic trace (daily cycle, match-time bursts, noise).

    Regenerate with ``python -c "from controller.demo import *; write_generated_trace(
    GENERATED_TRACE)"``; the file in ``data/`` is exactly that output."""
    rng = np.random.default_rng(seed)
    index = pd.date_range("1998-06-12", periods=days * 288, freq="5min")
    hours = (index.hour + index.minute / 60).to_numpy()
    daily = 0.25 + 0.75 * np.clip(np.sin((hours - 6) / 24 * 2 * np.pi) * 0.6 + 0.45, 0, None)
    bursts = np.zeros(len(index))
    for day in range(days):
        for start_h in rng.choice([13.5, 16.5, 20.5], size=2, replace=False):
            mid = day * 288 + int(start_h * 12)
            width = 22  # about two hours of 5-minute steps
            bump = np.exp(-0.5 * ((np.arange(len(index)) - mid) / (width / 3)) ** 2)
            bursts += rng.uniform(0.6, 1.2) * bump
    level = 20000 * (daily + bursts) * rng.lognormal(0, 0.08, len(index))
    frame = pd.DataFrame({"timestamp": index.strftime("%Y-%m-%d %H:%M:%S"),
                          "value": np.round(level).astype(int)})
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


def _read(path: Path) -> pd.Series:
    frame = pd.read_csv(path)
    if {"timestamp", "value"} <= set(frame.columns):
        tcol, vcol = "timestamp", "value"
    elif len(frame.columns) == 2:
        tcol, vcol = frame.columns[0], frame.columns[1]
    else:
        raise ValueError(f"{path}: expected columns timestamp,value (or exactly two columns)")
    series = pd.Series(pd.to_numeric(frame[vcol], errors="coerce").to_numpy(),
                       index=pd.to_datetime(frame[tcol]), name="value").dropna()
    return series.sort_index().resample("1min").mean().interpolate(limit=30).fillna(0.0)


def compress(path: Path, steps: int, peak_rps: float) -> DemoTrace:
    """One day in ``steps`` steps (mean per step), scaled so the day peaks at ``peak_rps``."""
    raw = _read(path)
    per_day = pd.Series(1, index=raw.index.normalize()).groupby(level=0).size()
    days = sorted(per_day[per_day >= 1400].index)
    if len(days) < 2:
        raise ValueError(f"{path}: needs at least two full days of per-minute data")
    day = pd.Timestamp(DEMO_DAY) if pd.Timestamp(DEMO_DAY) in days else days[-1]
    if day == days[0]:
        day = days[-1]
    step_minutes = 1440 / steps
    rule = f"{step_minutes * 60:.3f}s"
    start = max(day - pd.Timedelta(days=HISTORY_DAYS), raw.index[0].normalize())
    window = raw[start : day + pd.Timedelta(days=1) - pd.Timedelta(minutes=1)]
    binned = window.resample(rule, origin=start).mean().dropna()
    day_part = binned[binned.index >= day][:steps]
    hist_part = binned[binned.index < day]
    scale = peak_rps / max(float(day_part.max()), 1e-9)
    return DemoTrace(
        source=f"{path.name} ({day.date()}, {len(hist_part)} pretraining steps)",
        day=(day_part * scale).clip(lower=0.5),
        history=(hist_part * scale).clip(lower=0.5),
        step_minutes=step_minutes,
    )


def pretraining_points(trace: DemoTrace, end: datetime, tick_seconds: float
                       ) -> list[tuple[datetime, float]]:
    """The history laid on the wall clock so it ends one tick before ``end``."""
    n = len(trace.history)
    return [
        (end - timedelta(seconds=tick_seconds * (n - i)), float(v))
        for i, v in enumerate(trace.history.to_numpy())
    ]


class TrafficThread(threading.Thread):
    """Runs the gateway's load generator (open loop) on its own event loop."""

    def __init__(self, url: str, rate_fn: Callable[[float], float], duration_s: float) -> None:
        super().__init__(name="demo-traffic", daemon=True)
        self.url, self.rate_fn, self.duration_s = url, rate_fn, duration_s
        self.report: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        from gateway.loadgen import run_load

        try:
            self.report = asyncio.run(run_load(self.url, self.rate_fn, self.duration_s,
                                               max_attempts=20, timeout_s=10.0))
        except BaseException as exc:  # noqa: BLE001 - reported by the demo
            self.error = exc


def inject_fault(url: str, token: str, kind: str, duration_s: float) -> None:
    body = {"kind": kind, "params": FAULT_PARAMS.get(kind, {}),
            "duration_s": max(1.0, duration_s)}
    try:
        httpx.post(f"{url}/admin/faults", json=body, timeout=3.0,
                   headers={"Authorization": f"Bearer {token}"}).raise_for_status()
    except httpx.ReadTimeout:
        if kind != "crash":
            raise


def run_demo(settings: Settings, options: DemoOptions, stop: threading.Event,
             echo: Callable[[str], None] = print) -> Any:
    from controller.report import build_report
    from controller.runtime import Fleet, setup_logging

    tick = settings.controller.tick_seconds
    steps = max(24, round(options.minutes * 60 / tick))
    settings.controller.forecast_season_steps = steps
    trace_path = find_trace(options.trace_path)
    trace = compress(trace_path, steps, options.peak_rps)
    duration = steps * tick
    setup_logging(settings.data_dir, console_level=logging.WARNING)
    echo(f"demo: {options.minutes:g} min replay of {trace.source}; 1 tick ({tick:g}s) = "
         f"{trace.step_minutes:g} trace minutes; peak {options.peak_rps:g} payments/s; "
         f"{options.fault} fault at {options.fault_at:.0%}")
    fleet = Fleet(settings)
    fleet.start(start_loop=False)
    assert fleet.controller is not None and fleet.pool is not None
    controller = fleet.controller
    view = LiveView(controller, echo=echo, quiet=options.quiet)
    controller.on_tick.append(view.on_tick)
    fault: dict[str, Any] = {}
    traffic: TrafficThread | None = None
    try:
        started = grid_time(datetime.now(UTC), tick) + timedelta(seconds=tick)
        echo(f"pretraining the forecaster on {len(trace.history)} compressed steps ...")
        controller.forecasts.seed(pretraining_points(trace, started, tick), fit_now=True)
        echo(f"forecaster: {controller.forecasts.model_name or controller.forecasts.reason}")
        time.sleep(max(0.0, (started - datetime.now(UTC)).total_seconds()))
        values = trace.day.to_numpy()

        def rate(t: float) -> float:
            i = min(int(t / tick), len(values) - 1)
            return float(values[i])

        traffic = TrafficThread(settings.balancer_url, rate, duration)
        traffic.start()
        controller.start()
        t0 = time.monotonic()
        fault_time = options.fault_at * duration
        while not stop.is_set() and time.monotonic() - t0 < duration:
            if not fault and time.monotonic() - t0 >= fault_time:
                fault = _fault_one_node(fleet, settings, options.fault, duration - fault_time)
                view.note(f"FAULT  injected {options.fault} into {fault.get('node_id')}")
            stop.wait(0.25)
        if stop.is_set():
            echo("interrupted: writing the report for what ran")
    finally:
        controller.stop()
        if traffic is not None:
            traffic.join(timeout=30.0)
        report = build_report(
            controller.store, settings.data_dir / "reports", trace=trace,
            started=started if "started" in locals() else datetime.now(UTC),
            tick_seconds=tick, fault=fault, load=traffic.report if traffic else None,
            ledger_url=settings.database_url, settings=settings,
        )
        fleet.stop()
    echo("")
    echo(report.text)
    return report


class LiveView:
    """The console view: one line per tick (load, forecast, nodes), decisions as they happen."""

    def __init__(self, controller: Any, echo: Callable[[str], None], quiet: bool = False) -> None:
        self.controller = controller
        self.echo = echo
        self.quiet = quiet
        self.t0: datetime | None = None

    def note(self, text: str) -> None:
        self.echo(f"{self._clock()}  {text}")

    def _clock(self) -> str:
        if self.t0 is None:
            return "  +0s"
        return f"{(datetime.now(UTC) - self.t0).total_seconds():+5.0f}s"

    def on_tick(self, report: Any) -> None:
        if self.t0 is None:  # also when quiet: the fault's note is timed from the first tick
            self.t0 = report.at
        if self.quiet:
            return
        counts = {s: 0 for s in NodeState}
        for node in report.nodes:
            counts[node.state] += 1
        fc = self.controller.forecasts.forecast(3)
        forecast = (f"forecast {fc.mean[-1]:5.1f} [{fc.lo80[-1]:5.1f},{fc.hi80[-1]:5.1f}]"
                    if fc is not None else "forecast   n/a")
        anomalous = [a.node for a in self.controller.last_detection.anomalies]
        self.echo(
            f"{self._clock()}  load {report.load_rps:5.1f}/s  {forecast}  "
            f"ready {counts[NodeState.READY]} starting {counts[NodeState.STARTING]} "
            f"draining {counts[NodeState.DRAINING]}  desired {report.plan.desired}"
            + (f"  anomalous {','.join(anomalous)}" if anomalous else "")
        )
        for d in [*report.plan.decisions, *report.executed.events]:
            if d.kind != "hold" or d.node_id is not None:
                self.echo(f"        {d.kind:<13} {d.node_id or '-':<8} {d.reason}")


def _fault_one_node(fleet: Any, settings: Settings, kind: str, duration_s: float
                    ) -> dict[str, Any]:
    ready = [n for n in fleet.pool.nodes() if n.state is NodeState.READY]
    if not ready:
        return {}
    victim = sorted(ready, key=lambda n: n.since)[0]
    at = datetime.now(UTC)
    inject_fault(victim.url, settings.security.admin_token or "", kind, math.ceil(duration_s))
    return {"node_id": victim.id, "kind": kind, "at": at}
