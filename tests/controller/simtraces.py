"""Small synthetic traces and settings for the simulator tests (exact expectations).

A daily wave with a deterministic wobble; the real LoadForecaster runs on it,
trained on the first half so it sees two full days.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from controller.simulate import SimSettings

STEP_MINUTES = 10
START = datetime(2026, 1, 5)


def wave(
    days: float = 4,
    base: float = 3000.0,
    amplitude: float = 2400.0,
    step_minutes: int = STEP_MINUTES,
    bursts: tuple[int, ...] = (),
) -> pd.Series:
    """Counts per step: a daily wave plus a fixed wobble; ``bursts`` double single steps."""
    n = int(days * 24 * 60 / step_minutes)
    t = np.arange(n)
    per_day = 24 * 60 / step_minutes
    values = base + amplitude * np.sin(2 * np.pi * t / per_day) + 150 * np.sin(t * 1.7)
    for b in bursts:
        values[b] *= 2
    index = pd.date_range(START, periods=n, freq=f"{step_minutes}min")
    return pd.Series(np.maximum(values, 0).round(), index=index)


def settings(**kw) -> SimSettings:
    defaults = dict(
        node_capacity_rps=1.0,
        startup_seconds=600.0,
        train_fraction=0.5,
        # a small order grid searched in full: fast and independent of machine load
        forecaster_params=(("time_budget_seconds", 60.0), ("max_p", 2), ("max_q", 1)),
    )
    return SimSettings(**{**defaults, **kw})
