"""Reading the cells of a series file: timestamps and numbers as exports write them.

:mod:`forecaster.io` reads files and regularizes series; this module turns one
column of raw cells into timestamps (ISO 8601 with or without offsets, epoch
seconds or milliseconds, local day- or month-first forms) or values (thousands
separators, decimal commas, one unit on every value, NA tokens), and holds the
:class:`SeriesError` every reading step raises, with the helpers that name the
file's own lines in its messages.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

_SHOW = 5  # how many offending lines an error message lists


class SeriesError(ValueError):
    """A series that cannot be used, with where the problem is.

    ``option`` names the command-line flag at fault when it is not the file itself
    (``--freq``, ``--agg``), so a CLI can report the error against that flag."""

    def __init__(self, message: str, option: str | None = None) -> None:
        super().__init__(message)
        self.option = option


def lines_text(positions: np.ndarray, lines: np.ndarray | None = None,
               first_point: int | None = None) -> str:
    """File line numbers of 0-based row positions (``lines[p]``; default p + 2, the
    header being line 1), or, for points that came from code and not a file, their
    numbers counted from ``first_point``."""
    if first_point is not None:
        numbers, word = np.asarray(positions) + first_point, "point"
    else:
        numbers = lines[positions] if lines is not None else np.asarray(positions) + 2
        word = "line"
    shown = ", ".join(str(int(p)) for p in numbers[:_SHOW])
    more = f" (and {len(positions) - _SHOW} more)" if len(positions) > _SHOW else ""
    return f"{word}{'s' if len(positions) > 1 else ''} {shown}{more}"


def duration_text(delta: pd.Timedelta) -> str:
    seconds = delta.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


_OFFSET = r"\d\d:\d\d(?::\d\d(?:[.,]\d+)?)?\s?(Z|[+-]\d\d(?::?\d\d)?)$"  # after a time
OFFSET_PATTERN = _OFFSET
# rows at one time of day but one in this many or fewer: still read as calendar days
STRAY_SHARE = 10


def _epoch_unit(numbers: pd.Series) -> str | None:
    """``s``/``ms``/``us``/``ns`` for epoch numbers; None below 1e8 (a year, a count)."""
    top = float(numbers.abs().max())
    if not np.isfinite(top) or top < 1e8:
        return None
    return "ns" if top > 1e17 else "us" if top > 1e14 else "ms" if top > 1e11 else "s"


def parse_times(raw: pd.Series, where: str, lines: np.ndarray | None = None) -> pd.DatetimeIndex:
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
        raise SeriesError(f"{where}: empty timestamp at {lines_text(missing, lines)}")
    compact = _compact_dates(text)
    if compact is not None:  # 2024010108, 202401010800, 20240101080000
        return compact
    numeric = pd.to_numeric(text, errors="coerce")
    unit = _epoch_unit(numeric) if numeric.notna().all() else None
    if unit is not None:  # epoch seconds (or milli-, micro-, nanoseconds)
        return pd.DatetimeIndex(pd.to_datetime(numeric, unit=unit))
    if numeric.notna().all() and not text.str.fullmatch(r"(?:19|20)\d\d").all():  # years go on
        dates = pd.to_datetime(text, errors="coerce", format="%Y%m%d")  # 20240101
        if dates.notna().all() and text.str.fullmatch(r"\d{8}").all():
            return pd.DatetimeIndex(dates)
        serial = bool(numeric.between(20000, 80000).all())  # days since 1899-12-30
        raise SeriesError(
            f"{where}: timestamps are plain numbers ({text.iloc[0]!r} at "
            f"{lines_text(np.array([0]), lines)}), too small for epoch seconds or "
            "milliseconds: "
            + ("they look like spreadsheet serial dates; format the column as dates before "
               "saving the CSV" if serial else
               "write dates (2024-01-01 08:00) or epoch times (seconds since 1970)")
        )
    times = np.flatnonzero(text.str.fullmatch(TIME_ONLY).to_numpy())
    if len(times):
        raise SeriesError(
            f"{where}: timestamp {text.iloc[times[0]]!r} has a time but no date "
            f"({lines_text(times, lines)}); write the date too (2024-01-01 08:00)"
        )
    offsets = text.str.extract(_OFFSET, expand=False)
    has_offset = offsets.notna()
    if has_offset.any() and not has_offset.all():
        mixed = np.flatnonzero(~has_offset.to_numpy())
        raise SeriesError(
            f"{where}: some timestamps carry a UTC offset and some do not "
            f"(no offset at {lines_text(mixed, lines)})"
        )
    utc = bool(has_offset.all())
    parsed = pd.to_datetime(text, errors="coerce", format="ISO8601", utc=utc)
    if parsed.isna().any():
        parsed = _parse_local_dates(text, utc, where, lines)
    index = pd.DatetimeIndex(parsed)
    if utc:
        wall = _dates_across_clock_changes(index, offsets)
        if wall is not None:
            return wall
        # One fixed offset: keep that wall clock.  Several (a local clock across a
        # daylight-saving change): the latest row's, so what follows the series
        # (a forecast) continues the clock the file ends on.
        latest = int(np.argmax(index.asi8)) if len(index) else 0
        index = index.tz_convert(pd.Timestamp(text.iloc[latest]).tzinfo)
    return index


def _dates_across_clock_changes(
    index: pd.DatetimeIndex, offsets: pd.Series
) -> pd.DatetimeIndex | None:
    """The naive wall clock of timestamps whose UTC offsets (``offsets``, as written)
    change with daylight-saving time but which all fall at one time of day: see
    :func:`calendar_days`.  ``None`` for anything else."""
    text = offsets.fillna("Z").astype(str)
    if text.nunique() < 2:
        return None
    sign = np.where(text.str.startswith("-"), -1, 1)
    digits = text.str.replace(r"[^0-9]", "", regex=True).str.ljust(4, "0")
    minutes = np.where(
        text == "Z", 0, sign * (digits.str[:2].astype(int) * 60 + digits.str[2:4].astype(int))
    )
    shifts = pd.to_timedelta(minutes, unit="min")
    wall = index.tz_convert("UTC").tz_localize(None) + shifts
    return _one_time_of_day(pd.DatetimeIndex(wall), pd.TimedeltaIndex(shifts))


def calendar_days(index: pd.DatetimeIndex) -> pd.DatetimeIndex | None:
    """The naive wall clock of a zoned ``index`` whose UTC offset changes but whose
    rows all fall at one time of day, else ``None``.

    Daily rows written as local midnight (``2024-03-31T00:00:00+02:00`` after
    ``2024-03-30T00:00:00+01:00``, or read with ``--tz``) are local calendar days,
    23 or 25 hours apart at a daylight-saving change.  On one clock they looked
    irregular, or with ``--freq 1D`` landed in the day before for half the year."""
    if index.tz is None:
        return None
    return _one_time_of_day(index.tz_localize(None), _utc_offsets(index))


def _utc_offsets(index: pd.DatetimeIndex) -> pd.TimedeltaIndex:
    return pd.TimedeltaIndex(index.tz_localize(None) - index.tz_convert("UTC").tz_localize(None))


def _one_time_of_day(wall: pd.DatetimeIndex, shifts: pd.TimedeltaIndex) -> pd.DatetimeIndex | None:
    """``wall`` when its rows (UTC offsets ``shifts``, two or more of them) fall at one
    time of day, else ``None``.  A row later than the others by just the amount its
    clock jumped forward since the row before counts as at that time: the time did
    not exist that day (America/Sao_Paulo's daylight-saving time began at midnight,
    so its local midnight of 2018-11-04 is written 01:00 -02:00).  A few other rows
    (at most one in ``STRAY_SHARE``) may be off that time: they stay as written, so
    the reader names them, and with ``--freq 1D`` each lands in its own local day;
    on one clock a single stray row sent half a year of days into the day before."""
    if shifts.nunique() < 2 or len(wall) < 2:
        return None
    order = np.argsort(wall.asi8, kind="stable")
    wall, shifts = wall[order], shifts[order]
    time_of_day = wall - wall.normalize()
    usual = time_of_day.value_counts().index[0]
    off = np.flatnonzero(time_of_day != usual)
    if len(off):
        jumps = np.r_[0, np.diff(shifts.asi8)][off]
        late = (time_of_day[off] - usual).asi8
        skipped = off[(late == jumps) & (late > 0)]
        if len(off) - len(skipped) > len(wall) / STRAY_SHARE:
            return None
        moved = np.zeros(len(wall), dtype=bool)
        moved[skipped] = True
        wall = pd.DatetimeIndex(np.where(moved, wall.normalize() + usual, wall))
    return wall[np.argsort(order, kind="stable")]


def localize(
    index: pd.DatetimeIndex, tz: str, where: str, lines: np.ndarray | None = None
) -> pd.DatetimeIndex:
    """``index`` in the time zone ``tz`` (an IANA name such as ``Europe/London``):
    naive timestamps are read as that zone's wall clock, so a daylight-saving change
    is one step like any other (the repeated hour is told apart by the order of the
    rows, which must then run oldest first); timestamps with offsets are converted."""
    try:
        zone = pd.Timestamp(0, tz=tz).tz
    except (KeyError, ValueError, TypeError):  # pytz' UnknownTimeZoneError is a KeyError
        raise SeriesError(
            f"unknown time zone {tz!r}: give an IANA name such as Europe/London, "
            "America/New_York or UTC",
            option="--tz",
        ) from None
    if index.tz is not None:
        return index.tz_convert(zone)
    standard = np.zeros(len(index), dtype=bool)
    probe = index.tz_localize(zone, ambiguous=standard, nonexistent="NaT")
    skipped = np.flatnonzero(probe.isna())
    if len(skipped):
        # dates (rows at one time of day) where the clock jumped forward from that
        # very time (America/Sao_Paulo's midnight of 2018-11-04): the day starts when
        # the clock jumps to, which calendar_days reads as the date again
        moved = index.tz_localize(zone, ambiguous=standard, nonexistent="shift_forward")
        after = moved[skipped]
        before = after - pd.Timedelta(1, "ns")
        jump = _utc_offsets(after) - _utc_offsets(before)
        if (after.tz_localize(None) - index[skipped] == jump).all() \
                and calendar_days(moved) is not None:
            return moved
        raise SeriesError(
            f"{where}: timestamp {index[skipped[0]]} does not exist in {tz} (the clock skips "
            f"it when daylight-saving time starts) at {lines_text(skipped, lines)}; "
            "is --tz the zone the file was written in?"
        )
    try:
        return index.tz_localize(zone, ambiguous="infer")
    except Exception:  # noqa: BLE001 - pytz' AmbiguousTimeError is no ValueError
        summer = np.ones(len(index), dtype=bool)
        twice = np.flatnonzero(
            index.tz_localize(zone, ambiguous=summer).asi8 != probe.asi8
        )
        raise SeriesError(
            f"{where}: timestamp {index[twice[0]] if len(twice) else index[0]} happens twice "
            f"in {tz} (the clock goes back when daylight-saving time ends) and the rows do not "
            f"show which is which ({lines_text(twice, lines)}); sort them oldest first or "
            "write the times in UTC or with their UTC offsets"
        ) from None


_COMPACT = {10: "%Y%m%d%H", 12: "%Y%m%d%H%M", 14: "%Y%m%d%H%M%S"}
TIME_ONLY = r"\d{1,2}:\d\d(?::\d\d(?:[.,]\d+)?)?(?:\s*[AaPp]\.?[Mm]\.?)?"


def _compact_dates(text: pd.Series) -> pd.DatetimeIndex | None:
    """Digits-only dates with the hour (``2024010108``, ``202401010800``,
    ``20240101080000``), when every cell reads so; else None (epoch numbers of that
    many digits are never all valid dates of 1900-2099)."""
    width = text.str.len()
    if len(text) == 0 or width.nunique() != 1 or int(width.iloc[0]) not in _COMPACT:
        return None
    if not text.str.fullmatch(r"(?:19|20)\d+").all():
        return None
    parsed = pd.to_datetime(text, errors="coerce", format=_COMPACT[int(width.iloc[0])])
    return pd.DatetimeIndex(parsed) if parsed.notna().all() else None


_ZONE_NAME = r"^(.*\d)\s+([A-Z]{2,5})$"
_NOT_ZONES = {"AM", "PM", "UTC", "GMT", "Z"}


def strip_zone_names(raw: pd.Series) -> tuple[pd.Series, list[str]]:
    """Timestamps without a zone abbreviation every cell ends with (``2024-03-31
    03:00:00 CEST``; ambiguous, so not used: CST is China's and Central America's),
    and the names dropped; ``raw`` unchanged when there are none.  UTC and GMT stay."""
    if len(raw) == 0 or not re.match(_ZONE_NAME, str(raw.iloc[0]).strip()):
        return raw, []  # the first cell decides cheaply for the usual file
    text = raw.astype(str).str.strip()
    parts = text.str.extract(_ZONE_NAME)
    if parts[1].isna().any():
        return raw, []
    names = sorted(set(parts[1]) - _NOT_ZONES)
    if not names:
        return raw, []
    return parts[0], names


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
        footer = (len(bad) <= 3 < len(text) and bad[0] == len(text) - len(bad)
                  and (np.diff(bad) == 1).all())
        raise SeriesError(
            f"{where}: unparseable timestamp {sample!r} at {lines_text(bad, lines)}"
            + (f", the file's last {'rows' if len(bad) > 1 else 'row'}: a footer (a total or "
               "a note) is not data; delete it from the file" if footer else ""))
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
            f"{lines_text(other[:1], lines)}; convert the column to one unit"
        )
    if first in _SCALE_LETTERS:
        raise SeriesError(
            f"{where}: value {text.iloc[0]!r} has a scale suffix {first!r} "
            f"({lines_text(np.array([0]), lines)}); write plain numbers"
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


def _grouping_mark(text: pd.Series) -> str | None:
    """The mark (``,`` or ``.``) that separates thousands in a semicolon file's number
    cells, when the cells say so beyond doubt: at least ten cells hold it, each only
    between groups of three digits (``10,844``, ``1.234.567``; not ``0,125``), and
    every other cell is a whole number under 1000 (``844``), the way a number format
    with a thousands separator writes them.  Decimals would also come without a mark
    when whole, but then not always with exactly three digits after it.  None when
    any cell says otherwise, or no cell lacks the mark (``11,844`` alone is a decimal
    comma, the file's convention)."""
    for mark in (",", "."):
        has = text.str.contains(mark, regex=False).to_numpy()
        if has.sum() < 10 or has.all():
            continue
        if _grouped(text[has], mark).all() and text[~has].str.fullmatch(r"\+?\d{1,3}").all():
            return mark
    return None


def _grouped(text: pd.Series, mark: str, one_group: bool = False) -> pd.Series:
    """Whether each cell is digits in groups of three after the first, split by ``mark``
    (exactly one such group with ``one_group``)."""
    groups = "" if one_group else "+"
    return text.str.fullmatch(rf"\+?[1-9]\d{{0,2}}(?:{re.escape(mark)}\d{{3}}){groups}")


def _ambiguous_note(text: pd.Series) -> str:
    """A note for a semicolon file's cells that all look like ``11,844`` (or ``11.844``):
    read as decimals, as before, but thousands separators would read them too."""
    for mark in (",", "."):  # one group only: '1,234,567' is no decimal, so no doubt
        if len(text) >= 10 and _grouped(text, mark, one_group=True).all():
            return (f"every value has three digits after {mark!r} (e.g. {text.iloc[0]!r}, read "
                    f"as {text.iloc[0].replace(',', '.')}): if {mark!r} separates thousands "
                    "there, export the numbers without separators")
    return ""


def _thousands(
    text: pd.Series, where: str, lines: np.ndarray | None
) -> tuple[np.ndarray, str, str] | None:
    """:func:`_to_numbers`' answer for cells (of a semicolon file) whose commas or dots
    :func:`_grouping_mark` finds to be thousands separators, with or without one unit
    on every value; None for any other cells."""
    number, unit = text, ""
    mark = _grouping_mark(number)
    if mark is None:
        try:
            number, unit = _strip_unit(text, where, lines)
        except SeriesError:  # mixed units: the usual reading says so
            return None
        mark = _grouping_mark(number) if unit else None
    if mark is None:
        return None
    values = pd.to_numeric(number.str.replace(mark, "", regex=False)).to_numpy(dtype=float)
    first = int(np.flatnonzero(number.str.contains(mark, regex=False).to_numpy())[0])
    return values, unit, (
        f"{mark!r} read as a thousands separator ({number.iloc[first]!r} is "
        f"{values[first]:.0f}): every value with one has groups of three digits, and "
        "the others are whole numbers under 1000")


def _to_numbers(
    text: pd.Series, where: str, lines: np.ndarray | None, comma_decimal: bool
) -> tuple[np.ndarray, str, str]:
    """Floats from number cells (no NA among them), the unit stripped and a note on
    thousands separators read as such or maybe there (``""`` if none), or an error."""
    note = ""
    if comma_decimal:  # '10,844' or '10.844' next to '844': thousands, not decimals
        found = _thousands(text, where, lines)
        if found is not None:
            return found
        note = _ambiguous_note(text)
    plain = pd.to_numeric(text, errors="coerce")
    if plain.notna().all():
        return plain.to_numpy(dtype=float), "", note
    values, bad = _by_convention(text, comma_decimal)
    unit = ""
    if bad.any():
        number, unit = _strip_unit(text, where, lines)
        if unit:
            values, bad = _by_convention(number, comma_decimal)
    if bad.any():
        first = np.flatnonzero(bad)
        raise SeriesError(
            f"{where}: non-numeric value {text.iloc[first[0]]!r} at {lines_text(first, lines)}"
        )
    return values, unit, note


def parse_values(
    raw: pd.Series, where: str, lines: np.ndarray | None = None, comma_decimal: bool = False
) -> tuple[np.ndarray, str, str]:
    """Values (NaN for empty or NA cells), the unit stripped from them, and a note when
    a semicolon file's (``comma_decimal``) commas or dots were read as thousands
    separators (else ``""``)."""
    text = raw.fillna("").astype(str).str.strip()
    present = ~text.str.lower().isin(_NA_TOKENS).to_numpy()
    arr = np.full(len(text), np.nan)
    unit = grouping = ""
    if present.any():
        kept = np.flatnonzero(present)
        arr[kept], unit, grouping = _to_numbers(
            text.iloc[kept], where, None if lines is None else lines[kept], comma_decimal
        )
    bad = np.flatnonzero(np.isinf(arr))
    if len(bad):
        raise SeriesError(f"{where}: non-finite value at {lines_text(bad, lines)}")
    neg = np.flatnonzero(arr < 0)
    if len(neg):
        raise SeriesError(
            f"{where}: negative value {arr[neg[0]]:g} at {lines_text(neg, lines)} "
            "(load must be >= 0)"
        )
    return arr, unit, grouping
