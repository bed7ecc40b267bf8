"""Long-format fleet metrics in, a dense (time × node × metric) cube out.

Every entry point of the detector (fit, score, the CLI) accepts the same long
format ``timestamp,node,metric,value``.  This module validates it once, with
errors that name the problem (column, line, value), and turns it into a cube
with NaN for missing samples, which is what the vectorised feature code needs.
Timestamps of different nodes that do not line up (real scrapes drift by a few
seconds) are snapped to a common grid whose step is inferred from the data.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import lzma
import re
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

REQUIRED_COLUMNS = ("timestamp", "node", "metric", "value")


class DetectorInputError(ValueError):
    """Bad fleet/labels input; the message names the file, column and line where it can."""


@dataclass(frozen=True)
class Cube:
    """Values indexed ``[time, node, metric]``; NaN where a sample is missing."""

    timestamps: np.ndarray  # datetime64[ns], strictly increasing
    nodes: tuple[str, ...]
    metrics: tuple[str, ...]
    values: np.ndarray  # float64 (T, N, M)

    @property
    def present(self) -> np.ndarray:
        """(T, N) bool: the node reported at least one metric in that window."""
        return ~np.all(np.isnan(self.values), axis=2)


def _first_line(path: Path, encoding: str) -> str:
    """The first non-blank line (gzip/bz2/xz files by their extension)."""
    suffix = path.suffix.lower()
    handle: IO[str]
    if suffix == ".gz":
        handle = gzip.open(path, "rt", encoding=encoding, newline="")
    elif suffix == ".bz2":
        handle = bz2.open(path, "rt", encoding=encoding, newline="")
    elif suffix == ".xz":
        handle = lzma.open(path, "rt", encoding=encoding, newline="")
    else:
        handle = open(path, encoding=encoding, newline="")
    with handle:
        for line in handle:
            if line.strip():
                return line
    return ""


def read_table(path: str | Path, columns: tuple[str, ...]) -> pd.DataFrame:
    """A CSV export as a frame with ``columns`` (other columns are dropped).

    Takes what spreadsheets and monitoring tools write: UTF-8 with or without a
    BOM (else Windows-1252), gzip/bz2/xz by extension, comma-, tab- or
    semicolon-separated (semicolon files with decimal commas), quoted cells,
    header names in any case with stray spaces, blank or all-empty rows (which
    are dropped).  The index holds each row's file line minus 2, so messages
    can name the line.  Raises DetectorInputError naming the file.
    """
    path = Path(path)
    if path.is_dir():
        raise DetectorInputError(f"{path}: is a directory, not a CSV file")
    for encoding in ("utf-8-sig", "cp1252"):  # cp1252: a spreadsheet's "CSV (Windows)"
        try:
            return _read_table(path, columns, encoding)
        except UnicodeDecodeError:
            continue
    return _read_table(path, columns, "latin-1")  # decodes any bytes


def _has_timestamp(cells: list[str]) -> bool:
    """Whether a first row holds a timestamp (then it is data, not a header)."""
    dated = [c for c in cells if re.search(r"\d", c)]
    parsed = pd.to_datetime(pd.Series(dated, dtype=object), errors="coerce", format="mixed")
    return bool(parsed.notna().any())


def _read_table(path: Path, columns: tuple[str, ...], encoding: str) -> pd.DataFrame:
    try:
        header = _first_line(path, encoding)
    except (OSError, EOFError) as exc:
        raise DetectorInputError(f"{path}: cannot read: {exc}") from exc
    if not header:
        raise DetectorInputError(f"{path}: file is empty (expected header {','.join(columns)})")
    if "\x00" in header or header.startswith("PK\x03\x04"):
        raise DetectorInputError(
            f"{path}: a binary file (a zip archive or Excel workbook?), not a CSV file; "
            "save it as CSV (.gz, .bz2 and .xz are read)"
        )
    unquoted = re.sub(r'"[^"]*"', "", header)
    sep = max((",", ";", "\t"), key=unquoted.count)
    names = next(csv.reader([header.strip("\r\n")], delimiter=sep, skipinitialspace=True))
    found = {name.strip().lower(): name for name in names}
    missing = [c for c in columns if c not in found]
    headerless = len(missing) == len(columns) == len(names) and _has_timestamp(names)
    if headerless:  # a file of the documented shape without its header row
        found, missing = {c: c for c in columns}, []
    if missing:
        found_names = ",".join(n[:40] for n in names[:12]) + (",..." if len(names) > 12 else "")
        raise DetectorInputError(
            f"{path}: missing column(s) {', '.join(missing)}; expected "
            f"{','.join(columns)}, found {found_names or '(none)'}"
        )
    try:
        frame = pd.read_csv(
            path, sep=sep, encoding=encoding, usecols=[found[c] for c in columns],
            header=None if headerless else "infer", names=list(columns) if headerless else None,
            dtype={found[c]: str for c in columns if c != "value"},
            decimal="," if sep == ";" else ".", skip_blank_lines=False, skipinitialspace=True,
        )
    except (OSError, EOFError, pd.errors.ParserError) as exc:
        raise DetectorInputError(f"{path}: cannot parse as CSV: {exc}") from exc
    frame = frame.rename(columns={found[c]: c for c in columns})[list(columns)]
    frame = frame[frame.notna().any(axis=1)]
    if headerless:
        frame.index = frame.index - 1  # row i is on line i + 1
    if sep == ";" and "value" in columns and frame["value"].dtype == object:
        frame["value"] = frame["value"].str.replace(",", ".", regex=False)  # 0,25 = a quarter
    return frame


def read_fleet_csv(path: str | Path) -> pd.DataFrame:
    """Read and validate a fleet metrics CSV (see ``read_table``); errors name file and line."""
    frame = read_table(path, REQUIRED_COLUMNS)
    return validate_long(frame, source=str(path), lines=frame.index.to_numpy() + 2)


def validate_long(
    frame: pd.DataFrame, source: str = "metrics", lines: np.ndarray | None = None
) -> pd.DataFrame:
    """Check columns, parse timestamps and values; return a clean copy.

    Columns other than the four are ignored.  Messages name 1-based file lines:
    ``lines[i]`` for row ``i`` (default ``i + 2``: the header is line 1).
    """
    columns = [str(c).strip() for c in frame.columns]
    frame = frame.set_axis(columns, axis=1)
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise DetectorInputError(
            f"{source}: missing column(s) {', '.join(missing)}; expected "
            f"{','.join(REQUIRED_COLUMNS)}, found {','.join(columns) or '(none)'}"
        )
    if frame.empty:
        raise DetectorInputError(f"{source}: no data rows")
    if frame.columns.duplicated().any():
        raise DetectorInputError(f"{source}: duplicated column names")
    lines = np.arange(len(frame)) + 2 if lines is None else lines
    frame = frame[list(REQUIRED_COLUMNS)].reset_index(drop=True)
    for col in ("node", "metric"):
        # work on the distinct names only: a week of samples has millions of rows
        codes, uniques = pd.factorize(frame[col], use_na_sentinel=True)
        cleaned = np.array([str(u).strip() for u in uniques], dtype=object)
        blank = (codes < 0) | np.isin(codes, np.flatnonzero(cleaned == ""))
        if blank.any():
            line = lines[np.flatnonzero(blank)[0]]
            raise DetectorInputError(f"{source}: line {line}: empty {col}")
        frame[col] = cleaned[codes]
    frame["timestamp"] = parse_timestamps(
        frame["timestamp"], source=source, column="timestamp", lines=lines
    )
    values = pd.to_numeric(frame["value"], errors="coerce")
    bad = np.isinf(values.to_numpy(dtype=float, na_value=np.nan))
    suspect = np.flatnonzero((values.isna() & frame["value"].notna()).to_numpy())
    if len(suspect):  # a blank cell is a missing sample; anything else unparsable is an error
        text = frame["value"].iloc[suspect].astype(str).str.strip()
        bad[suspect[(text != "").to_numpy()]] = True
    if bad.any():
        position = int(np.flatnonzero(bad)[0])
        raw = frame["value"].iloc[position]
        raise DetectorInputError(
            f"{source}: line {lines[position]}: value {raw!r} is not a finite number"
        )
    frame["value"] = values.astype(float)
    return frame.reset_index(drop=True)


def _epoch_unit(numbers: pd.Series) -> str | None:
    """``s``/``ms``/``us``/``ns`` for a column of epoch numbers, None for other numbers
    (below 1e8 they are more likely a year or a compact date such as 20260101)."""
    top = float(numbers.abs().max())
    if not np.isfinite(top) or top < 1e8:
        return None
    return "ns" if top > 1e17 else "us" if top > 1e14 else "ms" if top > 1e11 else "s"


def parse_timestamps(
    raw: pd.Series, source: str, column: str, lines: np.ndarray | None = None
) -> pd.Series:
    """Parse to naive timestamps (offsets converted to UTC); name the first bad line.

    Numbers from 1e8 up are epoch seconds (milli-, micro-, nanoseconds by size).
    ``lines`` gives each row's file line (default: position + 2).
    """
    if pd.api.types.is_datetime64_any_dtype(raw.dtype) and not isinstance(
        raw.dtype, pd.DatetimeTZDtype
    ):
        return raw.astype("datetime64[ns]")
    if len(raw) and re.fullmatch(r"\s*\d+(?:\.\d*)?\s*", str(raw.iloc[0])):  # epoch?
        numbers = pd.to_numeric(raw, errors="coerce")
        unit = _epoch_unit(numbers) if numbers.notna().all() else None
        if unit is not None:
            return pd.to_datetime(numbers, unit=unit).astype("datetime64[ns]")
    # an offset on the first value: read all as UTC (offsets may differ, Z and +02:00)
    utc = bool(len(raw)) and bool(re.search(r"(?:Z|[+-]\d\d:?\d\d)\s*$", str(raw.iloc[0])))
    try:  # one inferred format for the whole column is fast; fall back to per-value parsing
        parsed = pd.to_datetime(raw, errors="raise", utc=utc)
    except (ValueError, TypeError, OverflowError):
        parsed = pd.to_datetime(raw, errors="coerce", utc=utc, format="mixed")
    if parsed.isna().any():
        position = int(np.flatnonzero(parsed.isna().to_numpy())[0])
        line = int(lines[position]) if lines is not None else position + 2
        raise DetectorInputError(
            f"{source}: line {line}: {column} {raw.iloc[position]!r} is not a timestamp"
        )
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    elif parsed.dtype == object:  # mixed offsets: normalise each to naive UTC
        parsed = pd.to_datetime(raw, utc=True, format="mixed").dt.tz_localize(None)
    return parsed.astype("datetime64[ns]")


def infer_step(frame: pd.DataFrame) -> pd.Timedelta | None:
    """The typical spacing of one node's samples (median over nodes), or None."""
    steps = []
    for _, ts in frame.groupby("node")["timestamp"]:
        uniq = np.unique(ts.to_numpy())
        if len(uniq) > 1:
            steps.append(np.median(np.diff(uniq)))
    if not steps:
        return None
    return pd.Timedelta(np.median(np.array(steps, dtype="timedelta64[ns]").astype(np.int64)))


