"""A forecast of counts per step read as requests per second, the planner's unit.

The simulator's forecaster is fitted on the trace's counts per step (its intervals
and transform are those of counts); the planner sizes the pool in requests per
second.  :func:`as_rate` divides every part of a forecast by the step length, and
:class:`RateForecast` does the same to any quantile the planner asks for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecaster.types import Forecast


@dataclass(frozen=True)
class RateForecast(Forecast):
    """A per-step count forecast read as requests per second (the planner's unit)."""

    per_seconds: float = 1.0

    def quantile(self, q: float) -> np.ndarray:
        return super().quantile(q) / self.per_seconds


def as_rate(forecast: Forecast, step_seconds: float) -> RateForecast:
    """Divide a forecast of counts per step by the step length."""
    s = float(step_seconds)
    return RateForecast(
        timestamps=forecast.timestamps,
        mean=forecast.mean / s,
        lo80=forecast.lo80 / s,
        hi80=forecast.hi80 / s,
        lo95=forecast.lo95 / s,
        hi95=forecast.hi95 / s,
        step_seconds=forecast.step_seconds,
        model=forecast.model,
        loc=forecast.loc,
        scale=forecast.scale,
        transform=forecast.transform,
        lmbda=forecast.lmbda,
        zero_probability=forecast.zero_probability,
        per_seconds=s,
    )
