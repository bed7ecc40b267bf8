"""Regular series: the grid every load series is fitted on.

:mod:`forecaster.io` reads a file into points; here points become a regular
series.  Order, duplicates and spacing are checked, gaps of at most
``max_gap`` steps are filled by linear interpolation (longer ones are errors,
except that a file may be read from its last longer gap on when what follows is
long enough to forecast from: :func:`min_tail_span`), and the filled points
are recorded (:func:`mark_filled`, :func:`filled_mask`) so that scores and
calibrations can leave them out.  Daily rows on weekdays only keep to the
business-day grid (:mod:`forecaster.busdays`).  :func:`check_series`
applies the same rules to a series built in memory, for the model.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from forecaster import busdays
from forecaster.cells import SeriesError, calendar_days, duration_text, lines_text

DEFAULT_MAX_GAP = 12
MIN_POINTS = 16  # fewest points a model is fitted on


def mark_filled(series: pd.Series, filled: np.ndarray) -> pd.Series:
    """Record (in place; returns ``series``) the positions ``filled`` (a boolean
    mask) as runs of timestamps in ``series.attrs["filled"]``: ``((first, last),
    ...)``, inclusive; a tuple, so attrs stay cheap to copy and compare when
    pandas carries them along."""
    runs: list[tuple[pd.Timestamp, pd.Timestamp]] = []
    if filled.any():
        edges = np.diff(np.r_[0, filled.astype(np.int8), 0])
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
        runs = [(series.index[a], series.index[b]) for a, b in zip(starts, ends, strict=True)]
    series.attrs["filled"] = tuple(runs)
    return series


def filled_mask(series: pd.Series) -> np.ndarray:
    """True where ``series`` holds a point the reader filled in (interpolated across
    a gap) rather than one read from the file; all False for a series without that
    record (built in memory, or with no gaps)."""
    mask = np.zeros(len(series), dtype=bool)
    runs = series.attrs.get("filled", ())
    if not runs or len(series) == 0:
        return mask
    index = pd.DatetimeIndex(series.index)
    for first, last in runs:
        a = int(index.searchsorted(first, side="left"))
        b = int(index.searchsorted(last, side="right"))
        mask[a:b] = True
    return mask


def min_tail_span(step: pd.Timedelta) -> pd.Timedelta:
    """The shortest stretch after a gap longer than ``max_gap`` that a file is read
    from on its own (the rows before the gap left out, with a note), rather than the
    gap being an error: four weeks for steps under a day (the default fit of
    5-minute load, two weekly cycles with room to spare), two years for steps of a
    day or more (two yearly cycles)."""
    return pd.Timedelta(days=28) if step < pd.Timedelta(days=1) else pd.Timedelta(days=730)


def infer_step(index: pd.DatetimeIndex) -> pd.Timedelta:
    """The series' own spacing: the most common positive difference."""
    diffs = pd.Series(np.diff(index.as_unit("ns").asi8))
    diffs = diffs[diffs > 0]
    if diffs.empty:
        raise SeriesError("cannot infer the step: fewer than two distinct timestamps")
    return pd.Timedelta(int(diffs.mode().iloc[0]), unit="ns")


_NICE_SECONDS = (1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200,
                 10800, 21600, 43200, 86400)


def _nice_step(diffs: np.ndarray) -> str:
    """The round step nearest (in ratio) to the typical spacing ``diffs`` (ns), as a
    --freq value: jittered scrapes 57-63 s apart give 1min."""
    typical = float(np.median(diffs[diffs > 0])) / 1e9 if (diffs > 0).any() else 1.0
    best = min(_NICE_SECONDS, key=lambda n: abs(np.log(n / max(typical, 1e-3))))
    return duration_text(pd.Timedelta(seconds=best))


def _skipped_hour(index: pd.DatetimeIndex, diffs: np.ndarray, dup: np.ndarray) -> str | None:
    """The fix for an export that wrote a clock change's skipped hour as repeats, else None.

    Some exporters turn the local times a spring-forward change skips (02:01 ... 02:56)
    into the first valid time (03:00): one timestamp repeated about an hour's worth
    of steps, right after a gap of about an hour.  Those rows are real samples, so
    aggregating them into steps is the fix, not ``--tz``."""
    if (index[dup] != index[dup[0]]).any() or dup[0] < 2:
        return None
    positive = diffs[diffs > 0]
    step = float(np.median(positive)) if len(positive) else 0.0
    repeats = len(dup) + 1
    gap = float(diffs[dup[0] - 2])
    for jump in (3600e9, 1800e9):  # a clock change of an hour or half an hour
        if (step > 0 and abs(repeats * step - jump) <= step
                and jump - step <= gap <= jump + 2 * step):
            span = "hour" if jump == 3600e9 else "half hour"
            return (f"({repeats} rows at one time, right after a gap of "
                    f"{duration_text(pd.Timedelta(gap, unit='ns'))}: the {span} a "
                    "daylight-saving change skipped, written as repeats of its end; "
                    f"--freq {_nice_step(diffs)} --agg mean keeps one value per step)")
    return None


