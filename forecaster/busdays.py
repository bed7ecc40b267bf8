"""Business-day steps: daily load with rows on Monday to Friday only.

Settlement batches, ACH and card-clearing files and market data have no weekend
rows.  Read as calendar days, every weekend is a two-day gap that the reader
fills with a straight line, and the model spends its weekly season, its
intervals and two of every seven forecast steps on days that carry no load.  A
daily series whose rows all fall on weekdays (over at least ``MIN_WEEKS``
weeks) is read on a business-day grid instead: step ``k`` is the ``k``-th
weekday after 1970-01-01 (:func:`positions`), a weekday without a row (a bank
holiday) is a gap filled by the usual rule, and forecasts are for the next
weekdays (:func:`stamps_after`).  For the seasonal search a business day
stands for 7/5 of a calendar day (``STEP_SECONDS``), so the week is 5 steps
and the year about 261; holiday regressors read each step's calendar date
(:func:`day_positions`).  Reading such a file with ``--freq 1D`` keeps
calendar days (empty weekend bins are 0 for sums).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecaster.seasonality import DAY_SECONDS

# a business day's average share of the calendar: 5 of them make a week
STEP_SECONDS = 7 * DAY_SECONDS / 5
MIN_WEEKS = 4  # weekday-only rows over fewer weeks than this may be chance
_EPOCH = np.datetime64("1970-01-01", "D")
ATTR = "business_days"  # series.attrs key marking a series on the business-day grid


def _dates(index: pd.DatetimeIndex) -> np.ndarray:
    """Each timestamp's date on its own wall clock, as ``datetime64[D]``."""
    if index.tz is not None:
        index = index.tz_localize(None)
    return np.asarray(index.normalize().values.astype("datetime64[D]"))


def looks_business_daily(index: pd.DatetimeIndex) -> bool:
    """Whether sorted, distinct ``index`` holds daily rows on weekdays only: one time of
    day, no Saturday or Sunday, a day apart most often, over ``MIN_WEEKS`` weeks."""
    if len(index) < 2:
        return False
    local = index.tz_localize(None) if index.tz is not None else index
    if local[-1] - local[0] < pd.Timedelta(weeks=MIN_WEEKS):
        return False
    if bool((local.day_of_week >= 5).any()):
        return False
    time_of_day = local - local.normalize()
    if not bool((time_of_day == time_of_day[0]).all()):
        return False
    gaps = np.diff(_dates(index)).astype(np.int64)
    if (gaps <= 0).any():
        return False
    values, counts = np.unique(gaps, return_counts=True)
    return bool(values[np.argmax(counts)] == 1)


def on_business_days(series: pd.Series) -> bool:
    """Whether ``series`` was made regular on the business-day grid (its ``attrs``)."""
    return bool(series.attrs.get(ATTR, False))


def positions(index: pd.DatetimeIndex) -> np.ndarray:
    """Business days since 1970-01-01 (a Thursday, position 0) of each weekday date."""
    return np.busday_count(_EPOCH, _dates(index)).astype(float)


def day_positions(steps: np.ndarray) -> np.ndarray:
    """Calendar days since 1970-01-01 of business-day positions (for holiday calendars)."""
    whole = np.round(np.asarray(steps, dtype=float)).astype(np.int64)
    days = np.busday_offset(_EPOCH, whole, roll="forward")
    return (days - _EPOCH).astype(np.int64).astype(float)


def weekend_rows(index: pd.DatetimeIndex) -> np.ndarray:
    """Positions of the rows that fall on a Saturday or Sunday (wall clock)."""
    local = index.tz_localize(None) if index.tz is not None else index
    return np.flatnonzero(np.asarray(local.day_of_week >= 5))


def stamps_after(last: pd.Timestamp, count: int) -> pd.DatetimeIndex:
    """The ``count`` weekdays after ``last``, at its time of day and in its zone."""
    if count <= 0:
        return pd.DatetimeIndex([], tz=last.tz)
    index = pd.bdate_range(last + pd.offsets.BDay(1), periods=count, normalize=False)
    index.freq = None
    return index


def step_before(first: pd.Timestamp) -> pd.Timestamp:
    """The weekday before ``first``."""
    return first - pd.offsets.BDay(1)


def grid(first: pd.Timestamp, last: pd.Timestamp) -> pd.DatetimeIndex:
    """Every weekday from ``first`` to ``last`` (both weekdays), at ``first``'s time of day."""
    index = pd.bdate_range(first, last, normalize=False)
    index.freq = None
    return index
