"""ASGI middleware of a payment node: metrics for every request, and active faults.

A plain ASGI class rather than ``BaseHTTPMiddleware`` because it sits on the hot
path of every payment.  It is also the one place where injected faults take
effect, so the routes themselves stay free of fault logic.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from gateway.node import NodeState


def route_label(path: str) -> str:
    if path == "/payments":
        return "/payments"
    if path.startswith("/payments/"):
        return "/payments/{id}"
    if path in ("/healthz", "/readyz", "/metrics"):
        return path
    if path.startswith("/admin/"):
        return "/admin"
    return "other"


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})


class NodeMiddleware:
    def __init__(self, app: ASGIApp, state: NodeState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        route = route_label(path)
        metrics = self.state.metrics
        counted = route != "/metrics"
        status_holder = [500]

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
            await send(message)

        start = time.perf_counter()
        if counted:
            metrics.inflight.inc()
        try:
            fault = self.state.faults.active() if route != "/admin" else None
            if fault is not None and fault.kind == "hang":
                await self.state.faults.wait_until_cleared(fault)
                await _send_json(send_wrapper, 503, {"detail": "node was hung by a fault"})
                return
            if fault is not None and fault.kind == "latency" and route != "/metrics":
                await asyncio.sleep(self.state.faults.extra_latency_s(fault))
            if (
                fault is not None
                and fault.kind == "errors"
                and route.startswith("/payments")
                and self.state.faults.should_error(fault)
            ):
                await _send_json(send_wrapper, 500, {"detail": "injected error"})
                return
            await self.app(scope, receive, send_wrapper)
        finally:
            if counted:
                metrics.inflight.dec()
            metrics.observe(route, status_holder[0], time.perf_counter() - start)
