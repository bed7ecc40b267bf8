"""Interval widths measured out of sample: a model fitted before the window's tail forecasts it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster import LoadForecaster
from forecaster.calibration import CALIBRATION_HORIZON
from forecaster.held_out import HEAD_MAX_POINTS, HELD_OUT_MIN, TAIL_SHARE
from forecaster.path import forecast_path
from forecaster.regular import filled_mask
from forecaster.types import Z80
from tests.forecaster.conftest import sharp_hourly_series
from tests.forecaster.test_gaps import _coverage, _gappy_arima

PLAIN = dict(seasonal_periods=(), transform="none", d=0, time_budget_seconds=30)


def growing_noise(seed: int, n: int = 2600) -> pd.Series:
    """AR(1) whose innovations' sd grows from 1 to 3 over the series: the last stretch
    of any window is noisier than the window on average, and what follows more so."""
    rng = np.random.default_rng(seed)
    e = rng.normal(size=n) * np.linspace(1.0, 3.0, n)
    x = np.zeros(n)
    for i in range(1, n):
        x[i] = 0.6 * x[i - 1] + e[i]
    return pd.Series(200.0 + x, index=pd.date_range("2024-01-01", periods=n, freq="5min"))


def laplace_noise(seed: int, n: int = 2000) -> pd.Series:
    """White Laplace noise cut at 4 (under 3 of its sds, so no point is a glitch the
    estimation leaves out): 80 % of it lies within 0.89 x Z80 sds."""
    rng = np.random.default_rng(seed)
    e = np.clip(rng.laplace(size=n), -4.0, 4.0)
    return pd.Series(100.0 + e, index=pd.date_range("2024-01-01", periods=n, freq="5min"))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_noise_that_grows_gets_bands_that_cover_what_follows(seed: int) -> None:
    y = growing_noise(seed)
    held = LoadForecaster(**PLAIN).fit(y.iloc[:2000])
    inside = LoadForecaster(**PLAIN, interval_calibration="in_sample").fit(y.iloc[:2000])
    assert held.calibration_.startswith("held-out")
    assert (held.width_factors_[:12] > inside.width_factors_[:12]).all()
    covered = _coverage(held, y.iloc[2000:2600])
    covered_inside = _coverage(inside, y.iloc[2000:2600])
    assert covered_inside < 0.72  # the in-sample errors did not see the noise grow
    assert 0.72 <= covered <= 0.88
    assert abs(covered - 0.8) < abs(covered_inside - 0.8)


def test_only_the_widths_move() -> None:
    y = growing_noise(0, n=2000)
    held = LoadForecaster(**PLAIN).fit(y)
    inside = LoadForecaster(**PLAIN, interval_calibration="in_sample").fit(y)
    a, b = held.forecast(CALIBRATION_HORIZON), inside.forecast(CALIBRATION_HORIZON)
    np.testing.assert_array_equal(a.mean, b.mean)
    np.testing.assert_allclose(a.scale / b.scale, held.width_factors_ / inside.width_factors_,
                               rtol=1e-12)
    assert held.metadata_["interval_calibration"] == held.calibration_
    assert held.metadata_["interval_width_factors"] == pytest.approx(held.width_factors_,
                                                                     abs=1e-4)


def test_the_factors_are_the_heads_errors_over_the_tail() -> None:
    # written out the long way: fit the head, forecast each origin of the tail, take
    # the 80th percentile of |error| / sd per lead; allowed below 1 (to HELD_OUT_MIN)
    y = laplace_noise(4)
    model = LoadForecaster(**PLAIN).fit(y)
    assert model.error_model_.cleaned is None
    tail = int(TAIL_SHARE * len(y))
    head = LoadForecaster(**PLAIN, interval_calibration="none").fit(y.iloc[:-tail])
    np.testing.assert_array_equal(head.width_factors_, [1.0])
    assert model.calibration_ == (f"held-out: a model fitted on the {len(y) - tail} points "
                                  f"before the last {tail} forecast them from each origin")
    path = forecast_path(head, y.iloc[-tail:], CALIBRATION_HORIZON)
    expected = []
    for h in range(CALIBRATION_HORIZON):
        errors = [(y.iloc[-tail + k + h] - path[k].loc[h]) / path[k].scale[h]
                  for k in range(tail - h)]
        expected.append(np.quantile(np.abs(errors), 0.8) / Z80)
    expected = np.maximum.accumulate(np.clip(expected, HELD_OUT_MIN, None))
    np.testing.assert_allclose(model.width_factors_, expected, rtol=1e-9)
    assert model.width_factors_[0] < 1.0  # the model's sd overstates this bulk
    inside = LoadForecaster(**PLAIN, interval_calibration="in_sample").fit(y)
    np.testing.assert_array_equal(inside.width_factors_, np.ones(CALIBRATION_HORIZON))


def test_the_head_reads_the_points_before_the_window_as_a_fit_then_would() -> None:
    y = growing_noise(1, n=2600)
    model = LoadForecaster(**PLAIN, max_history=1000).fit(y)
    assert len(model.history_) == 1000
    # the head takes the same max_history: its 1000 points before the tail
    assert "fitted on the 1000 points before the last 300" in model.calibration_


def test_a_long_window_has_a_head_and_a_tail_of_at_most_head_max_points() -> None:
    y = growing_noise(2, n=HEAD_MAX_POINTS + 4000)
    model = LoadForecaster(**{**PLAIN, "max_history": None}).fit(y)
    tail = int(TAIL_SHARE * len(y))
    assert tail < HEAD_MAX_POINTS < len(y) - tail
    assert model.calibration_ == (f"held-out: a model fitted on the {HEAD_MAX_POINTS} points "
                                  f"before the last {tail} forecast them from each origin")
    longer = growing_noise(2, n=4 * HEAD_MAX_POINTS)  # a 30 % tail would be 9676 points
    model = LoadForecaster(**{**PLAIN, "max_history": None}).fit(longer)
    assert model.calibration_.endswith(f"the last {HEAD_MAX_POINTS} forecast them from each origin")


def test_a_short_window_keeps_the_in_sample_factors() -> None:
    y = growing_noise(2, n=240)  # a tail of 72 points but a head of 168
    model = LoadForecaster(**PLAIN).fit(y)
    inside = LoadForecaster(**PLAIN, interval_calibration="in_sample").fit(y)
    np.testing.assert_array_equal(model.width_factors_, inside.width_factors_)
    assert model.calibration_.startswith("in-sample: the window (240 points) is too short")
    assert model.metadata_["interval_calibration"] == model.calibration_


def test_filled_in_points_are_neither_actuals_nor_origins() -> None:
    history, future = _gappy_arima(seed=0)
    assert filled_mask(history).mean() > 0.4
    as_observed = history.copy()
    as_observed.attrs["filled"] = ()  # the straight lines taken for observations
    params = {"seasonal_periods": (), "transform": "none", "d": 1}
    aware = LoadForecaster(**params).fit(history)
    lines = LoadForecaster(**params).fit(as_observed)
    assert aware.calibration_.startswith("held-out")
    assert (aware.width_factors_[:12] > lines.width_factors_[:12]).all()
    covered, covered_lines = _coverage(aware, future), _coverage(lines, future)
    assert 0.74 <= covered <= 0.88
    assert abs(covered - 0.8) < abs(covered_lines - 0.8)


def test_an_unknown_calibration_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="interval_calibration must be 'held_out', "
                                         "'in_sample' or 'none', got 'later'"):
        LoadForecaster(**PLAIN, interval_calibration="later").fit(growing_noise(0, n=600))


def test_save_and_load_keep_the_held_out_factors(tmp_path) -> None:
    model = LoadForecaster(**PLAIN).fit(growing_noise(3, n=1500))
    loaded = LoadForecaster.load(model.save(tmp_path / "model.joblib"))
    np.testing.assert_array_equal(loaded.width_factors_, model.width_factors_)
    assert loaded.metadata_["interval_calibration"] == model.calibration_
    np.testing.assert_allclose(loaded.forecast(12).hi80, model.forecast(12).hi80, rtol=1e-9)


def test_a_head_too_short_for_the_seasons_keeps_the_in_sample_factors() -> None:
    # 700 points with a given 300-step season: the head's 490 hold under two cycles,
    # so it would be fitted without the season and measure a model the fit is not
    y = growing_noise(0, n=700)
    model = LoadForecaster(**{**PLAIN, "seasonal_periods": (300,)}).fit(y)
    assert model.seasonal_periods_ == (300.0,)
    assert model.calibration_ == ("in-sample: a head of 490 points would not hold 2 cycles of "
                                  "the 300-step season")


def test_a_season_longer_than_half_the_head_cap_keeps_the_in_sample_factors() -> None:
    # as the week of a per-minute series (10,080 steps): two cycles need more than a head
    # of HEAD_MAX_POINTS holds, and a longer head would cost a long file its fit again
    period = HEAD_MAX_POINTS // 2 + 68
    y = growing_noise(3, n=3 * period)
    model = LoadForecaster(**{**PLAIN, "seasonal_periods": (period,), "max_history": None}).fit(y)
    assert model.seasonal_periods_ == (float(period),)
    assert model.calibration_ == (f"in-sample: a head of {HEAD_MAX_POINTS} points would not "
                                  f"hold 2 cycles of the {period}-step season")


def test_a_seasonal_arima_head_takes_the_full_fits_choice_without_the_comparison() -> None:
    y = sharp_hourly_series()  # seasonal ARIMA with m = 12 is chosen on it
    model = LoadForecaster().fit(y)
    assert model.error_model_.seasonal_order == (0, 1, 1, 12)
    assert model.calibration_.startswith("held-out")
    head = LoadForecaster(interval_calibration="none")
    head.told_sarima_ = (model.error_model_.order, 12)
    head.fit(y.iloc[:-int(TAIL_SHARE * len(y))])
    assert head.error_model_.seasonal_order == (0, 1, 1, 12)
    assert head.error_model_.order == model.error_model_.order
    assert not any("chosen over Fourier terms" in note for note in head.metadata_["notes"])
    fourier = LoadForecaster(interval_calibration="none")
    fourier.told_sarima_ = ()  # the full fit kept the Fourier terms: so does its head
    fourier.fit(y.iloc[:-int(TAIL_SHARE * len(y))])
    assert fourier.error_model_.seasonal_order == (0, 0, 0, 0)
