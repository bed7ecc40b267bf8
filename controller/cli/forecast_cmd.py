"""``fleetcast forecast predict|backtest`` and ``fleetcast train forecaster``.

The offline face of the forecaster: read a series CSV (shared reader, so the
same column, resampling and gap rules as every other command), fit, and write
CSV/JSON in the shapes DESIGN's CLI contracts fix.  Bad input is a usage error
naming the flag, file and line, never a traceback.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import numpy as np
import pandas as pd

from controller.cli.output import atomic_output, check_output
from forecaster import Forecast, LoadForecaster, SeriesError, read_series
from forecaster.holiday_effects import check_country
from forecaster.io import AGGREGATIONS
from forecaster.model import DEFAULT_HISTORY_DAYS
from forecaster.regular import DEFAULT_MAX_GAP

PREDICT_COLUMNS = ["timestamp", "mean", "lo80", "hi80", "lo95", "hi95"]
BACKTEST_COLUMNS = ["origin", "timestamp", "actual", "mean", "lo80", "hi80"]
# Per-origin fit window in backtests: four weeks of 5-minute steps keeps many origins fast.
BACKTEST_MAX_HISTORY = 8064
# predict and train fit on at most this many points (91 days at 1 minute): the raw
# per-minute World Cup file (125,310 points) answers in about 12 s, twice that took 24 s
FIT_MAX_POINTS = 131_072
# --intervals: LoadForecaster's interval_calibration, spelled as a flag value
INTERVALS = ("held-out", "in-sample", "none")
# how messages name the series read from standard input (--csv -)
STDIN = "<stdin>"


def _series_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--csv", "csv_path", required=True,
                     type=click.Path(exists=True, dir_okay=False, allow_dash=True,
                                     path_type=Path),
                     help="Series CSV: a time column and a value column; - reads it from "
                          "standard input."),
        click.option("--time-col", default=None,
                     help="Name of the time column (any case).  Default: timestamp, or the "
                          "first column of a two-column file."),
        click.option("--value-col", default=None,
                     help="Name of the value column (count or rate per step).  Default: "
                          "value, or the second column of a two-column file."),
        click.option("--freq", default=None, callback=check_freq,
                     help="Resample to this step first, e.g. 5min or 1h (raw traces); "
                          "B = business days (Monday to Friday)."),
        click.option("--agg", type=click.Choice(AGGREGATIONS), default="sum", show_default=True,
                     help="How --freq aggregates the points in a step; count counts rows "
                          "(events), so an event log of bare timestamps needs no value "
                          "column."),
        click.option("--max-gap", type=click.IntRange(min=0), default=DEFAULT_MAX_GAP,
                     show_default=True,
                     help="Fill missing runs up to this many steps by interpolation; "
                          "a longer gap is an error, unless the rows after the last one "
                          "span four weeks or more (two years for daily steps): the file "
                          "is then read from there on, with a note."),
        click.option("--tz", default=None,
                     help="Time zone of naive timestamps, e.g. Europe/London: read them as "
                          "that zone's local time (daylight-saving changes included); "
                          "timestamps with offsets are converted to it."),
        click.option("--max-history", type=click.IntRange(min=16), default=None,
                     help="Fit on at most this many most recent points.  Default: predict "
                          f"and train use the whole file up to {FIT_MAX_POINTS} points; "
                          f"backtest fits at most {BACKTEST_MAX_HISTORY} points before each "
                          "origin."),
        click.option("--max-history-days", type=click.FloatRange(min=0),
                     default=DEFAULT_HISTORY_DAYS, show_default=True,
                     help="At steps of a day or less, also leave out points more than this "
                          "many days before the last one fitted (daily load's weekly shape "
                          "drifts over the years); 0 = no limit."),
        click.option("--holidays", default="US", show_default=True, callback=_holidays_option,
                     help="Country (ISO code, e.g. US, GB, DE) or country-subdivision "
                          "(e.g. DE-BY, US-CA, GB-SCT) whose holidays a daily series "
                          "may get a regressor each, when their days stand out of the data "
                          "(steps of 1 to 12 h: one regressor drawing every public "
                          "holiday towards a Sunday's daily shape); none = no holiday "
                          "regressors.  Steps under 1 h or over a day never get them."),
        click.option("--intervals", type=click.Choice(INTERVALS), default="held-out",
                     show_default=True,  # passed on as LoadForecaster's spelling
                     callback=lambda ctx, param, value: value.replace("-", "_"),
                     help="How the 80/95 % bounds are sized: held-out = from the errors of a "
                          "model fitted before the fit window's last 30 % on that stretch "
                          "(about twice the fit time); in-sample = from the fitted model's "
                          "errors over its own window (never narrower than its sd); none = "
                          "the model's own sd."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def check_freq(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--freq`` as given, unless it parses to a step of zero or less (pandas then
    fails inside resampling) or pandas names it a deprecated alias (``1H``, ``5T``,
    ``5minutes``: its warning text reached the user, and pandas 3 refuses them);
    anything else the series reader judges and names."""
    if value is None:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        try:
            offset = pd.tseries.frequencies.to_offset(value)
        except FutureWarning as warning:
            raise click.BadParameter(
                f"{value!r} is a deprecated spelling (pandas: {str(warning).rstrip('.')}); "
                "use e.g. 5min, 30s or 1h") from None
        except (ValueError, TypeError):
            return value
    if offset.n <= 0:
        raise click.BadParameter(f"{value!r} is not a positive step; use e.g. 5min or 1h")
    return value


