"""Reading load series from CSV files, with errors a user can act on.

Every command that takes a trace (forecast, train, simulate) reads it here, so
the rules of DESIGN's "Data formats" live in one place: the default columns
``timestamp,value`` with a fallback to any two-column file (comma-, semicolon-
or tab-separated), naive local timestamps unless they carry an offset (ISO 8601,
epoch seconds/milliseconds, or local forms such as ``13/01/2024 08:00``, read
day-first or month-first, whichever gives a sorted, regular column), optional
resampling of raw traces (``freq`` + ``agg``; ``agg="count"`` counts rows, so an
event log of bare timestamps will do), and a regular series out, or a
:class:`SeriesError` that names the file, the column and the line.

Exports from spreadsheets and monitoring tools are read as they come: UTF-8
with or without BOM (else Windows-1252), gzip/bz2/xz (by content), CRLF, quoted
cells, header names in any case, extra columns, a file without a header row,
blank or all-empty rows (dropped), thousands separators and decimal commas
(``1,234.5``; ``1.234,5`` in semicolon files), one unit on every value
(``12 ms``; mixed units or scale letters such as ``1.2k`` are errors), and empty
or NA cells (missing points, filled by the gap rule below), rows newest first
(read oldest first), rows repeated exactly (dropped).  Line numbers in messages
are the file's own lines.

Gap rule: without ``freq``, a missing run of at most ``max_gap`` steps is
filled by linear interpolation; a longer one is an error.  With ``freq``, an
empty bin is 0 for ``agg="sum"``/``"count"`` (no events in it) and is
interpolated up to ``max_gap`` bins for ``agg="mean"``/``"max"``.  The points
a gap rule filled in are not observations: ``filled_mask(series)`` tells them
apart (``series.attrs["filled"]`` holds them as runs of timestamps), so a
backtest can keep them out of its scores.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import lzma
import re
from pathlib import Path

import numpy as np
import pandas as pd

AGGREGATIONS = ("sum", "mean", "max", "count")
DEFAULT_MAX_GAP = 12
DEFAULT_MIN_POINTS = 16
MIN_POINTS = 16  # fewest points a model is fitted on
_SHOW = 5  # how many offending lines an error message lists


class SeriesError(ValueError):
    """A series that cannot be used, with where the problem is.

    ``option`` names the command-line flag at fault when it is not the file itself
    (``--freq``, ``--agg``), so a CLI can report the error against that flag."""

    def __init__(self, message: str, option: str | None = None) -> None:
        super().__init__(message)
        self.option = option


def _lines(positions: np.ndarray, lines: np.ndarray | None = None) -> str:
    """File line numbers of 0-based row positions (``lines[p]``; default p + 2, the
    header being line 1)."""
    numbers = lines[positions] if lines is not None else np.asarray(positions) + 2
    shown = ", ".join(str(int(p)) for p in numbers[:_SHOW])
    more = f" (and {len(positions) - _SHOW} more)" if len(positions) > _SHOW else ""
    return f"line{'s' if len(positions) > 1 else ''} {shown}{more}"


def _duration(delta: pd.Timedelta) -> str:
    seconds = delta.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


_OFFSET = r"\d\d:\d\d(?::\d\d(?:[.,]\d+)?)?\s?(Z|[+-]\d\d(?::?\d\d)?)$"  # after a time


def _epoch_unit(numbers: pd.Series) -> str | None:
    """``s``/``ms``/``us``/``ns`` for epoch numbers; None below 1e8 (a year, a count)."""
    top = float(numbers.abs().max())
    if not np.isfinite(top) or top < 1e8:
        return None
    return "ns" if top > 1e17 else "us" if top > 1e14 else "ms" if top > 1e11 else "s"


def _parse_times(raw: pd.Series, where: str, lines: np.ndarray | None = None) -> pd.DatetimeIndex:
    """The column's timestamps; an event log repeats each one many times, so when
    fewer than half the cells are distinct only the distinct ones are parsed (three
    million departures hold 213 thousand distinct minutes).  A file that fails is
    parsed again row by row, so the message names its lines."""
    codes, uniques = pd.factorize(raw, sort=False)
    if 2 * len(uniques) < len(raw) and (codes >= 0).all():
        try:
            distinct = _parse_each(pd.Series(uniques, dtype=object), where)
        except SeriesError:
            pass
        else:
            return distinct[codes]
    return _parse_each(raw, where, lines)


def _parse_each(raw: pd.Series, where: str, lines: np.ndarray | None = None) -> pd.DatetimeIndex:
    text = raw.astype(str).str.strip()
    missing = np.flatnonzero(raw.isna().to_numpy() | (text == "").to_numpy())
    if len(missing):
        raise SeriesError(f"{where}: empty timestamp at {_lines(missing, lines)}")
    numeric = pd.to_numeric(text, errors="coerce")
    unit = _epoch_unit(numeric) if numeric.notna().all() else None
    if unit is not None:  # epoch seconds (or milli-, micro-, nanoseconds)
        return pd.DatetimeIndex(pd.to_datetime(numeric, unit=unit))
    offsets = text.str.extract(_OFFSET, expand=False)
    has_offset = offsets.notna()
    if has_offset.any() and not has_offset.all():
        mixed = np.flatnonzero(~has_offset.to_numpy())
        raise SeriesError(
            f"{where}: some timestamps carry a UTC offset and some do not "
            f"(no offset at {_lines(mixed, lines)})"
        )
    utc = bool(has_offset.all())
    parsed = pd.to_datetime(text, errors="coerce", format="ISO8601", utc=utc)
    if parsed.isna().any():
        parsed = _parse_local_dates(text, utc, where, lines)
    index = pd.DatetimeIndex(parsed)
    if utc:
        distinct = set(offsets.str.replace("Z", "+00:00").str.replace(":", ""))
        if len(distinct) == 1:  # one fixed offset: keep the local wall clock
            index = index.tz_convert(pd.Timestamp(text.iloc[0]).tzinfo)
    return index


def _regularity(parsed: pd.Series) -> tuple[bool, float]:
    """(sorted, share of steps equal to the most common step) of parsed times."""
    steps = np.diff(pd.DatetimeIndex(parsed).as_unit("ns").asi8)
    if len(steps) == 0:
        return True, 1.0
    _, counts = np.unique(steps, return_counts=True)
    return bool((steps >= 0).all()), float(counts.max() / len(steps))


def _parse_local_dates(
    text: pd.Series, utc: bool, where: str, lines: np.ndarray | None = None
) -> pd.Series:
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
        raise SeriesError(f"{where}: unparseable timestamp {sample!r} at {_lines(bad, lines)}")
    return parsed


_NA_TOKENS = {"", "nan", "na", "n/a", "#n/a", "null", "none", "-"}
_SCALE_LETTERS = {"k", "K", "M", "G", "T", "B", "m", "u", "µ", "n"}
_UNIT = r"^([+-]?(?:\d[\d.,'\s\u00a0\u202f]*)?\d(?:[eE][+-]?\d+)?)\s*([^\d\s.,'+-].*)$"
_GROUPING = "'\\s\u00a0\u202f"  # apostrophe, (narrow) no-break or plain space between groups
_CONVENTIONS = {  # decimal mark: (one number, the digit-group separators to drop)
    ".": (rf"[+-]?(?:\d{{1,3}}(?:[,{_GROUPING}]\d{{3}})+|\d*)(?:\.\d+)?", f"[,{_GROUPING}]"),
    ",": (rf"[+-]?(?:\d{{1,3}}(?:[.{_GROUPING}]\d{{3}})+|\d*)(?:,\d+)?", f"[.{_GROUPING}]"),
}


def _strip_unit(text: pd.Series, where: str, lines: np.ndarray | None) -> tuple[pd.Series, str]:
    """Numbers without the unit every value carries (``12.5 ms``), and that unit."""
    parts = text.str.extract(_UNIT)
    if parts[0].isna().any() or parts[1].isna().all():
        return text, ""
    units = parts[1].str.strip()
    first = units.iloc[0]
    other = np.flatnonzero((units != first).to_numpy())
    if len(other):
        raise SeriesError(
            f"{where}: mixed units {first!r} and {units.iloc[other[0]]!r} at "
            f"{_lines(other[:1], lines)}; convert the column to one unit"
        )
    if first in _SCALE_LETTERS:
        raise SeriesError(
            f"{where}: value {text.iloc[0]!r} has a scale suffix {first!r} "
            f"({_lines(np.array([0]), lines)}); write plain numbers"
        )
    return parts[0], first


def _by_convention(text: pd.Series, comma_decimal: bool) -> tuple[np.ndarray, np.ndarray]:
    """Floats under the decimal convention that reads most cells (the file's own first)."""
    best: tuple[np.ndarray, np.ndarray] | None = None
    for mark in (",", ".") if comma_decimal else (".", ","):
        pattern, grouping = _CONVENTIONS[mark]
        ok = text.str.fullmatch(pattern) & text.str.contains(r"\d", regex=True)
        digits = text.where(ok, "x").str.replace(grouping, "", regex=True)
        values = pd.to_numeric(digits.str.replace(mark, ".", regex=False), errors="coerce")
        if best is None or values.notna().sum() > np.isfinite(best[0]).sum():
            best = (values.to_numpy(dtype=float), values.isna().to_numpy())
    assert best is not None
    return best


def _to_numbers(
    text: pd.Series, where: str, lines: np.ndarray | None, comma_decimal: bool
) -> tuple[np.ndarray, str]:
    """Floats from number cells (no NA among them) and the unit stripped, or an error."""
    plain = pd.to_numeric(text, errors="coerce")
    if plain.notna().all():
        return plain.to_numpy(dtype=float), ""
    values, bad = _by_convention(text, comma_decimal)
    unit = ""
    if bad.any():
        number, unit = _strip_unit(text, where, lines)
        if unit:
            values, bad = _by_convention(number, comma_decimal)
    if bad.any():
        first = np.flatnonzero(bad)
        raise SeriesError(
            f"{where}: non-numeric value {text.iloc[first[0]]!r} at {_lines(first, lines)}"
        )
    return values, unit


def _parse_values(
    raw: pd.Series, where: str, lines: np.ndarray | None = None, comma_decimal: bool = False
) -> tuple[np.ndarray, str]:
    """Values (NaN for empty or NA cells) and the unit stripped from them."""
    text = raw.fillna("").astype(str).str.strip()
    present = ~text.str.lower().isin(_NA_TOKENS).to_numpy()
    arr = np.full(len(text), np.nan)
    unit = ""
    if present.any():
        kept = np.flatnonzero(present)
        arr[kept], unit = _to_numbers(
            text.iloc[kept], where, None if lines is None else lines[kept], comma_decimal
        )
    bad = np.flatnonzero(np.isinf(arr))
    if len(bad):
        raise SeriesError(f"{where}: non-finite value at {_lines(bad, lines)}")
    neg = np.flatnonzero(arr < 0)
    if len(neg):
        raise SeriesError(
            f"{where}: negative value {arr[neg[0]]:g} at {_lines(neg, lines)} "
            "(load must be >= 0)"
        )
    return arr, unit


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
    lines: np.ndarray | None = None,
) -> pd.Series:
    """Check order, duplicates and spacing; fill short gaps; return a regular series.

    Raises :class:`SeriesError` for unsorted or duplicated timestamps, a spacing
    that is not a multiple of the step, or a gap longer than ``max_gap`` steps;
    ``lines`` are the points' file lines for the message (default position + 2).
    """
    if len(index) < 2:
        raise SeriesError(f"{where}: too few points ({len(index)})")
    index = index.as_unit("ns")
    diffs = np.diff(index.asi8)
    dup = np.flatnonzero(diffs == 0) + 1
    if len(dup):
        raise SeriesError(
            f"{where}: duplicated timestamp {index[dup[0]]} at {_lines(dup, lines)} "
            "(use --freq with --agg to aggregate raw events)"
        )
    back = np.flatnonzero(diffs < 0) + 1
    if len(back):
        raise SeriesError(
            f"{where}: timestamps not sorted: {index[back[0]]} comes after "
            f"{index[back[0] - 1]} at {_lines(back, lines)} (sort the file or use --freq)"
        )
    step = step if step is not None else infer_step(index)
    step_ns = step.value
    ratio = diffs / step_ns
    irregular = np.flatnonzero(np.abs(ratio - np.round(ratio)) > 1e-6) + 1
    if len(irregular):
        if diffs.min() >= pd.Timedelta(days=28).value:  # 28-31 days: calendar months
            raise SeriesError(
                f"{where}: irregular timestamps: steps of "
                f"{_duration(pd.Timedelta(int(diffs.min()), unit='ns'))} to "
                f"{_duration(pd.Timedelta(int(diffs.max()), unit='ns'))} look like calendar "
                "months, quarters or years, which are not a fixed step; fleetcast forecasts "
                f"load at fixed steps from seconds to days ({_lines(irregular, lines)})"
            )
        raise SeriesError(
            f"{where}: irregular timestamps: {index[irregular[0]]} is "
            f"{_duration(pd.Timedelta(int(diffs[irregular[0] - 1]), unit='ns'))} after the "
            f"previous row, not a multiple of the step {_duration(step)} "
            f"({_lines(irregular, lines)}); resample with --freq"
        )
    missing = np.round(ratio).astype(int) - 1
    long_gaps = np.flatnonzero(missing > max_gap) + 1
    if len(long_gaps):
        i = long_gaps[0]
        raise SeriesError(
            f"{where}: gap of {missing[i - 1]} missing steps before {index[i]} "
            f"({_lines(long_gaps, lines)}); at most {max_gap} are filled by interpolation "
            "(--max-gap)"
        )
    series = pd.Series(values, index=index, dtype=float)
    filled = np.zeros(len(series), dtype=bool)
    if missing.any():
        full = pd.date_range(index[0], index[-1], freq=step)
        series = series.reindex(full)
        filled = series.isna().to_numpy()
        series = series.interpolate(method="linear")
    series.index.freq = None
    return mark_filled(series, filled)


