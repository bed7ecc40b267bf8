"""``fleetcast detect run|eval`` and ``fleetcast train detector``: the detector offline.

These are thin shells around ``detector``: read and validate files, turn every
user error (missing or unknown column, non-numeric value with its line, empty
file, bad timestamp, unknown node in labels) into a click usage error naming
the flag and file (exit code 2, no traceback), then call ``detect_frame`` /
``evaluate`` / ``NodeDetector.fit``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import pandas as pd

from controller.cli.output import atomic_output, check_output
from detector.frame import DetectorInputError, parse_timestamps, read_fleet_csv

FILE = click.Path(dir_okay=False, path_type=Path)


def _timestamp(value: str | None, flag: str) -> pd.Timestamp | None:
    if value is None:
        return None
    try:
        return pd.Timestamp(parse_timestamps(pd.Series([value]), source=flag, column=flag).iloc[0])
    except DetectorInputError as exc:
        raise click.BadParameter(f"{value!r} is not a timestamp", param_hint=flag) from exc


def _read_metrics(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise click.BadParameter(f"file {str(path)!r} does not exist", param_hint="--metrics")
    try:
        return read_fleet_csv(path)
    except DetectorInputError as exc:
        raise click.BadParameter(str(exc), param_hint="--metrics") from exc


def _split(frame: pd.DataFrame, until: pd.Timestamp, flag: str) -> pd.DataFrame:
    history = frame[frame["timestamp"] < until]
    if history.empty:
        first = frame["timestamp"].min()
        raise click.BadParameter(f"no rows before {until} (data starts {first})", param_hint=flag)
    return history


def _check_after(frame: pd.DataFrame, until: pd.Timestamp, flag: str) -> None:
    """A usage error when no row is left at or after ``until`` to score."""
    last = frame["timestamp"].max()
    if last < until:
        raise click.BadParameter(
            f"no rows at or after {until} to score (data ends {last})", param_hint=flag
        )


def _detector(model: Path | None, params: dict[str, Any], fit_params: dict[str, Any]) -> Any:
    """A fresh detector (fit params apply) or a saved one (its own fit params stay)."""
    from detector.model import NodeDetector

    if model is None:
        return NodeDetector(**params, **fit_params)
    if not model.exists():
        raise click.BadParameter(f"file {str(model)!r} does not exist", param_hint="--model")
    try:
        detector = NodeDetector.load(model)
    except DetectorInputError as exc:
        raise click.BadParameter(str(exc), param_hint="--model") from exc
    return detector.set_params(**params).reset()


def _fit(detector: Any, history: pd.DataFrame, flag: str) -> Any:
    try:
        return detector.fit(history)
    except DetectorInputError as exc:
        raise click.BadParameter(str(exc), param_hint=flag) from exc


max_ejection_option = click.option(
    "--max-ejection-percent",
    type=click.FloatRange(0, 100),
    default=10.0,
    show_default=True,
    help="More nodes anomalous at once than this (at least one) is a fleet-wide anomaly.",
)


def _scales(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> tuple[int, ...] | None:
    """``auto`` (None: resolved from the data's step), ``none`` or spans like ``6,36``."""
    if value is None or value.strip().lower() == "auto":
        return None
    if value.strip().lower() in ("", "none", "0"):
        return ()
    try:
        scales = tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError as exc:
        raise click.BadParameter(f"{value!r}: expected integers like 6,36") from exc
    if any(s < 2 for s in scales):
        raise click.BadParameter(f"{value!r}: every span must be at least 2 windows")
    return scales


def _quantile(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    """``auto`` (None: resolved from the step and training size) or a float in [0.5, 1)."""
    if value is None or value.strip().lower() == "auto":
        return None
    try:
        q = float(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r}: expected 'auto' or a number in [0.5, 1)") from exc
    if not 0.5 <= q < 1.0:
        raise click.BadParameter(f"{value!r}: must be 'auto' or within [0.5, 1)")
    return q


smooth_option = click.option(
    "--smooth-windows",
    callback=_scales,
    default="auto",
    show_default=True,
    help="Also score trailing means over these spans of windows, e.g. 6,36, or 'none'. "
    "auto: 6,36 and the 6-hour span, keeping spans of at most 6 hours at the data's step "
    "(5-minute data: 6,36,72).",
)
quantile_option = click.option(
    "--threshold-quantile",
    callback=_quantile,
    default="auto",
    show_default=True,
    help="Raw flag above this quantile of the training scores. auto: a budget of half a "
    "false flag per node-day, 1 - 0.5/windows-per-day, within [0.995, 1 - 10/training rows].",
)


def _fit_params(
    smooth_windows: tuple[int, ...] | None,
    threshold_quantile: float | None,
    history: pd.DataFrame,
    frame: pd.DataFrame,
) -> dict[str, Any]:
    """Explicit flags win; ``auto`` ones are resolved from the data (detector.auto)."""
    from detector.auto import auto_params
    from detector.frame import infer_step

    auto = auto_params(history, infer_step(frame))
    return {
        "smooth_windows": auto["smooth_windows"] if smooth_windows is None else smooth_windows,
        "threshold_quantile": (
            auto["threshold_quantile"] if threshold_quantile is None else threshold_quantile
        ),
    }


model_option = click.option(
    "--model",
    type=FILE,
    default=None,
    help="Use this saved model (fleetcast train detector) instead of fitting on the history.",
)


@click.group()
def detect() -> None:
    """Find faulty nodes in a long-format fleet metrics CSV (timestamp,node,metric,value)."""


@detect.command("run")
@click.option("--metrics", "metrics_path", type=FILE, required=True, help="Fleet metrics CSV.")
@click.option("--train-until", required=True, help="Fit on rows before this timestamp only.")
@click.option("--out", type=FILE, required=True, help="Alerts CSV to write.")
@model_option
@max_ejection_option
@smooth_option
@quantile_option
def run(
    metrics_path: Path,
    train_until: str,
    out: Path,
    model: Path | None,
    max_ejection_percent: float,
    smooth_windows: tuple[int, ...] | None,
    threshold_quantile: float | None,
) -> None:
    """Fit on the history, then write one row per (timestamp, node) after --train-until.

    Columns: timestamp,node,score,anomalous,top_metrics (anomalous is 0/1 after
    hysteresis; top_metrics is ';'-separated; 'absent' for a silent node).
    """
    from detector.batch import detect_frame

    check_output(out, "--out", inputs=[metrics_path])
    until = _timestamp(train_until, "--train-until")
    assert until is not None
    frame = _read_metrics(metrics_path)
    _check_after(frame, until, "--train-until")
    history = _split(frame, until, "--train-until") if model is None else frame.iloc[:0]
    fit_params = _fit_params(smooth_windows, threshold_quantile, history, frame)
    detector = _detector(model, {"max_ejection_percent": max_ejection_percent}, fit_params)
    if model is None:
        _fit(detector, history, "--metrics")
    try:
        result = detect_frame(detector, frame, until)
    except DetectorInputError as exc:
        raise click.BadParameter(str(exc), param_hint="--metrics") from exc
    alerts = result.alerts
    with atomic_output(out, "--out") as partial:
        alerts.to_csv(partial, index=False, float_format="%.6f")
    flagged = alerts[alerts["anomalous"] == 1]
    click.echo(
        f"wrote {len(alerts)} rows to {out}: {len(flagged)} anomalous node-windows on "
        f"{flagged['node'].nunique()} node(s), {len(result.fleet)} fleet-wide window(s) "
        f"(smooth windows {','.join(map(str, detector.smooth_windows)) or 'none'}, "
        f"threshold quantile {detector.threshold_quantile})",
        err=True,
    )


@detect.command("eval")
@click.option("--metrics", "metrics_path", type=FILE, required=True, help="Fleet metrics CSV.")
@click.option(
    "--labels", "labels_path", type=FILE, required=True, help="Labels CSV node,start,end."
)
@click.option("--train-until", required=True, help="Fit on rows before this timestamp only.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@model_option
@max_ejection_option
@smooth_option
@quantile_option
def eval_(
    metrics_path: Path,
    labels_path: Path,
    train_until: str,
    as_json: bool,
    model: Path | None,
    max_ejection_percent: float,
    smooth_windows: tuple[int, ...] | None,
    threshold_quantile: float | None,
) -> None:
    """Event-level precision/recall/F1, median delay, localization vs two peers."""
    from detector.evaluate import evaluate, read_labels

    until = _timestamp(train_until, "--train-until")
    assert until is not None
    frame = _read_metrics(metrics_path)
    _check_after(frame, until, "--train-until")
    if not labels_path.exists():
        raise click.BadParameter(f"file {str(labels_path)!r} does not exist", param_hint="--labels")
    try:
        labels = read_labels(labels_path, known_nodes=set(frame["node"].unique()))
    except DetectorInputError as exc:
        raise click.BadParameter(str(exc), param_hint="--labels") from exc
    if not (labels["end"] >= until).any():
        raise click.BadParameter(f"no labelled window ends after {until}", param_hint="--labels")
    history = _split(frame, until, "--train-until")
    fit_params = _fit_params(smooth_windows, threshold_quantile, history, frame)
    detector = _detector(model, {"max_ejection_percent": max_ejection_percent}, fit_params)
    try:
        report = evaluate(frame, labels, until, detector)
    except DetectorInputError as exc:
        raise click.BadParameter(str(exc), param_hint="--metrics") from exc
    report["settings"] = {
        "smooth_windows": list(detector.smooth_windows),
        "threshold_quantile": detector.threshold_quantile,
        "model": None if model is None else str(model),
    }
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(
        f"{report['nodes']} nodes, metrics {', '.join(report['metrics'])}; trained before "
        f"{report['train_until']}; smooth windows "
        f"{','.join(map(str, detector.smooth_windows)) or 'none'}, threshold quantile "
        f"{detector.threshold_quantile}"
    )
    head = f"{'method':<10} {'events':>6} {'found':>5} {'FP':>4} {'prec':>6} {'recall':>6} "
    click.echo(head + f"{'F1':>6} {'delay_s':>8} {'loc_acc':>7}")
    for name in ("detector", "robust_z", "envoy"):
        row = report[name]
        if not row.get("applicable", True):
            click.echo(f"{name:<10} not applicable: {row['reason']}")
            continue
        delay = row["median_delay_seconds"]
        loc = row["localization_accuracy"]
        click.echo(
            f"{name:<10} {row['events']:>6} {row['found']:>5} {row['false_episodes']:>4} "
            f"{row['precision']:>6.3f} {row['recall']:>6.3f} {row['f1']:>6.3f} "
            f"{'-' if delay is None else f'{delay:.0f}':>8} "
            f"{'-' if loc is None else f'{loc:.3f}':>7}"
        )


@click.command("detector")
@click.option("--metrics", "metrics_path", type=FILE, required=True, help="Fleet metrics CSV.")
@click.option("--until", default=None, help="Train on rows before this timestamp only.")
@click.option("--out", type=FILE, required=True, help="Model file to write (joblib).")
@max_ejection_option
@smooth_option
@quantile_option
def train_detector(
    metrics_path: Path,
    until: str | None,
    out: Path,
    max_ejection_percent: float,
    smooth_windows: tuple[int, ...] | None,
    threshold_quantile: float | None,
) -> None:
    """Fit a detector on (healthy) fleet history and save it with its metadata."""
    from detector.model import NodeDetector

    check_output(out, "--out", inputs=[metrics_path])
    frame = _read_metrics(metrics_path)
    cutoff = _timestamp(until, "--until")
    history = _split(frame, cutoff, "--until") if cutoff is not None else frame
    detector = NodeDetector(
        max_ejection_percent=max_ejection_percent,
        **_fit_params(smooth_windows, threshold_quantile, history, frame),
    )
    detector = _fit(detector, history, "--metrics")
    with atomic_output(out, "--out") as partial:
        detector.save(partial)
    meta = detector.metadata_
    click.echo(
        f"saved {out}: {meta['training_rows']} node-windows from {meta['training_range'][0]} "
        f"to {meta['training_range'][1]}, {len(meta['metrics'])} metric(s), "
        f"threshold {detector.threshold_:.4f}",
        err=True,
    )