def _holidays_option(ctx: click.Context, param: click.Parameter, value: str) -> str | None:
    if value.strip().lower() == "none":
        return None
    try:
        return check_country(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc).removeprefix("holidays: ")) from exc


def _read(csv_path: Path, time_col: str | None, value_col: str | None, freq: str | None,
          agg: str, max_gap: int, tz: str | None) -> pd.Series:
    """The series in ``csv_path``, or on standard input for ``-`` (spooled to a
    temporary file, since the reader looks at the bytes more than once; messages
    name it ``<stdin>``)."""
    if str(csv_path) != "-":
        return _read_file(csv_path, csv_path, time_col, value_col, freq, agg, max_gap, tz)
    stdin = sys.stdin.buffer
    if stdin.isatty():
        raise click.BadParameter("- reads the series from standard input, which is a "
                                 "terminal here: pipe the CSV in (... --csv - < load.csv)",
                                 param_hint="'--csv'")
    with tempfile.TemporaryDirectory(prefix="fleetcast-") as tmp:
        spooled = Path(tmp) / "stdin.csv"
        spooled.write_bytes(stdin.read())
        return _read_file(spooled, _shown(csv_path), time_col, value_col, freq, agg, max_gap,
                          tz)


def _shown(csv_path: Path) -> Path:
    """``csv_path`` as messages name it: ``<stdin>`` for ``-``."""
    return Path(STDIN) if str(csv_path) == "-" else csv_path


def _read_file(path: Path, shown: Path, time_col: str | None, value_col: str | None,
               freq: str | None, agg: str, max_gap: int, tz: str | None) -> pd.Series:
    try:
        series = read_series(path, time_col=time_col, value_col=value_col, freq=freq,
                             agg=agg, max_gap=max_gap, tz=tz)
    except SeriesError as exc:
        raise click.BadParameter(str(exc).replace(str(path), str(shown)),
                                 param_hint=f"'{exc.option or '--csv'}'") from exc
    for note in series.attrs.get("notes", []):
        _echo(f"note: {shown}: {note}".replace(str(path), str(shown)))
    return series


