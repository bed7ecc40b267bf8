"""Backend choice rules of the load balancer, as small pure classes.

A chooser sees a snapshot of the eligible backends (ready and not marked down)
and returns one; it does no I/O and takes randomness as an injected
``random.Random``, so each rule is unit-tested on its own.  The balancer keeps
the live counters (in-flight, latency EWMA) and hands them in as ``Candidate``.

- ``round_robin``: each in turn.
- ``random``: uniform.
- ``weighted_round_robin``: nginx's smooth weighted round robin (weights 1:2:3
  give a-b-c-b-c-c... interleaved, not bursts).
- ``least_request``: power of two choices on active (in-flight) requests,
  scored as Envoy does with weights: ``weight / (active + 1) ** bias``, higher
  wins.  The weight is the configured one scaled by the backend's measured speed
  (a plain, not peak-sensitive, latency average) relative to the fleet's typical
  one (the low median), capped at 1, so only a backend slower than its peers is
  derated.  Without that, least-request
  equalises concurrency, so by Little's law a backend gets traffic in
  proportion to 1/latency: an idle node that is 13x slower still wins every
  draw against a busy fast one and keeps ~6 % of requests, which is its whole
  p99.  Peers within 2x of each other are still ranked by active requests
  alone.  A backend with no latency sample yet counts at full weight (it is
  probed when idle) but loses ties to a measured one; remaining ties go to the
  lower average, then the higher weight.  The average decays toward zero while
  a backend is idle, so a derated one is probed again after a few seconds.
- ``peak_ewma``: power of two choices on ``latency_ewma × (in_flight + 1)``
  (Finagle/Linkerd), where the EWMA jumps up to a slow sample at once and
  decays back over ``decay_s`` (see ``PeakEwma``).  A backend with no sample yet
  costs 0 while idle (so it is probed) but ``UNKNOWN_PENALTY_S`` per in-flight
  request, so a cold slow node cannot soak up traffic before its first answer.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Candidate:
    id: str
    weight: int = 100
    inflight: int = 0
    latency_ewma_s: float = 0.0  # peak-sensitive (peak_ewma)
    latency_mean_s: float = 0.0  # plain moving average (least_request's speed)


class Chooser(Protocol):
    def choose(self, candidates: Sequence[Candidate]) -> Candidate: ...


class RoundRobin:
    def __init__(self) -> None:
        self._next = 0

    def choose(self, candidates: Sequence[Candidate]) -> Candidate:
        _require(candidates)
        chosen = candidates[self._next % len(candidates)]
        self._next = (self._next + 1) % 1_000_000_007
        return chosen


class RandomChoice:
    def __init__(self, rng: random.Random | None = None) -> None:
        self.rng = rng or random.Random()

    def choose(self, candidates: Sequence[Candidate]) -> Candidate:
        _require(candidates)
        return candidates[self.rng.randrange(len(candidates))]


class WeightedRoundRobin:
    """Smooth weighted round robin; a backend with weight 0 is never chosen if others can be."""

    def __init__(self) -> None:
        self._current: dict[str, int] = {}

    def choose(self, candidates: Sequence[Candidate]) -> Candidate:
        _require(candidates)
        weighted = [c for c in candidates if c.weight > 0] or list(candidates)
        total = 0
        best: Candidate | None = None
        for c in weighted:
            w = max(c.weight, 1)
            total += w
            self._current[c.id] = self._current.get(c.id, 0) + w
            if best is None or self._current[c.id] > self._current[best.id]:
                best = c
        assert best is not None
        self._current[best.id] -= total
        live = {c.id for c in weighted}
        for stale in [k for k in self._current if k not in live]:
            del self._current[stale]
        return best


def _two_of(candidates: Sequence[Candidate], rng: random.Random) -> tuple[Candidate, Candidate]:
    """Power of two choices: two distinct candidates at random (the same one twice if alone)."""
    _require(candidates)
    if len(candidates) == 1:
        return candidates[0], candidates[0]
    i, j = rng.sample(range(len(candidates)), 2)
    return candidates[i], candidates[j]


class _PowerOfTwo:
    def __init__(self, rng: random.Random | None = None) -> None:
        self.rng = rng or random.Random()

    def cost(self, c: Candidate) -> float:
        raise NotImplementedError

    def choose(self, candidates: Sequence[Candidate]) -> Candidate:
        a, b = _two_of(candidates, self.rng)
        ca, cb = self.cost(a), self.cost(b)
        if ca != cb:
            return a if ca < cb else b
        if a.latency_ewma_s != b.latency_ewma_s:
            return a if a.latency_ewma_s < b.latency_ewma_s else b
        return a if a.weight >= b.weight else b


class LeastRequest:
    """P2C on active requests with Envoy's ``weight / (active + 1) ** bias`` score."""

    def __init__(self, rng: random.Random | None = None, active_request_bias: float = 1.0) -> None:
        if active_request_bias < 0:
            raise ValueError("active_request_bias must be >= 0")
        self.rng = rng or random.Random()
        self.bias = active_request_bias

    @staticmethod
    def reference_latency(candidates: Sequence[Candidate]) -> float:
        """The fleet's typical latency: the low median of the measured averages (0 if none)."""
        measured = [c.latency_mean_s for c in candidates if c.latency_mean_s > 0.0]
        return statistics.median_low(measured) if measured else 0.0

    def effective_weight(self, c: Candidate, reference_s: float) -> float:
        """Configured weight x speed relative to the fleet, never above the configured one."""
        if c.latency_mean_s <= 0.0 or reference_s <= 0.0:
            return float(c.weight)
        return c.weight * min(1.0, reference_s / c.latency_mean_s)

    def score(self, c: Candidate, reference_s: float) -> float:
        return self.effective_weight(c, reference_s) / (c.inflight + 1) ** self.bias

    def choose(self, candidates: Sequence[Candidate]) -> Candidate:
        a, b = _two_of(candidates, self.rng)
        reference = self.reference_latency(candidates)
        sa, sb = self.score(a, reference), self.score(b, reference)
        if not math.isclose(sa, sb, rel_tol=1e-9):
            return a if sa > sb else b
        return min((a, b), key=_tie_key)


