"""The load forecaster: regression on Fourier seasons with ARIMA errors.

Load series carry long, overlapping seasons (daily and weekly) on top of a
wandering level.  Seasonal ARIMA cannot afford periods of hundreds of steps,
so the seasons are Fourier regressors and the rest is a small ARIMA chosen by
AICc, all on a variance-stabilising scale (log1p, or the square root for
Poisson-like counts, or Box-Cox) so intervals
widen with the load and never go below zero once back-transformed.

Fitting is two-stage for speed: the Fourier coefficients by least squares on
the (differenced, when the level wanders) transformed series, then the
ARIMA(p, d, q) error model by maximum likelihood (statsmodels SARIMAX), its
order chosen by a stepwise AICc search (``forecaster.selection``).  For a short
whole-number period (at most 24 steps, e.g. an hourly job at 5 minutes) seasonal
ARIMA is tried as well and kept when its one-step error is clearly lower.
Every choice is bounded by counts, not by the clock, so the same series gives
the same model and forecasts on any machine load; only the generous safety cap
``time_budget_seconds`` can cut a search short, and the metadata notes say so.
``update`` folds new points into the fitted Kalman filter, one step per point on
the model's own matrices (``forecaster.statespace``, what ``SARIMAXResults.extend``
computes without building a model per call), without re-estimation, so the
control loop can call it every tick; ``refit`` re-estimates on a bounded window.
The intervals' width per lead time is calibrated at fit time on the model's own
multi-step errors over the fit window (``forecaster.calibration``), at observed
points only:
points the reader filled in across gaps (``forecaster.regular.filled_mask``) do not
count.  Estimation and the filter still run on the filled-in series: treating
those points as missing values in the Kalman filter (statsmodels' NaN
handling) was tried and made nyc_taxi with punched gaps forecast worse
(backtest MASE 0.72 -> 0.83 with 45 % of the points removed).  So was estimating
the Fourier terms (harmonic counts and coefficients) on the observed points alone,
the ARIMA still on the filled-in series: on the held-out panel's gap-heavy sensors
(``benchmarks/forecaster_panel.py``'s origins and flags, ratio to the better
baseline) TravelTime_387 1.28 -> 2.73, speed_t4013 1.10 -> 2.58 and TravelTime_451
0.77 -> 0.92 (its weekly season kept 2 harmonics instead of 65).
"""

from __future__ import annotations

import inspect
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from forecaster import busdays, yearly
from forecaster.calibration import widen
from forecaster.cells import SeriesError
from forecaster.held_out import calibrate, check_calibration
from forecaster.holiday_effects import (
    LOOKBACK_DAYS,
    MIN_SUBDAILY_STEP,
    NO_EFFECTS,
    HolidayEffects,
    check_country,
    choose_as_sunday,
    choose_effects,
    effects_regression,
    sunday_profile,
)
from forecaster.io import BUSINESS_NOTE
from forecaster.metadata import fit_metadata, warning_notes
from forecaster.persist import load_model, save_model
from forecaster.regular import (
    DEFAULT_MAX_GAP,
    MIN_POINTS,
    check_series,
    check_values,
    regularize,
)
from forecaster.seasonal_switch import switch_to, try_seasonal_arima
from forecaster.seasonality import (
    DAY_SECONDS,
    MAX_HARMONICS,
    calendar_periods,
    detect_periods,
    fit_fourier,
    seasonal_regression,
    time_positions,
)
from forecaster.selection import (
    SAFETY_SECONDS,
    SARIMA_MAX_PERIOD,
    ErrorModel,
    choose_differencing,
    fit_error_model,
)
from forecaster.statespace import StateSpace
from forecaster.stepwise import MAX_ORDER_FITS
from forecaster.structure import Structure, few_cycles, holdout_structure, seasonal_model
from forecaster.transforms import choose_transform, forward
from forecaster.types import Forecast, normal_bands
from forecaster.yearly import NO_WAVE

