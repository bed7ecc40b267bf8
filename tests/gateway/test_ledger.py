"""Idempotency and double entry against the real databases (SQLite file and PostgreSQL)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gateway.db import make_engine
from gateway.ledger import (
    Claim,
    InFlight,
    KeyReused,
    Ledger,
    NewPayment,
    Stored,
    new_payment_id,
    payments_by_key,
    verify_ledger,
)
from gateway.models import IdempotencyRecord, LedgerEntry, Payment


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    Ledger(engine).create_schema()
    yield engine
    engine.dispose()


def payment(node: str = "node-a", amount: int = 1000, status: str = "captured") -> NewPayment:
    return NewPayment(
        id=new_payment_id(), merchant_id="acme", amount_minor=amount, currency="USD",
        fee_minor=59 if status == "captured" else 0, status=status,
        decline_code=None if status == "captured" else "card_declined", card_brand="visa",
        card_bin="424242", card_last4="4242", card_fingerprint="f" * 64, description=None,
        node_id=node, created_at=datetime.now(UTC),
    )


def key() -> str:
    return f"key-{uuid.uuid4().hex}"


def test_claim_complete_then_replay(engine: Engine) -> None:
    ledger, k = Ledger(engine), key()
    claim = ledger.claim(k, "hash-1", "node-a")
    assert isinstance(claim, Claim)
    done = ledger.complete(claim, payment())
    assert isinstance(done, Stored) and done.status == 201
    again = ledger.claim(k, "hash-1", "node-b")
    assert again == done  # the very same stored response
    assert isinstance(ledger.claim(k, "other-hash", "node-b"), KeyReused)


def test_second_claim_while_in_flight_is_refused(engine: Engine) -> None:
    ledger, k = Ledger(engine), key()
    assert isinstance(ledger.claim(k, "h", "node-a"), Claim)
    assert isinstance(ledger.claim(k, "h", "node-b"), InFlight)


def test_expired_lease_is_taken_over_and_late_holder_cannot_charge(engine: Engine) -> None:
    clock = Clock()
    ledger, k = Ledger(engine, lease=timedelta(seconds=5), clock=clock), key()
    first = ledger.claim(k, "h", "node-a")
    clock.now += timedelta(seconds=6)  # node-a "died"
    second = ledger.claim(k, "h", "node-b")
    assert isinstance(first, Claim) and isinstance(second, Claim)
    winner = ledger.complete(second, payment("node-b"))
    late = ledger.complete(first, payment("node-a"))
    assert isinstance(winner, Stored)
    assert late == winner  # the late holder gets the stored answer, charges nothing
    assert payments_by_key(engine)[k] == [winner.body["id"]]


def test_release_lets_a_retry_claim_again(engine: Engine) -> None:
    ledger, k = Ledger(engine), key()
    claim = ledger.claim(k, "h", "node-a")
    assert isinstance(claim, Claim)
    ledger.release(claim)
    assert isinstance(ledger.claim(k, "h", "node-b"), Claim)


def test_captured_payment_posts_balanced_entries_declined_posts_none(engine: Engine) -> None:
    ledger = Ledger(engine)
    captured, declined = payment(amount=2500), payment(status="declined")
    for p in (captured, declined):
        claim = ledger.claim(key(), "h", "node-a")
        assert isinstance(claim, Claim)
        ledger.complete(claim, p)
    with Session(engine) as s:
        legs = s.scalars(select(LedgerEntry).where(LedgerEntry.payment_id == captured.id)).all()
        assert sum(e.amount_minor for e in legs) == 0
        assert {e.account for e in legs} == {"card_clearing", "merchant:acme", "fee_revenue"}
        assert not s.scalars(
            select(LedgerEntry).where(LedgerEntry.payment_id == declined.id)).all()
        stored = s.get(Payment, captured.id)
        assert stored is not None and stored.card_last4 == "4242"
    check = verify_ledger(engine)
    assert check.ok and check.balance_minor == 0


def test_two_nodes_same_key_at_once_charge_exactly_once(db_url: str, engine: Engine) -> None:
    """Two engines (two nodes) race on many keys; each key is charged exactly once."""
    nodes = [Ledger(make_engine(db_url)), Ledger(make_engine(db_url))]
    keys = [key() for _ in range(25)]
    outcomes: dict[str, list[object]] = {k: [] for k in keys}
    barrier = threading.Barrier(2)

    def run(index: int) -> None:
        ledger = nodes[index]
        for k in keys:
            barrier.wait()
            result = ledger.claim(k, "same-body", f"node-{index}")
            if isinstance(result, Claim):
                result = ledger.complete(result, payment(f"node-{index}"))
            outcomes[k].append(result)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    by_key = payments_by_key(engine)
    for k in keys:
        assert len(by_key[k]) == 1, k
        kinds = sorted(type(o).__name__ for o in outcomes[k])
        # one charged; the other saw it in flight (409) or replayed the stored answer
        assert kinds in (["InFlight", "Stored"], ["Stored", "Stored"]), kinds
    for ledger in nodes:
        ledger.engine.dispose()
    assert verify_ledger(engine).ok


def test_purge_removes_only_old_completed_keys(engine: Engine) -> None:
    clock = Clock()
    ledger = Ledger(engine, clock=clock)
    old, fresh, stuck = key(), key(), key()
    for k in (old, stuck):
        claim = ledger.claim(k, "h", "node-a")
        if k == old:
            assert isinstance(claim, Claim)
            ledger.complete(claim, payment())
    clock.now += timedelta(hours=25)
    claim = ledger.claim(fresh, "h", "node-a")
    assert isinstance(claim, Claim)
    ledger.complete(claim, payment())
    with pytest.raises(ValueError):
        ledger.purge_keys(timedelta(hours=1))
    assert ledger.purge_keys(timedelta(hours=24)) >= 1
    with Session(engine) as s:
        assert s.get(IdempotencyRecord, old) is None
        assert s.get(IdempotencyRecord, fresh) is not None
        assert s.get(IdempotencyRecord, stuck) is not None  # in flight: not purged


def test_make_engine_sqlite_pragmas(tmp_path: object) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/sub/dir/x.db")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000
    engine.dispose()


def test_make_engine_rewrites_plain_postgresql_url() -> None:
    from gateway.db import normalize_url

    url = normalize_url("postgresql://postgres@127.0.0.1:5432/test")
    assert url.drivername == "postgresql+psycopg"
