"""What a fitted load forecaster records about its fit (``LoadForecaster.metadata_``).

Saved with the model and shown by ``fleetcast train forecaster``: the chosen
model, its data range and step, fit statistics, the orders tried, the notes the
fit left, and the library versions it ran on.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from forecaster.model import LoadForecaster


def fit_metadata(model: LoadForecaster, series: pd.Series, seconds: float,
                 notes: list[str]) -> dict[str, Any]:
    """The metadata of ``model`` just fitted on ``series`` in ``seconds``."""
    import scipy
    import statsmodels

    try:
        from importlib.metadata import version

        fleetcast_version = version("fleetcast")
    except Exception:  # not installed as a distribution
        fleetcast_version = "unknown"
    return {
        "model": model.describe(),
        "order": list(model.order_),
        "seasonal_periods": list(model.seasonal_periods_),
        "harmonics": [s.harmonics for s in model.seasons_],
        "holidays": list(model.holiday_effects_.names),
        # the yearly wave of a daily series, read on the points before the window too
        "yearly_wave": None if model.yearly_.season is None else {
            "period": model.yearly_.season.period,
            "harmonics": model.yearly_.season.harmonics,
            "read_from": (model.older_ if len(model.older_) else series).index[0].isoformat(),
        },
        "transform": model.transform_,
        "boxcox_lambda": model.lmbda_,
        "step_seconds": model.step_,
        "business_days": model.business_days_,
        "trained_start": series.index[0].isoformat(),
        "trained_end": series.index[-1].isoformat(),
        "n_points": len(series),
        "fit_seconds": round(seconds, 4),
        "aicc": model.error_model_.aicc,
        "llf": model.error_model_.llf,
        "sigma2": model.error_model_.sigma2,
        "converged": model.error_model_.converged,
        "interval_width_factors": [round(float(f), 4) for f in model.width_factors_],
        "interval_calibration": model.calibration_,
        "zero_mass": model.zero_note_,
        "orders_tried": model.error_model_.tried,
        "notes": notes,
        "versions": {
            "fleetcast": fleetcast_version,
            "statsmodels": statsmodels.__version__,
            "numpy": np.__version__,
            "pandas": pd.__version__,
            "scipy": scipy.__version__,
        },
    }


def warning_notes(caught: list[warnings.WarningMessage]) -> list[str]:
    """The fit's first five distinct convergence warnings, as notes (the rest are quiet)."""
    seen: list[str] = []
    for w in caught:
        text = f"{w.category.__name__}: {str(w.message).splitlines()[0]}"
        if "Convergence" in text and text not in seen:
            seen.append(text)
    return seen[:5]
