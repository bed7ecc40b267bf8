"""Seasonal ARIMA in place of Fourier terms, when its forecasts are clearly better.

Split out of :mod:`forecaster.model`: :func:`try_seasonal_arima` compares a seasonal
ARIMA on the fit's shortest season with the Fourier model just fitted and switches
the model over (:func:`switch_to`) when its error at leads 1..CHOICE_LEADS is clearly
lower.  A held-out head (:mod:`forecaster.held_out`) is told the full fit's choice in
``told_sarima_`` (``(order, m)``, or ``()`` for the Fourier terms) and takes it,
re-estimated on its own points, without the comparison: that comparison is most of
the cost of an hourly fit, and the head measures the chosen model's errors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from forecaster.seasonality import Season, fit_fourier
from forecaster.selection import (
    CHOICE_LEADS,
    GLITCH_SIGMAS,
    ErrorModel,
    choose_seasonal_arima,
    compared_points,
    filtered_mses,
    seasonal_candidate,
    step_mses,
)

if TYPE_CHECKING:
    from forecaster.model import LoadForecaster


def try_seasonal_arima(model: LoadForecaster, z: np.ndarray, m: int, notes: list[str],
                       positions: np.ndarray, longer: list[float]) -> None:
    """Switch to seasonal ARIMA when its error at leads 1..CHOICE_LEADS is clearly lower.

    Seasonal ARIMA carries one season; the ``longer`` ones kept (the week of an
    hourly series) stay Fourier terms, and the seasonal ARIMA models what they
    leave: without them a Monday would be forecast from Sunday's shape."""
    seasons: tuple[Season, ...] = ()
    coef = np.empty(0)
    if longer:
        seasons, coef, fitted = fit_fourier(z, positions, longer, 0, model.max_harmonics)
        z = z - (fitted - coef[0])  # the seasons' terms; the level is left to the ARIMA
    # glitches (points the Fourier model's estimation left out, GLITCH_SIGMAS out)
    # that the seasonal ARIMA finds as far out are missing for both models: one
    # hour of a load of 2000 read as 6 decided the comparison on its own
    told = model.told_sarima_
    if told is not None:  # a held-out head: the full fit's choice, estimated on its points
        if told:
            alt = seasonal_candidate(z, told[0], told[1])
            if alt is not None:
                switch_to(model, alt, z, seasons, coef)
        return
    resid = np.asarray(model.results_.model.endog, dtype=float).ravel()
    errors = np.asarray(model.results_.resid, dtype=float)
    cleaned = model.error_model_.cleaned
    glitches = None if cleaned is None else (cleaned != resid) & (
        np.abs(errors) > GLITCH_SIGMAS * np.sqrt(model.error_model_.sigma2))
    chosen = choose_seasonal_arima(z, m, model.time_budget_seconds, notes, glitches)
    if chosen is None:
        return
    alt, alt_mse, missing = chosen
    # both judged by their errors at leads 1..CHOICE_LEADS (the horizon forecasts
    # are judged at), not one step: the same origins, scale and missing points
    if missing is None or not missing.any():  # the fit's own filter serves
        fourier_one, fourier_mse = filtered_mses(model.results_, compared_points(len(z)))
    else:
        fourier_one, fourier_mse = step_mses(model.error_model_, resid, missing)
    if alt_mse < 0.95 * fourier_mse:
        notes.append(
            f"seasonal ARIMA (m={m}) chosen over Fourier terms: MSE at leads "
            f"1-{CHOICE_LEADS} {alt_mse:.4g} vs {fourier_mse:.4g} (one step "
            f"{alt.one_step_mse:.4g} vs {fourier_one:.4g})"
            + ("" if missing is None or not missing.any() else
               f" ({int(missing.sum())} glitch(es) left out of both)")
        )
        switch_to(model, alt, z, seasons, coef)

def switch_to(model: LoadForecaster, alt: ErrorModel, z: np.ndarray,
              seasons: tuple[Season, ...], coef: np.ndarray) -> None:
    """Seasonal ARIMA ``alt`` on ``z`` with the ``seasons`` longer than its period.

    The holiday regressors stay (``z`` came without their share); the longer
    seasons' terms stay too, without an intercept (the seasonal difference takes
    the level)."""
    model.d_ = alt.order[1]
    model.seasons_ = seasons
    model.coef_ = np.empty(0)
    if seasons:  # ``_regression`` prepends an intercept column when d == 0
        model.coef_ = np.r_[0.0, coef[1:]] if model.d_ == 0 else coef[1:]
    model.error_model_ = alt
    model.results_ = alt.filter(z)
    model.seasonal_periods_ = (float(alt.seasonal_order[3]), *(s.period for s in seasons))
