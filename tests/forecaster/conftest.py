"""Builders of synthetic load series with known structure."""

from __future__ import annotations

import numpy as np
import pandas as pd


def seasonal_series(
    n: int = 960,
    period: float = 96,
    step: str = "15min",
    level: float = 200.0,
    amplitude: float = 0.5,
    noise: float = 0.05,
    seed: int = 0,
    start: str = "2024-01-01",
) -> pd.Series:
    """Count-like load: exp(level + sine of ``period`` steps + AR(1) noise)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    ar = np.zeros(n)
    e = rng.normal(scale=noise, size=n)
    for i in range(1, n):
        ar[i] = 0.6 * ar[i - 1] + e[i]
    z = np.log(level) + amplitude * np.sin(2 * np.pi * t / period) + ar
    index = pd.date_range(start, periods=n, freq=step)
    return pd.Series(np.round(np.exp(z)), index=index, name="value")


def arma_series(n: int, seed: int, phi: float = 0.7, theta: float = 0.3,
                level: float = 100.0) -> pd.Series:
    """ARMA(1,1) around ``level`` with unit innovations (never near zero)."""
    rng = np.random.default_rng(seed)
    e = rng.normal(size=n + 100)
    x = np.zeros(n + 100)
    for i in range(1, n + 100):
        x[i] = phi * x[i - 1] + e[i] + theta * e[i - 1]
    index = pd.date_range("2024-03-01", periods=n, freq="1min")
    return pd.Series(level + x[100:], index=index, name="value")


def momentum_series(n: int, seed: int, phi: float = 0.6) -> pd.Series:
    """ARIMA(1,1,0): steps that persist, so a random walk's h-step sd is too small."""
    rng = np.random.default_rng(seed)
    e = rng.normal(size=n)
    steps = np.zeros(n)
    for i in range(1, n):
        steps[i] = phi * steps[i - 1] + e[i]
    index = pd.date_range("2024-03-01", periods=n, freq="5min")
    return pd.Series(500.0 + np.cumsum(steps), index=index, name="value")


def sharp_hourly_series(n: int = 1200) -> pd.Series:
    """A spiky 5-minute series with an hourly shape whose spike height wanders from hour
    to hour, so fixed harmonics cannot follow it (seasonal ARIMA is chosen)."""
    rng = np.random.default_rng(5)
    shape = np.array([30, 30, 31, 30, 30, 30, 30, 34, 43, 72, 45, 31], dtype=float)
    height = np.repeat(np.exp(np.cumsum(rng.normal(scale=0.15, size=n // 12))), 12)
    base = np.tile(shape, n // 12)
    values = (30 + (base - 30) * height) * np.exp(rng.normal(scale=0.02, size=n))
    index = pd.date_range("2024-01-01", periods=n, freq="5min")
    return pd.Series(values, index=index)
