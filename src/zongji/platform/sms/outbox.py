"""`OutboxGateway`: the development and test gateway. It delivers nothing; it keeps each message
in `sms_outbox`, where the operator can read it, and echoes it to the console in demo mode, so a
node without a provider contract still works end to end.

Secrets are stored masked unless the node runs the demo (`reveal_secrets`), where the console and
the outbox are the demo users' phones and must show the code.
"""

from __future__ import annotations

import sys
import uuid
from datetime import datetime

from sqlalchemy import String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from zongji.platform.clock import Clock
from zongji.platform.db import PLATFORM, Base, Database, Keyed
from zongji.platform.sms.message import SmsMessage


class SmsOutboxEntry(Keyed, Base):
    __tablename__ = "sms_outbox"

    to: Mapped[str] = mapped_column(String(20), index=True)
    text: Mapped[str] = mapped_column(Text)
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(index=True)


class OutboxGateway:
    def __init__(
        self, db: Database, clock: Clock, *, echo: bool = False, reveal_secrets: bool = False
    ) -> None:
        self._db = db
        self._clock = clock
        self._echo = echo
        self._reveal = reveal_secrets

    async def send(self, message: SmsMessage) -> None:
        text = message.text if self._reveal else message.redacted_text
        async with self._db.session(PLATFORM, write=True) as session, session.begin():
            session.add(
                SmsOutboxEntry(
                    to=message.to,
                    text=text,
                    tenant_id=message.tenant_id,
                    created_at=self._clock.now(),
                )
            )
        if self._echo:  # demo mode: the console is the phone
            print(f"[SMS to {message.to}] {text}", file=sys.stderr, flush=True)

    async def read(
        self, *, to: str | None = None, limit: int = 50, before: datetime | None = None
    ) -> list[SmsOutboxEntry]:
        """Newest first; `to` is an E.164 number (callers normalise what people typed)."""
        stmt = select(SmsOutboxEntry).order_by(SmsOutboxEntry.created_at.desc()).limit(limit)
        if to:
            stmt = stmt.where(SmsOutboxEntry.to == to)
        if before:
            stmt = stmt.where(SmsOutboxEntry.created_at < before)
        async with self._db.session(PLATFORM) as session:
            return list((await session.scalars(stmt)).all())