def _naive(series: pd.Series, utc: bool) -> pd.Series:
    """``series`` on naive timestamps (UTC, or its own wall clock), its record of
    filled-in points with it."""
    def naive(stamps: Any) -> Any:
        return (stamps.tz_convert("UTC") if utc else stamps).tz_localize(None)

    out = pd.Series(series.to_numpy(), name=series.name,
                    index=naive(pd.DatetimeIndex(series.index)))
    out.attrs = dict(series.attrs)
    out.attrs["filled"] = tuple((naive(pd.Timestamp(a)), naive(pd.Timestamp(b)))
                                for a, b in series.attrs.get("filled", ()))
    return out


def _fit(series: pd.Series, max_history: int | None, max_history_days: float,
         holidays: str | None, intervals: str, csv_path: Path) -> tuple[LoadForecaster, float]:
    if max_history is None and len(series) > FIT_MAX_POINTS:
        _echo(f"note: {csv_path}: fitted on the last {FIT_MAX_POINTS} of {len(series)} points "
              "(--max-history to change it)")
        max_history = FIT_MAX_POINTS
    started = time.perf_counter()
    try:
        model = LoadForecaster(max_history=max_history,
                               max_history_days=max_history_days or None, holidays=holidays,
                               interval_calibration=intervals).fit(series)
    except SeriesError as exc:
        message = str(exc).removeprefix("series: ")
        raise click.BadParameter(f"{csv_path}: {message}", param_hint="'--csv'") from exc
    return model, time.perf_counter() - started


# A forecast above this multiple of the file's largest value is a fit gone wrong, not load.
DIVERGED = 1000.0


def _check_forecast(forecast: Forecast, series: pd.Series, csv_path: Path) -> None:
    """A usage error, instead of an output file, when the fitted model's forecast is not
    a load (non-finite, or three orders of magnitude above anything in the file): seen on
    noise-free synthetic series, where the ARIMA part of an exact fit can diverge."""
    top = float(np.nanmax(series.to_numpy(dtype=float)))
    worst = float(np.max(forecast.hi95)) if len(forecast) else 0.0
    if np.isfinite(worst) and worst <= DIVERGED * max(top, 1.0):
        return
    raise click.BadParameter(
        f"{csv_path}: the model fitted on this file ({forecast.model}) forecasts up to "
        f"{worst:.3g} against at most {top:g} in the file: the fit diverged (seen on "
        "noise-free synthetic series; real load has noise); nothing was written",
        param_hint="'--csv'",
    )


def _echo(message: str) -> None:
    click.echo(message, err=True)


@click.group()
def forecast() -> None:
    """Forecast load from a series CSV: predict the next steps or backtest the model."""


@forecast.command()
@_series_options
@click.option("--horizon", type=click.IntRange(min=1), required=True,
              help="Steps to forecast after the last row.")
@click.option("--out", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              required=True, help="Output CSV: timestamp,mean,lo80,hi80,lo95,hi95.")
def predict(csv_path: Path, time_col: str | None, value_col: str | None, freq: str | None,
            agg: str, max_gap: int, tz: str | None, max_history: int | None,
            max_history_days: float, holidays: str | None, intervals: str, horizon: int,
            out: Path) -> None:
    """Fit on the CSV and write the HORIZON steps after its last row with 80/95 % bounds."""
    check_output(out, "--out", inputs=[csv_path])
    series = _read(csv_path, time_col, value_col, freq, agg, max_gap, tz)
    csv_path = _shown(csv_path)
    model, seconds = _fit(series, max_history, max_history_days, holidays, intervals, csv_path)
    result = model.forecast(horizon)
    _check_forecast(result, series, csv_path)
    frame = result.to_frame()[PREDICT_COLUMNS]
    with atomic_output(out, "--out") as partial:
        frame.to_csv(partial, index=False)
    _echo(f"{model.describe()} fitted in {seconds:.2f} s on {len(model.history_)} points; "
          f"wrote {len(frame)} rows to {out}")
    for note in model.metadata_["notes"]:
        _echo(f"note: {note}")
    if horizon > len(model.history_):
        _echo(f"note: --horizon {horizon} reaches further ahead than the {len(model.history_)} "
              "points fitted on; beyond that the forecast only repeats the fitted level, "
              "trend and seasons, and its bounds are extrapolated")


