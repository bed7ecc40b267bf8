"""Forecaster: ARIMA load forecasting with intervals, cheap updates and backtests."""
