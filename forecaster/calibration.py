"""Interval widths per horizon from the model's own multi-step errors.

An ARIMA's h-step variance is right only if the model is: a load series that
wanders between regimes more than the fitted ARMA allows has well-calibrated
one-step errors (what maximum likelihood fits) and multi-step errors that grow
faster than the model's variance says, so its 80 % intervals at 6-12 steps
cover too little.  The remedy is the empirical one (Williams & Goodman 1971;
Gardner 1988, "A simple method of computing prediction intervals for time
series forecasts", Management Science 34(4)): during fitting, measure the
forecast errors at each lead time and size the intervals from them.  Here the
fitted (fixed) parameters forecast from every origin in the last
``CALIBRATION_FRACTION`` of the fit window, straight from the Kalman filter's
predicted states (no refit, a few milliseconds); per lead time ``h`` the 80th
percentile of ``|error| / model sd`` over ``Z80`` is the factor the model's sd
would need for its 80 % interval to cover 80 % of those errors.  It is clipped
to ``[WIDTH_MIN, WIDTH_MAX]`` and made non-decreasing in ``h``; beyond
``CALIBRATION_HORIZON`` the last factor holds.  Points filled in across a gap
(``forecaster.regular.filled_mask``) are not observations: an error counts only
when its actual was observed and so was its origin's last point.  A filled-in
straight line is easy to forecast and, from inside a gap, already points at
where the gap ends, so counting it made the factors too small on gap-heavy
series.

:meth:`forecaster.statespace.StateSpace.project` is the h-step projection
itself, shared with ``forecast`` and :func:`forecaster.path.forecast_path`.

Tried and not kept (issue 6, low-count traces): widths by forecast level as well
as by lead time.  On 5-minute flight departures from ORD the 0.9 quantile covered
98/82/76/87/94 % of the actuals by forecast-level quintile (log1p): too little
where 1-3 departures were forecast, too much at the peaks.  Factors from the
errors binned by level (ten bins, learned on the first third of the simulator's
forecast tape) moved the simulator's ratio to the HPA's short steps ORD 0.504 ->
0.494 and ATL 0.448 -> 0.424 but World Cup 0.262 % -> 0.395 % short and Twitter PFE
0.609 -> 0.737.  The square root for Poisson-like counts
(``forecaster.transforms``) evens the coverage instead (ORD 98/85/79/83/87 %,
ATL 97/84/84/86/94 -> 98/89/87/83/85 %) and leaves the other traces alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from forecaster.statespace import StateSpace
from forecaster.types import Z80

CALIBRATION_HORIZON = 24  # lead times measured; longer horizons hold the last factor
CALIBRATION_FRACTION = 0.5  # trailing share of the fit window whose origins are used
MIN_ORIGINS = 50  # fewer origins at a lead time than this: the factor is not measured
WIDTH_MIN = 1.0  # never narrower than the model's own sd
WIDTH_MAX = 2.5  # a misfit this large is for a refit or a human, not for wider bands
SKIP_START = 50  # the filter's (diffuse) start is never an origin


@dataclass(frozen=True)
class OwnForecasts:
    """The fitted model's forecasts of the last ``fraction`` of its own window, from
    every origin there: ``actual`` from ``start`` on, ``loc``/``sd`` a row per origin
    and a column per lead (``lead_factors``' layout), on the filter's scale."""

    start: int
    actual: np.ndarray
    loc: np.ndarray
    sd: np.ndarray
    observed: np.ndarray
    known: np.ndarray

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return self.actual, self.loc, self.sd, self.observed, self.known


def own_forecasts(results: Any, horizon: int = CALIBRATION_HORIZON,
                  fraction: float = CALIBRATION_FRACTION,
                  missing: np.ndarray | None = None) -> OwnForecasts | None:
    """The fitted model's own forecasts that size its in-sample widths
    (``lead_factors(..., WIDTH_MIN)``, in ``forecaster.held_out.calibrate``); ``None``
    when the window has too few origins for lead 1.

    ``results`` is the fitted statsmodels filter output over the fit window.
    ``missing`` marks points filled in across gaps: an error counts only if its
    actual was observed and so was the origin's last point (a state that saw
    part of a filled-in line already knew where the gap ends).
    """
    endog = np.asarray(results.model.endog, dtype=float).ravel()
    filtered = results.filter_results
    n = len(endog)
    start = max(n - int(fraction * n), min(SKIP_START, n))
    origins = n - start
    if origins < MIN_ORIGINS + 1:
        return None
    state = np.asarray(filtered.predicted_state)[:, start:n]
    state_cov = np.asarray(filtered.predicted_state_cov)[:, :, start:n]
    means, variances = StateSpace.from_ssm(results.model.ssm).project(state, state_cov, horizon)
    sd = np.sqrt(np.maximum(variances, 0.0))
    observed = np.ones(n, dtype=bool) if missing is None else ~np.asarray(missing, dtype=bool)
    return OwnForecasts(start, endog[start:n], means, sd, observed[start:n],
                        observed[start - 1:n - 1])


def lead_factors(actual: np.ndarray, loc: np.ndarray, sd: np.ndarray, observed: np.ndarray,
                 known: np.ndarray, floor: float) -> np.ndarray | None:
    """Per-lead factors from forecasts ``loc``/``sd`` (a row per origin, a column per
    lead) of ``actual``, whose point ``k + h`` lead ``h + 1`` of origin ``k`` forecasts.

    An error counts where its actual is ``observed`` and so was the origin's last
    point (``known[k]``); a lead with fewer than ``MIN_ORIGINS`` such errors ends the
    list.  Each factor is the 80th percentile of ``|error| / sd`` over ``Z80``, clipped
    to ``[floor, WIDTH_MAX]`` and made non-decreasing; ``None`` when lead 1 has too few.
    """
    ratios: list[float] = []
    for h in range(loc.shape[1]):
        count = len(actual) - h  # origins whose lead-(h+1) target is inside ``actual``
        if count < MIN_ORIGINS:
            break
        errors = actual[h:h + count] - loc[:count, h]
        scale = sd[:count, h]
        usable = (scale > 0) & observed[h:h + count] & known[:count]
        if usable.sum() < MIN_ORIGINS:
            break
        ratios.append(float(np.quantile(np.abs(errors[usable]) / scale[usable], 0.8)) / Z80)
    if not ratios:
        return None
    return np.maximum.accumulate(np.clip(np.asarray(ratios), floor, WIDTH_MAX))


def widen(scale: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """``scale[..., h]`` times the factor of lead ``h + 1`` (the last factor beyond them)."""
    scale = np.asarray(scale, dtype=float)
    horizon = scale.shape[-1]
    lead = np.minimum(np.arange(horizon), len(factors) - 1)
    return scale * np.asarray(factors, dtype=float)[lead]
