"""A real load series nothing in the project was chosen on, for the benchmarks.

Taylor's half-hourly electricity demand for England and Wales, 2000-06-05 to
2000-08-27 (Taylor 2003), as shipped in pmdarima (the benchmark-only ``bench``
extra: ``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import pandas as pd


def taylor_demand() -> pd.Series | None:
    """The series on its half-hourly grid (megawatts), or None when pmdarima is missing."""
    try:
        from pmdarima.datasets import load_taylor
    except ImportError:
        return None
    values = load_taylor(as_series=True).to_numpy()
    index = pd.date_range("2000-06-05", periods=len(values), freq="30min", name="timestamp")
    return pd.Series(values, index=index, name="value")
