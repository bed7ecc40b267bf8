"""Fault injection for a payment node: the misbehaviour the detector must find.

Off unless the node is started with fault injection enabled, and then only with
the admin token.  One fault is active at a time; it expires after ``duration_s``
and ``DELETE /admin/faults`` clears it early.

Kinds and params:

- ``latency``: ``{"ms": 200, "jitter_ms": 0}`` added to every non-admin route but ``/metrics``.
- ``errors``: ``{"fraction": 0.5}`` of payment requests answered 500 (before any charge).
- ``cpu``: ``{"threads": 1}`` busy threads in the node process (its CPU % rises and the
  event loop slows, like a hot loop in a real service).
- ``memory``: ``{"mb_per_s": 20}`` kept allocated and touched until the fault ends.
- ``hang``: every route except ``/admin/*`` accepts the request and never answers
  while the fault lasts (a scraper of ``/metrics`` or ``/healthz`` times out); the
  admin routes keep working so the fault can be cleared.  Hung requests get a 503
  when the fault ends.
- ``crash``: the process exits (code 70) right after answering.

A param the kind does not take, or a value outside ``PARAM_RANGES``, is a 422 naming it.
"""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

FaultKind = Literal["latency", "errors", "cpu", "memory", "hang", "crash"]
MAX_DURATION_S = 24 * 3600


# each kind's params and the range each must be in (inclusive), as the docstring lists them
PARAM_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "latency": {"ms": (0.0, 600_000.0), "jitter_ms": (0.0, 600_000.0)},
    "errors": {"fraction": (0.0, 1.0)},
    "cpu": {"threads": (1.0, 64.0)},
    "memory": {"mb_per_s": (0.0, 1024.0)},
    "hang": {},
    "crash": {},
}


class FaultRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: FaultKind
    params: dict[str, float] = Field(default_factory=dict)
    duration_s: float = Field(default=60.0, gt=0, le=MAX_DURATION_S)

    @field_validator("params")
    @classmethod
    def _params_of_the_kind(cls, params: dict[str, float], info: ValidationInfo
                            ) -> dict[str, float]:
        # a negative latency used to be taken as 0 and a typo ("msec") silently ignored
        kind = info.data.get("kind")
        if kind is None:  # the kind itself is wrong: that error is enough
            return params
        ranges = PARAM_RANGES[kind]
        for name, value in params.items():
            if name not in ranges:
                known = ", ".join(ranges) or "none"
                raise PydanticCustomError(
                    "fault_param", "{kind} takes no param '{name}' (its params: {known})",
                    {"kind": kind, "name": name, "known": known})
            low, high = ranges[name]
            if not low <= value <= high:
                raise PydanticCustomError(
                    "fault_param",
                    f"{kind} param '{name}' must be from {low:g} to {high:g}, got {value:g}")
        return params


@dataclass(frozen=True)
class Fault:
    kind: str
    params: dict[str, float]
    started_at: float
    expires_at: float

    def public(self, now: float) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "params": self.params,
            "remaining_s": round(max(0.0, self.expires_at - now), 3),
        }


@dataclass
class FaultInjector:
    """Holds the active fault and runs its side effects (threads, allocations)."""

    _fault: Fault | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _leak: list[bytes] = field(default_factory=list)
    _cleared: asyncio.Event | None = None
    _rng: random.Random = field(default_factory=random.Random)

    def active(self, now: float | None = None) -> Fault | None:
        now = time.monotonic() if now is None else now
        if self._fault is not None and now >= self._fault.expires_at:
            self.clear()
        return self._fault

    def start(self, request: FaultRequest, now: float | None = None) -> Fault:
        self.clear()
        now = time.monotonic() if now is None else now
        fault = Fault(request.kind, dict(request.params), now, now + request.duration_s)
        self._fault = fault
        self._stop = threading.Event()
        self._cleared = asyncio.Event()
        if fault.kind == "cpu":
            for _ in range(max(1, int(fault.params.get("threads", 1)))):
                self._spawn(self._burn, fault.expires_at)
        elif fault.kind == "memory":
            self._spawn(self._grow, fault.expires_at, float(fault.params.get("mb_per_s", 20)))
        return fault

    def clear(self) -> None:
        self._fault = None
        self._stop.set()
        self._threads = [t for t in self._threads if t.is_alive()]
        self._leak.clear()
        if self._cleared is not None:
            self._cleared.set()

    @property
    def leaked_bytes(self) -> int:
        return sum(len(chunk) for chunk in list(self._leak))

    # -- effects used by the app's middleware ---------------------------------
    def extra_latency_s(self, fault: Fault) -> float:
        ms = float(fault.params.get("ms", 200))
        jitter = float(fault.params.get("jitter_ms", 0))
        return max(0.0, ms + (self._rng.uniform(-jitter, jitter) if jitter else 0.0)) / 1000

    def should_error(self, fault: Fault) -> bool:
        return self._rng.random() < float(fault.params.get("fraction", 0.5))

    async def wait_until_cleared(self, fault: Fault) -> None:
        event = self._cleared
        remaining = fault.expires_at - time.monotonic()
        if event is None or remaining <= 0:
            return
        try:
            await asyncio.wait_for(event.wait(), timeout=remaining)
        except TimeoutError:
            self.active()  # expire it

    # -- background effects -----------------------------------------------------
    def _spawn(self, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=(self._stop, *args), daemon=True)
        thread.start()
        self._threads.append(thread)

    @staticmethod
    def _burn(stop: threading.Event, until: float) -> None:
        x = 0
        while not stop.is_set() and time.monotonic() < until:
            for i in range(20_000):
                x = (x * 31 + i) % 1_000_003

    def _grow(self, stop: threading.Event, until: float, mb_per_s: float) -> None:
        chunk = int(max(0.1, mb_per_s) * 1024 * 1024 / 10)
        while not stop.wait(0.1) and time.monotonic() < until:
            self._leak.append(b"\xa5" * chunk)  # filled, so the pages are really resident
        if stop.is_set():
            self._leak.clear()


def crash_soon(delay_s: float = 0.05) -> None:
    """Exit the process hard (no cleanup), as a crashing service would."""
    threading.Timer(delay_s, lambda: os._exit(70)).start()