def regularize(
    values: np.ndarray,
    index: pd.DatetimeIndex,
    where: str,
    max_gap: int = DEFAULT_MAX_GAP,
    step: pd.Timedelta | None = None,
    lines: np.ndarray | None = None,
    business: bool | None = None,
    tail: bool = False,
    first_point: int | None = None,
) -> pd.Series:
    """Check order, duplicates and spacing; fill short gaps; return a regular series.

    Raises :class:`SeriesError` for unsorted or duplicated timestamps, a spacing
    that is not a multiple of the step, or a gap longer than ``max_gap`` steps;
    ``lines`` are the points' file lines for the message (default position + 2).
    ``business``: the grid is business days (:mod:`forecaster.busdays`); ``None``
    (without ``step``) = when the rows look like it.  ``tail``: a gap longer than
    ``max_gap`` is not an error when the rows after the last one span at least
    :func:`min_tail_span`; the series then starts after it, and
    ``series.attrs["cut"]`` says where (:func:`cut_note`).  ``first_point``: the points
    came from code (``fit``, ``update``), not a file: ``first_point`` is the number of
    the first (``update`` prepends the last observation: 0), and messages name points
    by number and the fix in code terms (``max_gap``), not file lines and CLI flags.
    """
    if len(index) < 2:
        raise SeriesError(f"{where}: too few points ({len(index)})")
    index = index.as_unit("ns")
    diffs = np.diff(index.asi8)
    dup = np.flatnonzero(diffs == 0) + 1
    if len(dup):
        if first_point is not None:
            fix = "(one value per timestamp)"
        else:
            fix = (_skipped_hour(index, diffs, dup)
                   or "(use --freq with --agg to aggregate raw events)")
        raise SeriesError(
            f"{where}: duplicated timestamp {index[dup[0]]} at "
            f"{lines_text(dup, lines, first_point)} {fix}"
        )
    back = np.flatnonzero(diffs < 0) + 1
    if len(back):
        raise SeriesError(
            f"{where}: timestamps not sorted: {index[back[0]]} comes after "
            f"{index[back[0] - 1]} at {lines_text(back, lines, first_point)} "
            + ("(sort them first)" if first_point is not None else "(sort the file or use --freq)")
        )
    if business is None:
        business = step is None and busdays.looks_business_daily(index)
    if business:
        return _regularize_business(values, index, where, max_gap, lines, tail, first_point)
    step = step if step is not None else infer_step(index)
    step_ns = step.value
    ratio = diffs / step_ns
    irregular = np.flatnonzero(np.abs(ratio - np.round(ratio)) > 1e-6) + 1
    if len(irregular):
        if diffs.min() >= pd.Timedelta(days=28).value:  # 28-31 days: calendar months
            raise SeriesError(
                f"{where}: irregular timestamps: steps of "
                f"{duration_text(pd.Timedelta(int(diffs.min()), unit='ns'))} to "
                f"{duration_text(pd.Timedelta(int(diffs.max()), unit='ns'))} look like calendar "
                "months, quarters or years, which are not a fixed step; fleetcast forecasts "
                "load at fixed steps from seconds to days "
                f"({lines_text(irregular, lines, first_point)})"
            )
        raise SeriesError(
            f"{where}: irregular timestamps: {index[irregular[0]]} is "
            f"{duration_text(pd.Timedelta(int(diffs[irregular[0] - 1]), unit='ns'))} after the "
            f"previous row, not a multiple of the step {duration_text(step)} "
            f"({lines_text(irregular, lines, first_point)}); "
            + (f"resample to {_nice_step(diffs)} first" if first_point is not None else
               f"resample with --freq {_nice_step(diffs)} (and --agg mean if the rows are "
               "samples of the load, not counts to add up)")
        )
    missing = np.round(ratio).astype(int) - 1
    return _fill_gaps(values, index, missing,
                      lambda start: pd.date_range(start, index[-1], freq=step), "steps", where,
                      max_gap, lines, min_tail_span(step) if tail else None, first_point)


