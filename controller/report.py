"""The end-of-run report: what the load was, what the controller did, what it cost.

Written by ``fleetcast demo`` (and usable after any run) from the store alone,
plus the load generator's records and the ledger when given: a short text
summary (load, nodes, decisions, forecast accuracy, the fault's detection and
recovery times, payments acknowledged vs. in the ledger) and a PNG of load,
forecast band, ready nodes and the fault's timeline.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from controller.store import Store


@dataclass(frozen=True)
class Report:
    text: str
    text_path: Path
    plot_path: Path
    figures: dict[str, Any]


def ready_timeline(store: Store, since: datetime) -> list[tuple[datetime, int]]:
    """Number of ready nodes after each state change (from the state history)."""
    state: dict[str, str] = {}
    out = []
    for at, node_id, s in store.state_history():
        state[node_id] = s
        if at >= since:
            out.append((at, sum(v == "ready" for v in state.values())))
    return out


def fault_timeline(store: Store, fault: dict[str, Any]) -> dict[str, Any]:
    """Detected / drained / replacement ready / stopped times of the faulty node."""
    node, at = fault.get("node_id"), fault.get("at")
    if not node or at is None:
        return {}
    out: dict[str, Any] = {"node_id": node, "kind": fault.get("kind"), "injected_at": at}
    episodes = [a for a in store.anomalies(limit=10_000) if a.node_id == node and a.last_seen >= at]
    if episodes:
        out["detected_at"] = min(max(a.since, at) for a in episodes)
        out["top_metrics"] = list(episodes[-1].top_metrics)
    decisions = [d for d in store.decisions(10_000) if d.node_id == node and d.at >= at]
    acted = [d for d in decisions if d.kind in ("replace", "drain", "prevent")]
    if acted:
        # Detected = when the controller knew and acted (the detector's "since" may date the
        # episode back to the first flagged window, before anyone could have known).
        out["acted_at"] = min(d.at for d in acted)
        out["detected_at"] = out["acted_at"]
    for when, s, _ in store.node_history(node):
        if when >= at and s.value in ("draining", "stopped", "failed"):
            out.setdefault(f"{s.value}_at", when)
    replacements = [n for n in store.nodes(include_stopped=True) if n.replaces == node]
    if replacements:
        rep = replacements[0]
        out["replacement"] = rep.id
        for when, s, _ in store.node_history(rep.id):
            if s.value == "ready":
                out["replacement_ready_at"] = when
                break
    end = [out.get(k) for k in ("stopped_at", "failed_at", "draining_at")]
    recovered = [t for t in (out.get("replacement_ready_at"), *end) if t is not None]
    if "detected_at" in out:
        out["time_to_detect_s"] = (out["detected_at"] - at).total_seconds()
    if out.get("replacement_ready_at") and (out.get("draining_at") or out.get("stopped_at")):
        out["time_to_recover_s"] = (max(recovered) - at).total_seconds()
    return out


def ledger_check(ledger_url: str | None, load: Any) -> dict[str, Any]:
    if load is None or ledger_url is None:
        return {}
    from gateway.db import make_engine
    from gateway.ledger import payments_by_key

    engine = make_engine(ledger_url)
    try:
        by_key = payments_by_key(engine)
    finally:
        engine.dispose()
    acked = load.acked
    lost = [r.key for r in acked if r.key not in by_key]
    duplicated = [r.key for r in acked if len(by_key.get(r.key, [])) > 1]
    mismatched = [r.key for r in acked if r.key in by_key and r.payment_id not in by_key[r.key]]
    return {"acknowledged": len(acked), "requests": len(load.records), "lost": len(lost),
            "duplicated": len(duplicated), "mismatched": len(mismatched),
            "exactly_once": not (lost or duplicated or mismatched)}


def _fmt_s(value: Any) -> str:
    return "n/a" if value is None else f"{value:.1f} s"


def build_report(
    store: Store,
    out_dir: Path,
    *,
    started: datetime,
    tick_seconds: float,
    trace: Any = None,
    fault: dict[str, Any] | None = None,
    load: Any = None,
    ledger_url: str | None = None,
    settings: Any = None,
) -> Report:
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    loads = [(t, v) for t, v in store.load_series(limit=100_000) if t >= started]
    forecasts = store.forecasts(since=started, step=1)
    ready = ready_timeline(store, started)
    if ready and loads and loads[-1][0] > ready[-1][0]:
        ready.append((loads[-1][0], ready[-1][1]))  # hold the last count to the end
    decisions = [d for d in store.decisions(100_000) if d.at >= started]
    kinds = Counter(d.kind for d in decisions)
    accuracy = store.forecast_accuracy(step=1, since=started)
    timeline = fault_timeline(store, fault or {})
    ledger = ledger_check(ledger_url, load)
    peak_ready = max((n for _, n in ready), default=0)
    node_seconds = 0.0
    for (t0, n0), (t1, _) in zip(ready, ready[1:], strict=False):
        node_seconds += n0 * (t1 - t0).total_seconds()
    lines = [
        f"fleetcast demo report  {started.isoformat(timespec='seconds')}",
        f"trace: {trace.source if trace is not None else 'live traffic'}",
        f"ticks: {len(loads)} x {tick_seconds:g}s; "
        f"peak load {max((v for _, v in loads), default=0):.1f}/s",
        f"ready nodes: peak {peak_ready}; {node_seconds / 60:.1f} node-minutes while running",
        "decisions: " + (", ".join(f"{k} {v}" for k, v in sorted(kinds.items())) or "none"),
    ]
    if accuracy.get("n"):
        lines.append(
            f"forecast (1 step ahead, n={accuracy['n']}): MAE {accuracy['mae']:.2f}/s, "
            f"sMAPE {accuracy['smape']:.1%}, 80% coverage {accuracy['coverage80']:.0%}, "
            f"95% coverage {accuracy['coverage95']:.0%}"
        )
    else:
        lines.append("forecast: no scored forecasts")
    if timeline:
        lines.append(
            f"fault: {timeline['kind']} on {timeline['node_id']}; detected after "
            f"{_fmt_s(timeline.get('time_to_detect_s'))}"
            + (f" ({', '.join(timeline.get('top_metrics', []))})" if timeline.get("top_metrics")
               else "")
            + f"; replaced by {timeline.get('replacement', 'n/a')}; recovered after "
            f"{_fmt_s(timeline.get('time_to_recover_s'))}"
        )
    elif fault:
        lines.append(f"fault: {fault}")
    if load is not None:
        s = load.summary()
        lines.append(
            f"payments: {s['requests']} sent, {s['acked']} acknowledged, p50 {s['p50_ms']} ms, "
            f"p99 {s['p99_ms']} ms, {s['retried']} retried"
        )
    if ledger:
        lines.append(
            f"ledger: {ledger['acknowledged']} acknowledged, {ledger['lost']} lost, "
            f"{ledger['duplicated']} duplicated -> "
            + ("every acknowledged payment exactly once" if ledger["exactly_once"] else "MISMATCH")
        )
    text = "\n".join(lines) + "\n"
    text_path = out_dir / f"demo-{stamp}.txt"
    text_path.write_text(text)
    plot_path = out_dir / f"demo-{stamp}.png"
    _plot(plot_path, loads, forecasts, ready, decisions, timeline, trace, started, tick_seconds)
    figures = {"peak_ready": peak_ready, "decisions": dict(kinds), "accuracy": accuracy,
               "fault": timeline, "ledger": ledger}
    return Report(text, text_path, plot_path, figures)


def _plot(path: Path, loads: list[tuple[datetime, float]], forecasts: list[dict[str, Any]],
          ready: list[tuple[datetime, int]], decisions: list[Any], timeline: dict[str, Any],
          trace: Any, started: datetime, tick_seconds: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def rel(t: datetime) -> float:
        return (t - started).total_seconds()

    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(11, 7), sharex=True,
                                   gridspec_kw={"height_ratios": [3, 2]})
    if forecasts:
        xs = [rel(f["target_at"].replace(tzinfo=started.tzinfo)) for f in forecasts]
        ax1.fill_between(xs, [f["lo95"] for f in forecasts], [f["hi95"] for f in forecasts],
                         color="tab:orange", alpha=0.15, step="mid", label="forecast 95%")
        ax1.fill_between(xs, [f["lo80"] for f in forecasts], [f["hi80"] for f in forecasts],
                         color="tab:orange", alpha=0.3, step="mid", label="forecast 80%")
        ax1.plot(xs, [f["mean"] for f in forecasts], color="tab:orange", lw=1,
                 label="forecast (1 step ahead)")
    if trace is not None:
        ax1.plot([i * tick_seconds for i in range(len(trace.day))], trace.day.to_numpy(),
                 color="grey", lw=0.8, ls=":", label="replayed trace")
    if loads:
        ax1.plot([rel(t) for t, _ in loads], [v for _, v in loads], color="tab:blue", lw=1.4,
                 label="observed load")
    ax1.set_ylabel("payments / s")
    if ready:
        ax2.step([rel(t) for t, _ in ready], [n for _, n in ready], where="post",
                 color="tab:green", label="ready nodes")
    outs = [rel(d.at) for d in decisions if d.kind == "scale_out"]
    ins = [rel(d.at) for d in decisions if d.kind == "scale_in"]
    if outs:
        ax2.plot(outs, [0.2] * len(outs), "^", color="tab:green", label="scale out")
    if ins:
        ax2.plot(ins, [0.2] * len(ins), "v", color="tab:red", label="scale in")
    ax2.set_ylabel("nodes")
    ax2.set_xlabel("seconds since start")
    marks = [("injected_at", "fault", "red"), ("detected_at", "detected", "purple"),
             ("draining_at", "drained", "brown"), ("replacement_ready_at", "replacement ready",
                                                   "green")]
    for key, label, color in marks:
        if timeline.get(key) is not None:
            for ax in (ax1, ax2):
                ax.axvline(rel(timeline[key]), color=color, ls="--", lw=1,
                           label=label if ax is ax1 else None)
    ax1.legend(loc="upper left", fontsize=8, ncol=2)
    ax2.legend(loc="upper left", fontsize=8)
    ax1.set_title("fleetcast: load, forecast, ready nodes, fault and recovery")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
