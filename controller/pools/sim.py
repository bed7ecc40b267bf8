"""The simulator's pool backend: nodes on a virtual clock.

The simulator replays a demand trace through the same planner the live loop
uses; what differs is only the pool.  ``SimPool`` is the in-memory pool driven
by a ``VirtualClock`` the simulation advances step by step: a launched node is
``starting`` until ``startup_seconds`` of virtual time have passed, then
``ready``.  Draining is instantaneous in the simulation (requests are short
next to a trace step), so the simulator drains and stops in the same tick.
Stopped nodes are forgotten so a long trace stays cheap.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from controller.pools.memory import MemoryPool


class VirtualClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def set(self, moment: datetime) -> None:
        if moment < self.now:
            raise ValueError(f"virtual time cannot go back from {self.now} to {moment}")
        self.now = moment

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class SimPool(MemoryPool):
    """A ``NodePool`` whose nodes become ready ``startup_seconds`` after launch."""

    def __init__(self, clock: VirtualClock, startup_seconds: float, id_prefix: str = "sim") -> None:
        if startup_seconds < 0:
            raise ValueError(f"startup_seconds must be >= 0, got {startup_seconds}")
        super().__init__(
            clock,
            startup_seconds=startup_seconds,
            id_prefix=id_prefix,
            keep_stopped=False,
            record_calls=False,
        )

    def seed_ready(self, n: int) -> None:
        """Start the simulation with ``n`` nodes already ready (launched long ago)."""
        clock = self.clock
        assert isinstance(clock, VirtualClock)
        start = clock.now
        clock.now = start - timedelta(seconds=float(self.startup_seconds or 0.0))
        try:
            self.launch(n)
        finally:
            clock.now = start
        self.nodes()