def _tie_key(c: Candidate) -> tuple[bool, float, int]:
    """Measured before unknown, then lower average latency, then higher weight."""
    return (c.latency_mean_s <= 0.0, c.latency_mean_s, -c.weight)


UNKNOWN_PENALTY_S = 1.0


class PeakEwmaChooser(_PowerOfTwo):
    def cost(self, c: Candidate) -> float:
        if c.latency_ewma_s <= 0.0:
            return c.inflight * UNKNOWN_PENALTY_S
        return c.latency_ewma_s * (c.inflight + 1)


class PeakEwma:
    """Peak-sensitive latency EWMA with time-based decay (time passed in).

    ``peak=False`` gives a plain moving average (same time-based weights, no jump
    to peaks): one stall of a fast backend then barely moves it, which is what a
    "typical latency" needs.
    """

    def __init__(self, decay_s: float = 3.0, initial_s: float = 0.0, *,
                 peak: bool = True) -> None:
        self.decay_s = decay_s
        self.value = initial_s
        self.peak = peak
        self._stamp: float | None = None

    def observe(self, rtt_s: float, now: float) -> float:
        if self._stamp is None or (self.peak and rtt_s > self.value):
            self.value = rtt_s  # peak: jump up at once
        else:
            w = math.exp(-max(0.0, now - self._stamp) / self.decay_s)
            self.value = self.value * w + rtt_s * (1 - w)
        self._stamp = now
        return self.value

    def current(self, now: float) -> float:
        """The value decayed toward zero since the last sample, so an idle slow
        backend is probed again after a while instead of being starved forever."""
        if self._stamp is None:
            return self.value
        return self.value * math.exp(-max(0.0, now - self._stamp) / self.decay_s)


STRATEGIES = ("round_robin", "random", "weighted_round_robin", "least_request", "peak_ewma")


def make_chooser(name: str, rng: random.Random | None = None) -> Chooser:
    if name == "round_robin":
        return RoundRobin()
    if name == "random":
        return RandomChoice(rng)
    if name == "weighted_round_robin":
        return WeightedRoundRobin()
    if name == "least_request":
        return LeastRequest(rng)
    if name == "peak_ewma":
        return PeakEwmaChooser(rng)
    raise ValueError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")


def _require(candidates: Sequence[Candidate]) -> None:
    if not candidates:
        raise ValueError("no candidate backends")
