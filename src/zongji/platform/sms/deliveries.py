"""The SMS delivery queue: one row per message handed to a carrier, one per segment sent.

A message moves queued → submitted (the SMSC accepted every segment and named it) → delivered,
failed or expired (the SMSC's receipts, or our own verdict: a permanent error, too many
attempts, or a login code that outlived its validity before it could be sent). The row holds
what may be shown (the redacted text) and, until it is submitted or given up, the sealed body
needed to send it: a queued row is picked up again after a restart, so no message is lost.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column

from zongji.platform.db import PLATFORM, Base, Database, Keyed


class DeliveryState(StrEnum):
    QUEUED = "queued"
    SUBMITTED = "submitted"
    DELIVERED = "delivered"
    FAILED = "failed"
    EXPIRED = "expired"


FINAL_STATES = frozenset({DeliveryState.DELIVERED, DeliveryState.FAILED, DeliveryState.EXPIRED})


class SmsDelivery(Keyed, Base):
    __tablename__ = "sms_deliveries"

    to: Mapped[str] = mapped_column(String(20), index=True)
    text: Mapped[str] = mapped_column(Text)  # redacted: what the operator may read
    sealed_body: Mapped[bytes | None] = mapped_column(LargeBinary)  # until submitted/given up
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(index=True)
    expires_at: Mapped[datetime | None]  # a login code is worthless after this
    error: Mapped[str | None] = mapped_column(String(64))  # why it failed (SMPP status, receipt)
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]


class SmsSegment(Keyed, Base):
    """One submit_sm of a delivery, recorded the moment the SMSC accepts it, so that a retry
    after a partial failure (or a restart) sends only the segments still missing."""

    __tablename__ = "sms_segments"
    __table_args__ = (UniqueConstraint("delivery_id", "seq"),)

    delivery_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sms_deliveries.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int] = mapped_column(Integer)
    smsc_message_id: Mapped[str] = mapped_column(String(65), index=True)
    state: Mapped[str] = mapped_column(String(16))  # submitted, delivered, failed, expired


async def read_deliveries(
    db: Database, *, to: str | None = None, limit: int = 50, before: datetime | None = None
) -> list[SmsDelivery]:
    """Deliveries newest first, as the operator may see them: the redacted text and the state
    (the sealed body is never read here). `to` is E.164."""
    stmt = select(SmsDelivery).order_by(SmsDelivery.created_at.desc()).limit(limit)
    if to:
        stmt = stmt.where(SmsDelivery.to == to)
    if before:
        stmt = stmt.where(SmsDelivery.created_at < before)
    async with db.session(PLATFORM) as session:
        return list((await session.scalars(stmt)).all())
