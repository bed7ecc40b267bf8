"""The yearly wave of daily load, read on the years before the fit's window.

Daily fits use the last year only (``LoadForecaster.max_history_days``: the weekly
shape drifts over the years), and one year cannot show a yearly season.  The
years before it can: on them, with the slow trend removed, a few Fourier
harmonics of the year (at most ``MAX_HARMONICS``, counted by AICc; Prophet's
default for a yearly season is ten) draw the wave, and when it explains at least
``MIN_SHARE`` of the detrended series' variance (the bar every season must pass,
``forecaster.seasonality``) it is kept as a fixed offset on the transformed
scale: the window's model (its week, holidays and ARIMA errors) is fitted to
the load less the wave, and forecasts add the wave back.  A daily series of
bike rentals or electricity is then forecast to rise into summer, not flat at
its last level.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecaster.seasonality import (
    DAY_SECONDS,
    MIN_CYCLES,
    MIN_SHARE,
    WEEK_SECONDS,
    Season,
    best_harmonics,
    detrend,
    fourier_matrix,
    solve_least_squares,
)

YEAR_SECONDS = 365.2425 * DAY_SECONDS
MAX_HARMONICS = 10


@dataclass(frozen=True)
class YearlyWave:
    """A zero-mean yearly wave on the transformed scale (none when ``season`` is None)."""

    season: Season | None = None
    coef: np.ndarray = field(default_factory=lambda: np.empty(0))

    def at(self, positions: np.ndarray) -> np.ndarray:
        """The wave at ``positions`` (steps since the epoch)."""
        if self.season is None:
            return np.zeros(len(positions))
        return fourier_matrix(positions, (self.season,)) @ self.coef

    def describe(self) -> str:
        return "" if self.season is None else f" yearly[{self.season.describe()}]"


NO_WAVE = YearlyWave()


def applies(step_seconds: float, business_days: bool) -> bool:
    """Steps from a day to a week on the calendar (business days count no year)."""
    return not business_days and DAY_SECONDS <= step_seconds <= WEEK_SECONDS


def fit_yearly(z: np.ndarray, positions: np.ndarray, step_seconds: float,
               notes: list[str]) -> YearlyWave:
    """The yearly wave of ``z`` (transformed load at ``positions``), said in ``notes``;
    ``NO_WAVE`` when the series holds fewer than ``MIN_CYCLES`` years or the wave
    explains less than ``MIN_SHARE`` of the detrended variance."""
    period = YEAR_SECONDS / step_seconds
    if len(z) < MIN_CYCLES * period:
        return NO_WAVE
    target = detrend(z, int(2 * period) + 1)
    target = target - target.mean()
    intercept = np.ones((len(z), 1))
    harmonics = best_harmonics(target, positions, intercept, period, MAX_HARMONICS)
    season = Season(period, harmonics)
    design = fourier_matrix(positions, (season,))
    coef = solve_least_squares(design, target)
    total = float(target @ target)
    resid = target - design @ coef
    share = 0.0 if total <= 0 else 1.0 - float(resid @ resid) / total
    if share < MIN_SHARE:
        return NO_WAVE
    notes.append(
        f"yearly wave read on {len(z)} points ({harmonics} harmonic(s), {share:.0%} of the "
        "detrended variance), the window's model fitted to the load less it"
    )
    return YearlyWave(season, coef)


def joined(older: pd.Series, history: pd.Series) -> pd.Series:
    """``older`` (the points before a fit's window) and ``history`` (the window and the
    points since) as one series, with their filled-in runs, to fit again."""
    if len(older) == 0:
        return history
    seen = pd.concat([older, history])
    runs = (*older.attrs.get("filled", ()), *history.attrs.get("filled", ()))
    seen.attrs = {**history.attrs, "filled": tuple(dict.fromkeys(runs))}
    return seen
