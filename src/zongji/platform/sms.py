"""Sending SMS: one interface, two gateways.

`OutboxGateway` (the default) keeps every message in the database, where the operator can read it,
and echoes it to the console in demo mode: a deployment without a provider contract still works
end to end. `HttpSmsGateway` posts messages to a provider's HTTP API.
"""

from __future__ import annotations

import logging
import sys
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import httpx
from sqlalchemy import String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from zongji.platform.clock import Clock
from zongji.platform.db import PLATFORM, Base, Database, Keyed
from zongji.platform.errors import Problem

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SmsMessage:
    to: str  # E.164
    text: str
    tenant_id: uuid.UUID | None = None


class SmsGateway(Protocol):
    async def send(self, message: SmsMessage) -> None:
        """Hand the message over for delivery; raise `SmsUnavailable` if that failed."""
        ...


def sms_unavailable() -> Problem:
    return Problem(
        503,
        "sms_unavailable",
        "The SMS service is unavailable; try again later.",
        "短信服务暂不可用，请稍后再试。",
    )


class SmsOutboxEntry(Keyed, Base):
    __tablename__ = "sms_outbox"

    to: Mapped[str] = mapped_column(String(20), index=True)
    text: Mapped[str] = mapped_column(Text)
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(index=True)


class OutboxGateway:
    def __init__(self, db: Database, clock: Clock, *, echo: bool = False) -> None:
        self._db = db
        self._clock = clock
        self._echo = echo

    async def send(self, message: SmsMessage) -> None:
        async with self._db.session(PLATFORM, write=True) as session, session.begin():
            session.add(
                SmsOutboxEntry(
                    to=message.to,
                    text=message.text,
                    tenant_id=message.tenant_id,
                    created_at=self._clock.now(),
                )
            )
        if self._echo:  # demo mode: the console is the phone
            print(f"[SMS to {message.to}] {message.text}", file=sys.stderr, flush=True)

    async def read(
        self, *, to: str | None = None, limit: int = 50, before: datetime | None = None
    ) -> list[SmsOutboxEntry]:
        stmt = select(SmsOutboxEntry).order_by(SmsOutboxEntry.created_at.desc()).limit(limit)
        if to:
            stmt = stmt.where(SmsOutboxEntry.to == to)
        if before:
            stmt = stmt.where(SmsOutboxEntry.created_at < before)
        async with self._db.session(PLATFORM) as session:
            return list((await session.scalars(stmt)).all())


class HttpSmsGateway:
    """POSTs `{"to", "text", "signature"}` as JSON with a bearer token; any 2xx is accepted.

    Providers differ in their APIs; a small adapter service in front of a provider, or a subclass
    overriding `_request`, maps this shape to theirs.
    """

    def __init__(
        self,
        url: str,
        token: str,
        signature: str,
        *,
        timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._url = url
        self._signature = signature
        self._client = httpx.AsyncClient(
            timeout=timeout,
            transport=transport,
            headers={"Authorization": f"Bearer {token}"} if token else {},
        )

    async def send(self, message: SmsMessage) -> None:
        try:
            response = await self._client.post(self._url, json=self._request(message))
        except httpx.HTTPError as exc:
            log.warning("SMS gateway unreachable", extra={"error": type(exc).__name__})
            raise sms_unavailable() from exc
        if not response.is_success:
            log.warning("SMS gateway refused", extra={"status": response.status_code})
            raise sms_unavailable()

    def _request(self, message: SmsMessage) -> dict[str, str]:
        return {"to": message.to, "text": message.text, "signature": self._signature}

    async def close(self) -> None:
        await self._client.aclose()