@forecast.command()
@_series_options
@click.option("--horizon", type=click.IntRange(min=1), required=True,
              help="Steps forecast from each origin.")
@click.option("--origins", type=click.IntRange(min=1), default=10, show_default=True,
              help="Number of rolling origins, spread over the last 30 % of the series.")
@click.option("--out", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              required=True, help="Output CSV: origin,timestamp,actual,mean,lo80,hi80.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary JSON to stdout.")
@click.option("--summary", "summary_path", default=None,
              type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="Also write the summary JSON to this file.")
@click.option("--refit-every", type=click.IntRange(min=1), default=1, show_default=True,
              help="Re-estimate at every N-th origin only; update in between (faster).")
def backtest(csv_path: Path, time_col: str | None, value_col: str | None, freq: str | None,
             agg: str, max_gap: int, tz: str | None, max_history: int | None,
             max_history_days: float, holidays: str | None, intervals: str, horizon: int,
             origins: int, out: Path, as_json: bool,
             summary_path: Path | None, refit_every: int) -> None:
    """Rolling-origin backtest against naive and seasonal naive (MASE, sMAPE, coverage)."""
    from forecaster.backtest import origin_positions, rolling_origin
    from forecaster.regular import filled_mask

    check_output(out, "--out", inputs=[csv_path])
    if summary_path is not None:
        check_output(summary_path, "--summary", inputs=[csv_path, out])
    series = _read(csv_path, time_col, value_col, freq, agg, max_gap, tz)
    csv_path = _shown(csv_path)
    filled = filled_mask(series)
    try:
        room = len(origin_positions(len(series), horizon, len(series), filled=filled))
    except ValueError as exc:  # too short for the horizon
        longest = int(np.floor(0.3 * len(series)))
        if "too short for horizon" not in str(exc) or longest < 1:
            raise click.BadParameter(f"{csv_path}: {exc}", param_hint="'--csv'") from exc
        raise click.BadParameter(
            f"{csv_path}: {exc}; give --horizon {longest} or less, or a longer file",
            param_hint="'--horizon'") from exc
    if origins > room:
        raise click.BadParameter(
            f"{origins} origins do not fit: the last 30 % of the {len(series)} points leaves "
            f"room for at most {room} origins with horizon {horizon}"
            + (" on observed points (not on ones filled in across a gap)" if filled.any() else ""),
            param_hint="'--origins'")
    try:
        result = rolling_origin(
            series, horizon, origins,
            make_model=lambda: LoadForecaster(
                max_history=max_history or BACKTEST_MAX_HISTORY,
                max_history_days=max_history_days or None, holidays=holidays,
                interval_calibration=intervals),
            refit_every=refit_every, progress=sys.stderr.isatty(),
        )
    except ValueError as exc:  # too short for the horizon, bad values
        raise click.BadParameter(f"{csv_path}: {exc}", param_hint="'--csv'") from exc
    with atomic_output(out, "--out") as partial:
        result.rows[BACKTEST_COLUMNS].to_csv(partial, index=False)
    text = json.dumps(result.summary, indent=2, default=str)
    if summary_path is not None:
        with atomic_output(summary_path, "--summary") as partial:
            partial.write_text(text + "\n")
    if as_json:
        click.echo(text)
    for line in backtest_report(result.summary, out):
        _echo(line)


