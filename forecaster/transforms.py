"""Variance-stabilising transforms for count-like load.

Load is a count: its noise grows with its level, and it is never negative.
Modelling ``log1p(y)`` (or a Box-Cox power of ``y + 1``) makes the noise
roughly constant, and back-transforming Gaussian quantiles (a monotone map)
gives intervals that widen with the load and stay non-negative.  The inverse
lives in :mod:`forecaster.types` so a :class:`Forecast` can compute any
quantile on its own.
"""

from __future__ import annotations

import numpy as np

TRANSFORMS = ("auto", "log1p", "boxcox", "none")


def choose_transform(y: np.ndarray, requested: str) -> tuple[str, float]:
    """The transform to use and its Box-Cox lambda (1.0 when unused)."""
    if requested not in TRANSFORMS:
        raise ValueError(f"transform must be one of {TRANSFORMS}, got {requested!r}")
    if requested in ("auto", "log1p"):
        return "log1p", 0.0
    if requested == "none":
        return "none", 1.0
    if np.ptp(y) == 0:
        return "log1p", 0.0
    from scipy.stats import boxcox_normmax  # only this transform needs scipy.stats

    lmbda = float(boxcox_normmax(y + 1.0, method="mle"))
    lmbda = float(np.clip(lmbda, 0.0, 1.0))
    return ("log1p", 0.0) if lmbda < 1e-3 else ("boxcox", lmbda)


def forward(y: np.ndarray, transform: str, lmbda: float) -> np.ndarray:
    """Map non-negative load to the model scale."""
    y = np.asarray(y, dtype=float)
    if transform == "log1p":
        return np.log1p(y)
    if transform == "boxcox":
        return (np.power(y + 1.0, lmbda) - 1.0) / lmbda
    if transform == "none":
        return y.copy()
    raise ValueError(f"unknown transform {transform!r}")
