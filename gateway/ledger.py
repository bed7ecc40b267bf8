"""The durable side of a payment: idempotency claims, payment rows, ledger postings.

A request goes through two short transactions so no database lock is held while
the (simulated) issuer thinks:

1. ``claim`` inserts the idempotency record (``in_flight``, with a lease).  The
   key is the table's primary key, so when two nodes get the same key at once the
   database lets exactly one insert win; the loser sees the winner's record and
   answers 409 (still in flight), 422 (same key, other body) or the stored
   response (already completed).
2. ``complete`` writes the payment row, its balanced ledger entries and the
   stored response in ONE transaction, and only if the caller still holds the
   claim.  A claim whose lease ran out (its node was killed mid-request) can be
   taken over by a retry; the old holder's late ``complete`` then finds a
   different token and writes nothing.  So a key is charged at most once.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Engine, Table, bindparam, delete, func, select, update
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from gateway.models import Base, IdempotencyRecord, LedgerEntry, Payment

MIN_KEY_RETENTION = timedelta(hours=24)
CLEARING_ACCOUNT = "card_clearing"
FEE_ACCOUNT = "fee_revenue"


def utcnow() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    # SQLite hands datetimes back naive; everything here is stored in UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def merchant_account(merchant_id: str) -> str:
    return f"merchant:{merchant_id}"


@dataclass(frozen=True)
class Claim:
    key: str
    token: str


@dataclass(frozen=True)
class Stored:
    """An outcome already decided for this key: replay it."""

    status: int
    body: dict[str, Any]


@dataclass(frozen=True)
class InFlight:
    key: str


@dataclass(frozen=True)
class KeyReused:
    """Same key, different request body."""

    key: str


ClaimOutcome = Claim | Stored | InFlight | KeyReused


@dataclass(frozen=True)
class NewPayment:
    """Everything ``complete`` persists; no card number or CVC in here by construction."""

    id: str
    merchant_id: str
    amount_minor: int
    currency: str
    fee_minor: int
    status: str  # "captured" | "declined"
    decline_code: str | None
    card_brand: str
    card_bin: str
    card_last4: str
    card_fingerprint: str
    description: str | None
    node_id: str
    created_at: datetime


def _stored(status: int | None, body: str | None) -> Stored:
    return Stored(status or 200, json.loads(body or "{}"))


PAYMENT_ID_RE = re.compile(r"pay_[0-9a-f]{24}")  # what new_payment_id gives


def new_payment_id() -> str:
    return "pay_" + secrets.token_hex(12)


def payment_response(p: Payment | NewPayment) -> dict[str, Any]:
    """The public shape of a payment (the 201 body and ``GET /payments/{id}``)."""
    return {
        "id": p.id,
        "status": p.status,
        "amount_minor": p.amount_minor,
        "currency": p.currency,
        "fee_minor": p.fee_minor,
        "card": {"brand": p.card_brand, "last4": p.card_last4},
        "merchant_id": p.merchant_id,
        "decline_code": p.decline_code,
        "node_id": p.node_id,
        "created_at": _aware(p.created_at).isoformat(),
    }


def ledger_legs(p: NewPayment) -> list[dict[str, Any]]:
    """Balanced postings for a captured payment (debit positive, credit negative)."""
    if p.status != "captured":
        return []
    legs = [
        (CLEARING_ACCOUNT, p.amount_minor),
        (merchant_account(p.merchant_id), -(p.amount_minor - p.fee_minor)),
        (FEE_ACCOUNT, -p.fee_minor),
    ]
    return [
        {"payment_id": p.id, "account": a, "amount_minor": v, "currency": p.currency,
         "created_at": p.created_at}
        for a, v in legs
        if v != 0
    ]


def create_schema(engine: Engine, attempts: int = 5) -> None:
    """Create the ledger tables; tolerate several nodes racing to do it at start-up."""
    for attempt in range(attempts):
        try:
            Base.metadata.create_all(engine)
            return
        except (IntegrityError, ProgrammingError, OperationalError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))


# Statements are built once and executed with parameters: building them per
# request (values(...) with literals) costs more CPU than SQLite itself.
_IDEM = cast(Table, IdempotencyRecord.__table__)
_PAYMENTS = cast(Table, Payment.__table__)
_ENTRIES = cast(Table, LedgerEntry.__table__)
_SELECT_CLAIM = (
    select(_IDEM.c.request_hash, _IDEM.c.state, _IDEM.c.lease_until, _IDEM.c.claim_token,
           _IDEM.c.response_status, _IDEM.c.response_body)
    .where(_IDEM.c.key == bindparam("k"))
    .with_for_update()
)
_INSERT_CLAIM = _IDEM.insert()
_TAKE_OVER = (
    update(_IDEM).where(_IDEM.c.key == bindparam("k"))
    .values(claim_token=bindparam("token"), node_id=bindparam("node"),
            lease_until=bindparam("until"))
)
_INSERT_PAYMENT = _PAYMENTS.insert()
_INSERT_ENTRY = _ENTRIES.insert()
_COMPLETE = (
    update(_IDEM).where(_IDEM.c.key == bindparam("k"))
    .values(state="completed", response_status=bindparam("status"),
            response_body=bindparam("body"), payment_id=bindparam("pid"))
)


class Ledger:
    """Claims, completes and reads payments on one engine (shared by every node)."""

    def __init__(
        self,
        engine: Engine,
        *,
        lease: timedelta = timedelta(seconds=10),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.lease = lease
        self.clock = clock
        self._sqlite = engine.dialect.name == "sqlite"
        self._write_lock = threading.Lock()

    def create_schema(self) -> None:
        create_schema(self.engine)

    def _writing(self) -> contextlib.AbstractContextManager[object]:
        # SQLite has one writer at a time anyway; queueing our own threads on a
        # lock keeps them out of SQLite's sleeping busy handler (long tails), so
        # only other processes ever contend for the file lock.
        return self._write_lock if self._sqlite else contextlib.nullcontext()

    def claim(self, key: str, request_hash: str, node_id: str) -> ClaimOutcome:
        for _ in range(3):
            try:
                return self._claim_once(key, request_hash, node_id)
            except IntegrityError:
                continue  # another node inserted the key between our read and insert
        return InFlight(key)

    def _claim_once(self, key: str, request_hash: str, node_id: str) -> ClaimOutcome:
        now = self.clock()
        token = secrets.token_hex(16)
        with self._writing(), self.engine.begin() as conn:
            row = conn.execute(_SELECT_CLAIM, {"k": key}).first()
            if row is None:
                conn.execute(_INSERT_CLAIM, {
                    "key": key, "request_hash": request_hash, "state": "in_flight",
                    "claim_token": token, "node_id": node_id, "lease_until": now + self.lease,
                    "created_at": now,
                })
                return Claim(key, token)
            if row.request_hash != request_hash:
                return KeyReused(key)
            if row.state == "completed":
                return _stored(row.response_status, row.response_body)
            if _aware(row.lease_until) > now:
                return InFlight(key)
            # The lease ran out: its node died mid-request.  Take the claim over.
            conn.execute(_TAKE_OVER, {"k": key, "token": token, "node": node_id,
                                      "until": now + self.lease})
            return Claim(key, token)

    def complete(self, claim: Claim, payment: NewPayment) -> ClaimOutcome:
        """Persist payment + ledger + stored response atomically; ``Stored`` on success."""
        body = payment_response(payment)
        with self._writing(), self.engine.begin() as conn:
            row = conn.execute(_SELECT_CLAIM, {"k": claim.key}).first()
            if row is None or row.claim_token != claim.token or row.state != "in_flight":
                if row is not None and row.state == "completed":
                    return _stored(row.response_status, row.response_body)
                return InFlight(claim.key)
            conn.execute(_INSERT_PAYMENT, {
                "id": payment.id, "idempotency_key": claim.key,
                "merchant_id": payment.merchant_id, "amount_minor": payment.amount_minor,
                "currency": payment.currency, "fee_minor": payment.fee_minor,
                "status": payment.status, "decline_code": payment.decline_code,
                "card_brand": payment.card_brand, "card_bin": payment.card_bin,
                "card_last4": payment.card_last4, "card_fingerprint": payment.card_fingerprint,
                "description": payment.description, "node_id": payment.node_id,
                "created_at": payment.created_at,
            })
            legs = ledger_legs(payment)
            if legs:
                conn.execute(_INSERT_ENTRY, legs)
            conn.execute(_COMPLETE, {"k": claim.key, "status": 201, "pid": payment.id,
                                     "body": json.dumps(body, separators=(",", ":"))})
        return Stored(201, body)

    def release(self, claim: Claim) -> None:
        """Give a claim back after a failure before anything was charged."""
        with self._writing(), self.engine.begin() as conn:
            conn.execute(
                delete(IdempotencyRecord).where(
                    IdempotencyRecord.key == claim.key,
                    IdempotencyRecord.claim_token == claim.token,
                    IdempotencyRecord.state == "in_flight",
                )
            )

    def get_payment(self, payment_id: str) -> dict[str, Any] | None:
        with Session(self.engine) as session:
            row = session.get(Payment, payment_id)
            return None if row is None else payment_response(row)

    def purge_keys(self, retention: timedelta = MIN_KEY_RETENTION) -> int:
        """Delete completed idempotency records older than ``retention`` (≥ 24 h)."""
        if retention < MIN_KEY_RETENTION:
            raise ValueError(f"idempotency keys must be kept at least {MIN_KEY_RETENTION}")
        cutoff = self.clock() - retention
        with self._writing(), self.engine.begin() as conn:
            result = conn.execute(
                delete(IdempotencyRecord).where(
                    IdempotencyRecord.created_at < cutoff,
                    IdempotencyRecord.state == "completed",
                )
            )
            return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True)
class LedgerCheck:
    payments: int
    captured: int
    declined: int
    entries: int
    balance_minor: int  # sum of every entry; 0 when the books balance
    unbalanced_payments: int
    captured_without_entries: int
    duplicate_keys: int  # idempotency keys with more than one payment

    @property
    def ok(self) -> bool:
        return (
            self.balance_minor == 0
            and self.unbalanced_payments == 0
            and self.captured_without_entries == 0
            and self.duplicate_keys == 0
        )


def verify_ledger(engine: Engine) -> LedgerCheck:
    """Count payments and check double-entry invariants; for tests and benchmarks."""
    with Session(engine) as session:
        counts = dict(
            session.execute(select(Payment.status, func.count()).group_by(Payment.status)).all()
        )
        entries = session.scalar(select(func.count()).select_from(LedgerEntry)) or 0
        balance = session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount_minor), 0)))
        per_payment = (
            select(LedgerEntry.payment_id)
            .group_by(LedgerEntry.payment_id)
            .having(func.sum(LedgerEntry.amount_minor) != 0)
        )
        unbalanced = session.scalar(select(func.count()).select_from(per_payment.subquery()))
        without = session.scalar(
            select(func.count())
            .select_from(Payment)
            .where(Payment.status == "captured")
            .where(~select(LedgerEntry.id).where(LedgerEntry.payment_id == Payment.id).exists())
        )
        dup = (
            select(Payment.idempotency_key)
            .group_by(Payment.idempotency_key)
            .having(func.count() > 1)
        )
        duplicates = session.scalar(select(func.count()).select_from(dup.subquery()))
    return LedgerCheck(
        payments=int(sum(counts.values())),
        captured=int(counts.get("captured", 0)),
        declined=int(counts.get("declined", 0)),
        entries=int(entries),
        balance_minor=int(balance or 0),
        unbalanced_payments=int(unbalanced or 0),
        captured_without_entries=int(without or 0),
        duplicate_keys=int(duplicates or 0),
    )


def payments_by_key(engine: Engine) -> dict[str, list[str]]:
    """idempotency key -> payment ids (a list, so duplicates are visible)."""
    out: dict[str, list[str]] = {}
    with Session(engine) as session:
        for key, pid in session.execute(select(Payment.idempotency_key, Payment.id)):
            out.setdefault(key, []).append(pid)
    return out
