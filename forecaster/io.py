"""Reading load series from CSV files, with errors a user can act on.

Every command that takes a trace (forecast, train, simulate) reads it here, so
the rules of DESIGN's "Data formats" live in one place: the default columns
``timestamp,value`` with a fallback to any two-column file (comma-, semicolon-
or tab-separated), naive local timestamps unless they carry an offset (ISO 8601,
epoch seconds/milliseconds, or local forms such as ``13/01/2024 08:00``, read
day-first or month-first, whichever gives a sorted, regular column), optional
resampling of raw traces (``freq`` + ``agg``), and a regular series out, or a
:class:`SeriesError` that names the file, the column and the line.

Gap rule: without ``freq``, a missing run of at most ``max_gap`` steps is
filled by linear interpolation; a longer one is an error.  With ``freq``, an
empty bin is 0 for ``agg="sum"``/``"count"`` (no events in it) and is
interpolated up to ``max_gap`` bins for ``agg="mean"``/``"max"``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

AGGREGATIONS = ("sum", "mean", "max", "count")
DEFAULT_MAX_GAP = 12
DEFAULT_MIN_POINTS = 16
MIN_POINTS = 16  # fewest points a model is fitted on
_SHOW = 5  # how many offending lines an error message lists


class SeriesError(ValueError):
    """A series that cannot be used, with where the problem is."""


def _lines(positions: np.ndarray) -> str:
    """CSV line numbers (header is line 1) for 0-based row positions."""
    shown = ", ".join(str(int(p) + 2) for p in positions[:_SHOW])
    more = f" (and {len(positions) - _SHOW} more)" if len(positions) > _SHOW else ""
    return f"line{'s' if len(positions) > 1 else ''} {shown}{more}"


def _duration(delta: pd.Timedelta) -> str:
    seconds = delta.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def _parse_times(raw: pd.Series, where: str) -> pd.DatetimeIndex:
    text = raw.astype(str).str.strip()
    missing = np.flatnonzero(raw.isna().to_numpy() | (text == "").to_numpy())
    if len(missing):
        raise SeriesError(f"{where}: empty timestamp at {_lines(missing)}")
    numeric = pd.to_numeric(raw, errors="coerce")
    if numeric.notna().all():  # epoch seconds (or milliseconds)
        unit = "ms" if float(numeric.abs().max()) > 1e11 else "s"
        return pd.DatetimeIndex(pd.to_datetime(numeric, unit=unit))
    has_offset = text.str.contains(r"(?:[+-]\d\d:?\d\d|Z)$", regex=True)
    if has_offset.any() and not has_offset.all():
        mixed = np.flatnonzero(~has_offset.to_numpy())
        raise SeriesError(
            f"{where}: some timestamps carry a UTC offset and some do not "
            f"(no offset at {_lines(mixed)})"
        )
    parsed = pd.to_datetime(text, errors="coerce", format="ISO8601", utc=bool(has_offset.all()))
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if len(bad):
        parsed = _parse_local_dates(text, bool(has_offset.all()), where)
    index = pd.DatetimeIndex(parsed)
    if has_offset.all():
        offsets = {t.utcoffset() for t in pd.to_datetime(text.iloc[:200], format="mixed")}
        if len(offsets) == 1:  # one fixed offset: keep the local wall clock
            index = index.tz_convert(pd.to_datetime(text.iloc[0]).tzinfo)
    return index


def _regularity(parsed: pd.Series) -> tuple[bool, float]:
    """(sorted, share of steps equal to the most common step) of parsed times."""
    steps = np.diff(parsed.to_numpy().astype("datetime64[ns]").astype(np.int64))
    if len(steps) == 0:
        return True, 1.0
    _, counts = np.unique(steps, return_counts=True)
    return bool((steps >= 0).all()), float(counts.max() / len(steps))


def _parse_local_dates(text: pd.Series, utc: bool, where: str) -> pd.Series:
    """Non-ISO timestamps, per value.  ``03/04/2024`` is read month-first or
    day-first, whichever gives a readable, sorted and regularly spaced column
    (month-first, pandas' reading, when both do equally well)."""
    readings = []
    numeric_dates = bool(text.str.match(r"^\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\b").all())
    for dayfirst in (False, True) if numeric_dates else (False,):
        parsed = pd.to_datetime(text, errors="coerce", format="mixed", utc=utc, dayfirst=dayfirst)
        bad = np.flatnonzero(parsed.isna().to_numpy())
        fit = (-len(bad), *_regularity(parsed.dropna()))
        readings.append((fit, not dayfirst, parsed, bad))
    _, _, parsed, bad = max(readings, key=lambda r: (r[0], r[1]))
    if len(bad):
        sample = text.iloc[bad[0]]
        raise SeriesError(f"{where}: unparseable timestamp {sample!r} at {_lines(bad)}")
    return parsed


def _parse_values(raw: pd.Series, where: str) -> np.ndarray:
    values = pd.to_numeric(raw, errors="coerce")
    missing = np.flatnonzero(raw.isna().to_numpy())
    if len(missing):
        raise SeriesError(f"{where}: missing value (NaN) at {_lines(missing)}")
    bad = np.flatnonzero(values.isna().to_numpy())
    if len(bad):
        raise SeriesError(
            f"{where}: non-numeric value {str(raw.iloc[bad[0]])!r} at {_lines(bad)}"
        )
    arr = values.to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(arr))
    if len(bad):
        raise SeriesError(f"{where}: non-finite value at {_lines(bad)}")
    neg = np.flatnonzero(arr < 0)
    if len(neg):
        raise SeriesError(
            f"{where}: negative value {arr[neg[0]]:g} at {_lines(neg)} (load must be >= 0)"
        )
    return arr


