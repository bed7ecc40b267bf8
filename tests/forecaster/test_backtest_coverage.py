"""The backtest's 95 % interval for its 80 % coverage: clustered by origin."""

from __future__ import annotations

import numpy as np
import pytest

from forecaster.backtest import coverage_interval

T_975_3DF = 3.182446305284263  # Student's t, 97.5 % quantile, 3 degrees of freedom


def steps(covered: list[int], per_origin: list[int]) -> tuple[np.ndarray, np.ndarray]:
    pairs = zip(covered, per_origin, strict=True)
    inside = np.concatenate([[1] * c + [0] * (n - c) for c, n in pairs])
    origin = np.repeat(np.arange(len(per_origin)), per_origin)
    return inside.astype(bool), origin


def test_interval_is_the_cluster_robust_one_over_origins() -> None:
    # four origins of five steps covering 5, 4, 3 and 1 of them: 65 % in all
    inside, origin = steps([5, 4, 3, 1], [5, 5, 5, 5])
    low, high = coverage_interval(inside, origin)
    residual = np.array([5, 4, 3, 1]) - 0.65 * 5
    se = np.sqrt(np.sum(residual**2) / (4 * 3)) / 5
    assert low == pytest.approx(0.65 - T_975_3DF * se)
    assert high == 1.0  # 0.65 + 0.54, clipped


def test_origins_alike_give_a_narrow_interval_and_unlike_ones_a_wide_one() -> None:
    same, origin = steps([8] * 20, [10] * 20)
    assert coverage_interval(same, origin) == pytest.approx([0.8, 0.8])
    # the same 80 % overall, but whole origins in or out: the steps are not 200 draws
    split, origin = steps([10] * 16 + [0] * 4, [10] * 20)
    low, high = coverage_interval(split, origin)
    binomial = 1.96 * np.sqrt(0.8 * 0.2 / 200)
    assert high - low > 3 * 2 * binomial


def test_origins_with_fewer_scored_steps_weigh_less() -> None:
    # one origin with a single scored step (the rest filled in across a gap) that missed
    inside, origin = steps([6, 6, 6, 0], [6, 6, 6, 1])
    low, high = coverage_interval(inside, origin)
    share = 18 / 19
    assert low < share < high
    equal, origin = steps([6, 6, 6, 0], [6, 6, 6, 6])
    low_equal, high_equal = coverage_interval(equal, origin)
    assert high - low < high_equal - low_equal


def test_one_origin_says_nothing() -> None:
    inside, origin = steps([3], [12])
    assert coverage_interval(inside, origin) == [0.0, 1.0]
