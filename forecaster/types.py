"""Value types the forecaster returns, shared with its callers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Forecast:
    """A forecast for ``len(timestamps)`` steps after the last observation.

    ``lo80/hi80`` and ``lo95/hi95`` are central prediction intervals on the
    original (back-transformed) scale; all arrays are non-negative.
    """

    timestamps: pd.DatetimeIndex
    mean: np.ndarray
    lo80: np.ndarray
    hi80: np.ndarray
    lo95: np.ndarray
    hi95: np.ndarray
    step_seconds: float
    model: str

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
