"""The "auto" transform: the square root for Poisson-like counts, log1p otherwise.

Series are generated here: Poisson counts on a daily rate (variance = mean,
``D`` about 1), the same rate times multiplicative noise at a busy level, bursty
(over-dispersed) counts, rounded multiplicative load and a non-count load.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster import LoadForecaster
from forecaster.transforms import (
    POISSON_DISPERSION_MAX,
    SQRT_LAMBDA,
    choose_transform,
    count_dispersion,
    forward,
)
from forecaster.types import inverse_transform
from tests.forecaster.conftest import seasonal_series

PER_DAY = 144  # 10-minute steps


def daily_rate(days: int, peak: float, base: float = 0.3) -> np.ndarray:
    t = np.arange(days * PER_DAY)
    return base + peak * np.sin(np.pi * (t % PER_DAY) / PER_DAY) ** 2


def poisson_counts(days: int = 14, peak: float = 4.0, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).poisson(daily_rate(days, peak)).astype(float)


def busy_counts(seed: int = 0) -> np.ndarray:
    """A thousand times the rate, with 10 % multiplicative noise: sd grows with the mean."""
    rng = np.random.default_rng(seed)
    rate = 1000 * daily_rate(14, 4.0) * np.exp(rng.normal(scale=0.1, size=14 * PER_DAY))
    return rng.poisson(rate).astype(float)


def bursty_counts(seed: int = 0) -> np.ndarray:
    """Negative-binomial counts on the same rate: variance far above the mean."""
    rng = np.random.default_rng(seed)
    rate = daily_rate(14, 4.0)
    return rng.negative_binomial(0.3, 0.3 / (0.3 + rate)).astype(float)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("peak", [1.0, 4.0, 16.0])
def test_poisson_counts_get_the_square_root(peak: float, seed: int) -> None:
    y = poisson_counts(peak=peak, seed=seed)
    dispersion = count_dispersion(y)
    assert dispersion is not None and 0.8 < dispersion < 1.3
    assert choose_transform(y, "auto") == ("boxcox", SQRT_LAMBDA)


@pytest.mark.parametrize(
    "build",
    [
        busy_counts,
        bursty_counts,
        lambda seed: seasonal_series(seed=seed).to_numpy(),  # rounded load, D about 0.4
        lambda seed: poisson_counts(seed=seed) + 0.37,  # not whole numbers
        lambda seed: np.zeros(200),
    ],
    ids=["busy", "bursty", "rounded-multiplicative", "not-counts", "all-zero"],
)
def test_other_series_keep_log1p(build) -> None:
    y = build(0)
    assert choose_transform(y, "auto") == ("log1p", 0.0)
    d = count_dispersion(y)
    assert d is None or not 1 / POISSON_DISPERSION_MAX <= d <= POISSON_DISPERSION_MAX


def test_a_few_filled_fractions_still_count_as_counts() -> None:
    y = poisson_counts()
    y[100:105] = np.linspace(y[99], y[105], 7)[1:-1]  # a gap filled by a straight line
    assert choose_transform(y, "auto") == ("boxcox", SQRT_LAMBDA)


def test_an_explicit_transform_is_kept_for_counts() -> None:
    y = poisson_counts()
    assert choose_transform(y, "log1p") == ("log1p", 0.0)
    assert choose_transform(y, "none") == ("none", 1.0)


def test_the_square_root_round_trips() -> None:
    y = np.arange(0.0, 50.0)
    z = forward(y, "boxcox", SQRT_LAMBDA)
    np.testing.assert_allclose(z, 2 * (np.sqrt(y + 1) - 1))
    np.testing.assert_allclose(inverse_transform(z, "boxcox", SQRT_LAMBDA), y, atol=1e-9)


def test_a_fitted_count_model_says_so_and_saves_it(tmp_path) -> None:
    y = poisson_counts(days=14)
    series = pd.Series(y, index=pd.date_range("2026-01-05", periods=len(y), freq="10min"))
    model = LoadForecaster(max_p=2, max_q=1).fit(series)
    assert (model.transform_, model.lmbda_) == ("boxcox", SQRT_LAMBDA)
    assert model.describe().endswith(" boxcox")
    assert model.metadata_["boxcox_lambda"] == SQRT_LAMBDA
    loaded = LoadForecaster.load(model.save(tmp_path / "m.joblib"))
    a, b = model.forecast(12), loaded.forecast(12)
    np.testing.assert_allclose(a.hi80, b.hi80)
    np.testing.assert_allclose(a.quantile(0.7), b.quantile(0.7))
