"""Fixtures shared by the simulator test modules."""

from __future__ import annotations

import pytest

from controller.simulate import SimResult, simulate
from tests.controller.simtraces import settings, wave


@pytest.fixture(scope="session")
def four_policies() -> SimResult:
    """All four policies over the 4-day wave with one burst (computed once per session)."""
    return simulate(wave(bursts=(400,)), settings())