def infer_step(index: pd.DatetimeIndex) -> pd.Timedelta:
    """The series' own spacing: the most common positive difference."""
    diffs = pd.Series(np.diff(index.as_unit("ns").asi8))
    diffs = diffs[diffs > 0]
    if diffs.empty:
        raise SeriesError("cannot infer the step: fewer than two distinct timestamps")
    return pd.Timedelta(int(diffs.mode().iloc[0]), unit="ns")


def regularize(
    values: np.ndarray,
    index: pd.DatetimeIndex,
    where: str,
    max_gap: int = DEFAULT_MAX_GAP,
    step: pd.Timedelta | None = None,
) -> pd.Series:
    """Check order, duplicates and spacing; fill short gaps; return a regular series.

    Raises :class:`SeriesError` for unsorted or duplicated timestamps, a spacing
    that is not a multiple of the step, or a gap longer than ``max_gap`` steps.
    """
    if len(index) < 2:
        raise SeriesError(f"{where}: too few points ({len(index)})")
    index = index.as_unit("ns")
    diffs = np.diff(index.asi8)
    dup = np.flatnonzero(diffs == 0) + 1
    if len(dup):
        raise SeriesError(
            f"{where}: duplicated timestamp {index[dup[0]]} at {_lines(dup)} "
            "(use --freq with --agg to aggregate raw events)"
        )
    back = np.flatnonzero(diffs < 0) + 1
    if len(back):
        raise SeriesError(
            f"{where}: timestamps not sorted: {index[back[0]]} comes after "
            f"{index[back[0] - 1]} at {_lines(back)} (sort the file or use --freq)"
        )
    step = step if step is not None else infer_step(index)
    step_ns = step.value
    ratio = diffs / step_ns
    irregular = np.flatnonzero(np.abs(ratio - np.round(ratio)) > 1e-6) + 1
    if len(irregular):
        raise SeriesError(
            f"{where}: irregular timestamps: {index[irregular[0]]} is "
            f"{_duration(pd.Timedelta(int(diffs[irregular[0] - 1]), unit='ns'))} after the "
            f"previous row, not a multiple of the step {_duration(step)} ({_lines(irregular)}); "
            "resample with --freq"
        )
    missing = np.round(ratio).astype(int) - 1
    long_gaps = np.flatnonzero(missing > max_gap) + 1
    if len(long_gaps):
        i = long_gaps[0]
        raise SeriesError(
            f"{where}: gap of {missing[i - 1]} missing steps before {index[i]} "
            f"({_lines(long_gaps)}); at most {max_gap} are filled by interpolation "
            "(--max-gap)"
        )
    series = pd.Series(values, index=index, dtype=float)
    if missing.any():
        full = pd.date_range(index[0], index[-1], freq=step)
        series = series.reindex(full).interpolate(method="linear")
    series.index.freq = None
    return series


