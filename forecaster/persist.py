"""Saving and loading a fitted :class:`forecaster.model.LoadForecaster`.

The file (joblib) holds the parameters, the learned state (transform, seasons and
their coefficients, holiday effects, the ARIMA order and parameters, the interval
width factors), the data since the fit and the metadata.  Loading rebuilds the
Kalman filter over that data with the saved parameters, so forecasts equal the
saved model's.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import joblib
import numpy as np
import pandas as pd

from forecaster import busdays
from forecaster.holiday_effects import HolidayEffects
from forecaster.seasonality import Season
from forecaster.selection import ErrorModel
from forecaster.transforms import forward
from forecaster.yearly import NO_WAVE, YearlyWave
from forecaster.zeros import ZeroMass

if TYPE_CHECKING:
    from forecaster.model import LoadForecaster

    M = TypeVar("M", bound=LoadForecaster)

_FORMAT = 1


def save_model(model: LoadForecaster, path: str | Path) -> Path:
    """Write a fitted ``model`` to ``path`` (parent folders created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "format": _FORMAT,
        "params": model.get_params(),
        "history": model.history_,
        "older": model.older_,
        "fit_start": model.fit_start_,
        "step": model.step_,
        "business_days": model.business_days_,
        "transform": model.transform_,
        "lmbda": model.lmbda_,
        "d": model.d_,
        "seasons": [(s.period, s.harmonics) for s in model.seasons_],
        "coef": model.coef_,
        "holidays": (
            model.holiday_effects_.country,
            model.holiday_effects_.names,
            model.holiday_effects_.coef,
            model.holiday_effects_.profile,
        ),
        "order": model.order_,
        "error_params": model.error_model_.params,
        "seasonal_order": model.error_model_.seasonal_order,
        "seasonal_periods": model.seasonal_periods_,
        "width_factors": model.width_factors_,
        "zero_mass": (None if model.zero_mass_ is None else
                      (model.zero_mass_.intercept, model.zero_mass_.slope)),
        "yearly": (None if model.yearly_.season is None else
                   (model.yearly_.season.period, model.yearly_.season.harmonics,
                    model.yearly_.coef)),
        "metadata": model.metadata_,
    }
    joblib.dump(state, path)
    return path


def load_model(cls: type[M], path: str | Path) -> M:
    """A ``cls`` model read from a file :func:`save_model` wrote."""
    path = Path(path)
    try:
        state = joblib.load(path)
    except FileNotFoundError:
        raise
    except Exception as exc:  # a corrupt or foreign file
        raise ValueError(f"{path}: not a fleetcast forecaster model ({exc})") from exc
    if not isinstance(state, dict) or state.get("format") != _FORMAT:
        raise ValueError(f"{path}: not a fleetcast forecaster model (format {_FORMAT})")
    model = cls(**state["params"])
    model.step_ = state["step"]
    model.business_days_ = bool(state.get("business_days", False))
    model.transform_ = state["transform"]
    model.lmbda_ = state["lmbda"]
    model.d_ = state["d"]
    model.seasons_ = tuple(Season(p, k) for p, k in state["seasons"])
    model.seasonal_periods_ = tuple(state["seasonal_periods"])
    model.coef_ = state["coef"]
    # a model saved before holiday regressors existed has none
    country, names, coef, *rest = state.get("holidays", ("", (), np.empty(0)))
    profile = rest[0] if rest else None  # saved before sub-daily holidays: none
    model.holiday_effects_ = HolidayEffects(
        country, tuple(names), np.asarray(coef, float),
        None if profile is None else np.asarray(profile, float),
    )
    model.order_ = tuple(state["order"])
    model.error_model_ = ErrorModel(
        model.order_, state["error_params"], seasonal_order=tuple(state["seasonal_order"])
    )
    # a model saved before the factors existed keeps its uncalibrated widths
    model.width_factors_ = np.asarray(state.get("width_factors", np.ones(1)), dtype=float)
    mass = state.get("zero_mass")  # saved before the mass at zero existed: none
    model.zero_mass_ = None if mass is None else ZeroMass(float(mass[0]), float(mass[1]))
    model.metadata_ = state["metadata"]
    wave = state.get("yearly")  # saved before yearly waves existed: none
    model.yearly_ = NO_WAVE if wave is None else YearlyWave(
        Season(wave[0], wave[1]), np.asarray(wave[2], float))
    model.fit_start_ = state["fit_start"]
    history = state["history"]
    model.older_ = state.get("older", history.iloc[:0])  # saved before yearly waves: none
    model.history_ = history.iloc[:0]
    model.last_timestamp_ = (
        busdays.step_before(history.index[0]) if model.business_days_
        else history.index[0] - pd.Timedelta(seconds=model.step_)
    )
    y = history.to_numpy(dtype=float)
    z = forward(y, model.transform_, model.lmbda_)
    resid = z - model._regression(model._positions(pd.DatetimeIndex(history.index)))
    model.results_ = model.error_model_.filter(resid)
    model._start_filter(model.results_)
    model.history_ = history
    model.last_timestamp_ = history.index[-1]
    return model

