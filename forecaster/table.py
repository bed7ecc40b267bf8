"""The CSV table under every series file, read the way exports come.

Decoding (UTF-8 with or without BOM, else Windows-1252; gzip/bz2/xz by content),
the separator (comma, semicolon or tab), a header row or none, blank and ``#``
comment lines before the header, rows with more cells than the header (an
unquoted ``1,234``) and header rows repeated inside the file: all cells come out
as stripped text with each row's own file line, for :mod:`forecaster.io` to turn
into a series.  Split out of ``forecaster/io.py`` unchanged.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import lzma
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from forecaster.cells import SeriesError


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


def _is_time(cell: str) -> bool:
    """A cell that reads as a timestamp: a date with digits, or epoch seconds or more."""
    if re.fullmatch(r"\d{9,19}(?:\.\d*)?", cell):
        return True
    if not re.search(r"\d", cell) or not re.search(r"\d[-/.:]\d|\d{8}|[A-Za-z]{3}", cell):
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas' 'could not infer format' on odd cells
        return bool(pd.to_datetime(pd.Series([cell]), errors="coerce", format="mixed").notna()
                    .all())


def _looks_like_data(cells: list[str]) -> bool:
    """A first row that holds a timestamp and, in another cell, a number: data, not a
    header (headers name their columns in words)."""
    if len(cells) < 2:
        return False
    for i, cell in enumerate(cells):
        if _is_time(cell):
            others = pd.Series(cells[:i] + cells[i + 1:]).str.replace(",", ".")
            return bool(pd.to_numeric(others, errors="coerce").notna().any())
    return False


_WEEKDAY = r"(?i)(mon|tue|wed|thu|fri|sat|sun)[a-z]*"
_LEADING = re.compile(r"(?:[ \t]*(?:#[^\n]*)?\r?\n)*")


def _ragged(path: Path, line: int, record: list[str], expected: int, sep: str,
            reference: str) -> SeriesError:
    """The error for a row with more cells than the header (or first row): most often
    an unquoted ``1,234`` in a comma-separated file."""
    cells = [c.strip() for c in record]
    hint = f"quote cells that contain {sep!r}"
    if sep == ",":
        for a, b in zip(cells, cells[1:], strict=False):
            if re.fullmatch(r"[+-]?\d{1,3}", a) and re.fullmatch(r"\d{3}(?:\.\d*)?", b):
                hint = (f"'{a},{b}' looks like a number with a thousands separator: quote such "
                        "numbers or export them without separators")
                break
    return SeriesError(
        f"{path}: line {line} has {len(record)} cells but {reference} has {expected}; {hint}"
    )


def read_table(path: Path) -> tuple[pd.DataFrame, np.ndarray, str]:
    """All cells as stripped text, all-empty rows dropped; each row's file line; the separator."""
    text = _decode(path)
    lead = _LEADING.match(text)
    body = text[lead.end():] if lead else text  # blank and '#' comment lines before the header
    skipped = text[: len(text) - len(body)].count("\n")
    header = body.split("\n", 1)[0]
    if not header.strip():
        raise SeriesError(f"{path}: the file is empty")
    unquoted = re.sub(r'"[^"]*"', "", header)
    sep = max((",", ";", "\t"), key=unquoted.count)
    first = next(csv.reader([header.rstrip("\r")], delimiter=sep, skipinitialspace=True))
    headerless = _looks_like_data([c.strip() for c in first])
    if not headerless:  # pandas would silently take a longer first data row's first cell
        # as an index: right for 'Mon, 01 Jan 2024 00:00:00 GMT' (the weekday goes), wrong
        # for anything else (an unquoted '7,166' would be read as the time '7', value 166)
        records = csv.reader(io.StringIO(body), delimiter=sep, skipinitialspace=True)
        for record in records:
            if records.line_num > 1 and any(c.strip() for c in record):
                if (len(record) > len(first) and any(c.strip() for c in record[len(first):])
                        and not re.fullmatch(_WEEKDAY, record[0].strip())):
                    raise _ragged(path, records.line_num + skipped, record, len(first), sep,
                                  "the header")
                break
    try:
        frame = pd.read_csv(io.StringIO(body), sep=sep, dtype=str, keep_default_na=False,
                            header=None if headerless else 0, skip_blank_lines=False,
                            skipinitialspace=True)
    except pd.errors.ParserError as exc:
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if found is None:
            raise SeriesError(f"{path}: not a readable CSV file ({exc})") from exc
        expected, line = int(found[1]), int(found[2])
        record = next(csv.reader([body.split("\n")[line - 1].rstrip("\r")], delimiter=sep,
                                 skipinitialspace=True))
        raise _ragged(path, line + skipped, record, expected, sep,
                      "the first row" if headerless else "the header") from None
    except pd.errors.EmptyDataError as exc:
        raise SeriesError(f"{path}: not a readable CSV file ({exc})") from exc
    frame = frame.fillna("").apply(lambda col: col.str.strip())
    if headerless:
        n = len(frame.columns)
        frame.columns = ["timestamp", "value"] if n == 2 else [f"column {i + 1}" for i in range(n)]
    frame.columns = [str(c).strip() for c in frame.columns]
    filled = (frame != "").any(axis=1).to_numpy()
    lines = np.flatnonzero(filled) + skipped + (1 if headerless else 2)
    return frame[filled].reset_index(drop=True), lines, sep


def repeated_header(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Positions of rows whose cells in ``columns`` are those columns' names."""
    same = np.ones(len(frame), dtype=bool)
    for name in columns:
        same &= (frame[name].str.lower() == name.lower()).to_numpy()
    return np.flatnonzero(same)


def pick_columns(columns: list[str], time_col: str | None, value_col: str | None,
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
    if tcol is not None and tcol == vcol:
        named = [f for f, n in (("--time-col", time_col), ("--value-col", value_col)) if n]
        other = "--value-col" if value_col is None else "--time-col"
        raise SeriesError(
            f"{where}: the time and the value would both be column {tcol!r} "
            f"({' and '.join(named)} {'name' if len(named) > 1 else 'names'} it)"
            + (f"; pass {other} for the other column" if len(named) == 1 else "")
            + f" {listing}"
        )
    if (tcol is None or vcol is None) and len(columns) == 2:
        tcol = tcol or next(c for c in columns if c != vcol)
        vcol = vcol or next(c for c in columns if c != tcol)
    if tcol is None or vcol is None:
        absent = "timestamp" if tcol is None else "value"
        raise SeriesError(
            f"{where}: column {absent!r} not found {listing}; "
            "pass --time-col/--value-col or use a two-column file"
        )
    return tcol, vcol
