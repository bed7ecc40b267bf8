"""The fitted error model's Kalman filter and h-step projection, on its own matrices.

statsmodels estimates the ARIMA (or seasonal ARIMA) errors and filters the fit
window; after that the model is time-invariant and fixed, so folding in one more
point is one Kalman step and a forecast is one projection, each a few small
matrix products.  ``SARIMAXResults.extend`` did the same through a new model
object per call (a SARIMAX constructor, a filter and a smoother pass): 4-6 ms of
a 5 ms ``update`` budget on a slow shared core, where this takes a few dozen
microseconds.  With the predicted (one-step-ahead) state ``a`` and its
covariance ``P``, observation ``y``:

    v = y - Z a - d,   F = Z P Z' + H,   K = T P Z' / F,
    a <- T a + c + K v,   P <- T P T' + R Q R' - K F K'

(Durbin & Koopman, "Time Series Analysis by State Space Methods", 4.3), which is
statsmodels' own conventional filter; ``tests/forecaster/test_model.py`` checks
that ``update`` and ``forecast`` equal filtering the longer series with the
parameters fixed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# a prediction variance this small is a series drawn exactly (no noise to weigh)
_TINY_VARIANCE = 1e-300


def _matrix(ssm: Any, name: str) -> np.ndarray:
    """A system matrix of a time-invariant model (statsmodels drops the time axis then)."""
    value = np.asarray(ssm[name], dtype=float)
    time_invariant_ndim = 1 if name in ("obs_intercept", "state_intercept") else 2
    if value.ndim != time_invariant_ndim:
        raise ValueError(f"the model varies in time ({name}); h-step projection needs it fixed")
    return value


@dataclass(frozen=True)
class StateSpace:
    """A time-invariant state-space model with one observed series."""

    design: np.ndarray  # Z, (k,)
    obs_intercept: float  # d
    obs_cov: float  # H
    transition: np.ndarray  # T, (k, k)
    state_intercept: np.ndarray  # c, (k,)
    rqr: np.ndarray  # R Q R', (k, k)

    @classmethod
    def from_ssm(cls, ssm: Any) -> StateSpace:
        """The matrices of a statsmodels representation (``results.model.ssm``)."""
        selection = _matrix(ssm, "selection")
        return cls(
            design=_matrix(ssm, "design")[0].copy(),
            obs_intercept=float(_matrix(ssm, "obs_intercept")[0]),
            obs_cov=float(_matrix(ssm, "obs_cov")[0, 0]),
            transition=_matrix(ssm, "transition").copy(),
            state_intercept=_matrix(ssm, "state_intercept").copy(),
            rqr=selection @ _matrix(ssm, "state_cov") @ selection.T,
        )

    def filter(
        self,
        state: np.ndarray,
        state_cov: np.ndarray,
        observations: np.ndarray,
        steady: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Predicted states before each observation and after the last.

        ``state`` ``(k,)`` and ``state_cov`` ``(k, k)`` predict the first
        observation; returns ``(k, n + 1)`` states and ``(k, k, n + 1)`` covariances.
        ``steady``: ``state_cov`` is the filter's converged covariance, which then
        stays as it is (statsmodels stops its covariance recursion once it has
        converged, and its results then equal these to rounding).
        """
        z, t = self.design, self.transition
        n = len(observations)
        states = np.empty((len(state), n + 1))
        covs = np.empty((len(state), len(state), n + 1))
        a = np.asarray(state, dtype=float).copy()
        p = np.asarray(state_cov, dtype=float).copy()
        states[:, 0], covs[:, :, 0] = a, p
        for i, y in enumerate(np.asarray(observations, dtype=float)):
            pz = p @ z
            f = float(z @ pz) + self.obs_cov
            a = t @ a + self.state_intercept
            if f > _TINY_VARIANCE:
                gain = (t @ pz) / f
                a = a + gain * (y - float(z @ states[:, i]) - self.obs_intercept)
            if not steady:
                p = t @ p @ t.T + self.rqr
                if f > _TINY_VARIANCE:
                    p = p - np.outer(gain, gain) * f
                p = 0.5 * (p + p.T)
            states[:, i + 1], covs[:, :, i + 1] = a, p
        return states, covs

    def project(
        self, state: np.ndarray, state_cov: np.ndarray, horizon: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Means and variances of the next ``horizon`` observations from predicted states.

        ``state`` is ``(k, n)`` and ``state_cov`` ``(k, k, n)``: the filter's
        one-step-ahead predicted states at ``n`` origins.  Returns two ``(n, horizon)``
        arrays: with ``w_h = (T^h)' Z'``, the mean at lead ``h + 1`` is
        ``w_h' a + d + sum_{j<h} w_j' c`` and the variance ``w_h' P w_h + H +
        sum_{j<h} w_j' R Q R' w_j`` (the usual recursion written for one observed
        series).  It works on ``w_h`` rather than on the state covariance, so each
        step costs ``k^2`` per origin instead of ``k^3`` (``k`` states: about 50 for
        a seasonal ARIMA with m = 24).
        """
        n = state.shape[1]
        means = np.empty((n, horizon))
        variances = np.empty((n, horizon))
        w = self.design.copy()
        mean_shift = self.obs_intercept
        noise = self.obs_cov
        for h in range(horizon):
            means[:, h] = w @ state + mean_shift
            variances[:, h] = np.einsum("i,ijn,j->n", w, state_cov, w) + noise
            mean_shift += float(w @ self.state_intercept)
            noise += float(w @ self.rqr @ w)
            w = self.transition.T @ w
        return means, variances
