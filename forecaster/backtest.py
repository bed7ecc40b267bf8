"""Rolling-origin backtests: does the model beat naive and seasonal naive?

Forecast accuracy claims need the same origins for every method and a fit
that sees only data before its origin.  ``rolling_origin`` places ``origins``
evenly over the last ``fraction`` of the series, fits a fresh model on the
data before each (bounded by the model's own ``max_history``), forecasts
``horizon`` steps, and scores it against the naive and seasonal-naive
forecasts from the same origins: MASE (scaled by the in-sample seasonal-naive
error before the first origin, so ratios between methods are what matters),
sMAPE in percent and the share of actuals inside the 80 % interval.
Baseline intervals come from the empirical quantiles of their own h-step
errors on the training data.

Points the reader filled in across a gap (``forecaster.regular.filled_mask``) are
not observations, and a backtest that scored them would measure agreement
with a straight line, one that already knows the next real value.  So, as
with missing values in R's ``forecast::accuracy``: an origin never sits inside
a filled gap (one that would moves back to the gap's last observed point
before it, or forward past it when that leaves the scored span); only horizon
steps whose actual was observed are scored, for the model and both baselines
alike; and the MASE scale and the baselines' error quantiles use only pairs
of observed points.  Filled steps stay in the rows with ``actual`` empty, and
the summary counts them (``excluded_filled``).  A series without filled
points backtests exactly as before.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from forecaster.model import LoadForecaster
from forecaster.regular import filled_mask
from forecaster.seasonality import DAY_SECONDS, calendar_periods
from forecaster.yearly import NO_WAVE

BASELINE_WINDOW = 4032  # points of history the baselines' error quantiles use


@dataclass(frozen=True)
class BacktestResult:
    """Per-point forecasts of every method and the summary metrics."""

    rows: pd.DataFrame  # origin, timestamp, actual, mean, lo80, hi80 (the model); actual
    # is NaN where the reader filled the point in (not scored)
    baselines: pd.DataFrame  # origin, timestamp, method, actual, mean, lo80, hi80
    summary: dict[str, Any]


def origin_positions(n: int, horizon: int, origins: int, fraction: float = 0.3,
                     filled: np.ndarray | None = None) -> list[int]:
    """Positions of the first forecast point of each origin, evenly over the last ``fraction``.

    With ``filled`` (a mask of filled-in points), an origin (the point before
    that position) is never a filled point: one that would be moves back to the
    last observed point before it, or forward when there is none in the span;
    origins that meet are kept once.
    """
    if horizon < 1 or origins < 1:
        raise ValueError("horizon and origins must be positive")
    if not 0.0 < fraction < 1.0:
        raise ValueError("fraction must be between 0 and 1")
    first = n - int(np.floor(fraction * n))
    last = n - horizon
    if last < first:
        raise ValueError(
            f"series of {n} points is too short for horizon {horizon} in its last "
            f"{fraction:.0%} ({n - first} points)"
        )
    count = min(origins, last - first + 1)
    wanted = sorted({int(round(x)) for x in np.linspace(first, last, count)})
    if filled is None or not np.asarray(filled).any():
        return wanted
    usable = np.flatnonzero(~np.asarray(filled, dtype=bool)[first - 1:last]) + first
    if len(usable) == 0:
        raise ValueError(
            f"every point in the last {fraction:.0%} of the series was filled in across a "
            "gap: no observed point to start a forecast from"
        )
    moved = set()
    for pos in wanted:
        at = int(np.searchsorted(usable, pos, side="right")) - 1  # last usable <= pos
        moved.add(int(usable[at]) if at >= 0 else int(usable[0]))
    return sorted(moved)


def _empirical_bounds(errors: np.ndarray, spread: float = 0.8) -> tuple[float, float]:
    if len(errors) == 0:
        return 0.0, 0.0
    tail = (1 - spread) / 2
    return float(np.quantile(errors, tail)), float(np.quantile(errors, 1 - tail))


def _lag_errors(y: np.ndarray, lag: int, observed: np.ndarray | None) -> np.ndarray:
    """``y[t] - y[t - lag]`` over the pairs whose two points were both observed."""
    diff = y[lag:] - y[:-lag]
    return diff if observed is None else diff[observed[lag:] & observed[:-lag]]


def baseline_forecasts(
    history: np.ndarray, horizon: int, season: int, filled: np.ndarray | None = None
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Naive and seasonal-naive means with empirical 80 % bounds, clipped at zero.

    ``filled`` (a mask over ``history``) keeps pairs with a filled-in point out
    of the error quantiles."""
    window = BASELINE_WINDOW + season * 2 + horizon
    y = history[-window:]
    observed = None if filled is None else ~np.asarray(filled, dtype=bool)[-window:]
    out: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    naive_mean = np.full(horizon, history[-1])
    lo, hi = np.empty(horizon), np.empty(horizon)
    for h in range(1, horizon + 1):
        lo[h - 1], hi[h - 1] = _empirical_bounds(_lag_errors(y, h, observed))
    out["naive"] = (naive_mean, np.maximum(naive_mean + lo, 0), np.maximum(naive_mean + hi, 0))
    m = max(1, int(season))
    snaive = np.empty(horizon)
    lo, hi = np.empty(horizon), np.empty(horizon)
    for h in range(1, horizon + 1):
        lag = m * ((h - 1) // m + 1)
        snaive[h - 1] = history[len(history) - lag + (h - 1)]
        lo[h - 1], hi[h - 1] = _empirical_bounds(_lag_errors(y, lag, observed))
    out["seasonal_naive"] = (snaive, np.maximum(snaive + lo, 0), np.maximum(snaive + hi, 0))
    return out


def _scores(actual: np.ndarray, mean: np.ndarray, lo: np.ndarray, hi: np.ndarray,
            scale: float, origin: np.ndarray) -> dict[str, Any]:
    """MASE, sMAPE and 80 % coverage over the steps whose actual was observed (not NaN),
    with a 95 % interval for the coverage (:func:`coverage_interval`)."""
    keep = np.isfinite(actual)
    actual, mean, lo, hi = actual[keep], mean[keep], lo[keep], hi[keep]
    err = np.abs(actual - mean)
    denom = np.abs(actual) + np.abs(mean)
    smape = np.where(denom > 0, 200.0 * err / np.where(denom > 0, denom, 1), 0.0)
    inside = (actual >= lo) & (actual <= hi)
    return {
        "mase": float(np.mean(err) / scale),
        "smape": float(np.mean(smape)),
        "coverage80": float(np.mean(inside)),
        "coverage80_ci95": coverage_interval(inside, np.asarray(origin)[keep]),
    }


def coverage_interval(inside: np.ndarray, origin: np.ndarray,
                      level: float = 0.95) -> list[float]:
    """A ``level`` interval for the share of actuals inside the bands, by origin.

    The steps of one origin share its forecast's errors (a band that misses at
    lead 3 mostly misses at lead 4), so they are not independent draws: the
    standard error is the cluster-robust one of a ratio mean over origins,
    ``sqrt(sum n_i^2 (c_i - c)^2 / (K (K - 1))) / mean(n_i)`` for ``K`` origins with
    ``n_i`` scored steps and coverage ``c_i`` each, and the interval is ``c`` plus or
    minus Student's t on ``K - 1`` degrees of freedom times it, clipped to [0, 1].
    With 20 origins of 12 steps a coverage of 62 % can come with an interval of
    51-73 %, too wide to tell a 70 % band from a well-calibrated one; more origins
    narrow it.  With fewer than two origins nothing can be said: ``[0, 1]``.
    """
    from scipy.stats import t as student_t

    inside = np.asarray(inside, dtype=float)
    by_origin = pd.DataFrame({"origin": origin, "inside": inside}).groupby(
        "origin", sort=False)["inside"].agg(["sum", "count"])
    k = len(by_origin)
    if k < 2:
        return [0.0, 1.0]
    share = float(inside.mean())
    counts = by_origin["count"].to_numpy(dtype=float)
    residual = by_origin["sum"].to_numpy(dtype=float) - share * counts  # n_i (c_i - c)
    se = float(np.sqrt(np.sum(residual ** 2) / (k * (k - 1))) / counts.mean())
    half = float(student_t.ppf(0.5 + level / 2, k - 1)) * se
    return [max(0.0, share - half), min(1.0, share + half)]


def _default_season(model: LoadForecaster, step_seconds: float, n: int) -> int:
    """The daily period when the model kept it (or the data allow it), else its shortest
    calendar season (the week of daily totals, the year of weekly ones: a yearly wave
    counts), else its shortest period."""
    periods = getattr(model, "seasonal_periods_", ())
    daily = DAY_SECONDS / step_seconds
    if any(abs(p - daily) < 1e-6 for p in periods) or (
        not periods and daily == int(daily) and n >= 2 * daily
    ):
        return int(round(daily))
    wave = getattr(model, "yearly_", NO_WAVE).season
    calendar = [p for p in periods if p in calendar_periods(step_seconds)]
    calendar += [] if wave is None else [wave.period]
    if calendar or periods:
        return max(1, int(round(min(calendar or periods))))
    return 1


def rolling_origin(
    series: pd.Series,
    horizon: int,
    origins: int,
    make_model: Callable[[], LoadForecaster] = LoadForecaster,
    fraction: float = 0.3,
    season: int | None = None,
    refit_every: int = 1,
    progress: bool = False,
) -> BacktestResult:
    """Backtest ``make_model()`` against naive and seasonal naive on the same origins.

    With ``refit_every > 1`` the model is re-estimated only at every
    ``refit_every``-th origin and ``update``-d in between (still never seeing
    data after its origin).
    """
    if refit_every < 1:
        raise ValueError("refit_every must be >= 1")
    filled = filled_mask(series)
    positions = origin_positions(len(series), horizon, origins, fraction, filled)
    values = series.to_numpy(dtype=float)
    observed_values = np.where(filled, np.nan, values)  # what the scores compare against
    step_seconds = 0.0  # the fitted model's (business days are not one fixed step)
    rows: list[dict[str, Any]] = []
    base_rows: list[dict[str, Any]] = []
    fit_seconds: list[float] = []
    model: LoadForecaster | None = None
    seen = 0
    description = ""
    for i, pos in enumerate(tqdm(positions, desc="backtest", unit="origin", disable=not progress)):
        if model is None or i % refit_every == 0:
            started = time.perf_counter()
            model = make_model().fit(series.iloc[:pos])
            fit_seconds.append(time.perf_counter() - started)
            step_seconds = model.step_
        elif pos > seen:
            model.update(series.iloc[seen:pos])
        seen = pos
        if season is None:
            season = _default_season(model, step_seconds, pos)
        forecast = model.forecast(horizon)
        description = forecast.model
        origin = series.index[pos - 1]
        actual = observed_values[pos:pos + horizon]
        for h in range(horizon):
            rows.append({
                "origin": origin, "timestamp": series.index[pos + h], "actual": actual[h],
                "mean": forecast.mean[h], "lo80": forecast.lo80[h], "hi80": forecast.hi80[h],
            })
        baselines = baseline_forecasts(values[:pos], horizon, season, filled[:pos])
        for method, (mean, lo, hi) in baselines.items():
            for h in range(horizon):
                base_rows.append({
                    "origin": origin, "timestamp": series.index[pos + h], "method": method,
                    "actual": actual[h], "mean": mean[h], "lo80": lo[h], "hi80": hi[h],
                })
    frame = pd.DataFrame(rows)
    base = pd.DataFrame(base_rows)
    assert season is not None
    scored = int(frame["actual"].notna().sum())
    if scored == 0:
        raise ValueError("every forecast step fell on a point filled in across a gap: "
                         "no observed actual to score")
    train = values[:positions[0]]
    lag = season if len(train) > season + 1 else 1
    # in-sample seasonal-naive error over pairs of observed points (a filled-in line's
    # differences are not errors of any method)
    pairs = _lag_errors(train, lag, ~filled[:positions[0]]) if len(train) > lag else np.empty(0)
    scale = float(np.mean(np.abs(pairs))) if len(pairs) else 1.0
    scale = scale if scale > 0 else 1.0
    summary: dict[str, Any] = {
        "horizon": horizon,
        "origins": len(positions),
        "forecasts": len(frame),
        "scored": scored,
        "excluded_filled": len(frame) - scored,
        "filled_points": int(filled.sum()),
        "first_origin": str(series.index[positions[0] - 1]),
        "last_origin": str(series.index[positions[-1] - 1]),
        "step_seconds": step_seconds,
        "season": season,
        "mase_scale": scale,
        "model": {
            **_scores(frame["actual"].to_numpy(), frame["mean"].to_numpy(),
                      frame["lo80"].to_numpy(), frame["hi80"].to_numpy(), scale,
                      frame["origin"].to_numpy()),
            "name": description,
            "fit_seconds_median": float(np.median(fit_seconds)),
        },
    }
    for method in ("naive", "seasonal_naive"):
        part = base[base["method"] == method]
        summary[method] = _scores(part["actual"].to_numpy(), part["mean"].to_numpy(),
                                  part["lo80"].to_numpy(), part["hi80"].to_numpy(), scale,
                                  part["origin"].to_numpy())
    best = min(summary["naive"]["mase"], summary["seasonal_naive"]["mase"])
    summary["mase_vs_best_baseline"] = summary["model"]["mase"] / best if best > 0 else float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summary["improvement_vs_best_baseline"] = 1.0 - summary["mase_vs_best_baseline"]
    return BacktestResult(rows=frame, baselines=base, summary=summary)
