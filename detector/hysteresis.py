"""Turning per-window raw flags into node anomalies: hysteresis, absence, fleet guard.

One noisy window must not drain a node, and a node must not flap in and out of
"anomalous".  A node becomes anomalous when ``k`` of its last ``n`` windows are
flagged (or at once on one window scoring above the detector's "immediate"
level, far beyond the threshold: a short spike is still a fault) and clears
after ``clear_after`` clean windows in a row.  A node that
stops reporting is itself a signal: absent for ``absent_windows`` windows in a
row makes it anomalous with top metric ``absent``; one that stays away for
``forget_after`` windows (or leaves the given membership) is forgotten.  When
more than ``max_ejection_percent`` of the nodes (at least one node) are anomalous
in the same window, it is a fleet-wide event (load spike, shared dependency):
one :class:`FleetAnomaly` is reported instead of node anomalies.  Silent nodes and
nodes anomalous on their metrics are counted apart, each against the allowance:
many nodes going quiet at once is a fleet-wide event (the scraper lost the
network), and so are many misbehaving at once, but one node that stopped
reporting (hung, or gone from a file with no membership) must not turn another
node's fault into a "fleet-wide" one and hide it.

The tracker is the single implementation used by the online ``step`` and by the
batch run over a file, so both produce the same alerts.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from detector.types import Anomaly, FleetAnomaly

ABSENT = "absent"


@dataclass(frozen=True)
class HysteresisParams:
    k: int = 2
    n: int = 3
    clear_after: int = 3
    absent_windows: int = 3
    forget_after: int = 20
    max_ejection_percent: float = 10.0

    def __post_init__(self) -> None:
        if not 1 <= self.k <= self.n:
            raise ValueError(f"hysteresis needs 1 <= k <= n, got k={self.k}, n={self.n}")
        if self.clear_after < 1 or self.absent_windows < 1:
            raise ValueError("clear_after and absent_windows must be >= 1")
        if self.forget_after < self.absent_windows:
            raise ValueError("forget_after must be >= absent_windows")
        if not 0 <= self.max_ejection_percent <= 100:
            raise ValueError("max_ejection_percent must be within 0..100")


@dataclass
class NodeTrack:
    """Mutable per-node memory (internal to the tracker)."""

    recent: deque[tuple[datetime, bool]]
    anomalous: bool = False
    since: datetime | None = None
    clean_run: int = 0
    absent_run: int = 0
    absent_since: datetime | None = None
    score: float = 0.0
    top: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Observation:
    """One node's scored window: raw flag, score and attribution."""

    flagged: bool
    score: float
    top_metrics: tuple[str, ...]
    strong: bool = False  # so far above the threshold that one window is enough


@dataclass(frozen=True)
class TrackerOutcome:
    anomalies: tuple[Anomaly, ...]
    fleet: FleetAnomaly | None
    anomalous: dict[str, bool]  # per tracked node, after hysteresis and the fleet guard
    absent: tuple[str, ...]


def allowed_ejections(n_nodes: int, max_ejection_percent: float) -> int:
    return max(1, math.floor(n_nodes * max_ejection_percent / 100.0 + 1e-9))


class Tracker:
    """Hysteresis state for every known node."""

    def __init__(self, params: HysteresisParams) -> None:
        self.params = params
        self.tracks: dict[str, NodeTrack] = {}

    def _track(self, node: str) -> NodeTrack:
        track = self.tracks.get(node)
        if track is None:
            track = NodeTrack(recent=deque(maxlen=self.params.n))
            self.tracks[node] = track
        return track

    def advance(
        self,
        now: datetime,
        observations: dict[str, Observation],
        members: Iterable[str] | None = None,
    ) -> TrackerOutcome:
        p = self.params
        if members is not None:
            keep = set(members) | set(observations)
            for node in [n for n in self.tracks if n not in keep]:
                del self.tracks[node]
        for node, obs in observations.items():
            self._observe(self._track(node), now, obs)
        if members is not None:
            for node in members:
                self._track(node)
        absent = []
        for node, track in list(self.tracks.items()):
            if node in observations:
                continue
            track.absent_run += 1
            if track.absent_since is None:
                track.absent_since = now
            if members is None and track.absent_run >= p.forget_after:
                del self.tracks[node]
                continue
            absent.append(node)
            if track.absent_run >= p.absent_windows and (
                not track.anomalous or track.top != (ABSENT,)
            ):
                track.anomalous = True
                track.since = track.since if track.top == (ABSENT,) else track.absent_since
                track.top = (ABSENT,)
                track.score = 1.0
                track.clean_run = 0
        flagged = sorted(n for n, t in self.tracks.items() if t.anomalous)
        anomalous = {n: t.anomalous for n, t in self.tracks.items()}
        silent = sum(self.tracks[n].top == (ABSENT,) for n in flagged)
        allowed = allowed_ejections(len(self.tracks), p.max_ejection_percent)
        if silent > allowed or len(flagged) - silent > allowed:
            fleet = FleetAnomaly(
                at=now, nodes=tuple(flagged), fraction=len(flagged) / len(self.tracks)
            )
            return TrackerOutcome((), fleet, dict.fromkeys(anomalous, False), tuple(absent))
        anomalies = tuple(
            Anomaly(
                node=n,
                since=self.tracks[n].since or now,
                score=self.tracks[n].score,
                top_metrics=self.tracks[n].top,
            )
            for n in flagged
        )
        return TrackerOutcome(anomalies, None, anomalous, tuple(absent))

    def _observe(self, track: NodeTrack, now: datetime, obs: Observation) -> None:
        p = self.params
        track.absent_run = 0
        track.absent_since = None
        track.recent.append((now, obs.flagged))
        if obs.flagged:
            track.clean_run = 0
        else:
            track.clean_run += 1
        hits = [t for t, f in track.recent if f]
        if not track.anomalous:
            if len(hits) >= p.k or (obs.strong and obs.flagged):
                track.anomalous = True
                track.since = hits[0]
                track.score = obs.score
                track.top = obs.top_metrics
        elif track.clean_run >= p.clear_after:
            track.anomalous = False
            track.since = None
            track.recent.clear()
        elif obs.flagged:  # still anomalous: keep the latest evidence (replaces "absent")
            track.score = obs.score
            track.top = obs.top_metrics
