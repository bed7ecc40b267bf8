"""A mass at zero for load that stops dead at any level (``forecaster.zeros``)."""

from __future__ import annotations

import copy
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from controller.cli import main
from forecaster import LoadForecaster, zeros
from forecaster.path import forecast_path
from forecaster.types import Forecast, normal_bands
from forecaster.zeros import (
    MAX_PROBABILITY,
    MIN_SHARE,
    MIN_SURPRISES,
    ZeroMass,
    fit_zero_mass,
)
from tests.forecaster.test_held_out import growing_noise

LEADS = 12


def _layout(actual: np.ndarray, loc: float, scale: float = 0.2) -> tuple[np.ndarray, ...]:
    """Forecasts laid out as ``lead_factors`` reads them: every origin forecasts ``loc``
    with ``scale`` at every lead, all points usable."""
    n = len(actual)
    return (actual == 0, np.full((n, LEADS), loc), np.full((n, LEADS), scale),
            np.ones(n, dtype=bool), np.ones(n, dtype=bool))


@pytest.mark.parametrize(("actual", "loc", "fires"), [
    (np.full(300, 2.0), 2.0, False),  # never zero
    (np.zeros(300), 0.0, False),  # always zero, and the bands already say so
    (np.where(np.arange(300) % 8 == 0, 0.0, 2.0), 2.0, True),  # 12.5 %: past the lower tail
    (np.where(np.arange(300) % 50 == 0, 0.0, 2.0), 2.0, False),  # 2 %: within it
    (np.where(np.arange(8) == 7, 0.0, 2.0), 2.0, False),  # 22 %, but 8 forecasts of it
])
def test_a_mass_only_where_zeros_broke_a_positive_lower_bound(
        actual: np.ndarray, loc: float, fires: bool) -> None:
    mass, note = fit_zero_mass(*_layout(actual, loc), zero=0.0)
    assert (mass is not None) == fires, note
    if not fires:
        assert note.startswith("none:")
        assert f"a mass needs at least {MIN_SURPRISES} and {MIN_SHARE:.0%}" in note


def test_the_chance_of_zero_falls_with_the_level() -> None:
    """Zeros that come after low forecasts more often than after high ones: the
    regression's slope is negative, and a busy step keeps its lower bound."""
    rng = np.random.default_rng(0)
    n = 3000
    loc = rng.uniform(0.5, 4.0, size=n)
    zero = rng.uniform(size=n) < np.where(loc < 1.5, 0.4, 0.01)
    actual = np.where(zero, 0.0, loc)
    # one lead: origin k's forecast of point k (``lead_factors``' layout) is loc[k]
    mass, _ = fit_zero_mass(actual == 0, loc[:, None], np.full((n, 1), 0.1),
                            np.ones(n, dtype=bool), np.ones(n, dtype=bool), zero=0.0)
    assert mass is not None and mass.slope < 0
    p = mass.probability(np.array([0.6, 3.5]))
    assert p[0] > 0.25 and p[1] < 0.025


def test_every_such_step_zero_gives_the_capped_share() -> None:
    n = 200
    mass, _ = fit_zero_mass(np.ones(n, dtype=bool), np.full((n, 3), 1.0), np.full((n, 3), 0.1),
                            np.ones(n, dtype=bool), np.ones(n, dtype=bool), zero=0.0)
    assert mass is not None and mass.slope == 0.0
    np.testing.assert_allclose(mass.probability(np.array([0.0, 5.0])), MAX_PROBABILITY)


def test_the_mass_sets_the_lower_bounds_and_the_quantiles_alike() -> None:
    loc = np.array([0.5, 1.0, 2.0, 3.0])
    scale = np.full(4, 0.2)
    p = np.array([0.3, 0.05, 0.01, 0.001])
    bands = normal_bands(loc, scale, "log1p", 0.0, p)
    plain = normal_bands(loc, scale, "log1p", 0.0)
    np.testing.assert_array_equal(bands["lo80"], [0.0, plain["lo80"][1], plain["lo80"][2],
                                                  plain["lo80"][3]])
    np.testing.assert_array_equal(bands["lo95"], [0.0, 0.0, plain["lo95"][2], plain["lo95"][3]])
    for key in ("mean", "hi80", "hi95"):
        np.testing.assert_array_equal(bands[key], plain[key])
    f = Forecast(timestamps=pd.date_range("2024-01-01", periods=4, freq="5min"),
                 step_seconds=300.0, model="m", loc=loc, scale=scale, transform="log1p",
                 lmbda=0.0, zero_probability=p, **bands)
    np.testing.assert_allclose(f.quantile(0.1), f.lo80)
    np.testing.assert_allclose(f.quantile(0.025), f.lo95)
    np.testing.assert_allclose(f.quantile(0.5), f.mean)


