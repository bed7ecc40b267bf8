"""The error model's filters keep only what the forecaster reads, and those numbers are
statsmodels' own filter's to the last bit (``selection.LEAN_FILTER``, ``LEAN_FIT``)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from statsmodels.tsa.statespace.sarimax import SARIMAX

from forecaster.selection import SARIMA_FIT_POINTS, ErrorModel, seasonal_candidate


def hourly(n: int = 1500, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    z = 5 + np.sin(2 * np.pi * t / 24) + np.cumsum(rng.normal(scale=0.05, size=n))
    z += rng.normal(scale=0.2, size=n)
    z[200] = np.nan  # a missing point, as a gap or a glitch left out
    return z


def full_filter(model: ErrorModel, z: np.ndarray):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sarimax = SARIMAX(z, order=model.order, seasonal_order=model.seasonal_order, trend="n")
        return sarimax.filter(model.params, cov_type="none")


@pytest.mark.parametrize("seasonal", [(0, 0, 0, 0), (0, 1, 1, 24)])
def test_a_lean_filter_keeps_statsmodels_numbers_and_drops_the_covariance_history(
        seasonal) -> None:
    z = hourly()
    params = [0.6, 0.2, -0.7, 0.04] if seasonal[3] else [0.6, 0.2, 0.04]
    model = ErrorModel((1, 0, 1), np.array(params), seasonal_order=seasonal)
    lean, full = model.filter(z), full_filter(model, z)
    kept, want = lean.filter_results, full.filter_results
    # the covariance history (k^2 a point) is not kept: a few, not one per point
    assert kept.predicted_state_cov.shape[2] < 10 < want.predicted_state_cov.shape[2]
    assert kept.filtered_state_cov is None or kept.filtered_state_cov.shape[2] < 10
    # what the forecaster reads is identical to the last bit
    np.testing.assert_array_equal(kept.predicted_state, want.predicted_state)
    np.testing.assert_array_equal(kept.predicted_state_cov[:, :, -1],
                                  want.predicted_state_cov[:, :, -1])
    np.testing.assert_array_equal(np.asarray(lean.resid), np.asarray(full.resid))
    np.testing.assert_array_equal(np.asarray(lean.forecasts), np.asarray(full.forecasts))
    assert lean.llf == full.llf
    assert bool(kept.converged) == bool(want.converged)
    np.testing.assert_array_equal(lean.get_forecast(12).var_pred_mean,
                                  full.get_forecast(12).var_pred_mean)
    # the in-sample calibration asks for every point's covariance, and gets statsmodels'
    every = model.filter(z, covariances=True).filter_results
    np.testing.assert_array_equal(every.predicted_state_cov, want.predicted_state_cov)


def test_a_lean_estimation_finds_the_parameters_and_likelihood_of_a_full_one() -> None:
    z = hourly()
    lean = seasonal_candidate(z, (1, 0, 1), 24)
    assert lean is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = SARIMAX(z[-SARIMA_FIT_POINTS:], order=(1, 0, 1), seasonal_order=(0, 1, 1, 24),
                       trend="n", simple_differencing=True, concentrate_scale=True).fit(
            disp=False, maxiter=100, cov_type="none")
    np.testing.assert_array_equal(lean.params[:-1], np.asarray(full.params))
    assert lean.params[-1] == float(full.scale)
    assert lean.llf == float(full.llf)
