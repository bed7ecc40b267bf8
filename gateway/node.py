"""The payment node: a FastAPI app that validates, authorizes and records payments.

Many identical nodes run behind the load balancer and share one database; all
coordination between them (who charges a key) happens in that database (see
``gateway.ledger``), so a node can be killed at any moment.  The app also
exposes the health, readiness and metrics endpoints the controller relies on,
and, when enabled, the fault-injection endpoints used to exercise the detector.

``python -m gateway.node`` runs one node configured from ``FLEETCAST_NODE_*``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import os
import secrets
import sys
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from starlette.concurrency import run_in_threadpool

from gateway import cards
from gateway.admin_auth import admin_refusal
from gateway.db import make_engine
from gateway.faults import FaultInjector, FaultRequest, crash_soon
from gateway.ledger import (
    PAYMENT_ID_RE,
    Claim,
    InFlight,
    KeyReused,
    Ledger,
    NewPayment,
    Stored,
    new_payment_id,
)
from gateway.ledger import utcnow as ledger_now
from gateway.logs import log_to_stderr
from gateway.metrics import NodeMetrics
from gateway.money import FeeSchedule
from gateway.node_middleware import NodeMiddleware
from gateway.schemas import (
    IDEMPOTENCY_KEY_RE,
    AmountBounds,
    PaymentIn,
    PaymentValidationError,
    parse_payment,
)
from gateway.settings import NodeSettings

log = logging.getLogger("fleetcast.node")
DB_LOG_INTERVAL_S = 10.0


class NodeState:
    """Mutable per-process state shared by the routes and the middleware."""

    def __init__(self, settings: NodeSettings) -> None:
        self.settings = settings
        self.engine = make_engine(settings.database_url, pool_size=settings.db_pool_size)
        self.ledger = Ledger(self.engine, lease=timedelta(seconds=settings.idempotency_lease_s))
        self.metrics = NodeMetrics(settings.memory_limit_mb * 1024 * 1024)
        self.faults = FaultInjector()
        self.fees = FeeSchedule(percent_bps=settings.fee_percent_bps)
        self.bounds = AmountBounds(settings.min_amount_minor, settings.max_amount_minor)
        self.card_key = settings.card_hmac_key.encode()
        self.started = False
        self.draining = False
        self._db_failures = 0  # 503s since the last log line about them
        self._db_logged_at = -DB_LOG_INTERVAL_S

    def report_database_error(self, cause: str, now: float | None = None) -> None:
        """Log that requests fail on the database: the first at once, then at most one
        line per ``DB_LOG_INTERVAL_S`` with the count, so an outage is in the node's log
        (it used to answer 503s and log nothing) without a line per request."""
        now = time.monotonic() if now is None else now
        self._db_failures += 1
        if now - self._db_logged_at >= DB_LOG_INTERVAL_S:
            log.warning("node %s: database unavailable (%d request%s answered 503 since the "
                        "last report): %s", self.settings.node_id, self._db_failures,
                        "" if self._db_failures == 1 else "s", cause)
            self._db_failures, self._db_logged_at = 0, now


def _error(status: int, loc: list[str], msg: str) -> JSONResponse:
    field = ".".join(loc[1:]) if len(loc) > 1 else loc[0]
    return JSONResponse({"detail": [{"loc": loc, "field": field, "msg": msg}]}, status_code=status)


def request_fingerprint(body: PaymentIn, key: bytes) -> str:
    canonical = json.dumps(body.model_dump(), sort_keys=True, separators=(",", ":"))
    return hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()


NODE_TOKEN_SETTING = "fleetcast node --admin-token or FLEETCAST_NODE_ADMIN_TOKEN"


def _admin_denied(request: Request, settings: NodeSettings) -> Response | None:
    refusal = admin_refusal(request.headers.get("authorization", ""), settings.admin_token,
                            NODE_TOKEN_SETTING)
    return None if refusal is None else JSONResponse({"detail": refusal}, 401)


def create_app(settings: NodeSettings | None = None) -> FastAPI:
    settings = settings or NodeSettings()
    state = NodeState(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            await run_in_threadpool(state.ledger.create_schema)
        except Exception as exc:
            cause = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            url = make_url(settings.database_url).render_as_string(hide_password=True)
            print(f"fleetcast node: cannot use database {url}: {cause}", file=sys.stderr,
                  flush=True)
            raise
        sampler = asyncio.create_task(state.metrics.run_sampler())
        purger = asyncio.create_task(_purge_loop(state))
        state.started = True
        try:
            yield
        finally:
            state.draining = True  # SIGTERM: stop counting as ready at once
            sampler.cancel()
            purger.cancel()
            state.faults.clear()
            state.engine.dispose()

    # no 307 from /payments/ to /payments: behind the balancer its Location named the
    # node itself (and the balancer does not pass Location on), so a 404 is the answer
    app = FastAPI(title="fleetcast payment node", lifespan=lifespan, redirect_slashes=False)
    app.state.node = state
    app.add_middleware(NodeMiddleware, state=state)

    @app.exception_handler(DBAPIError)
    async def database_unavailable(_: Request, exc: DBAPIError) -> Response:
        # Nothing was charged (the claim is released or its lease runs out), so the
        # client may retry with the same key.  The driver's words (host, port, database
        # name, user) are for the node's log, not for payment clients.
        cause = str(exc.orig or exc).splitlines()[0][:200]
        state.report_database_error(cause)
        return JSONResponse(
            {"detail": "database unavailable; nothing was charged: retry with the same "
                       "Idempotency-Key"},
            status_code=503, headers={"Retry-After": "1"})

    @app.post("/payments", status_code=201)
    async def create_payment(request: Request) -> Response:
        return await _create_payment(state, request)

    @app.get("/payments/{payment_id}")
    async def get_payment(payment_id: str) -> Response:
        # Only an id of the shape we issue goes to the database: PostgreSQL refuses a
        # NUL in text (%00 in the path), which came back as 503 "database unavailable".
        found = None
        if PAYMENT_ID_RE.fullmatch(payment_id):
            found = await run_in_threadpool(state.ledger.get_payment, payment_id)
        if found is None:
            return _error(404, ["path", "payment_id"], "no such payment")
        return JSONResponse(found)

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "node_id": settings.node_id, "pid": os.getpid()}

    @app.get("/readyz")
    async def readyz() -> Response:
        if state.draining:
            return JSONResponse({"status": "draining", "node_id": settings.node_id}, 503)
        if not state.started:
            return JSONResponse({"status": "starting", "node_id": settings.node_id}, 503)
        return JSONResponse({"status": "ready", "node_id": settings.node_id})

    @app.get("/metrics")
    async def metrics() -> Response:
        state.metrics.sample_process(cpu=False)
        return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.post("/admin/drain")
    async def drain(request: Request) -> Response:
        denied = _admin_denied(request, settings)
        if denied is not None:
            return denied
        state.draining = True
        return JSONResponse({"status": "draining", "node_id": settings.node_id})

    @app.post("/admin/faults")
    async def start_fault(request: Request) -> Response:
        denied = _fault_guard(request, settings)
        if denied is not None:
            return denied
        try:
            fault_request = FaultRequest.model_validate_json(await request.body())
        except ValidationError as exc:
            errors = exc.errors(include_input=False)
            detail = [
                {"loc": ["body", *e["loc"]], "field": ".".join(map(str, e["loc"])) or "body",
                 "msg": e["msg"]}
                for e in errors
            ] or [{"loc": ["body"], "field": "body", "msg": "malformed JSON"}]
            return JSONResponse({"detail": detail}, 422)
        fault = state.faults.start(fault_request)
        if fault.kind == "crash":
            crash_soon()
        return JSONResponse({"node_id": settings.node_id, "fault": fault.public(time.monotonic())})

    @app.delete("/admin/faults")
    async def clear_fault(request: Request) -> Response:
        denied = _fault_guard(request, settings)
        if denied is not None:
            return denied
        state.faults.clear()
        return JSONResponse({"node_id": settings.node_id, "fault": None})

    @app.get("/admin/faults")
    async def show_fault() -> Response:
        active = state.faults.active()
        return JSONResponse({"fault": active.public(time.monotonic()) if active else None})

    return app


def _fault_guard(request: Request, settings: NodeSettings) -> Response | None:
    denied = _admin_denied(request, settings)
    if denied is not None:
        return denied
    if not settings.fault_injection:
        return JSONResponse({"detail": "fault injection is disabled on this node"}, 403)
    return None


async def _create_payment(state: NodeState, request: Request) -> Response:
    settings = state.settings
    key = request.headers.get("idempotency-key")
    if not key:
        return _error(400, ["header", "Idempotency-Key"], "header required")
    if not IDEMPOTENCY_KEY_RE.match(key):
        return _error(400, ["header", "Idempotency-Key"],
                      "must be 1-255 printable ASCII characters without spaces")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > settings.max_body_bytes:
        return _error(413, ["body"], f"body larger than {settings.max_body_bytes} bytes")
    raw = await request.body()
    if len(raw) > settings.max_body_bytes:
        return _error(413, ["body"], f"body larger than {settings.max_body_bytes} bytes")
    try:
        payload = json.loads(raw)
    except json.JSONDecodeError as exc:
        return _error(400, ["body"], f"malformed JSON at line {exc.lineno} column {exc.colno}")
    except UnicodeDecodeError:
        return _error(400, ["body"], "malformed JSON (not UTF-8)")
    except ValueError:  # after its subclasses above: an integer too long for int()
        return _error(400, ["body"], "malformed JSON (a number with more than "
                      f"{sys.get_int_max_str_digits()} digits)")
    except RecursionError:
        return _error(400, ["body"], "malformed JSON (nested too deeply)")
    try:
        body = parse_payment(payload, today=ledger_now().date(), bounds=state.bounds)
    except PaymentValidationError as exc:
        return JSONResponse({"detail": exc.errors}, 422)

    fingerprint = request_fingerprint(body, state.card_key)
    outcome = await run_in_threadpool(state.ledger.claim, key, fingerprint, settings.node_id)
    if not isinstance(outcome, Claim):
        return _answer(outcome, replayed=True)
    try:
        if settings.processing_latency_ms:
            await asyncio.sleep(settings.processing_latency_ms / 1000)
        payment = _decide(state, body)
        result = await run_in_threadpool(state.ledger.complete, outcome, payment)
    except BaseException:
        with contextlib.suppress(Exception):
            await run_in_threadpool(state.ledger.release, outcome)
        raise
    return _answer(result, replayed=False)


def _decide(state: NodeState, body: PaymentIn) -> NewPayment:
    number = body.card.number
    decline = cards.authorize(number)
    return NewPayment(
        id=new_payment_id(),
        merchant_id=body.merchant_id,
        amount_minor=body.amount_minor,
        currency=body.currency,
        fee_minor=0 if decline else state.fees.fee(body.amount_minor, body.currency),
        status="declined" if decline else "captured",
        decline_code=decline,
        card_brand=cards.card_brand(number),
        card_bin=number[:6],
        card_last4=number[-4:],
        card_fingerprint=cards.fingerprint(number, state.card_key),
        description=body.description,
        node_id=state.settings.node_id,
        created_at=ledger_now(),
    )


def _answer(outcome: object, *, replayed: bool) -> Response:
    if isinstance(outcome, Stored):
        headers = {"Idempotent-Replayed": "true"} if replayed else {}
        return JSONResponse(outcome.body, status_code=outcome.status, headers=headers)
    if isinstance(outcome, KeyReused):
        return _error(422, ["header", "Idempotency-Key"],
                      "key already used with a different request body")
    if isinstance(outcome, InFlight):
        return JSONResponse(
            {"detail": "a request with this Idempotency-Key is still in flight; retry later"},
            status_code=409, headers={"Retry-After": "1"},
        )
    raise TypeError(f"unexpected outcome {outcome!r}")


async def _purge_loop(state: NodeState) -> None:
    retention = timedelta(hours=state.settings.key_retention_hours)
    # Spread nodes out so they do not all purge at the same instant.
    await asyncio.sleep(secrets.randbelow(60) + 5)
    while True:
        with contextlib.suppress(Exception):
            await run_in_threadpool(state.ledger.purge_keys, retention)
        await asyncio.sleep(state.settings.purge_interval_s)


def run_node(settings: NodeSettings) -> None:
    """Serve one node until SIGTERM/SIGINT (graceful: in-flight requests finish)."""
    import uvicorn

    log_to_stderr(log)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level=settings.log_level,
        timeout_graceful_shutdown=int(settings.shutdown_timeout_s),
        timeout_keep_alive=75,  # longer than the balancer's idle expiry: no close races
        lifespan="on",
    )


def main() -> None:
    """``python -m gateway.node``: settings from ``FLEETCAST_NODE_*``; a bad one is one
    line naming the variable (the local pool's start-up failure quotes it), exit 2."""
    try:
        settings = NodeSettings()
    except ValidationError as exc:
        for error in exc.errors(include_input=False):
            name = "FLEETCAST_NODE_" + "_".join(map(str, error["loc"])).upper()
            print(f"fleetcast node: {name}: {error['msg']}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
    run_node(settings)


if __name__ == "__main__":
    main()
