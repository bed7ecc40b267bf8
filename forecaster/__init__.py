"""Forecaster: ARIMA load forecasting with intervals, cheap updates and backtests.

``LoadForecaster`` is the estimator, ``Forecast`` what it returns,
``read_series`` the CSV reader every command shares.
"""

from forecaster.io import SeriesError, read_series
from forecaster.model import LoadForecaster, NotFittedError
from forecaster.types import Forecast

__all__ = ["Forecast", "LoadForecaster", "NotFittedError", "SeriesError", "read_series"]
