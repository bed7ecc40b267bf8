"""Our Kalman step and projection against statsmodels' own filter and forecast."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from statsmodels.tsa.arima_process import arma_generate_sample
from statsmodels.tsa.statespace.sarimax import SARIMAX

from forecaster.statespace import StateSpace


def fitted(n: int, order: tuple[int, int, int], seasonal=(0, 0, 0, 0), seed: int = 0):
    rng = np.random.default_rng(seed)
    x = arma_generate_sample([1, -0.6], [1, 0.3], n + 40, distrvs=rng.standard_normal)[40:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SARIMAX(x[:n], order=order, seasonal_order=seasonal, trend="n")
        return model.filter(model.start_params, cov_type="none"), rng.normal(size=25)


@pytest.mark.parametrize(
    ("n", "order", "seasonal", "converged"),
    [
        (30, (1, 0, 1), (0, 0, 0, 0), True),  # statsmodels froze the converged covariance
        (600, (2, 1, 1), (0, 0, 0, 0), True),
        (400, (1, 0, 1), (0, 1, 1, 12), False),  # seasonal ARIMA, 26 states, still moving
    ],
)
def test_filter_and_projection_equal_statsmodels(n, order, seasonal, converged) -> None:
    results, new = fitted(n, order, seasonal)
    space = StateSpace.from_ssm(results.model.ssm)
    f = results.filter_results
    steady = bool(f.converged)
    assert steady == converged
    states, covs = space.filter(
        f.predicted_state[:, -1], f.predicted_state_cov[:, :, -1], new, steady=steady
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        extended = results.extend(new)
    want = extended.filter_results
    np.testing.assert_allclose(states[:, 1:], want.predicted_state[:, 1:], atol=1e-9)
    np.testing.assert_allclose(covs[:, :, 1:], want.predicted_state_cov[:, :, 1:], atol=1e-9)
    means, variances = space.project(states[:, -1:], covs[:, :, -1:], 12)
    forecast = extended.get_forecast(12)
    np.testing.assert_allclose(means[0], forecast.predicted_mean, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(variances[0], forecast.var_pred_mean, rtol=1e-8)


def test_a_noise_free_model_keeps_its_state_without_dividing_by_zero() -> None:
    space = StateSpace(
        design=np.array([1.0]),
        obs_intercept=0.0,
        obs_cov=0.0,
        transition=np.array([[1.0]]),
        state_intercept=np.array([0.0]),
        rqr=np.array([[0.0]]),
    )
    states, covs = space.filter(np.array([2.0]), np.array([[0.0]]), np.array([5.0, 7.0]))
    assert np.all(states == 2.0) and np.all(covs == 0.0)
