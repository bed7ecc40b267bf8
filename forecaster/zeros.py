"""A point mass at zero: load that drops to exactly nothing where the bands say it cannot.

A Gaussian on the log1p (or square-root) scale gives zero a probability only where
the forecast is already near it.  Some gauges stop dead at any level: NAB's
``rogue_agent_key_updown`` (key presses per 5 minutes, 89 % zeros) goes from a
burst to nothing from one step to the next, so its bands' lower ends sat a little
above zero at the moment the typing stopped, and on the held-out panel
(``benchmarks/forecaster_panel.py``) 46 of its 47 misses below the 80 % band were
exact zeros (coverage 65 %, against 84 % had those been inside).

The fix is measured, not assumed.  On the same out-of-sample forecasts that size the
bands (``forecaster.held_out``: a model fitted before the window's last stretch
forecasts every point of it at leads 1 to 24), the steps whose calibrated lower
80 % bound is above zero are the ones where the model says zero is unlikely.  If at
least ``MIN_SURPRISES`` of their actuals were exactly zero, the chance of a zero
is modelled: a logistic regression of "the actual was zero" on the forecast's
centre on the transformed scale (``loc``), over those steps.  The forecast's
distribution then has at least that mass at zero: its ``q``-quantile is 0 wherever
``q`` is at most the step's probability of zero, so ``lo80`` is 0 where that
probability is at least 10 % and ``lo95`` where it is at least 2.5 %.  The chance
depends on the level, so a low-count trace whose nights are quiet keeps its daytime
lower bounds: zero after a busy hour is what the regression learns to be rare.  The
point forecast (the Gaussian's median) is not moved: the mass is capped at
``MAX_PROBABILITY`` (just under one half), so only bands below the median change.

The width factors are then measured again with the zeros the mass holds counted as
errors of nothing (``covered_by_mass``).  Without that step the band was widened
twice for the same zeros: tweet counts, which are zero on quiet nights, met zeros
below a positive bound too, and their factors had been sized partly to reach them;
with the mass on top, the held-out panel's Twitter CRM, CVS, IBM and PFE went
from 78/80/78/83 % to 85/84/83/86 % coverage.  Measured again, CRM is at 77 %.
A series that never met a zero below a positive lower bound gets no mass, and
its bands are as before.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

from forecaster.types import Z80

MIN_SURPRISES = 10  # fewer zeros below a positive 80 % lower bound in the tail: no mass
MAX_PROBABILITY = 0.49  # the mass never reaches the median, the point forecast


@dataclass(frozen=True)
class ZeroMass:
    """``P(load == 0)`` as a logistic function of the forecast's transformed centre."""

    intercept: float
    slope: float

    def probability(self, loc: np.ndarray) -> np.ndarray:
        """The chance of an exact zero at each step whose centre is ``loc``, capped
        at ``MAX_PROBABILITY``."""
        p = expit(self.intercept + self.slope * np.asarray(loc, dtype=float))
        return np.minimum(p, MAX_PROBABILITY)

    def describe(self) -> str:
        return (f"P(zero) = logistic({self.intercept:.3f} + {self.slope:.3f} x centre), "
                f"at most {MAX_PROBABILITY:g}")


def covered_by_mass(mass: ZeroMass, zeros: np.ndarray, loc: np.ndarray) -> np.ndarray:
    """Which forecasts (shaped as ``loc``, laid out as for ``fit_zero_mass``) the mass
    puts inside their 80 % band whatever its width: a point that was zero (``zeros``)
    where the chance of zero is at least the band's lower 10 %."""
    rows, leads = loc.shape
    target = np.arange(rows)[:, None] + np.arange(leads)[None, :]
    inside = target < len(zeros)
    hit = np.zeros(loc.shape, dtype=bool)
    hit[inside] = np.asarray(zeros, dtype=bool)[target[inside]]
    return hit & (mass.probability(loc) >= 0.1)


def fit_zero_mass(zeros: np.ndarray, loc: np.ndarray, scale: np.ndarray, usable: np.ndarray,
                  known: np.ndarray, zero: float) -> tuple[ZeroMass | None, str]:
    """The zero mass measured on forecasts ``loc``/``scale`` (a row per origin, a column
    per lead, ``scale`` already widened by the width factors, on the transformed
    scale) of points of which ``zeros`` marks those that were exactly 0, laid out as
    for :func:`forecaster.calibration.lead_factors`; ``zero`` is 0 on the transformed
    scale.  ``None`` and why when too few zeros fell below a positive lower bound."""
    zeros = np.asarray(zeros, dtype=bool)
    targets, centres, lowers = [], [], []
    for h in range(loc.shape[1]):
        count = len(zeros) - h
        if count <= 0:
            break
        keep = usable[h:h + count] & known[:count] & (scale[:count, h] > 0)
        targets.append(zeros[h:h + count][keep])
        centres.append(loc[:count, h][keep])
        lowers.append((loc[:count, h] - Z80 * scale[:count, h])[keep])
    if not targets:
        return None, "none: no forecasts to measure it on"
    target, centre, lower = (np.concatenate(a) for a in (targets, centres, lowers))
    above = lower > zero + 1e-12  # the model's 80 % band said: not zero
    is_zero = target
    surprises = int((is_zero & above).sum())
    if surprises < MIN_SURPRISES:
        return None, (f"none: {surprises} zero(s) below a positive 80 % lower bound in "
                      f"{int(above.sum())} held-out forecasts (at least {MIN_SURPRISES} needed)")
    y = is_zero[above]
    x = centre[above]
    if y.all():  # every such step was zero: one share, no slope to learn
        mass = ZeroMass(float(np.log(MAX_PROBABILITY / (1 - MAX_PROBABILITY))), 0.0)
    else:
        fitted = LogisticRegression().fit(x[:, None], y)
        mass = ZeroMass(float(fitted.intercept_[0]), float(fitted.coef_[0, 0]))
    return mass, (f"{surprises} of {int(above.sum())} held-out forecasts with a positive "
                  f"80 % lower bound met a zero: {mass.describe()}")
