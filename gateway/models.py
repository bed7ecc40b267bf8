"""Ledger tables: payments, double-entry ledger rows and idempotency records.

These are the only rows that must survive a node being killed, so the schema
carries the invariants itself: one idempotency record per key (a unique primary
key, which is what stops two nodes from charging twice), ledger rows tied to
their payment, and no column that could hold a card number or CVC — a card is
kept as brand, BIN, last four and a keyed fingerprint.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Payment(Base):
    __tablename__ = "gw_payments"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), index=True)
    merchant_id: Mapped[str] = mapped_column(String(64), index=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    fee_minor: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    decline_code: Mapped[str | None] = mapped_column(String(40), nullable=True)
    card_brand: Mapped[str] = mapped_column(String(20))
    card_bin: Mapped[str] = mapped_column(String(8))
    card_last4: Mapped[str] = mapped_column(String(4))
    card_fingerprint: Mapped[str] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(String(255), nullable=True)
    node_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LedgerEntry(Base):
    """One leg of a double-entry posting; ``amount_minor`` > 0 is a debit."""

    __tablename__ = "gw_ledger_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    payment_id: Mapped[str] = mapped_column(ForeignKey("gw_payments.id"), index=True)
    account: Mapped[str] = mapped_column(String(100))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class IdempotencyRecord(Base):
    """A claimed key: ``in_flight`` while one node processes it, then ``completed``.

    ``claim_token`` names the claimant; an in-flight claim older than its lease
    (a node died mid-request) may be taken over, and the old claimant's late
    commit then fails because its token no longer matches.
    """

    __tablename__ = "gw_idempotency_keys"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    claim_token: Mapped[str] = mapped_column(String(32))
    node_id: Mapped[str] = mapped_column(String(64))
    lease_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    response_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response_body: Mapped[str | None] = mapped_column(Text, nullable=True)
    payment_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_gw_idem_created_at", "created_at"),)
