"""Shipped detector models (package data); see ``detector.train_default``."""
