"""Balancer + 3 real node processes on SQLite and PostgreSQL; one node SIGKILLed under load.

Clients retry with the same Idempotency-Key (the loadgen does), so afterwards
every acknowledged payment must be in the ledger exactly once, no key may have
two payments, the books must balance, and a replay returns the same payment.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from controller.lifecycle import NodeState
from controller.pools.local import BalancerProcess, LocalPool
from gateway.db import make_engine
from gateway.ledger import payments_by_key, verify_ledger
from gateway.loadgen import RequestRecord, run_load
from tests.gateway.conftest import TOKEN, body
from tests.ports import free_ports

pytestmark = pytest.mark.slow
TOTAL = 450


@pytest.fixture
def fleet(tmp_path: Path, db_url: str) -> Iterator[tuple[LocalPool, BalancerProcess, str]]:
    nodes, balancer = free_ports(3, 1)
    pool = LocalPool(tmp_path, db_url, nodes, TOKEN,
                     node_options={"idempotency_lease_s": 1.5, "processing_latency_ms": 20},
                     stop_timeout_s=5)
    lb = BalancerProcess(balancer, "least_request", TOKEN, data_dir=tmp_path)
    try:
        lb.start()
        pool.launch(3)
        pool.wait_ready()
        lb.push(pool.nodes())
        yield pool, lb, db_url
    finally:
        lb.stop()
        pool.close()


def test_sigkill_under_load_loses_and_doubles_nothing(
    fleet: tuple[LocalPool, BalancerProcess, str],
) -> None:
    pool, lb, db_url = fleet
    victim = pool.nodes()[0]
    done: list[RequestRecord] = []

    def on_record(record: RequestRecord) -> None:
        done.append(record)
        if len(done) == TOTAL // 3:
            pool.kill(victim.id)

    report = asyncio.run(run_load(lb.url, None, 0, total=TOTAL, concurrency=16,
                                  on_record=on_record, seed=7))
    acked = report.acked
    assert len(report.records) == TOTAL
    assert len(acked) == TOTAL, report.summary()  # clients retried until acknowledged
    assert {n.id: n.state for n in pool.nodes()}[victim.id] is NodeState.FAILED

    engine = make_engine(db_url)
    try:
        by_key = payments_by_key(engine)
        for record in acked:
            assert by_key.get(record.key) == [record.payment_id], record
        check = verify_ledger(engine)
        assert check.duplicate_keys == 0 and check.ok, check
    finally:
        engine.dispose()

    # A replay through the balancer returns the very same payment.
    sample = acked[0]
    with httpx.Client(base_url=lb.url) as client:
        assert client.get(f"/payments/{sample.payment_id}").status_code == 200
        backends = client.get("/admin/backends").json()
        assert {b["id"] for b in backends} == {n.id for n in pool.nodes()}


def test_replay_and_conflict_through_the_balancer(
    fleet: tuple[LocalPool, BalancerProcess, str],
) -> None:
    _, lb, _ = fleet
    with httpx.Client(base_url=lb.url) as client:
        first = client.post("/payments", json=body(), headers={"Idempotency-Key": "int-1"})
        again = [client.post("/payments", json=body(), headers={"Idempotency-Key": "int-1"})
                 for _ in range(4)]  # lands on different nodes
        assert first.status_code == 201
        assert all(r.status_code == 201 and r.json() == first.json() for r in again)
        assert all(r.headers["idempotent-replayed"] == "true" for r in again)
        other = client.post("/payments", json=body(amount_minor=5),
                            headers={"Idempotency-Key": "int-1"})
        assert other.status_code == 422
        assert "4242424242424242" not in first.text + other.text
        text = json.dumps([r.json() for r in again])
        assert "4242424242424242" not in text


def test_same_key_on_two_nodes_at_once_charges_once(
    fleet: tuple[LocalPool, BalancerProcess, str],
) -> None:
    pool, _, db_url = fleet
    first, second = pool.nodes()[:2]

    async def race(key: str) -> list[httpx.Response]:
        async with httpx.AsyncClient() as client:
            return list(await asyncio.gather(*(
                client.post(f"{n.url}/payments", json=body(), headers={"Idempotency-Key": key})
                for n in (first, second))))

    keys = [f"race-{i}" for i in range(10)]
    for key in keys:
        statuses = sorted(r.status_code for r in asyncio.run(race(key)))
        assert statuses in ([201, 201], [201, 409]), statuses
    engine = make_engine(db_url)
    try:
        by_key = payments_by_key(engine)
        assert all(len(by_key[k]) == 1 for k in keys)
    finally:
        engine.dispose()
