"""Value types the forecaster returns, shared with its callers.

A :class:`Forecast` carries the ready-made 80 % / 95 % bounds every caller
needs, plus the Gaussian location and scale on the model's transformed scale
so that callers such as the simulator's trade-off curve can ask for any other
quantile (``Forecast.quantile``) consistently with those bounds.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd

_STD_NORMAL = NormalDist()
Z80 = 1.2815515655446004  # upper end of the central 80 % interval of a standard normal
Z95 = 1.959963984540054
# the share of a standard normal beyond each end of those intervals: a mass at zero at
# least this large fills a band's lower tail (``normal_bands``)
TAIL80 = 0.1
TAIL95 = 0.025


def inverse_transform(z: np.ndarray, transform: str, lmbda: float) -> np.ndarray:
    """Back-transform from the model scale to the original, non-negative scale.

    ``log1p``: ``expm1(z)``; ``boxcox``: Box-Cox of ``y + 1`` with ``lmbda``;
    ``none``: identity.  The result is clipped at zero (load is never negative).
    """
    z = np.asarray(z, dtype=float)
    if transform == "log1p":
        out = np.expm1(np.minimum(z, 700.0))
    elif transform == "boxcox":
        if abs(lmbda) < 1e-12:
            out = np.expm1(np.minimum(z, 700.0))
        else:
            base = np.maximum(lmbda * z + 1.0, 0.0)
            out = np.power(base, 1.0 / lmbda) - 1.0
    elif transform == "none":
        out = z.copy()
    else:
        raise ValueError(f"unknown transform {transform!r}")
    return np.maximum(out, 0.0)


def normal_bands(
    loc: np.ndarray, scale: np.ndarray, transform: str, lmbda: float,
    zero_probability: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """``mean``, ``lo80``, ``hi80``, ``lo95``, ``hi95`` on the original scale (any shape).

    ``zero_probability`` (``forecaster.zeros``, below one half) is a mass at zero:
    a lower bound whose tail it fills (10 % for ``lo80``, 2.5 % for ``lo95``) is 0.
    """

    def back(z: float) -> np.ndarray:
        return inverse_transform(loc + z * scale, transform, lmbda)

    bands = {
        "mean": back(0.0),
        "lo80": back(-Z80),
        "hi80": back(Z80),
        "lo95": back(-Z95),
        "hi95": back(Z95),
    }
    if zero_probability is not None:
        p = np.asarray(zero_probability, dtype=float)
        bands["lo80"] = np.where(p >= TAIL80, 0.0, bands["lo80"])
        bands["lo95"] = np.where(p >= TAIL95, 0.0, bands["lo95"])
    return bands


@dataclass(frozen=True)
class Forecast:
    """A forecast for ``len(timestamps)`` steps after the last observation.

    ``mean`` is the point forecast (the back-transformed centre of the
    model's Gaussian, i.e. the predictive median on the original scale when
    a transform is used).  ``lo80/hi80`` and ``lo95/hi95`` are central
    prediction intervals on the original (back-transformed) scale; all arrays
    are non-negative.  ``loc``/``scale`` are the Gaussian mean and standard
    deviation on the transformed scale named by ``transform``/``lmbda``
    (``scale`` is the model's sd times its calibrated width factor for that lead
    time, see ``forecaster.calibration``); they are optional so that callers may
    build a Forecast by hand.  ``zero_probability``, when set, is each step's
    chance of exactly zero load (``forecaster.zeros``): a mass at zero beneath the
    Gaussian, so every quantile at or below it is 0.
    """

    timestamps: pd.DatetimeIndex
    mean: np.ndarray
    lo80: np.ndarray
    hi80: np.ndarray
    lo95: np.ndarray
    hi95: np.ndarray
    step_seconds: float
    model: str
    loc: np.ndarray | None = None
    scale: np.ndarray | None = None
    transform: str = "none"
    lmbda: float = 1.0
    zero_probability: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.timestamps)

    def quantile(self, q: float) -> np.ndarray:
        """The ``q``-quantile (0 < q < 1) of the predictive distribution, per step.

        ``quantile(0.9)`` equals ``hi80`` and ``quantile(0.025)`` equals ``lo95``.
        Without ``loc``/``scale`` (a hand-built Forecast) a Gaussian on the
        original scale is assumed, centred on ``mean`` with the spread of the
        95 % interval.
        """
        q = float(q)
        if not 0.0 < q < 1.0:
            raise ValueError(f"quantile level must be strictly between 0 and 1, got {q}")
        z = _STD_NORMAL.inv_cdf(q)
        if self.loc is not None and self.scale is not None:
            values = inverse_transform(
                np.asarray(self.loc) + z * np.asarray(self.scale), self.transform, self.lmbda
            )
        else:
            sigma = (np.asarray(self.hi95) - np.asarray(self.lo95)) / (2 * Z95)
            values = np.maximum(np.asarray(self.mean) + z * sigma, 0.0)
        if self.zero_probability is None:
            return values
        return np.where(q <= np.asarray(self.zero_probability), 0.0, values)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "timestamp": self.timestamps,
                "mean": self.mean,
                "lo80": self.lo80,
                "hi80": self.hi80,
                "lo95": self.lo95,
                "hi95": self.hi95,
            }
        )
