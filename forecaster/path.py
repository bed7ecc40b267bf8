"""The forecasts held after each of a run of known points, for one filter pass.

Replaying a trace (the simulator) needs, at every step ``k``, the forecast the
live loop would hold after being told the first ``k`` points — ``update(point)``
then ``forecast(h)``, thousands of times.  With the parameters fixed that is
exactly one Kalman filter pass over the points (as ``update`` does)
followed by an ``h``-step projection from each one-step-ahead predicted state:

    a_{t+1} = T a_t + c,   P_{t+1} = T P_t T' + R Q R',
    mean_t = Z a_t + d,    var_t = Z P_t Z' + H

(the model's own state-space matrices; time-invariant for ARIMA and seasonal
ARIMA; :class:`forecaster.statespace.StateSpace`), plus the Fourier regression at
the forecast stamps, the model's per-horizon interval width factors, then the
same back-transform as :meth:`LoadForecaster.forecast`.  The result equals calling
``update``/``forecast`` point by point (``tests/forecaster/test_path.py``) at a
small fraction of the cost, because no forecast object is built per step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from forecaster.calibration import widen
from forecaster.io import SeriesError
from forecaster.transforms import forward
from forecaster.types import Forecast, normal_bands

if TYPE_CHECKING:
    from forecaster.model import LoadForecaster


def forecast_path(model: LoadForecaster, points: pd.Series, horizon: int) -> list[Forecast]:
    """Forecasts of ``horizon`` steps after each of the first 0..n ``points`` (n + 1 of them).

    ``points`` must continue the model's series on its grid (regular, starting one
    step after the last observation).  The model itself is not changed; call
    ``model.update(points)`` to move it on.
    """
    stamps, loc, sd = path_moments(model, points, horizon)
    horizon = loc.shape[1]
    scale = widen(sd, model.width_factors_)
    zeros = model.zero_probability(loc)
    bands = normal_bands(loc, scale, model.transform_, model.lmbda_, zeros)
    name = model.describe()
    return [
        Forecast(
            timestamps=stamps[k : k + horizon],
            **{band: values[k] for band, values in bands.items()},
            step_seconds=model.step_,
            model=name,
            loc=loc[k],
            scale=scale[k],
            transform=model.transform_,
            lmbda=model.lmbda_,
            zero_probability=None if zeros is None else zeros[k],
        )
        for k in range(len(points) + 1)
    ]


def path_moments(model: LoadForecaster, points: pd.Series,
                 horizon: int) -> tuple[pd.DatetimeIndex, np.ndarray, np.ndarray]:
    """The stamps from one step after the model's last observation, and the Gaussian
    mean and the model's own sd (before the width factors) on the transformed scale,
    ``(n + 1, horizon)`` each: row ``k`` is the forecast after the first ``k`` points."""
    model._check_fitted()
    if int(horizon) != horizon or horizon < 1:
        raise ValueError(f"horizon must be a positive integer, got {horizon!r}")
    horizon = int(horizon)
    n = len(points)
    stamps = model._stamps_after(model.last_timestamp_, n + horizon)
    if n:
        expected = stamps[:n]
        if not pd.DatetimeIndex(points.index).equals(expected):
            every = "business day" if model.business_days_ else pd.Timedelta(seconds=model.step_)
            raise SeriesError(
                "forecast_path: points must continue the fitted series on its grid, "
                f"from {stamps[0]} every {every}"
            )
        values = points.to_numpy(dtype=float)
        if np.isnan(values).any() or (values < 0).any():
            raise SeriesError("forecast_path: points must be non-negative numbers")
        z = forward(values, model.transform_, model.lmbda_)
        resid = z - model._regression(model._positions(expected))
    else:
        resid = np.empty(0)
    # the predicted state before each point and after the last: n + 1 origins
    state, state_cov = model.state_space_.filter(
        model.state_, model.state_cov_, resid, steady=model.steady_
    )
    means, variances = model.state_space_.project(state, state_cov, horizon)
    regression = model._regression(model._positions(stamps))
    rows = np.arange(n + 1)[:, None] + np.arange(horizon)[None, :]
    return stamps, means + regression[rows], np.sqrt(np.maximum(variances, 0.0))