def test_a_series_that_is_never_zero_gets_no_mass() -> None:
    model = LoadForecaster(seasonal_periods=(), transform="none", d=0).fit(
        growing_noise(0, n=2000))
    assert model.zero_mass_ is None
    assert model.metadata_["zero_mass"].startswith("none:")


def test_the_metadata_says_why_there_is_no_mass() -> None:
    short = LoadForecaster(seasonal_periods=(), transform="none", d=0).fit(
        growing_noise(0, n=80))
    assert short.metadata_["zero_mass"] == (
        "none: too few forecasts in the window to measure it on")
    plain = LoadForecaster(seasonal_periods=(), transform="none", d=0,
                           interval_calibration="none").fit(growing_noise(0, n=300))
    assert plain.metadata_["zero_mass"] == "none: the model's own sd"


def _key_presses(shared: Path) -> pd.Series:
    frame = pd.read_csv(shared / "nab" / "data" / "realKnownCause" / "rogue_agent_key_updown.csv",
                        parse_dates=["timestamp"])
    series = frame.set_index("timestamp")["value"].asfreq("5min").interpolate()
    return series


def _coverage(model: LoadForecaster, after: pd.Series) -> float:
    """80 % coverage of every forecast of 1..12 steps from each point of ``after``."""
    paths = forecast_path(model, after, LEADS)
    inside = []
    for k, f in enumerate(paths[:-LEADS]):
        actual = after.to_numpy()[k:k + LEADS]
        inside.append((actual >= f.lo80) & (actual <= f.hi80))
    return float(np.mean(inside))


@pytest.mark.parametrize(("cut", "measured_on"), [(3600, "held-out"), (4200, "in-sample")])
def test_a_key_press_gauge_gets_bands_that_hold_its_stops(
        shared_data: Path, cut: int, measured_on: str) -> None:
    """NAB's rogue_agent_key_updown (89 % zeros, bursts that stop at any level): the
    forecasts that size the bands (held out, or at 4200 points, where a head could not
    hold two weeks, the model's own) saw zeros below positive lower bounds, and the
    mass at zero puts the next 1000 steps' stops inside the 80 % band (measured at
    3600: 65 -> 93 % of a stretch 90 % zeros; at 4200: 66 -> 82 %)."""
    y = _key_presses(shared_data)
    model = LoadForecaster().fit(y.iloc[:cut])
    assert model.calibration_.startswith(measured_on)
    assert model.zero_mass_ is not None and model.zero_mass_.slope < 0
    assert "met a zero" in model.metadata_["zero_mass"]
    without = copy.deepcopy(model)
    without.zero_mass_ = None
    after = y.iloc[cut:cut + 1000]
    covered, covered_without = _coverage(model, after), _coverage(without, after)
    assert covered_without < 0.70 <= covered
    assert covered - covered_without > 0.1
    # the point forecast and the upper bounds are the model's own
    a, b = model.forecast(LEADS), without.forecast(LEADS)
    np.testing.assert_array_equal(a.mean, b.mean)
    np.testing.assert_array_equal(a.hi95, b.hi95)