# residual steps within this share of the series' range are rounding, not noise
EXACT_FIT = 1e-9
# for steps of a day or less, the fit leaves out points older than this (LoadForecaster)
DEFAULT_HISTORY_DAYS = 366.0


class NotFittedError(ValueError, AttributeError):
    """Raised by ``forecast``/``update`` before ``fit`` (like scikit-learn's)."""


class LoadForecaster:
    """ARIMA load forecaster with Fourier seasons, intervals and cheap updates.

    Parameters
    ----------
    max_history: points the fit uses (the most recent ones; default four weeks of
        5-minute steps); ``None`` = all.
    max_history_days: for steps of a day or less, the fit also leaves out points
        more than this many days before the last one (default a year; ``None`` =
        no limit).  Daily load's weekly shape drifts over the years (US daily
        births: weekday/weekend gap), and Fourier coefficients fixed over a
        decade forecast it worse than last week does: 12-day backtests at 20
        origins gave MASE 1.373 on the whole 1994-2003 file against seasonal
        naive's 1.086, and 1.027 on the last 366 days (1.048 on 365 points, 1.122
        on two years, 1.178 on four); on 1969-1988 births, held out of that
        choice, 1.239 -> 1.066 (seasonal naive 1.192).  Steps of an hour or less
        reach a year only past 8,760 points: their ``max_history`` decides.
    seasonal_periods: ``"auto"`` (found from the data), or periods in steps, or ``()``.
    short_window_check: on windows short for their ``"auto"`` seasons (``forecaster.structure``)
        choose d and whether to keep the seasons by forecasts into a held-out last stretch.
    interval_calibration: ``"held_out"`` (interval widths from a model fitted before the
        window's last 30 %, ``forecaster.held_out``), ``"in_sample"`` or ``"none"`` (the
        model's own sd).
    transform: ``"auto"`` (log1p, or the square root for Poisson-like counts,
        ``forecaster.transforms``), ``"log1p"``, ``"boxcox"`` or ``"none"``.
    d: differencing order, or ``None`` to choose it with a KPSS test.
    max_p, max_q: bounds of the ARMA orders the stepwise search may reach.
    max_order_fits: ARMA orders the stepwise search scores at most (by
        conditional sums of squares; only the winner is estimated by exact
        likelihood).  With ``max_p``/``max_q`` and the data it fixes which orders
        are tried, so the chosen order and parameters are deterministic.
    time_budget_seconds: safety cap, in wall-clock seconds, on the order search with its
        estimation and outlier clean-up, and on the seasonal ARIMA search; far above what
        they take on normal data (1-6 s on 4032-8064 points here).  If it triggers, the best
        order so far is kept, the result may depend on machine load, and the notes say so.
    max_harmonics: upper bound on Fourier harmonics per season (AICc picks the count
        below it; by default a 5-minute day reaches its Nyquist limit of 143, as
        schedule-driven load needs).
    max_gap: steps a gap in ``update`` may span (filled by interpolation).
    holidays: country whose holidays daily series may get a regressor each
        (ISO code for python-holidays, default ``"US"``, or with a subdivision
        such as ``"DE-BY"``, ``"US-CA"``; ``None`` or ``"none"``
        = no holiday regressors).  Only holidays whose days stand out of the
        residuals enter, chosen by BIC (``forecaster.holiday_effects``).  Steps
        of an hour up to a day (dividing it) get one pooled regressor instead,
        every public holiday drawn towards a Sunday's daily shape, when that pull
        stands out (``choose_as_sunday``); finer or longer steps get none.
    """

    # set by ``forecaster.held_out`` on the model it fits before the window's tail: the
    # full fit's seasonal ARIMA ``(order, m)``, or ``()`` for Fourier terms (``None``: choose)
    told_sarima_: tuple[tuple[int, int, int], int] | tuple[()] | None = None

    def __init__(
        self,
        max_history: int | None = 8064,
        max_history_days: float | None = DEFAULT_HISTORY_DAYS,
        seasonal_periods: str | Sequence[float] = "auto",
        transform: str = "auto",
        d: int | None = None,
        max_p: int = 3,
        max_q: int = 2,
        max_order_fits: int = MAX_ORDER_FITS,
        time_budget_seconds: float = SAFETY_SECONDS,
        max_harmonics: int = MAX_HARMONICS,
        max_gap: int = DEFAULT_MAX_GAP,
        holidays: str | None = "US",
        short_window_check: bool = True,
        interval_calibration: str = "held_out",
    ) -> None:
        self.max_history = max_history
        self.max_history_days = max_history_days
        self.seasonal_periods = seasonal_periods
        self.transform = transform
        self.d = d
        self.max_p = max_p
        self.max_q = max_q
        self.max_order_fits = max_order_fits
        self.time_budget_seconds = time_budget_seconds
        self.max_harmonics = max_harmonics
        self.max_gap = max_gap
        self.holidays = holidays
        self.short_window_check = short_window_check
        self.interval_calibration = interval_calibration

    # --------------------------------------------------- scikit-learn params
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor parameters, as scikit-learn's ``get_params``."""
        names = inspect.signature(type(self).__init__).parameters
        return {name: getattr(self, name) for name in names if name != "self"}

    def set_params(self, **params: Any) -> LoadForecaster:
        valid = self.get_params()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"invalid parameter {name!r} for LoadForecaster")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = {
            name: p.default for name, p in inspect.signature(type(self).__init__).parameters.items()
        }
        changed = [f"{k}={v!r}" for k, v in self.get_params().items() if v != defaults.get(k)]
        return f"LoadForecaster({', '.join(changed)})"

    # ------------------------------------------------------------------ fit
    def fit(self, series: pd.Series) -> LoadForecaster:
        """Choose transform, seasons and order on ``series`` and estimate them."""
        started = time.perf_counter()
        check_calibration(self.interval_calibration)
        told = BUSINESS_NOTE in series.attrs.get("notes", ())  # by read_series
        series, step = check_series(series, self.max_gap)
        self.business_days_ = busdays.on_business_days(series)
        whole = series
        if self.max_history is not None:
            if self.max_history < MIN_POINTS:
                raise ValueError(f"max_history must be at least {MIN_POINTS}")
            series = series.iloc[-int(self.max_history) :]
        notes: list[str] = []
        if self.business_days_ and not told:
            notes.append("on business days (Monday to Friday): a week is 5 steps, and the "
                         "forecast skips weekends")
        capped = series
        series = self._recent_days(series, step, notes)
        # the years a daily fit's yearly wave is read on (kept for ``refit``); none otherwise
        reads_year = self.seasonal_periods == "auto" and yearly.applies(step, self.business_days_)
        self.older_ = capped.loc[capped.index < series.index[0]] if reads_year else series.iloc[:0]
        # sub-daily holidays' own pulls also read the year before the window (``_holiday_effects``)
        earlier = whole.loc[(whole.index < series.index[0])
                            & (whole.index > whole.index[-1] - pd.Timedelta(days=LOOKBACK_DAYS))]
        # one BLAS thread: the Kalman filter's matrices are tiny, and threads
        # fighting over shared cores made fits several times slower
        with warnings.catch_warnings(record=True) as caught, threadpool_limits(1, user_api="blas"):
            warnings.simplefilter("always")
            self._fit_window(series, step, notes, earlier, self.older_ if reads_year else None)
            # interval widths (``forecaster.held_out``): out of sample unless told otherwise
            measured = calibrate(self, whole, series)
            self.width_factors_, self.calibration_ = measured.factors, measured.described
            # a mass at zero where the load stops dead at any level (``forecaster.zeros``)
            self.zero_mass_, self.zero_note_ = measured.zero_mass, measured.zero_note
        notes.extend(warning_notes(caught))
        self.history_ = series
        self.fit_start_ = series.index[0]
        self.metadata_ = fit_metadata(self, series, time.perf_counter() - started, notes)
        return self

    def _recent_days(self, series: pd.Series, step: float, notes: list[str]) -> pd.Series:
        """``series`` without the points more than ``max_history_days`` before its last one
        (steps of a day or less; never fewer than ``MIN_POINTS`` are kept)."""
        days = self.max_history_days
        if days is not None and not days > 0:
            raise ValueError(f"max_history_days must be positive or None, got {days!r}")
        if days is None or (step > DAY_SECONDS and not self.business_days_):
            return series
        start = series.index[-1] - pd.Timedelta(days=float(days))
        kept = max(int((series.index > start).sum()), MIN_POINTS)
        if kept >= len(series):
            return series
        notes.append(
            f"fitted on the last {days:g} days: {kept} of {len(series)} points "
            "(max_history_days; older load's weekly shape has often drifted)"
        )
        return series.iloc[-kept:]

    def _fit_window(
        self, series: pd.Series, step: float, notes: list[str], earlier: pd.Series,
        older: pd.Series | None,  # the points before the window to read a yearly wave on
    ) -> None:
        y = series.to_numpy(dtype=float)
        self.step_ = step
        self.transform_, self.lmbda_ = choose_transform(y, self.transform)
        z = forward(y, self.transform_, self.lmbda_)
        positions = self._positions(pd.DatetimeIndex(series.index))
        self.yearly_ = NO_WAVE
        if older is not None:
            self.yearly_ = self._yearly_wave(older, z, positions, notes)
            z = z - self.yearly_.at(positions)
        if self.seasonal_periods == "auto":
            periods, season_notes = detect_periods(z, positions, step)
            notes.extend(season_notes)
        elif isinstance(self.seasonal_periods, str):
            raise ValueError(
                "seasonal_periods must be 'auto' or a list of periods, "
                f"got {self.seasonal_periods!r}"
            )
        else:
            periods = []
            for p in self.seasonal_periods:
                if len(z) < 2 * float(p):
                    notes.append(f"series too short for period {p:g}; fitted without it")
                else:
                    periods.append(float(p))
        self.d_ = choose_differencing(z, positions, periods) if self.d is None else int(self.d)
        seasonal_choice: Structure | None = None
        if self.short_window_check and self.seasonal_periods == "auto" and few_cycles(
                len(z), periods, step):
            chosen, note = holdout_structure(
                z, positions, periods, self.d_, self.d is not None, max_fits=self.max_order_fits,
                max_harmonics=self.max_harmonics, max_p=self.max_p, max_q=self.max_q,
                budget_seconds=self.time_budget_seconds)
            periods, self.d_ = list(chosen.periods), chosen.d
            notes.append(note)
            if chosen.seasonal:
                seasonal_choice = chosen
        self.seasons_, self.coef_, fitted = fit_fourier(
            z, positions, periods, self.d_, self.max_harmonics
        )
        self.holiday_effects_ = self._holiday_effects(z - fitted, positions, step, notes, earlier)
        holidays = effects_regression(self.holiday_effects_, positions, step)
        resid = z - fitted - holidays
        alt = None if seasonal_choice is None else seasonal_model(z - holidays, seasonal_choice)
        if alt is not None:
            # the check chose yesterday's shape: no error model for the season-free
            # structure it was scored against (its estimation would be thrown away, and
            # its notes, points it left out as outlying, would not be this model's)
            switch_to(self, alt, z - holidays, (), np.empty(0))
        else:
            self._fit_error_model(resid, z, notes)
            short = [p for p in periods if float(p).is_integer() and 2 <= p <= SARIMA_MAX_PERIOD]
            if short:
                # the calendar week only: a periodogram period (a quarter of daily Bitcoin
                # transactions) kept beside it made the one-step errors, not the 12-step
                # ones, better (MASE 2.633 -> 2.852)
                longer = [p for p in periods
                          if p > SARIMA_MAX_PERIOD and p in calendar_periods(step)]
                try_seasonal_arima(self, z - holidays, int(min(short)), notes, positions, longer)
        self.order_ = self.error_model_.order
        self.last_timestamp_ = series.index[-1]
        self._start_filter(self.results_)

    def _fit_error_model(self, resid: np.ndarray, z: np.ndarray, notes: list[str]) -> None:
        """The ARIMA on what the seasons and holidays leave of ``z``."""
        steps = np.diff(resid, n=self.d_) if self.d_ else resid
        if len(steps) and np.ptp(steps) <= EXACT_FIT * (1.0 + np.ptp(z)):
            # the seasons draw the series exactly and leave rounding noise, on which an
            # ARIMA is numerical garbage (a noise-free period-7 sawtooth got an MA root
            # at -0.9998 and forecast 1e304): no noise to model, a flat level instead
            resid = np.full_like(resid, np.mean(resid))
        self.error_model_: ErrorModel = fit_error_model(
            resid, self.d_, self.max_p, self.max_q, self.time_budget_seconds, notes,
            max_fits=self.max_order_fits,
        )
        self.results_ = self.error_model_.filter(resid)
        self.seasonal_periods_ = tuple(s.period for s in self.seasons_)

    def _start_filter(self, results: Any) -> None:
        """Keep the fitted filter's matrices and its state for the next point."""
        self.state_space_ = StateSpace.from_ssm(results.model.ssm)
        filtered = results.filter_results
        self.state_ = np.array(filtered.predicted_state[:, -1], dtype=float)
        self.state_cov_ = np.array(filtered.predicted_state_cov[:, :, -1], dtype=float)
        self.steady_ = bool(getattr(filtered, "converged", False))

    def _holiday_effects(
        self, resid: np.ndarray, positions: np.ndarray, step: float, notes: list[str],
        earlier: pd.Series,
    ) -> HolidayEffects:
        if self.holidays is None or str(self.holidays).strip().lower() == "none":
            return NO_EFFECTS
        country = check_country(str(self.holidays))
        if step < DAY_SECONDS:
            if step < MIN_SUBDAILY_STEP or DAY_SECONDS % step:
                return NO_EFFECTS
            profile = sunday_profile(self.seasons_, self.coef_, self.d_, step)
            if len(earlier):  # last year's holidays, whose pulls may differ (``own_pulls``)
                before = self._positions(pd.DatetimeIndex(earlier.index))
                z_before = forward(earlier.to_numpy(dtype=float), self.transform_, self.lmbda_)
                resid = np.r_[z_before - self._seasonal(before), resid]
                positions = np.r_[before, positions]
            effects, score = choose_as_sunday(resid, positions, step, country, profile)
            if effects.names:
                notes.append(
                    f"{country} public holidays drawn {effects.coef[0]:.2f} of the way to a "
                    f"Sunday's daily shape (z = {score:.1f})"
                )
            if len(effects.names) > 1:  # holidays that differ: each its own pull
                pulls = zip(effects.names[1:], effects.coef[1:], strict=True)
                notes.append("own pulls: " + ", ".join(f"{n} {b:.2f}" for n, b in pulls)
                             + (f" (read on the window and the {len(earlier)} points before it)"
                                if len(earlier) else ""))
            return effects
        if step != DAY_SECONDS and not self.business_days_:
            return NO_EFFECTS
        effects = choose_effects(resid, *self._holiday_clock(positions), country)
        if effects.names:
            notes.append(f"{country} holidays with their own regressor: {', '.join(effects.names)}")
        return effects

    def _yearly_wave(self, older: pd.Series, z: np.ndarray, positions: np.ndarray,
                     notes: list[str]) -> yearly.YearlyWave:
        """The yearly wave read on ``older`` (the points before the window) and the
        window, on the window's transformed scale (``forecaster.yearly``)."""
        z_all = np.r_[forward(older.to_numpy(dtype=float), self.transform_, self.lmbda_), z]
        before = self._positions(pd.DatetimeIndex(older.index))
        return yearly.fit_yearly(z_all, np.r_[before, positions], self.step_, notes)

    def _positions(self, stamps: pd.DatetimeIndex) -> np.ndarray:
        """The model's time axis at ``stamps``: steps since the epoch, or business days."""
        if self.business_days_:
            return busdays.positions(stamps)
        return time_positions(stamps, self.step_)

    def _stamps_after(self, last: pd.Timestamp, count: int) -> pd.DatetimeIndex:
        """The ``count`` steps after ``last`` on the model's grid."""
        if self.business_days_:
            return busdays.stamps_after(last, count)
        step = pd.Timedelta(seconds=self.step_)
        stamps = pd.date_range(last + step, periods=count, freq=step)
        stamps.freq = None
        return stamps

    def _holiday_clock(self, positions: np.ndarray) -> tuple[np.ndarray, float]:
        """``positions`` and their step as the holiday calendars read them (calendar days)."""
        if self.business_days_:
            return busdays.day_positions(positions), DAY_SECONDS
        return positions, self.step_

    def _regression(self, positions: np.ndarray) -> np.ndarray:
        holidays = effects_regression(self.holiday_effects_, *self._holiday_clock(positions))
        return self._seasonal(positions) + holidays + self.yearly_.at(positions)

    def _seasonal(self, positions: np.ndarray) -> np.ndarray:
        """The Fourier seasons (with the intercept when ``d == 0``) at ``positions``."""
        return seasonal_regression(positions, self.seasons_, self.coef_, self.d_)

    # ------------------------------------------------------------- forecast
    def forecast(self, horizon: int) -> Forecast:
        """Point forecast and 80 % / 95 % intervals for the next ``horizon`` steps."""
        self._check_fitted()
        if int(horizon) != horizon or horizon < 1:
            raise ValueError(f"horizon must be a positive integer, got {horizon!r}")
        horizon = int(horizon)
        stamps = self._stamps_after(self.last_timestamp_, horizon)
        means, variances = self.state_space_.project(
            self.state_[:, None], self.state_cov_[:, :, None], horizon
        )
        mean, var = means[0], variances[0]
        loc = mean + self._regression(self._positions(stamps))
        scale = widen(np.sqrt(np.maximum(var, 0.0)), self.width_factors_)
        zeros = self.zero_probability(loc)
        return Forecast(
            timestamps=stamps,
            **normal_bands(loc, scale, self.transform_, self.lmbda_, zeros),
            step_seconds=self.step_,
            model=self.describe(),
            loc=loc,
            scale=scale,
            transform=self.transform_,
            lmbda=self.lmbda_,
            zero_probability=zeros,
        )

    def zero_probability(self, loc: np.ndarray) -> np.ndarray | None:
        """Each step's chance of exactly zero load given its transformed centre ``loc``
        (``forecaster.zeros``); ``None`` for a model without a mass at zero."""
        return None if self.zero_mass_ is None else self.zero_mass_.probability(loc)

    def describe(self) -> str:
        """A short human-readable name of the fitted model."""
        self._check_fitted()
        p, d, q = self.order_
        sp, sd, sq, m = self.error_model_.seasonal_order
        effects = self.holiday_effects_
        holidays = f" {effects.describe()}" if effects.names else ""
        year = self.yearly_.describe()
        if m:
            longer = "".join(f" fourier[{s.describe()}]" for s in self.seasons_)
            return (f"SARIMA({p},{d},{q})({sp},{sd},{sq}){m}{longer}{year}{holidays} "
                    f"{self.transform_}")
        seasons = "+".join(s.describe() for s in self.seasons_) or "none"
        return f"ARIMA({p},{d},{q}) fourier[{seasons}]{year}{holidays} {self.transform_}"

    # --------------------------------------------------------------- update
    def update(self, new_points: pd.Series) -> LoadForecaster:
        """Fold observations after the last one into the filter, without re-estimation."""
        self._check_fitted()
        if not isinstance(new_points, pd.Series) or not isinstance(
            new_points.index, pd.DatetimeIndex
        ):
            raise TypeError("new_points must be a pandas Series with a DatetimeIndex")
        if len(new_points) == 0:
            return self
        step = pd.Timedelta(seconds=self.step_)
        first = new_points.index[0]
        if (new_points.index.tz is None) != (self.last_timestamp_.tz is None):
            kind = "timezone-naive" if self.last_timestamp_.tz is None else "timezone-aware"
            raise SeriesError(f"update: timestamps must be {kind}, like the fitted series")
        fitted_zone = self.last_timestamp_.tz
        if fitted_zone is not None and str(new_points.index.tz) != str(fitted_zone):
            # the same instants on the fitted clock (a winter export continued by a summer one)
            new_points = new_points.set_axis(new_points.index.tz_convert(fitted_zone))
            first = new_points.index[0]
        if first <= self.last_timestamp_:
            raise SeriesError(
                f"update: point at {first} is not after the last observation {self.last_timestamp_}"
            )
        last_value = float(self.history_.iloc[-1])
        joined = regularize(
            np.r_[last_value, check_values(new_points)],
            pd.DatetimeIndex([self.last_timestamp_]).append(pd.DatetimeIndex(new_points.index)),
            "update",
            max_gap=self.max_gap,
            step=step,
            business=self.business_days_,
            first_point=0,  # the last observation, then the new points 1, 2, ...
        ).iloc[1:]
        z = forward(joined.to_numpy(dtype=float), self.transform_, self.lmbda_)
        resid = z - self._regression(self._positions(pd.DatetimeIndex(joined.index)))
        states, covs = self.state_space_.filter(
            self.state_, self.state_cov_, resid, steady=self.steady_
        )
        self.state_, self.state_cov_ = states[:, -1], covs[:, :, -1]
        # the points filled in so far stay marked, so ``refit`` calibrates without them
        runs = (
            *self.history_.attrs.get("filled", ()),
            *joined.attrs.get("filled", ()),
            *new_points.attrs.get("filled", ()),
        )
        history = pd.concat([self.history_, joined])
        history.attrs["filled"] = runs
        history.attrs[busdays.ATTR] = self.business_days_
        limit = self.max_history or MIN_POINTS * 1000
        if len(history) > 2 * limit:
            # bounded memory for a long-running loop; ``save`` then rebuilds the
            # filter from this window, which forgets the dropped start exponentially
            history = history.iloc[-limit:]
            # and the filled-in runs that ended before the kept window are dropped with it
            history.attrs["filled"] = tuple(r for r in runs if r[1] >= history.index[0])
        self.history_ = history
        self.last_timestamp_ = joined.index[-1]
        return self

    def refit(self) -> LoadForecaster:
        """Re-estimate everything on the most recent ``max_history`` points seen (with the
        points before a daily fit's one-year window, that its yearly wave was read on)."""
        self._check_fitted()
        return self.fit(yearly.joined(self.older_, self.history_))

    # ----------------------------------------------------------- save/load
    def save(self, path: str | Path) -> Path:
        """Write the model (parameters, learned state, data since the fit, metadata)."""
        self._check_fitted()
        return save_model(self, path)

    @classmethod
    def load(cls, path: str | Path) -> LoadForecaster:
        """Read a model written by :meth:`save`; forecasts equal the saved model's."""
        return load_model(cls, path)

    # -------------------------------------------------------------- helpers
    def _check_fitted(self) -> None:
        if not hasattr(self, "results_"):
            raise NotFittedError(
                "this LoadForecaster is not fitted yet; call fit(series) before forecast/update"
            )