def backtest_report(s: dict[str, Any], out: Path) -> list[str]:
    """What ``forecast backtest`` tells the user about summary ``s`` (on stderr): the
    scores with the model's MASE as a multiple of the better baseline's (issue 3's bar
    is 0.90), a note when that baseline forecast at least as well as the model, and one when
    steps fell on filled-in points."""
    low, high = s["model"]["coverage80_ci95"]
    better = "naive" if s["naive"]["mase"] <= s["seasonal_naive"]["mase"] else "seasonal naive"
    ratio = s["mase_vs_best_baseline"]
    # no ratio when the better baseline made no error at all (a constant series)
    times = f" (model {ratio:.2f} x {better}'s, the better baseline)" if np.isfinite(ratio) else ""
    lines = [
        f"{s['origins']} origins x {s['horizon']} steps: MASE model {s['model']['mase']:.3f}, "
        f"naive {s['naive']['mase']:.3f}, seasonal naive {s['seasonal_naive']['mase']:.3f}"
        f"{times}; 80 % coverage {s['model']['coverage80']:.0%} (95 % interval "
        f"{low:.0%}-{high:.0%} over the origins); wrote {out}"
    ]
    if ratio >= 1:
        lines.append(f"note: {better} forecast these origins at least as well as the model "
                     "(README, 'Where it misses': gauges that move like random walks, level "
                     "shifts, series mostly filled in across gaps)")
    if s["excluded_filled"]:
        lines.append(f"note: {s['excluded_filled']} of {s['forecasts']} forecast steps fall on "
                     "points filled in across gaps: not scored (their actual is left empty in "
                     "--out)")
    return lines


@click.command("forecaster")
@_series_options
@click.option("--out", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              required=True, help="Where to save the model (joblib file with metadata).")
def train_forecaster(csv_path: Path, time_col: str | None, value_col: str | None,
                     freq: str | None, agg: str, max_gap: int, tz: str | None,
                     max_history: int | None, max_history_days: float, holidays: str | None,
                     intervals: str, out: Path) -> None:
    """Fit the load forecaster on a series CSV and save it with its metadata.

    The controller keeps its load history in naive UTC, so a series whose
    timestamps carry offsets (or --tz) is fitted on UTC; a naive one is taken
    to be UTC already."""
    check_output(out, "--out", inputs=[csv_path])
    series = _read(csv_path, time_col, value_col, freq, agg, max_gap, tz)
    csv_path = _shown(csv_path)
    if series.index.tz is not None:
        stamps = pd.DatetimeIndex(series.index)
        daily = len(stamps) > 1 and stamps[1] - stamps[0] >= pd.Timedelta(days=1)
        if daily:
            # days are local dates (holidays fall on them); the controller's ticks are
            # minutes, so its clock does not apply to a model of days
            click.echo(f"note: daily timestamps in {series.index.tz} fitted as local dates")
            series = _naive(series, utc=False)
        else:
            if (stamps.tz_localize(None) != stamps.tz_convert("UTC").tz_localize(None)).any():
                click.echo(f"note: timestamps in {series.index.tz} converted to UTC, the "
                           "controller's clock")
            series = _naive(series, utc=True)
    model, seconds = _fit(series, max_history, max_history_days, holidays, intervals, csv_path)
    _check_forecast(model.forecast(12), series, csv_path)
    with atomic_output(out, "--out") as partial:
        model.save(partial)
    meta = model.metadata_
    click.echo(f"model: {meta['model']}")
    step = "1 business day" if meta.get("business_days") else f"{meta['step_seconds']:g} s"
    click.echo(f"trained on {meta['n_points']} points {meta['trained_start']} .. "
               f"{meta['trained_end']} (step {step})")
    click.echo(f"fit time: {seconds:.2f} s; AICc {meta['aicc']:.1f}; saved to {out}")
    click.echo(f"intervals: {meta['interval_calibration']}")
    if model.zero_mass_ is not None:  # lower bounds at 0 where the load stops dead
        click.echo(f"zeros: {meta['zero_mass']}")
    for note in meta["notes"]:
        click.echo(f"note: {note}")
