"""A season seen in few cycles: its harmonic count must hold out of sample.

Load wanders for hours around its seasonal shape.  AICc takes those residuals for
independent draws, so on a window of two or three weeks it keeps weekly harmonics
that draw one week's detours as the week's shape (NASA-HTTP 1995: 79-104).
``holdout_harmonics`` keeps only what forecasts the last half period.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

from forecaster.seasonality import (
    FEW_CYCLES,
    Season,
    _choose_harmonics,
    best_harmonics,
    fourier_matrix,
    holdout_harmonics,
)

DAY, WEEK = 48.0, 336.0  # 30-minute steps


def wandering_weeks(cycles: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A daily wave, a weekly level of one harmonic, and AR(1) noise (rho 0.97)."""
    rng = np.random.default_rng(seed)
    positions = np.arange(int(cycles * WEEK), dtype=float)
    shape = fourier_matrix(positions, (Season(DAY, 2), Season(WEEK, 1)))
    noise = lfilter([1.0], [1.0, -0.97], rng.normal(scale=0.3, size=len(positions)))
    return shape @ np.array([2.0, 1.0, 0.5, 0.3, 1.0, 0.5]) + noise, positions


def test_aicc_alone_keeps_a_weekly_shape_that_is_one_weeks_detours() -> None:
    # the premise: on 2.5 weeks of wandering load AICc asks for far more than the one
    # weekly harmonic there is
    counts = []
    for seed in range(5):
        target, positions = wandering_weeks(2.5, seed)
        base = np.column_stack([np.ones(len(target)), fourier_matrix(positions, (Season(DAY, 2),))])
        counts.append(best_harmonics(target, positions, base, WEEK, 144))
    assert np.median(counts) >= 10


def test_few_cycles_keep_only_the_harmonics_that_hold_out_of_sample() -> None:
    chosen = []
    for seed in range(5):
        target, positions = wandering_weeks(2.5, seed)
        seasons = _choose_harmonics(target, positions, [DAY, WEEK], 144)
        chosen.append(next(s.harmonics for s in seasons if s.period == WEEK))
    assert np.median(chosen) <= 4


def test_holdout_never_asks_for_more_than_aicc() -> None:
    target, positions = wandering_weeks(2.5, 7)
    base = np.ones((len(target), 1))
    for most in (1, 5, 30):
        assert 1 <= holdout_harmonics(target, positions, base, WEEK, most) <= most


def test_many_cycles_leave_the_aicc_count_alone() -> None:
    # from FEW_CYCLES cycles on, a shape that repeats has shown it: no holdout
    rng = np.random.default_rng(11)
    positions = np.arange(int(FEW_CYCLES * WEEK), dtype=float)
    truth = fourier_matrix(positions, (Season(WEEK, 30),))
    target = truth @ rng.normal(scale=0.5, size=truth.shape[1]) + rng.normal(
        scale=0.05, size=len(positions))
    seasons = _choose_harmonics(target, positions, [WEEK], 144)
    base = np.ones((len(target), 1))
    assert seasons[0].harmonics == best_harmonics(target, positions, base, WEEK, 144) == 30