def resample(
    values: np.ndarray, index: pd.DatetimeIndex, freq: str, agg: str, where: str, max_gap: int
) -> pd.Series:
    """Aggregate raw or fine-grained points into regular ``freq`` bins."""
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
    return mark_filled(out.astype(float), gaps)


def _decode(path: Path) -> str:
    """The file's text: gzip/bz2/xz by content, UTF-8 (BOM or not) else Windows-1252."""
    if path.is_dir():
        raise SeriesError(f"{path}: is a directory, not a CSV file")
    if not path.exists():
        raise SeriesError(f"{path}: no such file")
    try:
        data = path.read_bytes()
        for magic, module in ((b"\x1f\x8b", gzip), (b"BZh", bz2), (b"\xfd7zXZ\x00", lzma)):
            if data.startswith(magic):
                data = module.decompress(data)
    except (OSError, EOFError, ValueError, lzma.LZMAError) as exc:
        raise SeriesError(f"{path}: cannot read: {exc}") from exc
    if data.startswith(b"PK\x03\x04"):
        raise SeriesError(f"{path}: a zip archive (or an Excel workbook), not a CSV file; "
                          "unzip it or save the sheet as CSV")
    if b"\x00" in data[:4096]:
        raise SeriesError(f"{path}: a binary file, not a CSV file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")  # a spreadsheet's "CSV (Windows)"


