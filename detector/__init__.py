"""Detector: Isolation Forest node-fault detection with hysteresis and localization."""