def _fill_gaps(values: np.ndarray, index: pd.DatetimeIndex, missing: np.ndarray,
               grid: Callable[[pd.Timestamp], pd.DatetimeIndex], steps: str, where: str,
               max_gap: int, lines: np.ndarray | None,
               min_tail: pd.Timedelta | None = None, first_point: int | None = None) -> pd.Series:
    """``values`` at ``index`` on ``grid(first timestamp)``, where ``missing[i]`` grid
    points lie between rows ``i`` and ``i + 1``: runs of more than ``max_gap`` are an
    error (or, when the rows after the last one span at least ``min_tail``, the series
    starts after it), shorter ones are interpolated and marked filled."""
    long_gaps = np.flatnonzero(missing > max_gap) + 1
    cut = None
    if len(long_gaps):
        last = int(long_gaps[-1])
        if min_tail is not None and index[-1] - index[last] >= min_tail:
            cut = {"start": index[last], "rows_left_out": last, "missing": int(missing[last - 1]),
                   "steps": steps, "line": int(lines[last]) if lines is not None else last + 2,
                   "gaps": len(long_gaps)}
            values, index, missing = values[last:], index[last:], missing[last:]
        else:
            i = long_gaps[0]
            short = ""
            if min_tail is not None:
                short = (f"; the rows after the last such gap span only "
                         f"{duration_text(index[-1] - index[last])}, too little to read on their "
                         f"own (at least {duration_text(min_tail)})")
            raise SeriesError(
                f"{where}: gap of {missing[i - 1]} missing {steps} before {index[i]} "
                f"({lines_text(long_gaps, lines, first_point)}); at most {max_gap} are filled by "
                f"interpolation ({'--max-gap' if first_point is None else 'max_gap'}){short}"
            )
    series = pd.Series(values, index=index, dtype=float)
    filled = np.zeros(len(series), dtype=bool)
    if missing.any():
        series = series.reindex(grid(index[0]))
        filled = series.isna().to_numpy()
        series = series.interpolate(method="linear")
    series.index.freq = None
    if cut is not None:
        series.attrs["cut"] = cut
    return mark_filled(series, filled)


def cut_note(series: pd.Series) -> list[str]:
    """The note for a series read from its last long gap on (``regularize(tail=True)``),
    or none."""
    cut = series.attrs.get("cut")
    if not cut:
        return []
    gaps = f" (the last of {cut['gaps']} such gaps)" if cut["gaps"] > 1 else ""
    line = f" (line {cut['line']})" if cut["line"] is not None else ""
    return [f"gap of {cut['missing']} missing {cut['steps']} before {cut['start']}{line}"
            f"{gaps}: read from there on, the {cut['rows_left_out']} row(s) before "
            f"it left out; --max-gap {cut['missing']} fills the gap by interpolation instead"]


def _regularize_business(values: np.ndarray, index: pd.DatetimeIndex, where: str,
                         max_gap: int, lines: np.ndarray | None, tail: bool = False,
                         first_point: int | None = None) -> pd.Series:
    """``regularize`` on the business-day grid: weekdays without a row (holidays) are
    gaps filled by the same rule; a weekend row or another time of day is an error."""
    weekend = busdays.weekend_rows(index)
    if len(weekend):
        day = index[weekend[0]]
        raise SeriesError(
            f"{where}: {day} is a {day.day_name()}, but the series is on business days "
            f"(Monday to Friday) ({lines_text(weekend, lines, first_point)}); read it with "
            "--freq 1D to "
            "forecast every calendar day"
        )
    full = busdays.grid(index[0], index[-1])
    off_grid = np.flatnonzero(~index.isin(full))
    if len(off_grid):
        raise SeriesError(
            f"{where}: irregular timestamps: {index[off_grid[0]]} is not at "
            f"{index[0].strftime('%H:%M:%S')}, the time of day of the other business days "
            f"({lines_text(off_grid, lines, first_point)}); resample with --freq B"
        )
    missing = np.diff(busdays.positions(index)).astype(int) - 1
    series = _fill_gaps(values, index, missing, lambda start: full[full >= start],
                        "business days", where, max_gap, lines,
                        min_tail_span(pd.Timedelta(days=1)) if tail else None, first_point)
    series.attrs[busdays.ATTR] = True
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
    """An in-memory series made regular (short gaps filled), and its step in seconds
    (``busdays.STEP_SECONDS`` on business days: ``busdays.on_business_days(result)``).

    The result's ``attrs["filled"]`` marks the points filled here and those the
    input already marked (a series from :func:`read_series`)."""
    if not isinstance(series, pd.Series):
        raise TypeError(f"fit expects a pandas Series, got {type(series).__name__}")
    if not isinstance(series.index, pd.DatetimeIndex):
        raise TypeError("fit expects a Series with a DatetimeIndex (use forecaster.io.read_series)")
    if len(series) < MIN_POINTS:
        raise SeriesError(f"too few points to fit ({len(series)}); at least {MIN_POINTS} needed")
    values = check_values(series)
    index = pd.DatetimeIndex(series.index)
    if calendar_days(index) is not None:
        raise SeriesError(
            f"series: its timestamps in {index.tz} fall at one time of day across "
            "daylight-saving changes (23 or 25 hours apart), so they are dates: pass them "
            "as dates, series.tz_localize(None) (read_series does so for such files)"
        )
    # a prefix of a business-day series (a backtest's) stays on business days
    business = True if busdays.on_business_days(series) else None
    regular = regularize(values, index, "series", max_gap=max_gap, business=business,
                         first_point=1)
    inherited = series.attrs.get("filled", ())
    if inherited:  # points the reader filled in stay filled in (they are not observations)
        own = filled_mask(regular)
        regular.attrs["filled"] = inherited
        mark_filled(regular, own | filled_mask(regular))
    if busdays.on_business_days(regular):
        return regular, busdays.STEP_SECONDS
    step = pd.Timedelta(regular.index[1] - regular.index[0]).total_seconds()
    return regular, step
