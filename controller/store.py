"""The controller's memory: what it saw, what it decided and why.

Everything the control loop needs to survive a restart, and everything the REST
API serves, lives here: nodes with their state history, decisions with reasons
and inputs, per-node metric samples (raw for a retention window, then averaged
per minute), the load series the forecaster learns from, every issued forecast
(scored against the load that actually came, so accuracy is tracked online),
anomalies, and the planner's small memory.  SQLAlchemy 2.x Core on SQLite (WAL,
the embedded default) or PostgreSQL by URL; all timestamps are stored as naive
UTC and returned timezone-aware.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Engine,
    delete,
    func,
    insert,
    select,
    update,
)

from controller.lifecycle import NodeState
from controller.planner import Decision
from controller.pools.base import NodeInfo
from controller.store_schema import (
    anomalies_t,
    decisions_t,
    forecasts_t,
    load_t,
    memory_t,
    metadata,
    node_states_t,
    nodes_t,
    samples_t,
)
from gateway.db import make_engine as gateway_make_engine


def make_engine(url: str) -> Engine:
    """The gateway's engine factory: one place tunes SQLite (WAL) and PostgreSQL pools."""
    return gateway_make_engine(url)


@dataclass(frozen=True)
class NodeRecord:
    id: str
    url: str
    state: NodeState
    since: datetime
    pid: int | None
    replaces: str | None
    drain_reason: str | None
    launched_at: datetime


@dataclass(frozen=True)
class DecisionRecord:
    at: datetime
    kind: str
    node_id: str | None
    reason: str
    details: dict[str, Any]
    inputs: dict[str, Any] | None = None


@dataclass(frozen=True)
class AnomalyRecord:
    node_id: str
    since: datetime
    last_seen: datetime
    score: float
    top_metrics: tuple[str, ...]
    state: str


def _finite(x: float) -> float:
    return float(x) if math.isfinite(x) else 0.0


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, bool | int | str):
        return value
    if hasattr(value, "item"):  # numpy scalar
        return _jsonable(value.item())
    return str(value)


