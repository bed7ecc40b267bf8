"""Batch defaults that depend on the data: trailing-mean spans and threshold quantile.

The live loop has one known cadence (15 s scrapes) and ships a fixed model; an
offline file can come at any step and training length, so ``fleetcast detect``
and ``fleetcast train detector`` resolve ``auto`` from the history they are
given.  Two rules, both stated in time rather than windows:

* **Trailing means** (``smooth_windows``): a short and a long trailing mean,
  6 and 36 windows, so a burst that lasts shows before any single noisy window
  does, plus a quarter-day mean (as many windows as fit in 6 hours) when that is
  longer than 36 windows: a burst that lasts hours (a news day, a slow leak)
  moves a node's quarter-day level against its peers' more steadily than any
  shorter mean.  Only when the history covers at least one day (the daily
  season is in it, so the means' normal swings are learnt), and a span is kept
  only while it covers at most 6 hours, a quarter of a day, so a mean never
  averages away the daily cycle that every node shares (5-minute data gets
  6, 36 and 72; 10-minute data 6 and 36, the quarter day itself; hourly data
  only the 6-window mean).  A short history at a fast scrape cadence (the live
  gateway's) gets none.
* **Threshold quantile**: a false-flag budget per node-*day*, not per window
  (half a raw flag per node per day at most: a 5-minute series has 288 windows a
  day, a 15-second one 5,760), so ``q = 1 - 0.5 / windows_per_day``; never below
  0.995 (the fixed default) and never above ``1 - 10 / training rows``, so that
  at least ten training scores lie above the threshold: beyond that the
  quantile would just be the training maximum of a short history.
"""

from __future__ import annotations

import pandas as pd

SPANS = (6, 36)
MAX_SPAN = pd.Timedelta(hours=6)
MIN_HISTORY = pd.Timedelta(days=1)
FLAGS_PER_NODE_DAY = 0.5
MIN_QUANTILE = 0.995
MIN_ROWS_ABOVE = 10


def auto_smooth_windows(
    step: pd.Timedelta | None, history_span: pd.Timedelta | None = None
) -> tuple[int, ...]:
    """The spans of ``SPANS`` covering at most ``MAX_SPAN``, then ``MAX_SPAN`` itself.

    Nothing unless the history spans a day.  The quarter-day span is added only
    when it is longer than the longest of ``SPANS``.
    """
    if step is None or step <= pd.Timedelta(0):
        return ()
    if history_span is not None and history_span < MIN_HISTORY:
        return ()
    spans = tuple(s for s in SPANS if s * step <= MAX_SPAN)
    quarter_day = int(MAX_SPAN / step)
    if spans and quarter_day > max(SPANS):
        spans = (*spans, quarter_day)
    return spans


def auto_threshold_quantile(step: pd.Timedelta | None, training_rows: int) -> float:
    """Quantile for a false-flag budget per node-day, bounded by the training size."""
    q = MIN_QUANTILE
    if step is not None and step > pd.Timedelta(0):
        per_day = pd.Timedelta(days=1) / step
        q = max(q, 1.0 - FLAGS_PER_NODE_DAY / per_day)
    if training_rows > 0:
        q = min(q, 1.0 - MIN_ROWS_ABOVE / training_rows)
    return max(q, MIN_QUANTILE)


def auto_params(history: pd.DataFrame, step: pd.Timedelta | None) -> dict[str, object]:
    """``smooth_windows`` and ``threshold_quantile`` for this long-format history."""
    rows = int(history[["timestamp", "node"]].drop_duplicates().shape[0]) if len(history) else 0
    span = history["timestamp"].max() - history["timestamp"].min() if len(history) else None
    return {
        "smooth_windows": auto_smooth_windows(step, span if span is not None else pd.Timedelta(0)),
        "threshold_quantile": round(auto_threshold_quantile(step, rows), 6),
    }
