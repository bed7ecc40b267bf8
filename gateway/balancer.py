"""The load balancer: its own process in front of the payment nodes.

It runs apart from the controller so payments keep flowing if the controller
dies.  Membership is pushed to it (``PUT /admin/backends``, like HAProxy's
runtime API or Envoy's EDS); it never discovers nodes itself.  It is a plain ASGI
app (no framework routing on the hot path) that forwards over pooled keep-alive
httpx connections.

Passive health: a connect failure or a reset marks a backend down for a back-off
that doubles on each consecutive failure (``down_backoff_s`` up to
``max_down_backoff_s``); requests that fail while it is already down (sent before
it was marked) do not count again.  A request is retried once on another backend after a
connect error (nothing was sent), and after a reset before any response only if
it carries an ``Idempotency-Key`` (the nodes make that retry safe).

``python -m gateway.balancer`` runs one configured from ``FLEETCAST_LB_*``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import re
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError
from starlette.types import Receive, Scope, Send

from gateway.admin_auth import admin_refusal
from gateway.httpclient import (
    ConnectFailed,
    HttpClient,
    ProtocolFailure,
    ResetBeforeResponse,
    ResponseTimeout,
    split_origin,
)
from gateway.logs import log_to_stderr
from gateway.metrics import LATENCY_BUCKETS
from gateway.settings import BalancerSettings
from gateway.strategies import STRATEGIES, Candidate, PeakEwma, make_chooser

log = logging.getLogger("fleetcast.balancer")
LB_TOKEN_SETTING = "fleetcast balancer --admin-token or FLEETCAST_LB_ADMIN_TOKEN"
FORWARD_REQUEST_HEADERS = {"content-type", "idempotency-key", "accept", "x-request-id"}
FORWARD_RESPONSE_HEADERS = {"content-type", "idempotent-replayed", "retry-after"}


BACKEND_URL_RE = re.compile(
    r"http://(?:[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])(?::(?P<port>[0-9]{1,5}))?/?")


class BackendIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=64)
    url: str = Field(max_length=300)
    state: Literal["ready", "draining"] = "ready"
    weight: int = Field(default=100, ge=0, le=10_000)

    @field_validator("url")
    @classmethod
    def _plain_http_origin(cls, url: str) -> str:
        # What the forwarding client can reach; an https:// URL or port 99999 used to be
        # accepted here and then answered every request routed to it with a 500.
        match = BACKEND_URL_RE.fullmatch(url)
        if match is None or not 1 <= int(match["port"] or 80) <= 65535:
            raise PydanticCustomError(  # no "Value error, " before it in the 422 and the CLI
                "backend_url", "must be http://host:port (plain HTTP, port 1-65535, no path)")
        return url.rstrip("/")


class MembershipIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    backends: list[BackendIn]


@dataclass
class Backend:
    id: str
    url: str
    state: str
    weight: int
    inflight: int = 0
    ewma: PeakEwma = field(default_factory=PeakEwma)
    mean: PeakEwma = field(default_factory=lambda: PeakEwma(peak=False))
    down_until: float = 0.0
    consecutive_failures: int = 0

    @property
    def origin(self) -> tuple[str, int]:
        host, port, _ = split_origin(self.url)
        return host, port

    def observe(self, rtt_s: float, now: float) -> None:
        self.ewma.observe(rtt_s, now)
        self.mean.observe(rtt_s, now)

    def healthy(self, now: float) -> bool:
        return now >= self.down_until

    def public(self, now: float) -> dict[str, Any]:
        return {"id": self.id, "url": self.url, "state": self.state, "weight": self.weight,
                "inflight": self.inflight, "healthy": self.healthy(now)}


class BalancerMetrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.requests = Counter("fleetcast_lb_requests", "Proxied requests",
                                ["backend", "status"], registry=r)
        self.latency = Histogram("fleetcast_lb_request_seconds", "End-to-end latency at the LB",
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.inflight = Gauge("fleetcast_lb_inflight", "In-flight requests per backend",
                              ["backend"], registry=r)
        self.retries = Counter("fleetcast_lb_retries", "Requests retried on another backend",
                               registry=r)
        self.client_gone = Counter("fleetcast_lb_client_gone",
                                   "Requests dropped: the client left before its body was "
                                   "complete", registry=r)


class Balancer:
    """Membership, choice and forwarding; the ASGI app wraps one of these."""

    def __init__(self, settings: BalancerSettings, rng: random.Random | None = None) -> None:
        if settings.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}")
        self.settings = settings
        self.chooser = make_chooser(settings.strategy, rng)
        self.backends: dict[str, Backend] = {}
        self.metrics = BalancerMetrics()
        self.client: HttpClient | None = None

    # -- membership -------------------------------------------------------------
    def set_backends(self, wanted: list[BackendIn]) -> None:
        updated: dict[str, Backend] = {}
        for b in sorted(wanted, key=lambda b: b.id):
            current = self.backends.get(b.id)
            if current is None:
                current = Backend(b.id, b.url.rstrip("/"), b.state, b.weight)
            else:
                if current.url != b.url.rstrip("/"):
                    current.down_until, current.consecutive_failures = 0.0, 0
                current.url, current.state, current.weight = b.url.rstrip("/"), b.state, b.weight
            updated[b.id] = current
        for gone in set(self.backends) - set(updated):
            with contextlib.suppress(KeyError):
                self.metrics.inflight.remove(gone)  # no stale series for removed nodes
        self.backends = updated

    def candidates(self, now: float, exclude: set[str]) -> list[Candidate]:
        return [
            Candidate(b.id, b.weight, b.inflight, b.ewma.current(now), b.mean.current(now))
            for b in self.backends.values()
            if b.state == "ready" and b.id not in exclude and b.healthy(now)
        ]

    def why_none(self, now: float) -> str:
        """Why no backend is a candidate, for the 503's detail."""
        if not self.backends:
            return "no backends configured (PUT /admin/backends)"
        ready = [b for b in self.backends.values() if b.state == "ready"]
        if not ready:
            return f"none of {len(self.backends)} backends is ready (all draining)"
        soonest = min(b.down_until for b in ready) - now
        return (f"all {len(ready)} ready backends are marked down after connection failures "
                f"(the next is tried again in {max(0.0, soonest):.1f} s)")

    def mark_down(self, backend: Backend, now: float, reason: str = "") -> None:
        if not backend.healthy(now):
            # Already down: this request was sent before the failure that marked it
            # (a killed node fails all its in-flight requests at once).  One event is
            # one failure; counting each would double the back-off per request, and
            # 20 in flight meant 30 s away from a node that was back in 3.
            return
        backend.consecutive_failures += 1
        backoff = self.settings.down_backoff_s * 2 ** (backend.consecutive_failures - 1)
        backend.down_until = now + min(backoff, self.settings.max_down_backoff_s)
        log.warning("backend %s (%s) marked down for %.1f s after %d consecutive failure%s%s",
                    backend.id, backend.url, backend.down_until - now,
                    backend.consecutive_failures,
                    "" if backend.consecutive_failures == 1 else "s",
                    f": {reason}" if reason else "")

    # -- forwarding -------------------------------------------------------------
    async def start(self) -> None:
        s = self.settings
        self.client = HttpClient(connect_timeout_s=s.connect_timeout_s,
                                 timeout_s=s.backend_timeout_s,
                                 max_idle_per_host=s.max_connections_per_backend)

    async def stop(self) -> None:
        if self.client is not None:
            await self.client.aclose()

    async def forward(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes, str]:
        """Send to a chosen backend; return (status, headers, body, backend id)."""
        assert self.client is not None, "balancer not started"
        key = headers.get("idempotency-key")
        tried: set[str] = set()
        failed = ""
        while True:
            now = time.monotonic()
            candidates = self.candidates(now, tried)
            if not candidates:
                detail = (f"{failed}; no other backend to retry on" if failed
                          else f"no backend available: {self.why_none(now)}")
                return 503, {"content-type": "application/json"}, _json({"detail": detail}), "none"
            backend = self.backends[self.chooser.choose(candidates).id]
            if tried:
                self.metrics.retries.inc()  # only a retry really sent counts
            tried.add(backend.id)
            retry_ok = False
            backend.inflight += 1
            gauge = self.metrics.inflight.labels(backend.id)
            gauge.inc()
            started = time.perf_counter()
            try:
                host, port = backend.origin
                response = await self.client.request_to(
                    host, port, method, target, headers=headers, body=body)
            except ConnectFailed:
                retry_ok = True
                failure = "backend refused the connection"
                self.mark_down(backend, time.monotonic(), failure)
            except ResetBeforeResponse:
                retry_ok = key is not None
                failure = "backend closed the connection before answering"
                self.mark_down(backend, time.monotonic(), failure)
            except ProtocolFailure:
                failure = "backend broke off its response"
                self.mark_down(backend, time.monotonic(), failure)
            except ResponseTimeout:
                backend.observe(time.perf_counter() - started, time.monotonic())
                return 504, {"content-type": "application/json"}, _json(
                    {"detail": f"backend {backend.id} did not answer in time"}), backend.id
            else:
                if backend.consecutive_failures:
                    log.warning("backend %s (%s) answers again after %d consecutive failure%s",
                                backend.id, backend.url, backend.consecutive_failures,
                                "" if backend.consecutive_failures == 1 else "s")
                backend.consecutive_failures = 0
                backend.observe(time.perf_counter() - started, time.monotonic())
                out = {k: v for k, v in response.headers.items() if k in FORWARD_RESPONSE_HEADERS}
                out["x-fleetcast-backend"] = backend.id
                return response.status, out, response.body, backend.id
            finally:
                backend.inflight -= 1
                gauge.dec()
            if retry_ok and len(tried) == 1:
                failed = f"{failure} ({backend.id})"
                continue
            return 502, {"content-type": "application/json"}, _json(
                {"detail": f"{failure} ({backend.id})"}), backend.id

    # -- ASGI ---------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        try:
            await self._http(scope, receive, send)
        except ClientGone:
            self.metrics.client_gone.inc()
            log.info("client disconnected before its %s %s body was complete; nothing forwarded",
                     scope["method"], scope["path"])

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        started = time.perf_counter()
        if path == "/healthz" and method == "GET":
            ready = sum(1 for b in self.backends.values() if b.state == "ready")
            await _respond(send, 200, {"status": "ok", "role": "balancer", "ready_backends": ready,
                                       "strategy": self.settings.strategy})
            return
        if path == "/readyz" and method == "GET":
            # The balancer's own readiness (it used to forward /readyz to some node,
            # which answered with its own node_id): ready while a backend can be chosen.
            now = time.monotonic()
            usable = len(self.candidates(now, set()))
            if usable:
                await _respond(send, 200, {"status": "ready", "role": "balancer",
                                           "usable_backends": usable})
            else:
                await _respond(send, 503, {"status": "unavailable", "role": "balancer",
                                           "detail": f"no backend available: "
                                                     f"{self.why_none(now)}"})
            return
        if path == "/metrics" and method == "GET":
            await _respond_raw(send, 200, {"content-type": CONTENT_TYPE_LATEST},
                               generate_latest(self.metrics.registry))
            return
        if path == "/admin/backends":
            await self._admin_backends(scope, receive, send, method)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        body = await _read_body(receive, self.settings.max_body_bytes)
        if body is None:
            await _respond(send, 413, {"detail": [{"loc": ["body"], "field": "body",
                                                   "msg": "request body too large"}]})
            return
        forward = {k: v for k, v in headers.items() if k in FORWARD_REQUEST_HEADERS}
        query = scope.get("query_string", b"")
        target = path + ("?" + query.decode("latin-1") if query else "")
        status, out_headers, content, backend_id = await self.forward(
            method, target, forward, body)
        self.metrics.requests.labels(backend_id, str(status)).inc()
        self.metrics.latency.observe(time.perf_counter() - started)
        await _respond_raw(send, status, out_headers, content)

    async def _admin_backends(
        self, scope: Scope, receive: Receive, send: Send, method: str
    ) -> None:
        now = time.monotonic()
        if method == "GET":
            await _respond(send, 200, [b.public(now) for b in self.backends.values()])
            return
        if method != "PUT":
            await _respond(send, 405, {"detail": "use GET or PUT"})
            return
        auth = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
        refusal = admin_refusal(auth, self.settings.admin_token, LB_TOKEN_SETTING)
        if refusal is not None:
            await _respond(send, 401, {"detail": refusal})
            return
        raw = await _read_body(receive, 1_000_000) or b""
        try:
            membership = MembershipIn.model_validate_json(raw)
        except ValidationError as exc:
            detail = [{"loc": ["body", *e["loc"]], "field": ".".join(map(str, e["loc"])) or "body",
                       "msg": e["msg"]} for e in exc.errors(include_input=False)]
            await _respond(send, 422, {"detail": detail})
            return
        ids = [b.id for b in membership.backends]
        if len(ids) != len(set(ids)):
            await _respond(send, 422, {"detail": [{"loc": ["body", "backends"],
                                                   "field": "backends", "msg": "duplicate id"}]})
            return
        self.set_backends(membership.backends)
        await _respond(send, 200, [b.public(now) for b in self.backends.values()])

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _json(body: Any) -> bytes:
    return json.dumps(body).encode()


class ClientGone(Exception):
    """The client disconnected before its request body was complete."""


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body; None past ``limit``; ClientGone if the client left mid-body
    (what arrived is not a request and must not be forwarded)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _respond(send: Send, status: int, body: Any) -> None:
    await _respond_raw(send, status, {"content-type": "application/json"}, _json(body))


async def _respond_raw(send: Send, status: int, headers: dict[str, str], body: bytes) -> None:
    raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    raw_headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


def run_balancer(settings: BalancerSettings, backends: list[BackendIn] | None = None) -> None:
    """Serve the balancer until SIGTERM/SIGINT."""
    import uvicorn

    log_to_stderr(log)
    balancer = Balancer(settings)
    if backends:
        balancer.set_backends(backends)
    uvicorn.run(balancer, host=settings.host, port=settings.port, loop="uvloop",
                http="httptools", access_log=False, log_level=settings.log_level,
                lifespan="on", timeout_graceful_shutdown=10)


if __name__ == "__main__":
    run_balancer(BalancerSettings())