class Store:
    """Thin, explicit persistence for the control loop (one short transaction per call)."""

    def __init__(self, url: str, *, engine: Engine | None = None) -> None:
        self.url = url
        self.engine = engine if engine is not None else make_engine(url)

    def create_all(self) -> Store:
        metadata.create_all(self.engine)
        return self

    def close(self) -> None:
        self.engine.dispose()

    # -- nodes -------------------------------------------------------------------------------

    def save_node(
        self,
        info: NodeInfo,
        *,
        at: datetime,
        drain_reason: str | None = None,
        reason: str | None = None,
    ) -> None:
        """Insert or update a node; a state change also appends to its history."""
        with self.engine.begin() as conn:
            row = conn.execute(select(nodes_t).where(nodes_t.c.id == info.id)).first()
            if row is None:
                conn.execute(
                    insert(nodes_t).values(
                        id=info.id,
                        url=info.url,
                        state=info.state.value,
                        since=info.since,
                        pid=info.pid,
                        replaces=info.replaces,
                        drain_reason=drain_reason,
                        launched_at=at,
                    )
                )
                changed = True
            else:
                changed = row.state != info.state.value
                values: dict[str, Any] = {"url": info.url, "pid": info.pid}
                if changed:
                    values.update(state=info.state.value, since=info.since)
                if info.replaces:
                    values["replaces"] = info.replaces
                if drain_reason is not None:
                    values["drain_reason"] = drain_reason
                conn.execute(update(nodes_t).where(nodes_t.c.id == info.id).values(**values))
            if changed:
                conn.execute(
                    insert(node_states_t).values(
                        node_id=info.id, state=info.state.value, at=at, reason=reason
                    )
                )

    def set_drain_reason(self, node_id: str, drain_reason: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(nodes_t).where(nodes_t.c.id == node_id).values(drain_reason=drain_reason)
            )

    def nodes(self, *, include_stopped: bool = False) -> list[NodeRecord]:
        q = select(nodes_t).order_by(nodes_t.c.launched_at, nodes_t.c.id)
        if not include_stopped:
            q = q.where(nodes_t.c.state != NodeState.STOPPED.value)
        with self.engine.connect() as conn:
            return [
                NodeRecord(
                    id=r.id,
                    url=r.url,
                    state=NodeState(r.state),
                    since=r.since,
                    pid=r.pid,
                    replaces=r.replaces,
                    drain_reason=r.drain_reason,
                    launched_at=r.launched_at,
                )
                for r in conn.execute(q)
            ]

    def node_history(self, node_id: str) -> list[tuple[datetime, NodeState, str | None]]:
        q = (
            select(node_states_t)
            .where(node_states_t.c.node_id == node_id)
            .order_by(node_states_t.c.seq)
        )
        with self.engine.connect() as conn:
            return [(r.at, NodeState(r.state), r.reason) for r in conn.execute(q)]

    def state_history(self, since: datetime | None = None) -> list[tuple[datetime, str, str]]:
        q = select(node_states_t).order_by(node_states_t.c.seq)
        if since is not None:
            q = q.where(node_states_t.c.at >= since)
        with self.engine.connect() as conn:
            return [(r.at, r.node_id, r.state) for r in conn.execute(q)]

    # -- decisions ---------------------------------------------------------------------------

    def record_decisions(
        self, at: datetime, decisions: Iterable[Decision], inputs: dict[str, Any] | None = None
    ) -> None:
        rows = [
            {
                "at": at,
                "kind": d.kind,
                "node_id": d.node_id,
                "reason": d.reason[:1000],
                "details": _jsonable(dict(d.details)),
                "inputs": _jsonable(inputs) if inputs is not None else None,
            }
            for d in decisions
        ]
        if rows:
            with self.engine.begin() as conn:
                conn.execute(insert(decisions_t), rows)

    def decisions(
        self, limit: int = 50, *, kinds: Sequence[str] | None = None
    ) -> list[DecisionRecord]:
        q = select(decisions_t).order_by(decisions_t.c.seq.desc()).limit(limit)
        if kinds:
            q = q.where(decisions_t.c.kind.in_(list(kinds)))
        with self.engine.connect() as conn:
            return [
                DecisionRecord(r.at, r.kind, r.node_id, r.reason, r.details or {}, r.inputs)
                for r in conn.execute(q)
            ]

    # -- metric samples and load -------------------------------------------------------------

    def add_samples(self, at: datetime, samples: Iterable[tuple[str, str, float]]) -> int:
        rows = [
            {"at": at, "node_id": n, "metric": m, "value": _finite(v), "resolution_s": 0}
            for n, m, v in samples
        ]
        if rows:
            with self.engine.begin() as conn:
                conn.execute(insert(samples_t), rows)
        return len(rows)

    def samples(
        self, *, since: datetime | None = None, node_id: str | None = None
    ) -> list[tuple[datetime, str, str, float]]:
        q = select(samples_t).order_by(samples_t.c.at, samples_t.c.seq)
        if since is not None:
            q = q.where(samples_t.c.at >= since)
        if node_id is not None:
            q = q.where(samples_t.c.node_id == node_id)
        with self.engine.connect() as conn:
            return [(r.at, r.node_id, r.metric, r.value) for r in conn.execute(q)]

    def compact_samples(
        self, now: datetime, *, raw_retention: timedelta, retention: timedelta
    ) -> tuple[int, int]:
        """Average raw samples older than ``raw_retention`` per minute; drop all older than
        ``retention``.  Returns (raw rows folded, rows dropped)."""
        cutoff = now - raw_retention
        with self.engine.begin() as conn:
            raw = conn.execute(
                select(
                    samples_t.c.at, samples_t.c.node_id, samples_t.c.metric, samples_t.c.value
                ).where(samples_t.c.resolution_s == 0, samples_t.c.at < cutoff)
            ).all()
            buckets: dict[tuple[datetime, str, str], list[float]] = {}
            for at, node_id, metric, value in raw:
                minute = at.replace(second=0, microsecond=0)
                buckets.setdefault((minute, node_id, metric), []).append(value)
            if raw:
                conn.execute(
                    delete(samples_t).where(samples_t.c.resolution_s == 0, samples_t.c.at < cutoff)
                )
                conn.execute(
                    insert(samples_t),
                    [
                        {
                            "at": k[0],
                            "node_id": k[1],
                            "metric": k[2],
                            "value": sum(v) / len(v),
                            "resolution_s": 60,
                        }
                        for k, v in buckets.items()
                    ],
                )
            dropped = conn.execute(delete(samples_t).where(samples_t.c.at < now - retention))
            conn.execute(delete(load_t).where(load_t.c.at < now - retention))
        return len(raw), dropped.rowcount or 0

    def add_load(self, at: datetime, rps: float) -> None:
        with self.engine.begin() as conn:
            exists = conn.execute(select(load_t.c.at).where(load_t.c.at == at)).first()
            if exists:
                conn.execute(update(load_t).where(load_t.c.at == at).values(rps=_finite(rps)))
            else:
                conn.execute(insert(load_t).values(at=at, rps=_finite(rps)))

    def load_series(self, *, limit: int = 5000) -> list[tuple[datetime, float]]:
        q = select(load_t).order_by(load_t.c.at.desc()).limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return [(r.at, r.rps) for r in reversed(rows)]

    # -- forecasts ---------------------------------------------------------------------------

    def record_forecast(
        self,
        issued_at: datetime,
        timestamps: Sequence[datetime],
        mean: Iterable[float],
        lo80: Iterable[float],
        hi80: Iterable[float],
        lo95: Iterable[float],
        hi95: Iterable[float],
        model: str,
    ) -> None:
        rows = [
            {
                "issued_at": issued_at,
                "target_at": ts,
                "step": i + 1,
                "model": model[:128],
                "mean": _finite(m),
                "lo80": _finite(a),
                "hi80": _finite(b),
                "lo95": _finite(c),
                "hi95": _finite(d),
            }
            for i, (ts, m, a, b, c, d) in enumerate(
                zip(timestamps, mean, lo80, hi80, lo95, hi95, strict=True)
            )
        ]
        if rows:
            with self.engine.begin() as conn:
                conn.execute(insert(forecasts_t), rows)

    def score_forecasts(self, at: datetime, actual: float, *, tolerance: timedelta) -> int:
        """Attach the load observed at ``at`` to forecasts that targeted it (± tolerance)."""
        with self.engine.begin() as conn:
            res = conn.execute(
                update(forecasts_t)
                .where(
                    forecasts_t.c.actual.is_(None),
                    forecasts_t.c.target_at > at - tolerance,
                    forecasts_t.c.target_at <= at + tolerance,
                )
                .values(actual=_finite(actual))
            )
        return res.rowcount or 0

    def forecast_accuracy(self, *, step: int = 1, since: datetime | None = None) -> dict[str, Any]:
        """Online accuracy of the ``step``-ahead forecasts that have an actual."""
        q = select(forecasts_t).where(forecasts_t.c.actual.is_not(None), forecasts_t.c.step == step)
        if since is not None:
            q = q.where(forecasts_t.c.issued_at >= since)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        if not rows:
            return {"step": step, "n": 0}
        errors = [abs(r.actual - r.mean) for r in rows]
        smape = [
            0.0 if r.actual + r.mean == 0 else 2 * abs(r.actual - r.mean) / (r.actual + r.mean)
            for r in rows
        ]
        return {
            "step": step,
            "n": len(rows),
            "mae": sum(errors) / len(rows),
            "smape": sum(smape) / len(rows),
            "coverage80": sum(r.lo80 <= r.actual <= r.hi80 for r in rows) / len(rows),
            "coverage95": sum(r.lo95 <= r.actual <= r.hi95 for r in rows) / len(rows),
        }

    def forecasts(self, *, since: datetime | None = None, step: int = 1) -> list[dict[str, Any]]:
        q = select(forecasts_t).where(forecasts_t.c.step == step).order_by(forecasts_t.c.target_at)
        if since is not None:
            q = q.where(forecasts_t.c.target_at >= since)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    # -- anomalies ---------------------------------------------------------------------------

    def open_anomaly(
        self,
        node_id: str,
        *,
        since: datetime,
        at: datetime,
        score: float,
        top_metrics: Sequence[str],
        state: str = "open",
    ) -> None:
        """Open (or refresh) the node's current anomaly episode."""
        with self.engine.begin() as conn:
            row = conn.execute(
                select(anomalies_t.c.seq).where(
                    anomalies_t.c.node_id == node_id, anomalies_t.c.state == state
                )
            ).first()
            values = {"last_seen": at, "score": _finite(score), "top_metrics": list(top_metrics)}
            if row is None:
                conn.execute(
                    insert(anomalies_t).values(node_id=node_id, since=since, state=state, **values)
                )
            else:
                conn.execute(
                    update(anomalies_t).where(anomalies_t.c.seq == row.seq).values(**values)
                )

    def resolve_anomalies(self, keep_open: Iterable[str], at: datetime) -> int:
        """Close every open episode whose node is not in ``keep_open``."""
        keep = list(keep_open)
        with self.engine.begin() as conn:
            q = update(anomalies_t).where(anomalies_t.c.state == "open")
            if keep:
                q = q.where(anomalies_t.c.node_id.not_in(keep))
            res = conn.execute(q.values(state="resolved", last_seen=at))
        return res.rowcount or 0

    def anomalies(self, *, limit: int = 100, open_only: bool = False) -> list[AnomalyRecord]:
        q = select(anomalies_t).order_by(anomalies_t.c.seq.desc()).limit(limit)
        if open_only:
            q = q.where(anomalies_t.c.state == "open")
        with self.engine.connect() as conn:
            return [
                AnomalyRecord(
                    r.node_id, r.since, r.last_seen, r.score, tuple(r.top_metrics or ()), r.state
                )
                for r in conn.execute(q)
            ]

    # -- planner memory ----------------------------------------------------------------------

    def get_memory(self, key: str, default: Any = None) -> Any:
        with self.engine.connect() as conn:
            row = conn.execute(select(memory_t.c.value).where(memory_t.c.key == key)).first()
        return default if row is None else row.value

    def set_memory(self, key: str, value: Any, *, at: datetime) -> None:
        with self.engine.begin() as conn:
            exists = conn.execute(select(memory_t.c.key).where(memory_t.c.key == key)).first()
            if exists:
                conn.execute(
                    update(memory_t)
                    .where(memory_t.c.key == key)
                    .values(value=_jsonable(value), updated_at=at)
                )
            else:
                conn.execute(
                    insert(memory_t).values(key=key, value=_jsonable(value), updated_at=at)
                )

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {
                t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in (nodes_t, decisions_t, samples_t, load_t, forecasts_t, anomalies_t)
            }