def snap_to_grid(frame: pd.DataFrame) -> pd.DataFrame:
    """Snap timestamps to one grid when nodes' clocks do not line up.

    If there are clearly more distinct timestamps than any one node has
    (scrapes drifting by seconds), timestamps are rounded to the inferred step.
    Duplicate samples in a cell are averaged.
    """
    per_node = frame.groupby("node")["timestamp"].nunique().max()
    distinct = frame["timestamp"].nunique()
    if distinct > 1.5 * per_node:
        step = infer_step(frame)
        if step is not None and step > pd.Timedelta(0):
            origin = frame["timestamp"].min()
            frame = frame.assign(
                timestamp=origin + ((frame["timestamp"] - origin) / step).round() * step
            )
    return frame


def to_cube(
    frame: pd.DataFrame,
    metrics: tuple[str, ...] | None = None,
    nodes: tuple[str, ...] | None = None,
) -> Cube:
    """Pivot a validated long frame to a cube (unknown metrics dropped if ``metrics`` given)."""
    frame = snap_to_grid(frame)
    if metrics is not None:
        frame = frame[frame["metric"].isin(metrics)]
    times = np.unique(frame["timestamp"].to_numpy())
    node_list = tuple(nodes) if nodes is not None else tuple(sorted(frame["node"].unique()))
    metric_list = tuple(metrics) if metrics is not None else tuple(sorted(frame["metric"].unique()))
    shape = (len(times), len(node_list), len(metric_list))
    t_idx = np.searchsorted(times, frame["timestamp"].to_numpy())
    n_idx = pd.Index(node_list).get_indexer(frame["node"])
    m_idx = pd.Index(metric_list).get_indexer(frame["metric"])
    vals = frame["value"].to_numpy(dtype=float)
    keep = (n_idx >= 0) & (m_idx >= 0) & ~np.isnan(vals)
    flat = np.ravel_multi_index((t_idx[keep], n_idx[keep], m_idx[keep]), shape) if shape[0] else []
    size = int(np.prod(shape))
    sums = np.bincount(flat, weights=vals[keep], minlength=size)
    counts = np.bincount(flat, minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)  # duplicates: mean
    return Cube(times.astype("datetime64[ns]"), node_list, metric_list, values.reshape(shape))
