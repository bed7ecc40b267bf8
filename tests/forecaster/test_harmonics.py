"""The Fourier harmonic count is chosen over every count up to the limit.

A schedule-driven day (departures on the hour and the half hour, batch jobs at
fixed minutes) has a sharp shape that ten harmonics cannot draw; the search
must go as high as the data asks and no higher.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecaster import LoadForecaster
from forecaster.seasonality import (
    Season,
    best_harmonics,
    fourier_matrix,
    harmonic_limit,
    solve_least_squares,
)


def _schedule_day(days: int = 28, seed: int = 0) -> pd.Series:
    """5-minute counts whose day has bursts every half hour, busy 06:00-22:00, Poisson."""
    rng = np.random.default_rng(seed)
    n = days * 288
    index = pd.date_range("2024-03-04", periods=n, freq="5min")
    slot = np.arange(n) % 288
    hour = slot / 12.0
    level = np.where((hour >= 6) & (hour < 22), 40.0, 6.0)
    burst = np.where(slot % 6 == 0, 3.0, 1.0)  # on the hour and the half hour
    return pd.Series(rng.poisson(level * burst).astype(float), index=index, name="value")


def test_exactly_k_harmonics_are_found_on_white_noise() -> None:
    rng = np.random.default_rng(3)
    positions = np.arange(4032, dtype=float)
    truth = fourier_matrix(positions, (Season(288.0, 25),))
    coef = rng.normal(scale=0.5, size=truth.shape[1])
    target = truth @ coef + rng.normal(scale=0.05, size=len(positions))
    base = np.ones((len(positions), 1))
    # AICc is efficient, not consistent: it may take a spare harmonic, never drop a real one
    assert 25 <= best_harmonics(target, positions, base, 288.0, 144) <= 28
    # the bound is honoured, and nothing goes past Nyquist
    assert best_harmonics(target, positions, base, 288.0, 10) == 10
    assert harmonic_limit(288.0, 1000) == 143
    assert harmonic_limit(5.0, 144) == 2


def test_a_harmonic_shared_with_another_season_adds_nothing() -> None:
    # the weekly period's 7th harmonic is the daily period's 1st: that column is
    # already in the base, so neither its fit nor its parameter count may move
    rng = np.random.default_rng(5)
    positions = np.arange(8064, dtype=float)
    daily = fourier_matrix(positions, (Season(288.0, 2),))
    target = daily @ np.array([1.0, 0.5, 0.3, 0.2]) + rng.normal(scale=0.05, size=len(positions))
    base = np.column_stack([np.ones(len(positions)), daily])
    assert best_harmonics(target, positions, base, 2016.0, 144) == 1


def test_a_schedule_driven_day_gets_the_harmonics_it_needs() -> None:
    series = _schedule_day()
    train, test = series.iloc[:-288], series.iloc[-288:]
    wide = LoadForecaster().fit(train)
    narrow = LoadForecaster(max_harmonics=10).fit(train)
    daily = [s for s in wide.seasons_ if abs(s.period - 288.0) < 1e-9]
    assert daily and daily[0].harmonics > 40, wide.describe()
    assert max(s.harmonics for s in narrow.seasons_) <= 10
    # a day ahead in 12-step blocks (update between them): the wide model's error
    # is well below the narrow one's
    errors = {}
    for name, model in (("wide", wide), ("narrow", narrow)):
        abs_err = []
        for start in range(0, 288, 12):
            fc = model.forecast(12)
            abs_err.append(np.abs(fc.mean - test.iloc[start:start + 12].to_numpy()))
            model.update(test.iloc[start:start + 12])
        errors[name] = float(np.mean(np.concatenate(abs_err)))
    assert errors["wide"] < 0.8 * errors["narrow"], errors


def test_fourier_columns_are_the_sines_and_cosines_of_each_harmonic() -> None:
    positions = 1.7e7 + np.arange(500, dtype=float)  # epoch-sized positions
    x = fourier_matrix(positions, (Season(288.0, 3), Season(2016.0, 2)))
    assert x.shape == (500, 10)
    for col, (period, k) in enumerate([(288.0, 1), (288.0, 2), (288.0, 3),
                                       (2016.0, 1), (2016.0, 2)]):
        angle = 2 * np.pi * k * np.mod(positions, period) / period
        np.testing.assert_allclose(x[:, 2 * col], np.sin(angle), atol=1e-12)
        np.testing.assert_allclose(x[:, 2 * col + 1], np.cos(angle), atol=1e-12)
    assert fourier_matrix(positions, ()).shape == (500, 0)


def test_the_normal_equations_give_lstsq_fit_on_a_rank_deficient_design() -> None:
    """The weekly season's 7th harmonic is the daily one's 1st: the design repeats a column,
    and the differenced low harmonics are a hundred times smaller than the high ones."""
    rng = np.random.default_rng(11)
    positions = np.arange(6 * 2016, dtype=float)
    x = np.diff(fourier_matrix(positions, (Season(288.0, 20), Season(2016.0, 60))), axis=0)
    y = x @ rng.normal(size=x.shape[1]) + rng.normal(scale=0.1, size=len(x))
    fast = solve_least_squares(x, y)
    reference, *_ = np.linalg.lstsq(x, y, rcond=None)
    np.testing.assert_allclose(x @ fast, x @ reference, atol=1e-8 * np.abs(y).max())
    np.testing.assert_allclose(fast, reference, atol=1e-6 * np.abs(reference).max())
    assert solve_least_squares(np.empty((5, 0)), np.ones(5)).shape == (0,)
