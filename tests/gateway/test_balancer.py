"""Load balancer: membership API, draining, passive health, retries, 503.

Backends here are tiny asyncio HTTP servers (fakes at the network boundary)
so each behaviour can be forced: answer, reset the connection, or not listen.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from gateway.balancer import BackendIn, Balancer
from gateway.settings import BalancerSettings
from tests.ports import free_port

TOKEN = "lb-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class TinyBackend:
    """Answers 200 with its name, or resets every connection when ``reset`` is set."""

    def __init__(self, name: str, reset: bool = False) -> None:
        self.name, self.reset = name, reset
        self.hits = 0
        self.server: asyncio.Server | None = None
        self.port = 0
        self.writers: set[asyncio.StreamWriter] = set()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.decode().split("\r\n"):
                    if line.lower().startswith("content-length:"):
                        length = int(line.split(":")[1])
                await reader.readexactly(length)
                self.hits += 1
                if self.reset:
                    writer.transport.abort()
                    return
                body = json.dumps({"backend": self.name}).encode()
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                             b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def __aenter__(self) -> TinyBackend:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:  # keep-alive connections the balancer still holds
            writer.close()

    def spec(self, state: str = "ready", weight: int = 100) -> dict[str, Any]:
        return {"id": self.name, "url": f"http://127.0.0.1:{self.port}", "state": state,
                "weight": weight}


def run(scenario: Callable[[Balancer, httpx.AsyncClient], Awaitable[None]],
        strategy: str = "round_robin") -> None:
    async def main() -> None:
        balancer = Balancer(BalancerSettings(strategy=strategy, admin_token=TOKEN),
                            rng=random.Random(0))
        await balancer.start()
        transport = httpx.ASGITransport(app=balancer)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://lb") as client:
                await scenario(balancer, client)
        finally:
            await balancer.stop()

    asyncio.run(main())


def test_membership_needs_token_and_is_listed() -> None:
    async def scenario(_: Balancer, client: httpx.AsyncClient) -> None:
        payload = {"backends": [{"id": "n1", "url": "http://127.0.0.1:9", "state": "ready",
                                 "weight": 100}]}
        assert (await client.put("/admin/backends", json=payload)).status_code == 401
        bad_auth = {"Authorization": "Bearer nope"}
        assert (await client.put("/admin/backends", json=payload,
                                 headers=bad_auth)).status_code == 401
        assert (await client.put("/admin/backends", json=payload, headers=AUTH)).status_code == 200
        listed = (await client.get("/admin/backends")).json()
        assert listed == [{"id": "n1", "url": "http://127.0.0.1:9", "state": "ready",
                           "weight": 100, "inflight": 0, "healthy": True}]

    run(scenario)


def test_membership_body_is_validated() -> None:
    async def scenario(_: Balancer, client: httpx.AsyncClient) -> None:
        bad = {"backends": [{"id": "n1", "url": "ftp://x", "state": "sleeping"}]}
        response = await client.put("/admin/backends", json=bad, headers=AUTH)
        assert response.status_code == 422
        fields = {e["field"] for e in response.json()["detail"]}
        assert {"backends.0.url", "backends.0.state"} <= fields
        dup = {"backends": [{"id": "a", "url": "http://h:1"}, {"id": "a", "url": "http://h:2"}]}
        assert (await client.put("/admin/backends", json=dup, headers=AUTH)).status_code == 422

    run(scenario)


def test_no_backend_is_503_with_detail() -> None:
    async def scenario(_: Balancer, client: httpx.AsyncClient) -> None:
        response = await client.post("/payments", json={})
        assert response.status_code == 503
        assert "no backend" in response.json()["detail"]

    run(scenario)


def test_round_robin_spreads_and_draining_gets_nothing() -> None:
    async def scenario(_: Balancer, client: httpx.AsyncClient) -> None:
        async with TinyBackend("a") as a, TinyBackend("b") as b, TinyBackend("c") as c:
            await client.put("/admin/backends", headers=AUTH,
                             json={"backends": [a.spec(), b.spec(), c.spec()]})
            seen = Counter([(await client.get("/x")).json()["backend"] for _ in range(9)])
            assert seen == {"a": 3, "b": 3, "c": 3}
            await client.put("/admin/backends", headers=AUTH,
                             json={"backends": [a.spec(), b.spec("draining"), c.spec()]})
            before = b.hits
            seen = Counter([(await client.get("/x")).json()["backend"] for _ in range(8)])
            assert b.hits == before and set(seen) == {"a", "c"}
            state = {x["id"]: x["state"] for x in (await client.get("/admin/backends")).json()}
            assert state == {"a": "ready", "b": "draining", "c": "ready"}

    run(scenario)


def test_connect_error_marks_down_and_retries_elsewhere() -> None:
    async def scenario(balancer: Balancer, client: httpx.AsyncClient) -> None:
        async with TinyBackend("alive") as alive:
            dead = {"id": "dead", "url": f"http://127.0.0.1:{free_port()}", "state": "ready"}
            await client.put("/admin/backends", headers=AUTH,
                             json={"backends": [alive.spec(), dead]})
            answers = [await client.get("/x") for _ in range(4)]
            assert all(r.status_code == 200 for r in answers)
            assert all(r.json()["backend"] == "alive" for r in answers)
            listed = {x["id"]: x for x in (await client.get("/admin/backends")).json()}
            assert listed["dead"]["healthy"] is False
            metrics = (await client.get("/metrics")).text
            assert "fleetcast_lb_retries_total 1.0" in metrics
            assert 'fleetcast_lb_requests_total{backend="alive",status="200"}' in metrics

    run(scenario)


def test_reset_is_retried_only_with_idempotency_key() -> None:
    async def scenario(balancer: Balancer, client: httpx.AsyncClient) -> None:
        async with TinyBackend("reset", reset=True) as bad, TinyBackend("ok") as ok:
            await client.put("/admin/backends", headers=AUTH,
                             json={"backends": [bad.spec(), ok.spec()]})
            # round robin starts at "ok" (sorted ids: ok, reset); send one there first
            assert (await client.post("/p", content=b"{}")).json()["backend"] == "ok"
            no_key = await client.post("/p", content=b"{}")
            assert no_key.status_code == 502 and bad.hits == 1
            balancer.backends["reset"].down_until = 0.0  # bring it back for the next try
            (await client.post("/p", content=b"{}"))  # to "ok": keep the rotation aligned
            with_key = await client.post("/p", content=b"{}", headers={"Idempotency-Key": "k"})
            assert with_key.status_code == 200 and with_key.json()["backend"] == "ok"
            assert with_key.headers["x-fleetcast-backend"] == "ok"

    run(scenario)


def test_passive_health_backoff_doubles() -> None:
    balancer = Balancer(BalancerSettings(down_backoff_s=1.0, max_down_backoff_s=3.0))
    balancer.set_backends([BackendIn(id="a", url="http://127.0.0.1:1")])
    backend = balancer.backends["a"]
    now = 100.0
    for expected in (1.0, 2.0, 3.0, 3.0):  # each failure after the back-off ran out
        balancer.mark_down(backend, now=now)
        assert backend.down_until == now + expected
        now += expected
    assert balancer.candidates(now=now - 0.5, exclude=set()) == []
    assert [c.id for c in balancer.candidates(now=now, exclude=set())] == ["a"]


def test_failures_while_down_do_not_double_the_backoff() -> None:
    # A killed node fails all its in-flight requests at once; each used to double the
    # back-off (20 in flight: 30 s, the cap, for a node restarted 3 s later).
    balancer = Balancer(BalancerSettings(down_backoff_s=1.0, max_down_backoff_s=30.0))
    balancer.set_backends([BackendIn(id="a", url="http://127.0.0.1:1")])
    backend = balancer.backends["a"]
    for _ in range(20):
        balancer.mark_down(backend, now=100.0)
    assert backend.down_until == 101.0 and backend.consecutive_failures == 1


def test_requests_in_flight_to_a_node_that_resets_count_as_one_failure() -> None:
    async def scenario(balancer: Balancer, client: httpx.AsyncClient) -> None:
        async with TinyBackend("reset", reset=True) as bad:
            await client.put("/admin/backends", headers=AUTH, json={"backends": [bad.spec()]})
            answers = await asyncio.gather(*(client.post("/p", content=b"{}")
                                             for _ in range(8)))
            assert {r.status_code for r in answers} <= {502, 503} and bad.hits >= 2
            assert balancer.backends["reset"].consecutive_failures == 1

    run(scenario)


def test_health_and_unknown_strategy() -> None:
    async def scenario(_: Balancer, client: httpx.AsyncClient) -> None:
        health = (await client.get("/healthz")).json()
        assert health["status"] == "ok" and health["strategy"] == "least_request"

    run(scenario, strategy="least_request")
    try:
        Balancer(BalancerSettings(strategy="fastest"))
    except ValueError as exc:
        assert "least_request" in str(exc)
    else:
        raise AssertionError("unknown strategy accepted")


def test_backend_url_the_balancer_cannot_reach_is_refused() -> None:
    # These were accepted, and every request routed to them was a 500 (the forwarding
    # client speaks plain HTTP; urllib refuses port 99999 when it is read).
    async def scenario(balancer: Balancer, client: httpx.AsyncClient) -> None:
        for url in ("https://127.0.0.1:8101", "http://127.0.0.1:99999", "http://127.0.0.1:0",
                    "http://127.0.0.1:8101/payments", "http://user@127.0.0.1:8101"):
            payload = {"backends": [{"id": "n1", "url": url}]}
            response = await client.put("/admin/backends", json=payload, headers=AUTH)
            assert response.status_code == 422, url
            [error] = response.json()["detail"]
            assert error["field"] == "backends.0.url"
            assert error["msg"] == "must be http://host:port (plain HTTP, port 1-65535, no path)"
        assert balancer.backends == {}
        ok = {"backends": [{"id": "n1", "url": "http://127.0.0.1:8101/"}]}
        assert (await client.put("/admin/backends", json=ok, headers=AUTH)).status_code == 200
        assert balancer.backends["n1"].url == "http://127.0.0.1:8101"

    run(scenario)


def test_only_backend_refusing_is_named_and_no_retry_is_claimed() -> None:
    # Before: '503 no backend available (retry also failed)' although no retry was sent
    # (there was no other backend), and fleetcast_lb_retries_total counted one.
    async def scenario(balancer: Balancer, client: httpx.AsyncClient) -> None:
        dead = {"id": "dead", "url": f"http://127.0.0.1:{free_port()}"}
        await client.put("/admin/backends", headers=AUTH, json={"backends": [dead]})
        first = await client.post("/payments", content=b"{}", headers={"Idempotency-Key": "k"})
        assert first.status_code == 503
        assert first.json()["detail"] == (
            "backend refused the connection (dead); no other backend to retry on")
        second = await client.post("/payments", content=b"{}")
        assert second.status_code == 503
        assert second.json()["detail"].startswith(
            "no backend available: all 1 ready backends are marked down after connection "
            "failures (the next is tried again in ")
        assert "fleetcast_lb_retries_total 0.0" in (await client.get("/metrics")).text
        await client.put("/admin/backends", headers=AUTH,
                         json={"backends": [{**dead, "state": "draining"}]})
        third = await client.post("/payments", content=b"{}")
        assert third.json()["detail"] == (
            "no backend available: none of 1 backends is ready (all draining)")

    run(scenario)


def test_readyz_is_the_balancers_own() -> None:
    # Before, /readyz was forwarded like a payment: a node's {"status": "ready",
    # "node_id": ...} (or any backend's answer) stood for the balancer's readiness.
    async def scenario(balancer: Balancer, client: httpx.AsyncClient) -> None:
        async with TinyBackend("a") as a:
            await client.put("/admin/backends", headers=AUTH, json={"backends": [a.spec()]})
            ready = await client.get("/readyz")
            assert ready.status_code == 200 and a.hits == 0
            assert ready.json() == {"status": "ready", "role": "balancer", "usable_backends": 1}
            await client.put("/admin/backends", headers=AUTH,
                             json={"backends": [a.spec("draining")]})
            gone = await client.get("/readyz")
            assert gone.status_code == 503 and a.hits == 0
            assert gone.json()["detail"] == (
                "no backend available: none of 1 backends is ready (all draining)")

    run(scenario)


def test_backend_marked_down_and_back_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    # Before, the balancer logged nothing: a node that refused connections for minutes
    # showed only as retries in /metrics.
    async def scenario(balancer: Balancer, client: httpx.AsyncClient) -> None:
        async with TinyBackend("flaky", reset=True) as flaky:
            await client.put("/admin/backends", headers=AUTH, json={"backends": [flaky.spec()]})
            with caplog.at_level("WARNING", logger="fleetcast.balancer"):
                assert (await client.get("/x")).status_code == 502
                flaky.reset = False
                balancer.backends["flaky"].down_until = 0.0  # its back-off ran out
                assert (await client.get("/x")).status_code == 200
            url = f"http://127.0.0.1:{flaky.port}"
            assert [r.getMessage() for r in caplog.records if r.name == "fleetcast.balancer"] == [
                f"backend flaky ({url}) marked down for 1.0 s after 1 consecutive failure: "
                "backend closed the connection before answering",
                f"backend flaky ({url}) answers again after 1 consecutive failure",
            ]

    run(scenario)


def test_admin_token_with_non_ascii_characters_is_401() -> None:
    # hmac.compare_digest raised TypeError on the latin-1 header: a 500.
    async def scenario(balancer: Balancer, client: httpx.AsyncClient) -> None:
        payload = {"backends": [{"id": "n1", "url": "http://127.0.0.1:9"}]}
        wrong = {"Authorization": "Bearer café".encode("latin-1")}
        response = await client.put("/admin/backends", json=payload, headers=wrong)
        assert response.status_code == 401 and balancer.backends == {}

    run(scenario)


def test_balancer_without_a_token_says_admin_routes_are_off() -> None:
    # Before: "admin token required (Authorization: Bearer)", whatever was sent.
    async def main() -> None:
        balancer = Balancer(BalancerSettings(admin_token=""))
        await balancer.start()
        try:
            transport = httpx.ASGITransport(app=balancer)
            async with httpx.AsyncClient(transport=transport, base_url="http://lb") as client:
                response = await client.put("/admin/backends", json={"backends": []},
                                            headers=AUTH)
            assert response.status_code == 401
            assert response.json()["detail"] == (
                "admin routes are off: no admin token is configured "
                "(fleetcast balancer --admin-token or FLEETCAST_LB_ADMIN_TOKEN)")
        finally:
            await balancer.stop()

    asyncio.run(main())


def test_a_body_cut_short_by_a_client_disconnect_is_not_forwarded() -> None:
    # The ASGI server says http.disconnect when the client leaves mid-upload; the balancer
    # used to take that as the body's end and forward the partial body to a node.
    async def main() -> None:
        balancer = Balancer(BalancerSettings(strategy="round_robin", admin_token=TOKEN),
                            rng=random.Random(0))
        await balancer.start()
        try:
            async with TinyBackend("a") as a:
                transport = httpx.ASGITransport(app=balancer)
                async with httpx.AsyncClient(transport=transport, base_url="http://lb") as client:
                    await client.put("/admin/backends", headers=AUTH,
                                     json={"backends": [a.spec()]})
                    messages = iter([
                        {"type": "http.request", "body": b'{"amount_minor": 1', "more_body": True},
                        {"type": "http.disconnect"},
                    ])
                    sent: list[dict[str, Any]] = []

                    async def receive() -> dict[str, Any]:
                        return next(messages)

                    async def send(message: dict[str, Any]) -> None:
                        sent.append(message)

                    scope = {"type": "http", "method": "POST", "path": "/payments",
                             "query_string": b"", "headers": [
                                 (b"content-type", b"application/json"),
                                 (b"idempotency-key", b"k-1"), (b"content-length", b"400")]}
                    await balancer(scope, receive, send)
                    assert a.hits == 0 and sent == []
                    metrics = (await client.get("/metrics")).text
                    assert "fleetcast_lb_client_gone_total 1.0" in metrics
                    # a complete request still goes through
                    assert (await client.post("/payments", json={})).status_code == 200
                    assert a.hits == 1
        finally:
            await balancer.stop()

    asyncio.run(main())