def test_the_mass_moves_nothing_the_autoscaler_reads(shared_data: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Width factors, point forecast, upper bounds and every quantile from the median up
    are those of the same fit without a mass: only the lower bounds move."""
    series = _key_presses(shared_data)
    y, after = series.iloc[:3600], series.iloc[3600:3900]
    model = LoadForecaster().fit(y)
    monkeypatch.setattr(zeros, "MIN_SHARE", 1.01)  # no share can reach it: no mass
    plain = LoadForecaster().fit(y)
    assert model.zero_mass_ is not None and plain.zero_mass_ is None
    np.testing.assert_array_equal(model.width_factors_, plain.width_factors_)
    a, b = model.forecast(LEADS), plain.forecast(LEADS)
    for key in ("mean", "hi80", "hi95"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
    for q in (0.5, 0.8, 0.9, 0.995):
        np.testing.assert_array_equal(a.quantile(q), b.quantile(q))
    # over the next stretch's forecasts, lower bounds move down, and only they
    lower = np.array([f.lo80 for f in forecast_path(model, after, LEADS)])
    lower_plain = np.array([f.lo80 for f in forecast_path(plain, after, LEADS)])
    assert (lower <= lower_plain).all() and (lower < lower_plain).any()


def test_train_says_when_a_model_has_a_mass(shared_data: Path, tmp_path: Path) -> None:
    csv = tmp_path / "keys.csv"
    _key_presses(shared_data).iloc[:3600].rename_axis("timestamp").reset_index().to_csv(
        csv, index=False)
    result = CliRunner().invoke(main, ["train", "forecaster", "--csv", str(csv), "--out",
                                       str(tmp_path / "m.pkl")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    line = next(t for t in result.output.splitlines() if t.startswith("zeros: "))
    assert "met a zero" in line and "P(zero) = logistic(" in line
    plain = tmp_path / "plain.csv"
    growing_noise(0, n=1200).rename("value").rename_axis("timestamp").reset_index().to_csv(
        plain, index=False)
    result = CliRunner().invoke(main, ["train", "forecaster", "--csv", str(plain), "--out",
                                       str(tmp_path / "p.pkl")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "zeros: " not in result.output


def test_save_and_load_keep_the_mass(shared_data: Path, tmp_path: Path) -> None:
    model = LoadForecaster().fit(_key_presses(shared_data).iloc[:3600])
    path = model.save(tmp_path / "m.pkl")
    loaded = LoadForecaster.load(path)
    assert loaded.zero_mass_ == model.zero_mass_
    a, b = model.forecast(LEADS), loaded.forecast(LEADS)
    np.testing.assert_array_equal(a.lo80, b.lo80)
    np.testing.assert_array_equal(a.zero_probability, b.zero_probability)


def test_the_path_and_the_forecast_agree_on_the_mass() -> None:
    model = LoadForecaster(seasonal_periods=(), transform="log1p", d=0).fit(
        growing_noise(1, n=1200))
    model.zero_mass_ = ZeroMass(intercept=2.0, slope=-0.5)  # as if measured
    first = forecast_path(model, growing_noise(1, n=1200).iloc[:0], LEADS)[0]
    direct = model.forecast(LEADS)
    np.testing.assert_allclose(first.lo80, direct.lo80)
    np.testing.assert_allclose(first.zero_probability, direct.zero_probability)
    assert (direct.lo80[direct.zero_probability >= 0.1] == 0).all()


def _quiet_nights(seed: int, days: int = 16) -> tuple[pd.Series, np.ndarray]:
    """Poisson counts per 5 minutes on a daily rate from 0.3 (night) to 10.3 (noon)."""
    rng = np.random.default_rng(seed)
    t = np.arange(288 * days)
    rate = 0.3 + 10 * np.clip(np.sin(2 * np.pi * (t % 288) / 288 - 0.5), 0, None) ** 2
    y = pd.Series(rng.poisson(rate).astype(float),
                  index=pd.date_range("2024-01-01", periods=len(t), freq="5min"))
    return y, rate


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_counts_zero_by_chance_on_quiet_nights_get_no_mass(seed: int) -> None:
    """Poisson counts are zero by chance where the rate is low, below positive lower
    bounds too, but within the band's lower tail (3-5 % of those forecasts): no mass,
    and the busy hours keep their lower bounds."""
    y, rate = _quiet_nights(seed)
    cut = 288 * 14
    model = LoadForecaster().fit(y.iloc[:cut])
    assert model.zero_mass_ is None
    note = model.metadata_["zero_mass"]
    assert note.startswith("none:") and int(note.split()[1]) >= MIN_SURPRISES, note
    busy = rate[cut:cut + 288] > 8
    forecast = model.forecast(288)
    assert forecast.zero_probability is None
    assert (forecast.lo80[busy] > 0).all()


def test_a_model_saved_before_the_mass_loads_without_one(shared_data: Path,
                                                        tmp_path: Path) -> None:
    model = LoadForecaster().fit(_key_presses(shared_data).iloc[:3600])
    path = model.save(tmp_path / "m.pkl")
    state = joblib.load(path)
    del state["zero_mass"]  # the file as an earlier fleetcast wrote it
    joblib.dump(state, path)
    loaded = LoadForecaster.load(path)
    assert loaded.zero_mass_ is None
    a, b = model.forecast(LEADS), loaded.forecast(LEADS)
    assert b.zero_probability is None
    np.testing.assert_array_equal(a.hi80, b.hi80)
