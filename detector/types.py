"""Value types the detector returns, shared with its callers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Anomaly:
    """A node the detector believes is misbehaving.

    ``top_metrics`` names the (up to three) metrics that contribute most to the
    score, most important first; ``absent`` means the node stopped reporting.
    """

    node: str
    since: datetime
    score: float
    top_metrics: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class FleetAnomaly:
    """Too many nodes looked anomalous at once: a fleet-wide event, not node faults."""

    at: datetime
    nodes: tuple[str, ...]
    fraction: float


@dataclass(frozen=True)
class StepResult:
    """What one online ``NodeDetector.step`` saw and decided for one window.

    ``scores``/``flagged`` are the raw per-window Isolation Forest verdicts of the
    nodes that reported; ``anomalous`` is per tracked node after hysteresis and
    the fleet guard; ``anomalies`` is empty when ``fleet`` is set.
    """

    at: datetime
    scores: dict[str, float]
    flagged: dict[str, bool]
    top_metrics: dict[str, tuple[str, ...]]
    anomalous: dict[str, bool]
    anomalies: tuple[Anomaly, ...]
    fleet: FleetAnomaly | None
    absent: tuple[str, ...] = ()
