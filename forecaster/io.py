"""Reading load series from CSV files, with errors a user can act on.

Every command that takes a trace (forecast, train, simulate) reads it here, so
the rules of DESIGN's "Data formats" live in one place: the default columns
``timestamp,value`` with a fallback to any two-column file (comma-, semicolon-
or tab-separated), naive local timestamps unless they carry an offset (ISO 8601,
epoch seconds/milliseconds, or local forms such as ``13/01/2024 08:00``, read
day-first or month-first, whichever gives a sorted, regular column), optional
resampling of raw traces (``freq`` + ``agg``; ``agg="count"`` counts rows, so an
event log of bare timestamps will do; ``freq="B"`` bins business days), daily rows
on weekdays only read on business days (:mod:`forecaster.busdays`), and a regular
series out (:mod:`forecaster.regular` applies the gap rule below), or a
:class:`SeriesError` that names the file, the column and the line.

Exports from spreadsheets and monitoring tools are read as they come: UTF-8
with or without BOM (else Windows-1252), gzip/bz2/xz (by content), CRLF, quoted
cells, header names in any case, extra columns, a file without a header row,
the time split into a ``date`` and a ``time`` column (joined, with a note),
blank or all-empty rows (dropped), ``#`` comment lines after the header (dropped,
with a note), thousands separators and decimal commas
(``1,234.5``; ``1.234,5`` in semicolon files), one unit on every value
(``12 ms``; mixed units or scale letters such as ``1.2k`` are errors), and empty
or NA cells (missing points, filled by the gap rule below), rows newest first
(read oldest first), rows repeated exactly (dropped).  Line numbers in messages
are the file's own lines.  Turning cells into timestamps and numbers is
:mod:`forecaster.cells`; reading the table under them, :mod:`forecaster.table`.

Gap rule: without ``freq``, a missing run of at most ``max_gap`` steps is
filled by linear interpolation; a longer one is an error.  With ``freq``, an
empty bin is 0 for ``agg="sum"``/``"count"`` (no events in it) and is
interpolated up to ``max_gap`` bins for ``agg="mean"``/``"max"``, with a note counting
them (and saying so when they are most of the series: the model is then fitted mostly
on the drawn lines).  A file whose
rows after its last longer gap span at least four weeks (two years for daily
steps; :func:`forecaster.regular.min_tail_span`) is read from that gap on, with a
note: an old outage does not stop a forecast from the recent load.  The points
a gap rule filled in are not observations: ``filled_mask(series)`` tells them
apart (``series.attrs["filled"]`` holds them as runs of timestamps), so a
backtest can keep them out of its scores.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from forecaster import busdays
from forecaster.cells import (
    OFFSET_PATTERN,
    TIME_ONLY,
    SeriesError,
    calendar_days,
    duration_text,
    lines_text,
    localize,
    parse_times,
    parse_values,
    strip_zone_names,
)
from forecaster.regular import (
    DEFAULT_MAX_GAP,
    cut_note,
    filled_mask,
    infer_step,
    mark_filled,
    min_tail_span,
    regularize,
)
from forecaster.table import pick_columns, read_table, repeated_header

AGGREGATIONS = ("sum", "mean", "max", "count")
# a spreadsheet's error values: '#' starts them, but they are cells, not comment lines
_SHEET_ERRORS = r"#(?:N/A|VALUE!|REF!|DIV/0!|NAME\?|NUM!|NULL!)"
DEFAULT_MIN_POINTS = 16
# the notes' words for rows read on their wall clock as dates (one note says it, not two)
AS_CALENDAR_DAYS = "read as local calendar days, written without an offset"
BUSINESS_NOTE = ("rows on weekdays only: read on business days (Monday to Friday), so the "
                 "forecast is for the next business days (--freq 1D reads calendar days)")


def resample(
    values: np.ndarray, index: pd.DatetimeIndex, freq: str, agg: str, where: str, max_gap: int,
    tail: bool = False,
) -> pd.Series:
    """Aggregate raw or fine-grained points into regular ``freq`` bins.  ``tail``: as
    for :func:`forecaster.regular.regularize`, more than ``max_gap`` empty bins in a
    row are not an error when the bins after the last such run span at least
    :func:`~forecaster.regular.min_tail_span`; the series then starts after them."""
    if agg not in AGGREGATIONS:
        raise SeriesError(
            f"{where}: unknown aggregation {agg!r}; choose one of {AGGREGATIONS}", option="--agg"
        )
    try:
        offset = pd.tseries.frequencies.to_offset(freq)
        pd.Timedelta(offset)
    except (ValueError, TypeError) as exc:
        raise SeriesError(
            f"invalid --freq {freq!r}: use a fixed step such as 5min or 1h (calendar "
            "months and years are not fixed steps)",
            option="--freq",
        ) from exc
    raw = pd.Series(values, index=index).sort_index()
    bins = raw.resample(offset, label="left", closed="left")
    if agg in ("sum", "count"):  # an empty bin had no events: a real 0, not filled in
        out = bins.sum() if agg == "sum" else bins.count().astype(float)
        gaps = np.zeros(len(out), dtype=bool)
    else:
        out = bins.mean() if agg == "mean" else bins.max()
        gaps = out.isna().to_numpy()
        cut = None
        if gaps.any():
            edges = np.diff(np.r_[0, gaps.astype(np.int8), 0])
            starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
            long_runs = np.flatnonzero(ends - starts > max_gap)
            if len(long_runs):
                start, end = int(starts[long_runs[-1]]), int(ends[long_runs[-1]])
                min_tail = min_tail_span(pd.Timedelta(offset))
                if not tail or end >= len(out) or out.index[-1] - out.index[end] < min_tail:
                    first = int(starts[long_runs[0]]) + max_gap
                    raise SeriesError(
                        f"{where}: more than {max_gap} empty {freq} bins in a row "
                        f"ending near {out.index[first]} (at most --max-gap {max_gap} are filled)"
                    )
                cut = {"start": out.index[end], "rows_left_out": int(np.count_nonzero(
                           index < out.index[start])), "missing": end - start,
                       "steps": f"{freq} bins", "line": None, "gaps": len(long_runs)}
                out, gaps = out.iloc[end:], gaps[end:]
            out = out.interpolate(method="linear")
        if cut is not None:
            out.attrs["cut"] = cut
    out.index.freq = None
    return mark_filled(out.astype(float), gaps)


def read_series(
    path: str | Path,
    time_col: str | None = None,
    value_col: str | None = None,
    freq: str | None = None,
    agg: str = "sum",
    max_gap: int = DEFAULT_MAX_GAP,
    min_points: int = DEFAULT_MIN_POINTS,
    tz: str | None = None,
) -> pd.Series:
    """Read a regular, non-negative load series from a CSV file.

    ``time_col``/``value_col`` name the columns (any case); left out, they are
    ``timestamp``/``value`` or the two columns of a two-column file.  ``freq``
    (e.g. ``"5min"``) resamples with ``agg``; without it the file must already
    be regular (short gaps are interpolated, see the module docstring).  What
    the reader did on the way (units stripped, empty cells) is listed in
    ``series.attrs["notes"]``; which points it filled in, in
    ``series.attrs["filled"]`` (read it with :func:`filled_mask`).

    ``tz`` (an IANA zone name) reads naive timestamps as that zone's local time,
    so a daylight-saving change is an ordinary step, and converts ones with
    offsets to it.  Without it, a naive local-time file whose clock goes back
    an hour (the end of daylight-saving time) is an error that says to pass it.
    """
    path = Path(path)
    freq, week_notes = _weeks_as_days(freq)
    freq, business = _business_freq(freq)
    frame, lines, sep = read_table(path)
    frame, joined = _date_and_time(frame, time_col)
    # --agg count counts rows (events) per bin: only the timestamps are read
    events = bool(freq) and agg == "count"
    tcol, vcol = pick_columns(list(frame.columns), time_col, value_col, str(path),
                               need_value=not events)
    headers = repeated_header(frame, [tcol] if vcol is None else [tcol, vcol])
    header_notes = week_notes + joined
    if len(headers):  # exports pasted together repeat the header row
        header_notes.append(f"header row repeated at {lines_text(headers, lines)}: dropped")
        keep = np.ones(len(frame), dtype=bool)
        keep[headers] = False
        frame, lines = frame[keep].reset_index(drop=True), lines[keep]
    first = frame[tcol].astype(str)
    comments = np.flatnonzero((first.str.startswith("#") & ~first.str.fullmatch(
        _SHEET_ERRORS, case=False)).to_numpy())
    if len(comments):  # a note or footer after the header ('# exported by ...')
        header_notes.append(f"comment line(s) starting with '#' at "
                            f"{lines_text(comments, lines)} dropped")
        keep = np.ones(len(frame), dtype=bool)
        keep[comments] = False
        frame, lines = frame[keep].reset_index(drop=True), lines[keep]
    if len(frame) < 2:
        rows = "no data rows" if len(frame) == 0 else "only 1 data row"
        raise SeriesError(f"{path}: {rows}; at least {max(min_points, 2)} points are needed")
    where_t = f"{path}: column {tcol!r}"
    stamps, zones = strip_zone_names(frame[tcol])
    if zones:
        header_notes.append(
            f"time zone names ({', '.join(zones)}) dropped from column {tcol!r}: times read "
            "as local wall-clock time" + ("" if tz else "; pass --tz with the zone (e.g. "
                                          "--tz Europe/Berlin) to place them"))
    index = parse_times(stamps, where_t, lines)
    if index.tz is not None and not tz and _whole_days(freq):
        header_notes += _one_offset_days(stamps, index, freq)
    # offsets are on every row or on none (parse_times): the first row tells
    if index.tz is None and re.search(OFFSET_PATTERN, str(stamps.iloc[0]).strip()):
        header_notes.append(
            f"UTC offsets in column {tcol!r} change (daylight-saving time) and the rows fall "
            f"at one time of day: {AS_CALENDAR_DAYS}")
    if events or vcol is None:
        if tz:
            order = np.argsort(index.asi8, kind="stable")
            index, lines = localize(index[order], tz, where_t, lines[order]), lines[order]
        index = _local_days(index, str(freq), header_notes)
        series = resample(np.ones(len(index)), index, str(freq), agg, str(path), max_gap)
        if business:
            series = _weekdays_only(series, index, lines, path)
        return _finish(series, "count", header_notes, path, min_points)
    values, unit, grouping = parse_values(frame[vcol], f"{path}: column {vcol!r}", lines,
                                           comma_decimal=sep == ";")
    notes = header_notes + ([f"unit {unit!r} stripped from column {vcol!r}"] if unit else [])
    notes += [f"column {vcol!r}: {grouping}"] if grouping else []
    empty = np.flatnonzero(np.isnan(values))
    if len(empty) > len(values) - 2:
        raise SeriesError(f"{path}: column {vcol!r}: {len(empty)} of {len(values)} values are "
                          "empty; at least 2 are needed")
    empty_lines = lines[empty]  # empty cells between read ones: interpolated, noted already
    if len(empty):
        notes.append(f"{len(empty)} empty value(s) in column {vcol!r} ({lines_text(empty, lines)}) "
                     "read as missing points")
        keep = np.isfinite(values)
        index, values, lines = index[keep], values[keep], lines[keep]
    if len(index) > 2 and index.is_monotonic_decreasing and index.is_unique:
        notes.append("rows run newest first; read oldest first")
        index, values, lines = index[::-1], values[::-1], lines[::-1]
    if tz:
        index = localize(index, tz, where_t, lines)
        days = calendar_days(index) if not freq else None
        if days is not None:
            if AS_CALENDAR_DAYS not in " ".join(notes):
                notes.append(f"rows at one time of day in {tz} across daylight-saving changes: "
                             f"{AS_CALENDAR_DAYS}")
            index = days
    elif index.tz is None and not _whole_days(freq):  # a day's total may hold 25 hours
        _check_clock_changes(index, where_t, lines)
    if not freq:  # overlapping exports pasted together repeat rows; conflicting ones stay errors
        repeated = np.flatnonzero((index[1:] == index[:-1]) & (values[1:] == values[:-1])) + 1
        if len(repeated):
            notes.append(f"{len(repeated)} repeated row(s) ({lines_text(repeated, lines)}) dropped")
            keep = np.ones(len(index), dtype=bool)
            keep[repeated] = False
            index, values, lines = index[keep], values[keep], lines[keep]
    if freq:
        index = _local_days(index, freq, notes)
        series = resample(values, index, freq, agg, str(path), max_gap, tail=True)
        notes += cut_note(series)
        spacing = np.diff(np.sort(index.as_unit("ns").asi8))
        spacing = spacing[spacing > 0] if (spacing > 0).any() else np.array([0])
        typical = pd.Timedelta(int(np.median(spacing)), unit="ns")
        if typical > 1.1 * pd.Timedelta(pd.tseries.frequencies.to_offset(freq)):  # not jitter
            raise SeriesError(
                f"{path}: --freq {freq} is finer than the data's own step "
                f"{duration_text(infer_step(index))}",
                option="--freq",
            )
        if agg == "sum":
            series = _drop_partial_bins(series, index, freq, notes)
        if business:
            series = _weekdays_only(series, index, lines, path)
        if agg not in ("sum", "count"):  # their empty bins are zeros (a partial one, noted)
            # after the weekend days are gone: they are no bins of a business-day series
            notes += _empty_bin_notes(series, freq)
    else:
        series = regularize(values, index, str(path), max_gap=max_gap, lines=lines, tail=True)
        if busdays.on_business_days(series):
            notes.append(BUSINESS_NOTE)
        notes += cut_note(series)
        kept = index >= series.index[0]  # all of them unless read from a long gap on
        interior = int(np.count_nonzero((empty_lines > lines[kept].min())
                                        & (empty_lines < lines[kept].max())))
        notes += _filled_notes(series, index[kept], lines[kept], interior)
    return _finish(series, vcol, notes, path, min_points)


def _date_and_time(frame: pd.DataFrame, time_col: str | None) -> tuple[pd.DataFrame, list[str]]:
    """A file whose time is split into a ``date`` and a ``time`` column (any case; a
    data logger's or spreadsheet's export) and has no ``timestamp`` column: the two
    joined into ``timestamp`` (first), with a note; else ``frame`` as it is.  Only
    when no --time-col is given and every row's date holds no clock time and its time
    no date."""
    lower = {str(c).lower(): c for c in frame.columns}
    if time_col is not None or "timestamp" in lower or not {"date", "time"} <= lower.keys():
        return frame, []
    date = frame[lower["date"]].fillna("").astype(str).str.strip()
    clock = frame[lower["time"]].fillna("").astype(str).str.strip()
    if date.str.contains(":").any() or not clock.str.fullmatch(TIME_ONLY).all():
        return frame, []
    out = frame.drop(columns=[lower["date"], lower["time"]])
    out.insert(0, "timestamp", (date + " " + clock).where((date != "") & (clock != ""), ""))
    return out, [f"columns {lower['date']!r} and {lower['time']!r} read together as the "
                 "time column 'timestamp'"]


def _one_offset_days(stamps: pd.Series, index: pd.DatetimeIndex, freq: str | None) -> list[str]:
    """A note when rows within the day carry UTC offsets that change (daylight-saving
    time): read on one offset, whole-day bins are that offset's days, an hour off the
    local ones for part of the year; ``--tz`` with the zone bins local calendar days."""
    found = stamps.astype(str).str.strip().str.extract(OFFSET_PATTERN, expand=False)
    if found.nunique() < 2:
        return []
    return [f"the timestamps' UTC offsets change ({', '.join(sorted(found.dropna().unique()))})"
            f": --freq {freq} bins are days at UTC offset "
            f"{found.iloc[int(np.argmax(index.asi8))]}, the last row's; "
            "pass --tz with the zone (e.g. --tz Europe/Berlin) for local calendar days"]


def _weeks_as_days(freq: str | None) -> tuple[str | None, list[str]]:
    """``--freq 1W`` (or ``2W``, ``W-MON``) as the fixed step it is, in days: pandas
    anchors weeks to a weekday, which is no fixed step to its Timedelta."""
    try:
        offset = pd.tseries.frequencies.to_offset(freq) if freq else None
    except (ValueError, TypeError):
        return freq, []
    if not isinstance(offset, pd.offsets.Week):
        return freq, []
    days = f"{7 * offset.n}D"
    return days, [f"--freq {freq} read as {days}: bins of {7 * offset.n} days from the first "
                  "day of the data"]


def _business_freq(freq: str | None) -> tuple[str | None, bool]:
    """``--freq B`` (business days) as daily bins to keep on weekdays only."""
    if freq is not None and freq.strip().upper() in ("B", "1B"):
        return "1D", True
    return freq, False


def _weekdays_only(series: pd.Series, index: pd.DatetimeIndex, lines: np.ndarray,
                   path: Path) -> pd.Series:
    """Daily bins ``series`` (``--freq B``) without their weekend days, on the business-day
    grid; rows (``index``) on a weekend are an error, since their load would be lost."""
    weekend = busdays.weekend_rows(index)
    if len(weekend):
        day = index[weekend[0]]
        raise SeriesError(
            f"{path}: --freq B: {day} is a {day.day_name()} ({lines_text(weekend, lines)}); "
            "business-day bins hold no weekend rows: use --freq 1D to forecast every "
            "calendar day",
            option="--freq",
        )
    weekday = np.asarray(series.index.day_of_week < 5)
    out = series[weekday].copy()
    out.attrs[busdays.ATTR] = True
    return mark_filled(out, filled_mask(series)[weekday])


def _whole_days(freq: str | None) -> bool:
    """Whether ``freq`` is a whole number of days (False for none or a bad one)."""
    try:
        width = pd.Timedelta(pd.tseries.frequencies.to_offset(freq)) if freq else None
    except (ValueError, TypeError):
        return False
    day = pd.Timedelta(days=1)
    return width is not None and width >= day and width % day == pd.Timedelta(0)


def _local_days(index: pd.DatetimeIndex, freq: str, notes: list[str]) -> pd.DatetimeIndex:
    """For bins of whole days on a clock that changes its UTC offset (daylight-saving
    time): the naive wall clock, so each bin is a local calendar day (23 or 25 hours at
    a change) and the bins a regular series of dates; else ``index`` as it is."""
    if index.tz is None or not _whole_days(freq) or len(index) == 0:
        return index
    offsets = index.tz_localize(None) - index.tz_convert("UTC").tz_localize(None)
    if offsets.nunique() < 2:
        return index
    if AS_CALENDAR_DAYS not in " ".join(notes):
        notes.append(f"--freq {freq} bins are local calendar days in {index.tz} (23 or 25 "
                     "hours long at a daylight-saving change), written without an offset")
    return index.tz_localize(None)


def _drop_partial_bins(series: pd.Series, index: pd.DatetimeIndex, freq: str,
                       notes: list[str]) -> pd.Series:
    """``series`` (``--agg sum`` bins) with its first and last bins checked against
    the data: a sum over part of a bin reads as a drop in load, and the last bin is
    what a forecast starts from.  A first bin the data cover in part is dropped; a
    last one covered at least 80 % is scaled to the whole bin and marked as filled
    in (an estimate, not an observation), else dropped (over half of a daily total
    the rate is no constant).  What was done goes into ``notes``.  Only for dense
    data (rows at nine in ten of the raw steps or more): counts per minute that
    leave out the minutes without events (departures from one airport) end where
    the last event fell, which says nothing about how much of the bin was seen."""
    if len(series) < 3:
        return series
    raw_step = infer_step(index)
    if len(index) < 0.9 * ((index.max() - index.min()) / raw_step + 1):
        return series
    width = pd.Timedelta(pd.tseries.frequencies.to_offset(freq))
    keep = np.ones(len(series), dtype=bool)
    filled = filled_mask(series)
    if index.min() > series.index[0]:
        keep[0] = False
        part = series.index[0] + width - index.min()
        notes.append(f"first --freq {freq} bin dropped: the data cover only "
                     f"{duration_text(part)} of it")
    part = index.max() + raw_step - series.index[-1]
    if part < width:
        if part >= 0.8 * width:  # the rest of the bin at the same rate
            series = series.copy()
            series.iloc[-1] *= width / part
            filled[-1] = True
            notes.append(f"last --freq {freq} bin: the data cover only {duration_text(part)} "
                         f"of it, so its sum is scaled to the whole bin (x{width / part:.3g}) "
                         "and counted as filled in")
        else:
            keep[-1] = False
            notes.append(f"last --freq {freq} bin dropped: the data cover only "
                         f"{duration_text(part)} of it")
    return mark_filled(series[keep], filled[keep])


def _changes_clock(stamps: pd.DatetimeIndex) -> bool:
    """Whether wall-clock times could be a daylight-saving change: at night (00:00 to
    04:00) in March, April, September, October or November (both hemispheres)."""
    return bool(((stamps.hour <= 3) & stamps.month.isin([3, 4, 9, 10, 11])).all())


def _check_clock_changes(index: pd.DatetimeIndex, where: str, lines: np.ndarray) -> None:
    """SeriesError for a naive series whose clock goes back by an hour at a few places
    of an otherwise sorted, regular run: local time at the end of daylight-saving time,
    which reads as a duplicated or unsorted timestamp, or, with --freq, a silently
    doubled bin."""
    if len(index) < 3:
        return
    diffs = np.diff(index.as_unit("ns").asi8)
    forward = diffs[diffs > 0]
    if len(forward) == 0:
        return
    values, counts = np.unique(forward, return_counts=True)
    step = int(values[np.argmax(counts)])
    hour = pd.Timedelta(hours=1).value
    if step > hour or hour % step:
        return
    back = np.flatnonzero(diffs == step - hour) + 1
    span_days = (index.max() - index.min()) / pd.Timedelta(days=1)
    others_sorted = np.count_nonzero(diffs <= 0) == len(back)
    if len(back) == 0 or not others_sorted or not _changes_clock(index[back]) \
            or len(back) > 1 + span_days / 150:
        return
    i = int(back[0])
    what = (f"timestamp {index[i]} repeats" if step == hour else
            f"the clock goes back from {index[i - 1]} to {index[i]}")
    raise SeriesError(
        f"{where}: {what} at {lines_text(back, lines)}, as local time does when "
        "daylight-saving time ends; "
        "pass --tz with the zone the file was written in (e.g. --tz Europe/London), "
        "or write the times in UTC or with their UTC offsets"
    )


def _filled_notes(series: pd.Series, index: pd.DatetimeIndex, lines: np.ndarray,
                  empty_cells: int) -> list[str]:
    """A note on the steps without a row in the file that the gap rule filled in
    (``empty_cells`` filled ones had a row, with an empty value, noted already)."""
    filled = filled_mask(series)
    absent = int(filled.sum()) - empty_cells
    if absent <= 0:
        return []
    first = int(np.flatnonzero(filled)[0])
    after = int(index.searchsorted(series.index[first]))
    where = f", the first before line {int(lines[after])}" if not empty_cells else ""
    steps = "business day(s)" if busdays.on_business_days(series) else "step(s)"
    note = f"{absent} {steps} without a row filled in by interpolation{where}"
    run = np.flatnonzero(~filled[first:])
    missing = series.index[first + int(run[0])] - series.index[first] if len(run) else None
    if (index.tz is None and missing == pd.Timedelta(hours=1)  # e.g. 01:00-01:59 skipped
            and _changes_clock(series.index[first:first + 1])):
        note += ("; an hour missing is what local time skips when daylight-saving time "
                 "starts: pass --tz with the file's zone to read it so")
    return [note]


# at least this share of the bins filled in: the note says the series is mostly drawn
MOSTLY_FILLED = 0.5


def _empty_bin_notes(series: pd.Series, freq: str) -> list[str]:
    """A note on the ``freq`` bins (business days on that grid) without a row that
    interpolation filled in (``mean`` and ``max``; an empty bin of ``sum`` or ``count``
    is a real zero), and, when they are most of the series, that the fit rests on the
    filled-in lines (NAB's TravelTime_387 at 10 minutes: 75 % of the bins; its rows come
    in bursts with long gaps between, so the average spacing, 40 minutes, still leaves
    58 % of its bins empty: the note names it but does not promise it)."""
    filled = filled_mask(series)
    count = int(filled.sum())
    if not count:
        return []
    business = busdays.on_business_days(series)
    bins = "business-day" if business else freq
    note = (f"{count} of {len(series)} {bins} bins ({count / len(series):.0%}) had no row: "
            "filled in by interpolation (a backtest does not score them)")
    if count >= MOSTLY_FILLED * len(series):
        every = int(round(len(series) / (len(series) - count)))
        step = f"{every} business days" if business else duration_text(
            every * pd.Timedelta(pd.tseries.frequencies.to_offset(freq)))
        note += (f"; most of the series is lines drawn between rows (one row per {step} of "
                 "its span on average), and the model is fitted on those lines as if they "
                 "were readings: a coarser --freq leaves fewer bins empty")
    return [note]


def _finish(
    series: pd.Series, name: str, notes: list[str], path: Path, min_points: int
) -> pd.Series:
    series.name = name
    if len(series) < min_points:
        raise SeriesError(
            f"{path}: too few points ({len(series)}); at least {min_points} are needed"
        )
    series.attrs["notes"] = notes
    return series