def _looks_like_data(cells: list[str]) -> bool:
    """A first row that is a timestamp and a number, not a header."""
    if len(cells) < 2 or not re.search(r"\d", cells[0]):
        return False
    stamp = pd.to_datetime(pd.Series(cells[:1]), errors="coerce", format="mixed")
    value = pd.to_numeric(pd.Series(cells[1:2]).str.replace(",", "."), errors="coerce")
    return bool(stamp.notna().all() and value.notna().all())


def _read_table(path: Path) -> tuple[pd.DataFrame, np.ndarray, str]:
    """All cells as stripped text, all-empty rows dropped; each row's file line; the separator."""
    text = _decode(path)
    body = text.lstrip("\r\n")
    skipped = text[: len(text) - len(body)].count("\n")
    header = body.split("\n", 1)[0]
    if not header.strip():
        raise SeriesError(f"{path}: the file is empty")
    unquoted = re.sub(r'"[^"]*"', "", header)
    sep = max((",", ";", "\t"), key=unquoted.count)
    first = next(csv.reader([header.rstrip("\r")], delimiter=sep, skipinitialspace=True))
    headerless = _looks_like_data([c.strip() for c in first])
    try:
        frame = pd.read_csv(io.StringIO(body), sep=sep, dtype=str, keep_default_na=False,
                            header=None if headerless else 0, skip_blank_lines=False,
                            skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise SeriesError(f"{path}: not a readable CSV file ({exc})") from exc
    frame = frame.fillna("").apply(lambda col: col.str.strip())
    if headerless:
        n = len(frame.columns)
        frame.columns = ["timestamp", "value"] if n == 2 else [f"column {i + 1}" for i in range(n)]
    frame.columns = [str(c).strip() for c in frame.columns]
    filled = (frame != "").any(axis=1).to_numpy()
    lines = np.flatnonzero(filled) + skipped + (1 if headerless else 2)
    return frame[filled].reset_index(drop=True), lines, sep


def _pick_columns(columns: list[str], time_col: str | None, value_col: str | None,
                  where: str, need_value: bool = True) -> tuple[str, str | None]:
    """The time and value columns: named ones (any case) must exist; the defaults
    ``timestamp``/``value`` fall back to the two columns of a two-column file.
    Without ``need_value`` (an event log counted per bin) only the time column is
    needed: ``timestamp``, else the file's only or first column."""
    def find(name: str) -> str | None:
        matches = [c for c in columns if c == name] or [
            c for c in columns if c.lower() == name.lower()
        ]
        return matches[0] if matches else None

    shown = ", ".join(c[:40] for c in columns[:12]) + (", ..." if len(columns) > 12 else "")
    listing = f"(columns: {shown or 'none'})"
    for name, flag in ((time_col, "--time-col"), (value_col, "--value-col")):
        if name is not None and find(name) is None:
            raise SeriesError(f"{where}: column {name!r} ({flag}) not found {listing}")
    tcol, vcol = find(time_col or "timestamp"), find(value_col or "value")
    if not need_value:
        return tcol or columns[0], vcol
    if (tcol is None or vcol is None) and len(columns) == 2:
        tcol = tcol or next(c for c in columns if c != vcol)
        vcol = vcol or next(c for c in columns if c != tcol)
    if tcol is None or vcol is None or tcol == vcol:
        absent = "timestamp" if tcol is None else "value"
        raise SeriesError(
            f"{where}: column {absent!r} not found {listing}; "
            "pass --time-col/--value-col or use a two-column file"
        )
    return tcol, vcol


def read_series(
    path: str | Path,
    time_col: str | None = None,
    value_col: str | None = None,
    freq: str | None = None,
    agg: str = "sum",
    max_gap: int = DEFAULT_MAX_GAP,
    min_points: int = DEFAULT_MIN_POINTS,
) -> pd.Series:
    """Read a regular, non-negative load series from a CSV file.

    ``time_col``/``value_col`` name the columns (any case); left out, they are
    ``timestamp``/``value`` or the two columns of a two-column file.  ``freq``
    (e.g. ``"5min"``) resamples with ``agg``; without it the file must already
    be regular (short gaps are interpolated, see the module docstring).  What
    the reader did on the way (units stripped, empty cells) is listed in
    ``series.attrs["notes"]``; which points it filled in, in
    ``series.attrs["filled"]`` (read it with :func:`filled_mask`).
    """
    path = Path(path)
    frame, lines, sep = _read_table(path)
    # --agg count counts rows (events) per bin: only the timestamps are read
    events = bool(freq) and agg == "count"
    tcol, vcol = _pick_columns(list(frame.columns), time_col, value_col, str(path),
                               need_value=not events)
    if len(frame) < 2:
        raise SeriesError(f"{path}: too few points ({len(frame)} rows)")
    index = _parse_times(frame[tcol], f"{path}: column {tcol!r}", lines)
    if events or vcol is None:
        series = resample(np.ones(len(index)), index, str(freq), agg, str(path), max_gap)
        return _finish(series, "count", [], path, min_points)
    values, unit = _parse_values(frame[vcol], f"{path}: column {vcol!r}", lines,
                                 comma_decimal=sep == ";")
    notes = [f"unit {unit!r} stripped from column {vcol!r}"] if unit else []
    empty = np.flatnonzero(np.isnan(values))
    if len(empty) > len(values) - 2:
        raise SeriesError(f"{path}: column {vcol!r}: {len(empty)} of {len(values)} values are "
                          "empty; at least 2 are needed")
    if len(empty):
        notes.append(f"{len(empty)} empty value(s) in column {vcol!r} ({_lines(empty, lines)}) "
                     "read as missing points")
        keep = np.isfinite(values)
        index, values, lines = index[keep], values[keep], lines[keep]
    if len(index) > 2 and index.is_monotonic_decreasing and index.is_unique:
        notes.append("rows run newest first; read oldest first")
        index, values, lines = index[::-1], values[::-1], lines[::-1]
    if not freq:  # overlapping exports pasted together repeat rows; conflicting ones stay errors
        repeated = np.flatnonzero((index[1:] == index[:-1]) & (values[1:] == values[:-1])) + 1
        if len(repeated):
            notes.append(f"{len(repeated)} repeated row(s) ({_lines(repeated, lines)}) dropped")
            keep = np.ones(len(index), dtype=bool)
            keep[repeated] = False
            index, values, lines = index[keep], values[keep], lines[keep]
    if freq:
        series = resample(values, index, freq, agg, str(path), max_gap)
        if infer_step(index) > pd.Timedelta(pd.tseries.frequencies.to_offset(freq)):
            raise SeriesError(
                f"{path}: --freq {freq} is finer than the data's own step "
                f"{_duration(infer_step(index))}",
                option="--freq",
            )
    else:
        series = regularize(values, index, str(path), max_gap=max_gap, lines=lines)
    return _finish(series, vcol, notes, path, min_points)


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
    """An in-memory series made regular (short gaps filled), and its step in seconds.

    The result's ``attrs["filled"]`` marks the points filled here and those the
    input already marked (a series from :func:`read_series`)."""
    if not isinstance(series, pd.Series):
        raise TypeError(f"fit expects a pandas Series, got {type(series).__name__}")
    if not isinstance(series.index, pd.DatetimeIndex):
        raise TypeError("fit expects a Series with a DatetimeIndex (use forecaster.io.read_series)")
    if len(series) < MIN_POINTS:
        raise SeriesError(f"too few points to fit ({len(series)}); at least {MIN_POINTS} needed")
    values = check_values(series)
    regular = regularize(values, pd.DatetimeIndex(series.index), "series", max_gap=max_gap)
    inherited = series.attrs.get("filled", ())
    if inherited:  # points the reader filled in stay filled in (they are not observations)
        own = filled_mask(regular)
        regular.attrs["filled"] = inherited
        mark_filled(regular, own | filled_mask(regular))
    step = pd.Timedelta(regular.index[1] - regular.index[0]).total_seconds()
    return regular, step
