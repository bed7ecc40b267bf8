"""A point mass at zero: load that drops to exactly nothing where the bands say it cannot.

A Gaussian on the log1p (or square-root) scale gives zero a probability only where
the forecast is already near it.  Some gauges stop dead at any level: NAB's
``rogue_agent_key_updown`` (key presses per 5 minutes, 89 % zeros) goes from a
burst to nothing from one step to the next, so its bands' lower ends sat a little
above zero at the moment the typing stopped, and on the held-out panel
(``benchmarks/forecaster_panel.py``) 46 of its 47 misses below the 80 % band were
exact zeros (coverage 65 %).

The fix is measured, not assumed.  The forecasts that size the bands (out of sample,
``forecaster.held_out``, or the model's own, ``forecaster.calibration.own_forecasts``: every origin
of a stretch at leads 1 to 24) are read again.  Those whose calibrated lower 80 %
bound is above zero are the ones where the model says zero is unlikely; if at least
``MIN_SURPRISES`` of their actuals, and at least ``MIN_SHARE`` (10 %, the band's whole
lower tail) of them, were exactly zero, zeros alone have broken the lower bound, and
the chance of a zero is modelled: a logistic regression of "the actual was zero" on
the forecast's centre on the transformed scale (``loc``), over those forecasts.  The
forecast's distribution then has at least that mass at zero: its ``q``-quantile is 0
wherever ``q`` is at most the step's probability of zero, so ``lo80`` is 0 where that
probability is at least 10 % and ``lo95`` where it is at least 2.5 %.  The chance
falls with the level, so a busy step keeps its lower bound.  The point forecast (the
Gaussian's median) is not moved: the mass is capped at ``MAX_PROBABILITY`` (just under
one half), so only bands below the median change, and the width factors are the ones
measured without it: the upper bounds and every quantile the autoscaler reads (the
median and above) are exactly those of the model without a mass.

Tried and not kept (233c97d): measuring the width factors again with the zeros the
mass holds counted as errors of nothing, since the factors had been sized partly to
reach them.  Coverage came out nearer 80 % (on the flights' sparse airports DEN 84 ->
80 %, STL 85 -> 82 %), but the narrower factors narrow the upper bounds too, and
``fleetcast simulate`` on the held-out Twitter CVS went from 0.50 to 0.65 of the HPA's
short steps (PFE 0.52 -> 0.54, the airports CLT 0.36 -> 0.39, EWR 0.50 -> 0.53).

Why the 10 % share.  Counts are zero by chance where they are low: tweets at night,
traffic occupancy before dawn.  Such zeros fall below a positive lower bound too, but
as part of the lower tail the band already allows for, not beyond it.  With the count
of ``MIN_SURPRISES`` alone, the mass also fired on the panel's Twitter series and on
occupancy_6005 (zeros 1.6 % of its forecasts with a positive lower bound), whose
coverage went 91 -> 93 %, out of the 70-92 % band: 18 of 26 still, with
rogue_agent_key_updown (zeros 71 % of those forecasts) passing.  With the share,
occupancy_6005 keeps its 91 % and the panel has 19 of 26 (rogue_agent_key_updown 65 ->
85 %, rogue_agent_key_hold 65 -> 86 %, Twitter CRM, CVS and PFE +3-5 points; the
figures are in ``benchmarks/results/forecaster_panel.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

from forecaster.types import Z80

MIN_SURPRISES = 10  # fewer zeros below a positive 80 % lower bound in the tail: no mass
# nor when they are fewer than this share of the forecasts with a positive lower bound:
# the band's whole lower tail, so zeros alone must have broken it
MIN_SHARE = 0.1
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
    is_zero, centre, lower = (np.concatenate(a) for a in (targets, centres, lowers))
    above = lower > zero + 1e-12  # the model's 80 % band said: not zero
    surprises = int((is_zero & above).sum())
    share = surprises / max(int(above.sum()), 1)
    if surprises < MIN_SURPRISES or share < MIN_SHARE:
        return None, (f"none: {surprises} zero(s) below a positive 80 % lower bound in "
                      f"{int(above.sum())} forecasts ({share:.1%}; a mass needs at least "
                      f"{MIN_SURPRISES} and {MIN_SHARE:.0%})")
    y = is_zero[above]
    x = centre[above]
    if y.all():  # every such step was zero: one share, no slope to learn
        mass = ZeroMass(float(np.log(MAX_PROBABILITY / (1 - MAX_PROBABILITY))), 0.0)
    else:
        fitted = LogisticRegression().fit(x[:, None], y)
        mass = ZeroMass(float(fitted.intercept_[0]), float(fitted.coef_[0, 0]))
    return mass, (f"{surprises} of {int(above.sum())} forecasts with a positive 80 % lower "
                  f"bound met a zero ({share:.1%}): {mass.describe()}")
