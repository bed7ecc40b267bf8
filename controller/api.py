"""The controller's REST API (contract in DESIGN.md, OpenAPI at ``/docs``).

Operators and dashboards ask the running controller what it sees and why it
acted: the forecast with its intervals, the nodes, the decisions with their
reasons, the anomalies; one mutating call drains and replaces a node and needs
the admin token.  Handlers are thin: they read the controller's state and the
store, validate input at the edge (pydantic / query bounds → 422 naming the
parameter) and never expose internals.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Protocol

from fastapi import Depends, FastAPI, Header, HTTPException, Path, Query, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

MAX_HORIZON = 1000
MAX_DECISIONS = 1000


class ControllerLike(Protocol):
    """What the API needs from the controller (the real one is ``controller.loop.Controller``)."""

    settings: Any
    store: Any
    forecasts: Any
    metrics: Any
    clock: Callable[[], datetime]

    def node_rows(self) -> list[dict[str, Any]]: ...

    def drain_and_replace(self, node_id: str) -> dict[str, Any]: ...


class Health(BaseModel):
    status: str
    ticks: int
    last_tick_at: datetime | None


class ForecastPoint(BaseModel):
    timestamp: datetime
    mean: float
    lo80: float
    hi80: float
    lo95: float
    hi95: float


class ForecastOut(BaseModel):
    generated_at: datetime
    step_seconds: float
    model: str
    points: list[ForecastPoint]


class NodeOut(BaseModel):
    id: str
    url: str
    state: str
    since: datetime
    weight: int
    inflight: int
    anomaly_score: float | None


class DecisionOut(BaseModel):
    at: datetime
    kind: str
    node_id: str | None
    reason: str
    details: dict[str, Any]


class AnomalyOut(BaseModel):
    node_id: str
    since: datetime
    score: float
    top_metrics: list[str]
    state: str


class DrainOut(BaseModel):
    node_id: str
    state: str
    replacement: list[str]


def _utc(ts: Any) -> datetime:
    dt = ts.to_pydatetime() if hasattr(ts, "to_pydatetime") else ts
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def create_app(controller: ControllerLike) -> FastAPI:
    app = FastAPI(
        title="fleetcast controller",
        version="0.1.0",
        description="Forecast-driven autoscaling and fault recovery for payment nodes.",
    )

    def require_admin(authorization: Annotated[str | None, Header()] = None) -> None:
        token = controller.settings.security.admin_token
        scheme, _, given = (authorization or "").partition(" ")
        if (
            not token
            or scheme.lower() != "bearer"
            or not secrets.compare_digest(given.strip().encode(), token.encode())
        ):
            raise HTTPException(
                status_code=401,
                detail="missing or invalid admin token (Authorization: Bearer <admin_token>)",
                headers={"WWW-Authenticate": "Bearer"},
            )

    @app.get("/healthz", response_model=Health)
    def healthz() -> Health:
        report = getattr(controller, "last_report", None)
        ticks = int(controller.metrics.ticks.labels("ok")._value.get())
        return Health(status="ok", ticks=ticks, last_tick_at=report.at if report else None)

    @app.get("/metrics", response_class=Response)
    def metrics() -> Response:
        body = generate_latest(controller.metrics.registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @app.get(
        "/forecast",
        response_model=ForecastOut,
        responses={503: {"description": "No forecast model yet; `detail` says why"}},
    )
    def forecast(
        horizon: Annotated[int, Query(ge=1, le=MAX_HORIZON, description="steps ahead")] = 10,
    ) -> ForecastOut:
        fc = controller.forecasts.forecast(horizon)
        if fc is None:
            reason = controller.forecasts.reason or "no forecast model yet"
            raise HTTPException(status_code=503, detail=reason)
        stale = controller.forecasts.stale_reason(fc, controller.clock())
        if stale is not None:  # steps already past, read as ahead (seen after a restart)
            raise HTTPException(status_code=503, detail=stale)
        points = [
            ForecastPoint(
                timestamp=_utc(ts), mean=float(m), lo80=float(a), hi80=float(b),
                lo95=float(c), hi95=float(d),
            )
            for ts, m, a, b, c, d in zip(
                fc.timestamps, fc.mean, fc.lo80, fc.hi80, fc.lo95, fc.hi95, strict=True
            )
        ]
        return ForecastOut(
            generated_at=datetime.now(UTC), step_seconds=fc.step_seconds, model=fc.model,
            points=points,
        )

    @app.get("/nodes", response_model=list[NodeOut])
    def nodes() -> list[NodeOut]:
        return [NodeOut(**row) for row in controller.node_rows()]

    @app.get("/decisions", response_model=list[DecisionOut])
    def decisions(
        limit: Annotated[int, Query(ge=1, le=MAX_DECISIONS, description="newest first")] = 50,
    ) -> list[DecisionOut]:
        return [
            DecisionOut(at=d.at, kind=d.kind, node_id=d.node_id, reason=d.reason,
                        details=d.details)
            for d in controller.store.decisions(limit)
        ]

    @app.get("/anomalies", response_model=list[AnomalyOut])
    def anomalies(
        limit: Annotated[int, Query(ge=1, le=MAX_DECISIONS)] = 100,
    ) -> list[AnomalyOut]:
        return [
            AnomalyOut(node_id=a.node_id, since=a.since, score=a.score,
                       top_metrics=list(a.top_metrics), state=a.state)
            for a in controller.store.anomalies(limit=limit)
        ]

    @app.post(
        "/nodes/{node_id}/drain",
        response_model=DrainOut,
        status_code=202,
        dependencies=[Depends(require_admin)],
        responses={401: {"description": "No or wrong admin token"},
                   404: {"description": "Unknown node"},
                   409: {"description": "Node is not ready"}},
    )
    def drain(
        node_id: Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")],
    ) -> DrainOut:
        try:
            result = controller.drain_and_replace(node_id)
        except KeyError:
            raise HTTPException(status_code=404, detail=f"unknown node {node_id!r}") from None
        except ValueError as exc:
            raise HTTPException(status_code=409, detail=str(exc)) from None
        return DrainOut(**result)

    return app
