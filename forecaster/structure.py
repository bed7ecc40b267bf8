"""Differencing, and whether to keep the seasons at all, on windows too short to show them repeat.

A window is short for its seasons (:func:`few_cycles`) when it holds fewer than
``FEW_CYCLES`` cycles of every season it found (the bar ``holdout_harmonics`` uses
for a season's harmonic count), or spans less than a week while every season it
found is a day or longer: it cannot show the week, the longest calendar season of
sub-daily load, at all, and its days are a handful.  There the data
cannot tell a season from a few days' wandering: the KPSS test sees a level that has
not yet had time to leave its mean, and the Fourier terms draw the first day's swing
as the shape of every day.  NAB's EC2 ``a2eb1cd9`` NetworkIn (4.3 days at 5 minutes,
no day like another) was forecast at 1.64 x naive's MASE that way, with d = 0 and a
daily season.  So on such a window the candidates (:func:`candidates`: the test's
choice, the seasons with d = 1, no seasons with d = 1, a random walk with ARMA
errors) are each fitted on all but the window's last stretch and judged on their
forecasts into it (:func:`holdout_structure`), the way ``holdout_harmonics`` judges
a short season's harmonic count.

Measured on the development series (``benchmarks/short_windows.py``: ``rolling_origin``
at horizon 12 and 20 origins on 5 slices of each of 11 series from ``../shared/data``,
the model's MASE over the better baseline's, geometric mean of the ratio with the check
to without): 0.983 on 4.5-day slices (IBM tweets 1.07 -> 0.79, nyc_taxi 1.62 -> 1.06
and World Cup 1.77 -> 1.13 on one slice each; the worst moves 0.87 -> 0.92 and 0.95 ->
1.06) and 0.986 on 7-day slices; a2eb1cd9 1.64 -> 1.06.  A stretch of a whole season
instead of half: neutral overall (1.000).  Below 4 cycles alone left a2eb1cd9's last
five origins, past 4 days, to d = 0 and a daily season (1.42); a2eb1cd9 was used to
choose the week, so it is no longer held out.  Then, once, on series held out of all
of it: 5-day slices (5 each, the same backtest) of the 5-minute departures from six
airports no benchmark had used (MSP, LAS, BOS, EWR, PHL, LGA; vega-datasets'
flights-3m): 1.001, every airport within 0.01 of its ratio without the check (a
timetable's day repeats, and the check keeps it).  A first form of the rule, fewer
than 7 cycles of every season, also fired on 36-49-day windows of a weekly-only
series of the held-out NAB panel (TravelTime_451, 10-minute steps, 5-7 weeks) and
dropped its week at 11 origins: 0.77 -> 1.09 of the better baseline (the panel 17 ->
16 of 26 at 4061a90).  For a daily season the two forms are the same (7 cycles are a
week); that panel series is why the week is counted in time, and it is no longer
held out for this rule.  (Less than a week with any season would also have taken a
sharp hourly pattern seen 90 times in 3.8 days for a wandering level.)

Days that differ by weekday need one more candidate: the shortest season's seasonal
difference (yesterday's values) with ARMA(1,1) errors, ARIMA(1,0,1)(0,1,0)m with no
Fourier terms.  NAB nyc_taxi's 4.5-day slices that start on a Friday are mostly
weekend (no rush hour, busy nights); one daily Fourier shape averages those into the
weekdays scored after them, and the model's error was 2.3 and 3.3 times the better
baseline's (seasonal naive, which copies Monday into Tuesday).  With the candidate,
nyc_taxi's five slices go 1.06/2.34/1.54/3.26/1.06 -> 0.96/1.28/1.10/1.08/1.09 and
World Cup's 1.007/1.032/0.781/1.130/0.784 -> 1.007/1.032/0.807/1.130/0.784 (the
same scoring; development figures, measured at d5a644b).  A seasonal MA beside it,
estimated on the two or three day-to-day changes a short window holds, mixed the
weekend back in (3.26 -> 2.07 only); d = 1 beside it carried Friday night's excess
into Saturday.  It is scored as ARIMA(1,0,1) on the seasonal differences (the same
errors at leads up to m, with m times fewer states) and, when chosen, the model
switches to it as to a seasonal ARIMA (``seasonal_switch.switch_to``).

Yesterday's values alone, the seasonal random walk ARIMA(0,0,0)(0,1,0)m (seasonal
naive as a model: nothing estimated but the scale of the day-to-day changes), are the
last candidate, and the ARMA errors must forecast the stretch ``STRUCTURE_MARGIN``
better than it to be kept.  On a window of under a week the ARMA's AR term is
estimated mostly on the weekend-to-weekday changes, which persist all day, so it
carries a passing deviation from yesterday for hours: nyc_taxi's 7-day slice from
Thursday 4 December 2014 forecast Wednesday's morning at 2763 taxis of mean error
against seasonal naive's 469, from an early-morning lull the AR term carried into
the rush hour.  ``benchmarks/short_windows.py``'s development slices (geometric mean of
the ratio to the better baseline, without -> with it): nyc_taxi 1.098 -> 1.043 (4.5
days; slice 2 1.28 -> 1.06) and 1.085 -> 1.051 (7 days), World Cup 0.942 -> 0.942 and
0.852 -> 0.870 (its 7-day slice 1 1.04 -> 1.15: yesterday's values chosen at 9 of its
20 origins, on a slice where naive is the better baseline), the nine other development series
unchanged to the digits stored; the six held-out airports' 5-day slices (held out of
this choice too) LAS 0.916 -> 0.913, PHL 0.838 -> 0.839, LGA 0.902 -> 0.901, the rest
unchanged, 21 of their 30 slices meeting the bar (20 before).  Chosen by the lowest
error alone, without the margin: nyc_taxi 1.044 and 1.067, World Cup 0.942 and 0.865.

Why only on short windows: three ways of dropping seasons from longer windows were
tried on the held-out NAB panel (``benchmarks/forecaster_panel.py``, horizon 12, 20
origins; its ratio to the better baseline, panel -> tried) for the gauges that move like
random walks (machine_temperature 1.08, where no seasons at all gives 1.00) and none
was kept:

- This check on every window that found seasons: every hourly ad-exchange series got
  worse (exchange-2_cpc 0.84 -> 0.94, exchange-2_cpm 0.81 -> 1.00, exchange-3_cpm 0.83 ->
  1.15, exchange-4_cpm's coverage 80 -> 69 %), the best gains were ambient temperature
  0.45 -> 0.41 and machine_temperature 1.08 -> 1.07, and fits cost 2-3 times as much:
  half a day held out is too noisy a judge where the seasons are real but weak.
- The seasons kept only if they forecast the window's last 30 % (the held-out
  calibration's tail, thousands of origins) at leads 1-12 at least 5 % better than a
  season-free fit on the same head: machine_temperature 1.08 -> 1.04 (dropped at 28 of
  40 fits), the key-press gauges 1.00 -> 0.98 and 0.85 -> 0.85, but TravelTime_451 0.77
  -> 0.89 and speed_7578 0.97 -> 1.03; no verdict changed for the better.
- AICc of the whole model with the Fourier coefficients counted as parameters, against
  the season-free ARIMA on the same d (one fit at 85 % of each series): it kept
  machine_temperature's seasons (-245) and would have dropped those of TravelTime_451,
  speed_6005 and Twitter CVS, KO and PFE, which pass with them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecaster.seasonality import (
    DAY_SECONDS,
    FEW_CYCLES,
    WEEK_SECONDS,
    fit_fourier,
    seasonal_regression,
)
from forecaster.selection import (
    CHOICE_LEADS,
    ErrorModel,
    estimate_sarima,
    fit_error_model,
    lead_errors,
    white_noise,
)

# the longest season offered as a seasonal difference: its state space model carries m + 2
# states, and a day of 5-minute steps (290) fits in seconds; a day of minutes (1442) would
# take minutes, so such a series keeps its Fourier candidates only
SEASONAL_DIFFERENCE_MAX_PERIOD = 288
# an alternative replaces the test's choice only when its error into the held-out
# stretch is this much lower (as seasonal ARIMA replaces the Fourier terms)
STRUCTURE_MARGIN = 0.95
HELD_OUT_PERIODS = 0.5  # the stretch is this share of the shortest season ...
HELD_OUT_SHARE = 5  # ... and this share of the window at most


@dataclass(frozen=True)
class Structure:
    """Seasons to fit (periods in steps) and the differencing order."""

    periods: tuple[float, ...]
    d: int
    seasonal: int = 0  # m of a seasonal difference (ARIMA(1,d,1)(0,1,0)m, no Fourier terms)
    arma: bool = True  # False: the seasonal difference alone, ARIMA(0,0,0)(0,1,0)m

    def describe(self) -> str:
        if self.seasonal and not self.arma:
            return f"yesterday's values (seasonal random walk {self.seasonal})"
        if self.seasonal:
            return f"seasonal difference {self.seasonal}, d={self.d}"
        seasons = "no seasons" if not self.periods else "seasons " + ", ".join(
            f"{p:g}" for p in self.periods)
        return f"{seasons}, d={self.d}"

    @property
    def sarima_order(self) -> tuple[int, int, int]:
        """The non-seasonal order beside a seasonal difference."""
        if not self.arma:
            return (0, 0, 0)
        return (0, 1, 1) if self.d else (1, 0, 1)


def seasonal_model(z: np.ndarray, structure: Structure) -> ErrorModel | None:
    """``structure``'s ARIMA(1,d,1)(0,1,0)m estimated on ``z`` (with m = 0: its ARIMA on
    ``z`` as given, the seasonal differences), or None if it does not converge.  No
    seasonal MA: estimated on the two or three day-to-day changes a short window holds,
    it mixed the weekend's days into a weekday's forecast (nyc_taxi's 4th 4.5-day slice
    3.26 -> 2.07 with it, 1.08 without; ``benchmarks/short_windows.py``'s scoring)."""
    m = structure.seasonal
    seasonal_order = (0, 1, 0, m) if m else (0, 0, 0, 0)
    if not structure.arma:  # nothing to estimate but the scale of the differences
        w = z[m:] - z[:-m] if m else z
        if len(w) < 2:
            return None
        return white_noise(w, structure.sarima_order, seasonal_order)
    return estimate_sarima(z, structure.sarima_order, seasonal_order)


def few_cycles(n: int, periods: list[float], step_seconds: float) -> bool:
    """Whether a window of ``n`` points of ``step_seconds`` is short for its seasons:
    fewer than ``FEW_CYCLES`` cycles of every one of ``periods``, or less than a week
    when none of them is shorter than a day."""
    if not periods:
        return False
    shortest = min(periods)
    return n < FEW_CYCLES * shortest or (
        shortest * step_seconds >= DAY_SECONDS and n * step_seconds < WEEK_SECONDS)


def candidates(periods: list[float], d: int, d_fixed: bool) -> list[Structure]:
    """The test's choice first, then the seasons with d = 1 if the test gave 0 (and d is
    not fixed), then no seasons (with d = 1 unless d is fixed), then the shortest
    season's seasonal difference (a whole number of steps, from ``CHOICE_LEADS`` to
    ``SEASONAL_DIFFERENCE_MAX_PERIOD``; d = 0 unless d is fixed), then, where d = 0 is
    allowed, that seasonal difference alone (yesterday's values, no ARMA errors).

    Never d = 0 where the test gave 1: on a short window KPSS errs towards
    stationarity (the level has had little time to leave its mean), so its d = 1 is
    the stronger evidence, and a mean-reverting forecast chosen on one noisy stretch
    is the costlier mistake (a pure random walk, 3 days at 5 minutes: one seed of six
    went to d = 0 when it was a candidate)."""
    found = [Structure(tuple(periods), d)]
    if d == 0 and not d_fixed:
        found.append(Structure(tuple(periods), 1))
    found.append(Structure((), d if d_fixed else 1))
    day = min(periods)
    if float(day).is_integer() and CHOICE_LEADS <= day <= SEASONAL_DIFFERENCE_MAX_PERIOD:
        # yesterday's shape (the seasonal difference) with ARMA errors: load whose days
        # differ (nyc_taxi's weekend nights against its weekday rush hours) cannot be
        # drawn as one average day before the window holds a week.  No d = 1 beside it:
        # the double difference carried Friday night's excess into Saturday (25,000 taxis
        # off at one origin of nyc_taxi's 5th slice)
        found.append(Structure((), d if d_fixed else 0, int(day)))
        if d == 0 or not d_fixed:
            found.append(Structure((), 0, int(day), arma=False))
    return list(dict.fromkeys(found))


def holdout_structure(
    z: np.ndarray, positions: np.ndarray, periods: list[float], d: int, d_fixed: bool, *,
    max_harmonics: int, max_p: int, max_q: int, budget_seconds: float, max_fits: int,
) -> tuple[Structure, str]:
    """The candidate (:func:`candidates`) whose fit on all but the last stretch of ``z``
    forecasts that stretch best at leads 1 to ``CHOICE_LEADS``, and a note saying so.

    The stretch is half the shortest season (a fifth of the window at most); each
    candidate's seasons, coefficients and ARIMA order are chosen and estimated
    before it, then its fixed-parameter filter runs over the whole window and its
    forecasts from every origin in the stretch are scored (:func:`lead_errors`).
    The seasonal difference's ARMA errors are kept only if they score
    ``STRUCTURE_MARGIN`` below yesterday's values alone.
    """
    n = len(z)
    held = int(min(HELD_OUT_PERIODS * min(periods), n / HELD_OUT_SHARE))
    tried = candidates(periods, d, d_fixed)
    scores = [_held_out_mse(z, positions, c, n - held, max_harmonics=max_harmonics,
                            max_p=max_p, max_q=max_q, budget_seconds=budget_seconds,
                            max_fits=max_fits) for c in tried]
    best = choose(tried, scores)
    listed = "; ".join(f"{c.describe()} {s:.4g}" for c, s in zip(tried, scores, strict=True))
    verb = "kept" if best == 0 else "chosen"
    note = (f"a window short for its seasons ({n} points: fewer than {FEW_CYCLES:g} cycles of "
            f"every season, or less than a week of days): {tried[best].describe()} {verb} by its "
            f"forecasts into the last {held} points (MSE at leads 1-{CHOICE_LEADS}: {listed})")
    if not tried[best].arma and np.nanmin(scores) < scores[best]:
        note += (f"; the ARMA errors beside the seasonal difference are kept only "
                 f"{1 - STRUCTURE_MARGIN:.0%} below yesterday's values alone")
    return tried[best], note


def choose(tried: list[Structure], scores: list[float]) -> int:
    """The index of the candidate ``holdout_structure`` takes, given each one's error
    (NaN: not scored): the lowest, but yesterday's values alone over the seasonal
    difference with ARMA errors unless those score ``STRUCTURE_MARGIN`` below them, and
    the test's choice (the first) unless the pick scores that far below it."""
    errors = np.asarray(scores, dtype=float)
    if not np.isfinite(errors).any():
        return 0
    best = int(np.nanargmin(errors))
    plain = next((i for i, c in enumerate(tried) if c.seasonal and not c.arma), None)
    if (plain is not None and np.isfinite(errors[plain]) and tried[best].seasonal
            and tried[best].arma and not errors[best] < STRUCTURE_MARGIN * errors[plain]):
        best = plain  # the ARMA errors must earn their place over yesterday's values
    return best if errors[best] < STRUCTURE_MARGIN * errors[0] else 0


def _held_out_mse(z: np.ndarray, positions: np.ndarray, structure: Structure, cut: int, *,
                  max_harmonics: int, max_p: int, max_q: int, budget_seconds: float,
                  max_fits: int) -> float:
    """Mean squared error at leads 1 to ``CHOICE_LEADS`` from the origins at and after
    ``cut`` of ``structure`` chosen and estimated on the points before ``cut``."""
    periods, d = list(structure.periods), structure.d
    if structure.seasonal:
        if cut < 2 * structure.seasonal + 10:
            return float("nan")
        # ARIMA(order)(0,1,0)m is ARIMA(order) on the seasonal differences, and its errors
        # at leads up to m are theirs: scored on them, with a state m times smaller
        m = structure.seasonal
        w = z[m:] - z[:-m]
        alt = seasonal_model(w[:cut - m], Structure((), d, 0, arma=structure.arma))
        if alt is None:
            return float("nan")
        results = alt.filter(w)
    else:
        seasons, coef, _ = fit_fourier(z[:cut], positions[:cut], periods, d, max_harmonics)
        resid = z - seasonal_regression(positions, seasons, coef, d)
        model = fit_error_model(resid[:cut], d, max_p, max_q, budget_seconds, [],
                                max_fits=max_fits)
        results = model.filter(resid)
    errors = lead_errors(results, len(z) - cut)
    kept = errors[np.isfinite(errors)]
    return float(np.mean(kept**2)) if kept.size else float("nan")
