"""The seasonal ARIMA and the Fourier model are compared on the original scale.

Forecasts are judged by MASE, an absolute error on the load's own scale (issue
3), but the two models were compared by their mean squared error at leads 1 to
``CHOICE_LEADS`` on the transformed (log) scale, where a night of a few counts
with large relative errors weighs as much as the day's peak of thousands.  A
transformed-scale error ``e`` at a target whose transformed value is ``y`` is the
original-scale error ``inv(y) - inv(y - e)`` (``OriginalScale``); the choice now
compares those errors' mean absolute values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecaster import LoadForecaster
from forecaster.selection import CHOICE_LEADS, ErrorModel, OriginalScale, lead_errors


def busy_days_quiet_nights(days: int = 70, seed: int = 1) -> pd.Series:
    """Hourly load: a daytime peak of about 2000 whose height is a random walk from day
    to day (the seasonal ARIMA follows it, a fixed Fourier shape does not), and nights
    of about 3 with i.i.d. log-normal noise (sd 2 on the log scale, which no model
    forecasts, but which dominates a log-scale mean squared error)."""
    rng = np.random.default_rng(seed)
    index = pd.date_range("2024-01-01", periods=days * 24, freq="1h")
    hour = index.hour.to_numpy()
    peak = np.exp(-((hour - 14) ** 2) / 10.0)
    height = np.repeat(np.exp(np.cumsum(rng.normal(scale=0.15, size=days))), 24)
    persistent = np.zeros(len(index))
    steps = rng.normal(scale=0.02, size=len(index))
    for t in range(1, len(index)):
        persistent[t] = 0.8 * persistent[t - 1] + steps[t]
    night = 3.0 * np.exp(rng.normal(scale=2.0, size=len(index)))
    day = 2000.0 * (0.2 + peak * height) * np.exp(persistent)
    return pd.Series(np.where((hour >= 7) & (hour <= 21), day, night), index=index,
                     name="value")


def test_the_choice_follows_the_original_scale_error() -> None:
    model = LoadForecaster(holidays=None, transform="log1p").fit(busy_days_quiet_nights())
    # before: ARIMA(1,0,1) fourier[24x11] log1p was kept, the seasonal ARIMA's log-scale
    # mean squared error at leads 1-12 not being 0.95 of the Fourier model's
    assert model.describe().startswith("SARIMA("), (model.describe(), model.metadata_["notes"])
    note = next(n for n in model.metadata_["notes"] if "chosen over Fourier terms" in n)
    assert "mean absolute error (original scale)" in note, note


def test_original_scale_errors_are_those_of_the_back_transformed_forecasts() -> None:
    y = busy_days_quiet_nights(days=30).to_numpy()
    z = np.log1p(y)
    # the filter runs on z less a regression term (the longer seasons' and holidays'
    # terms the model removes), its forecasts of z add the term back
    term = 0.3 * np.sin(2 * np.pi * np.arange(len(z)) / 168.0)
    model = ErrorModel((1, 0, 1), np.array([0.8, -0.2, -0.7, 0.05]),
                       seasonal_order=(0, 1, 1, 24))
    points = 100
    errors = OriginalScale(z, "log1p", 0.0).errors(lead_errors(model.filter(z - term), points))
    assert errors.shape == (points, CHOICE_LEADS)
    for origin in (len(z) - points, len(z) - 40, len(z) - 5):
        ahead = np.asarray(model.filter((z - term)[:origin]).forecast(CHOICE_LEADS), dtype=float)
        inside = min(CHOICE_LEADS, len(z) - origin)
        forecast = np.expm1(ahead[:inside] + term[origin:origin + inside])
        row = errors[origin - (len(z) - points)]
        np.testing.assert_allclose(row[:inside], y[origin:origin + inside] - forecast,
                                   rtol=1e-7, atol=1e-7)
        assert np.isnan(row[inside:]).all()  # targets beyond the data are not scored
    # the square root (Box-Cox 1/2 of y + 1): the same identity with its own inverse
    root = 2.0 * (np.sqrt(y + 1.0) - 1.0)
    origin = len(z) - 30
    ahead = np.asarray(model.filter(root[:origin]).forecast(CHOICE_LEADS), dtype=float)
    row = OriginalScale(root, "boxcox", 0.5).errors(lead_errors(model.filter(root), points))
    np.testing.assert_allclose(row[origin - (len(z) - points)],
                               y[origin:origin + CHOICE_LEADS] - ((ahead / 2.0 + 1.0) ** 2 - 1.0),
                               rtol=1e-7, atol=1e-7)