def resample(
    values: np.ndarray, index: pd.DatetimeIndex, freq: str, agg: str, where: str, max_gap: int
) -> pd.Series:
    """Aggregate raw or fine-grained points into regular ``freq`` bins."""
    if agg not in AGGREGATIONS:
        raise SeriesError(f"{where}: unknown aggregation {agg!r}; choose one of {AGGREGATIONS}")
    try:
        offset = pd.tseries.frequencies.to_offset(freq)
        pd.Timedelta(offset)
    except (ValueError, TypeError) as exc:
        raise SeriesError(f"invalid --freq {freq!r}: use a fixed step such as 5min or 1h") from exc
    raw = pd.Series(values, index=index).sort_index()
    bins = raw.resample(offset, label="left", closed="left")
    if agg in ("sum", "count"):
        out = bins.sum() if agg == "sum" else bins.count().astype(float)
    else:
        out = bins.mean() if agg == "mean" else bins.max()
        gaps = out.isna().to_numpy()
        if gaps.any():
            run = 0
            for pos, is_gap in enumerate(gaps):
                run = run + 1 if is_gap else 0
                if run > max_gap:
                    raise SeriesError(
                        f"{where}: more than {max_gap} empty {freq} bins in a row "
                        f"ending near {out.index[pos]} (at most --max-gap {max_gap} are filled)"
                    )
            out = out.interpolate(method="linear")
    out.index.freq = None
    return out.astype(float)


def read_series(
    path: str | Path,
    time_col: str = "timestamp",
    value_col: str = "value",
    freq: str | None = None,
    agg: str = "sum",
    max_gap: int = DEFAULT_MAX_GAP,
    min_points: int = DEFAULT_MIN_POINTS,
) -> pd.Series:
    """Read a regular, non-negative load series from a CSV file.

    ``freq`` (e.g. ``"5min"``) resamples with ``agg``; without it the file must
    already be regular (short gaps are interpolated, see the module docstring).
    """
    path = Path(path)
    if not path.is_file():
        raise SeriesError(f"{path}: no such file")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
        if len(frame.columns) == 1:  # a semicolon- or tab-separated export
            sep = next((c for c in (";", "\t") if c in str(frame.columns[0])), None)
            if sep:
                frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""],
                                    sep=sep)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise SeriesError(f"{path}: not a readable CSV file ({exc})") from exc
    columns = list(frame.columns)
    if time_col in columns and value_col in columns:
        tcol, vcol = time_col, value_col
    elif len(columns) == 2 and time_col not in columns and value_col not in columns:
        tcol, vcol = columns
    else:
        absent = [c for c in (time_col, value_col) if c not in columns]
        raise SeriesError(
            f"{path}: column {absent[0]!r} not found (columns: {', '.join(columns) or 'none'}); "
            "pass --time-col/--value-col or use a two-column file"
        )
    if len(frame) < 2:
        raise SeriesError(f"{path}: too few points ({len(frame)} rows)")
    index = _parse_times(frame[tcol], f"{path}: column {tcol!r}")
    values = _parse_values(frame[vcol], f"{path}: column {vcol!r}")
    if freq:
        series = resample(values, index, freq, agg, str(path), max_gap)
        if infer_step(index) > pd.Timedelta(pd.tseries.frequencies.to_offset(freq)):
            raise SeriesError(
                f"{path}: --freq {freq} is finer than the data's own step "
                f"{_duration(infer_step(index))}"
            )
    else:
        series = regularize(values, index, str(path), max_gap=max_gap)
    series.name = vcol
    if len(series) < min_points:
        raise SeriesError(
            f"{path}: too few points ({len(series)}); at least {min_points} are needed"
        )
    return series


def check_values(series: pd.Series) -> np.ndarray:
    """Values of an in-memory series as floats; SeriesError on NaN or negatives."""
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad):
        raise SeriesError(
            f"missing or non-numeric value at {series.index[bad[0]]} ({len(bad)} point(s))"
        )
    neg = np.flatnonzero(values < 0)
    if len(neg):
        raise SeriesError(
            f"negative value {values[neg[0]]:g} at {series.index[neg[0]]} (load must be >= 0)"
        )
    return values


def check_series(series: pd.Series, max_gap: int) -> tuple[pd.Series, float]:
    """An in-memory series made regular (short gaps filled), and its step in seconds."""
    if not isinstance(series, pd.Series):
        raise TypeError(f"fit expects a pandas Series, got {type(series).__name__}")
    if not isinstance(series.index, pd.DatetimeIndex):
        raise TypeError("fit expects a Series with a DatetimeIndex (use forecaster.io.read_series)")
    if len(series) < MIN_POINTS:
        raise SeriesError(f"too few points to fit ({len(series)}); at least {MIN_POINTS} needed")
    values = check_values(series)
    regular = regularize(values, pd.DatetimeIndex(series.index), "series", max_gap=max_gap)
    step = pd.Timedelta(regular.index[1] - regular.index[0]).total_seconds()
    return regular, step
