"""Fakes at the loop's boundaries: scrapes (no HTTP) and a scripted detector model."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from controller.observe import WINDOW_METRICS, NodeWindow
from detector.types import Anomaly, StepResult

HEALTHY = dict.fromkeys(WINDOW_METRICS, 0.0) | {"latency_p50_ms": 10.0, "latency_p99_ms": 30.0,
                                                "cpu_percent": 20.0, "rss_mb": 100.0}


@dataclass
class FakeObserver:
    """Answers scrapes from a script: every live target reports ``metrics`` unless silenced."""

    rps: float = 0.0
    silent: set[str] = field(default_factory=set)
    overrides: dict[str, dict[str, float]] = field(default_factory=dict)
    calls: int = 0

    def observe(self, targets: Mapping[str, str]
                ) -> tuple[dict[str, NodeWindow], float | None, set[str]]:
        self.calls += 1
        answered = {n for n in targets if n not in self.silent}
        per_node = self.rps / max(len(answered), 1)
        windows = {
            n: NodeWindow(n, 1.0, HEALTHY | {"rps": per_node} | self.overrides.get(n, {}),
                          100e6, 512e6)
            for n in answered
        }
        return windows, self.rps, answered


class ScriptedDetector:
    """Implements NodeDetector.step: nodes in ``bad`` are anomalous with score 0.9."""

    def __init__(self, min_peers: int = 1) -> None:
        self.bad: set[str] = set()
        self.flag_only: set[str] = set()  # raw-flagged this window but not (yet) anomalous
        self.min_peers = min_peers

    def step(self, now: datetime, window: Mapping[str, Mapping[str, float]],
             members: object = None) -> StepResult:
        anomalous = self.bad - self.flag_only
        anomalies = tuple(Anomaly(n, now, 0.9, ("latency_p99_ms",)) for n in sorted(anomalous)
                          if n in window)
        scores = {n: (0.9 if n in self.bad else 0.3) for n in window}
        return StepResult(at=now, scores=scores, flagged={n: n in self.bad for n in window},
                          top_metrics={}, anomalous={n: n in anomalous for n in window},
                          anomalies=anomalies, fleet=None)
