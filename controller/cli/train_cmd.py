"""``fleetcast train forecaster|detector``: offline training, models saved with metadata."""

from __future__ import annotations

import click

from controller.cli.detect_cmd import train_detector
from controller.cli.forecast_cmd import train_forecaster


@click.group()
def train() -> None:
    """Train a model offline and save it with its metadata."""


train.add_command(train_forecaster, name="forecaster")
train.add_command(train_detector, name="detector")
