"""Monthly minute quotas (ADM-18): billing per started minute, with live calls' reservations.

The scheme, and why:

- The engine asks once, at answer, how long a call may last, and enforces that limit itself (a
  warning a minute before, then hang-up). So the limit handed out must already be safe against
  every other live call of the same user, on any node.
- At answer, a call **reserves every minute of the month not yet billed nor reserved** by another
  live call, and may last exactly that long. A second simultaneous call gets what is left
  unreserved: nothing, while the first holds it all (authorise then refuses it as
  `quota_exhausted`; one that was already ringing is told 0 seconds at answer). When a call
  ends, it is billed `ceil(talk / 60)` minutes, capped at its reservation, and the reservation is
  released in the same transaction, so the unused minutes are free again at once.
- Hence at every moment `billed + live reservations <= quota`, and no call can run past what was
  left: two simultaneous calls can never together exceed the quota.
- Every change to a user's month happens under one lock: the usage row of (user, month), taken
  with SELECT … FOR UPDATE on PostgreSQL; SQLite's write transactions start with BEGIN IMMEDIATE
  and are serialised anyway. The row is created with INSERT … ON CONFLICT DO NOTHING so two first
  calls of a month can't both create it (`usage.py`, the statement billing uses too).
- A reservation whose call never ended (its node died) stops counting when it expires: the call
  can't have lasted longer than its reservation plus a grace period. Expired rows are swept when
  the user's month is next locked.
- Calls answered without a quota (unlimited users) are billed all the same, so the admin sees the
  month's usage, and a quota set mid-month counts the minutes already talked.

"Frozen" is not stored: a user is frozen while billed >= quota, so raising the quota (a directory
field) unfreezes at once, and so does the month turning.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from zongji.pbx.policy.models import MinuteReservation, MinuteUsage
from zongji.pbx.policy.usage import new_month, open_months
from zongji.platform.clock import Clock
from zongji.platform.db import Database, TenantScope

GRACE = timedelta(minutes=5)
"""How long past its limit a reservation still counts: the engine hangs up at the limit and
reports the end right after, so only a dead node leaves one this old."""


def billable_minutes(talk_seconds: int) -> int:
    """Per started minute: 1 s → 1, 60 s → 1, 61 s → 2; nothing for an unanswered call."""
    return math.ceil(talk_seconds / 60) if talk_seconds > 0 else 0


@dataclass(frozen=True)
class Settled:
    minutes: int  # billed for this call
    total: int  # billed in the month, this call included


@dataclass(frozen=True)
class Standing:
    """A user's month: minutes billed and minutes held by live calls."""

    month: str
    billed: int
    reserved: int
    calls: int

    def left(self, quota: int | None) -> int | None:
        """Minutes a new call could still get (None: unlimited)."""
        return None if quota is None else max(0, quota - self.billed - self.reserved)

    def frozen(self, quota: int | None) -> bool:
        return quota is not None and self.billed >= quota


class MinuteQuota:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def standing(self, tenant_id: uuid.UUID, user_id: uuid.UUID, month: str) -> Standing:
        """The month as it stands (a read, no lock: good for a decision that is re-checked
        under the lock at answer, and for display)."""
        now = self._clock.now()
        async with self._db.session(TenantScope(tenant_id)) as session:
            usage = await session.scalar(
                select(MinuteUsage).where(
                    MinuteUsage.user_id == user_id, MinuteUsage.month == month
                )
            )
            reserved = await _reserved(session, user_id, month, now)
        if usage is None:
            return Standing(month, 0, reserved, 0)
        return Standing(month, usage.billed_minutes, reserved, usage.calls)

    async def month_total(self, tenant_id: uuid.UUID, month: str) -> tuple[int, int]:
        """Minutes billed and calls billed in the enterprise's month, every user together."""
        async with self._db.session(TenantScope(tenant_id)) as session:
            row = (
                await session.execute(
                    select(
                        func.coalesce(func.sum(MinuteUsage.billed_minutes), 0),
                        func.coalesce(func.sum(MinuteUsage.calls), 0),
                    ).where(MinuteUsage.month == month)
                )
            ).one()
        return int(row[0]), int(row[1])

    async def standings(
        self, tenant_id: uuid.UUID, user_ids: Sequence[uuid.UUID], month: str
    ) -> dict[uuid.UUID, Standing]:
        """Many users' month at once (two queries, whatever their number), for listings."""
        now = self._clock.now()
        found = {uid: Standing(month, 0, 0, 0) for uid in user_ids}
        if not user_ids:
            return found
        async with self._db.session(TenantScope(tenant_id)) as session:
            usage = await session.scalars(
                select(MinuteUsage).where(
                    MinuteUsage.month == month, MinuteUsage.user_id.in_(user_ids)
                )
            )
            for row in usage.all():
                found[row.user_id] = Standing(month, row.billed_minutes, 0, row.calls)
            held = await session.execute(
                select(MinuteReservation.user_id, func.sum(MinuteReservation.minutes))
                .where(
                    MinuteReservation.month == month,
                    MinuteReservation.user_id.in_(user_ids),
                    MinuteReservation.expires_at > now,
                )
                .group_by(MinuteReservation.user_id)
            )
            for user_id, minutes in held.all():
                before = found[user_id]
                found[user_id] = Standing(month, before.billed, int(minutes or 0), before.calls)
        return found

    async def reserve(
        self, tenant_id: uuid.UUID, user_id: uuid.UUID, month: str, call_id: str, quota: int
    ) -> int:
        """At answer: hold every minute left for this call; returns how many (0: none left)."""
        now = self._clock.now()
        async with (
            self._db.session(TenantScope(tenant_id), write=True) as session,
            session.begin(),
        ):
            usage = await self._lock(session, tenant_id, user_id, month, now)
            await session.execute(
                delete(MinuteReservation).where(
                    MinuteReservation.user_id == user_id,
                    MinuteReservation.month == month,
                    MinuteReservation.expires_at <= now,
                )
            )
            reserved = await _reserved(session, user_id, month, now)
            minutes = max(0, quota - usage.billed_minutes - reserved)
            if minutes > 0:
                session.add(
                    MinuteReservation(
                        tenant_id=tenant_id,
                        user_id=user_id,
                        month=month,
                        call_id=call_id,
                        minutes=minutes,
                        created_at=now,
                        expires_at=now + timedelta(minutes=minutes) + GRACE,
                    )
                )
        return minutes

    async def settle(
        self,
        tenant_id: uuid.UUID,
        user_id: uuid.UUID,
        month: str,
        call_id: str,
        talk_seconds: int,
        quota: int | None,
        limit: int | None = None,
    ) -> Settled:
        """The call ended: bill it and release its reservation, in one transaction.

        Billing is capped at the call's reservation; for a limited call without one, at `limit`
        (the minutes it was given at answer: 0 when nothing was left) and at what is left."""
        now = self._clock.now()
        minutes = billable_minutes(talk_seconds)
        async with (
            self._db.session(TenantScope(tenant_id), write=True) as session,
            session.begin(),
        ):
            usage = await self._lock(session, tenant_id, user_id, month, now)
            held = await session.scalar(
                select(MinuteReservation).where(MinuteReservation.call_id == call_id)
            )
            if held is not None:
                minutes = min(minutes, held.minutes)
                await session.delete(held)
                await session.flush()
            elif quota is not None:
                others = await _reserved(session, user_id, month, now)
                minutes = min(minutes, max(0, quota - usage.billed_minutes - others))
                if limit is not None:
                    minutes = min(minutes, limit)
            if minutes > 0:
                usage.billed_minutes += minutes
                usage.calls += 1
                usage.updated_at = now
            total = usage.billed_minutes
        return Settled(minutes, total)

    async def _lock(
        self,
        session: AsyncSession,
        tenant_id: uuid.UUID,
        user_id: uuid.UUID,
        month: str,
        now: datetime,
    ) -> MinuteUsage:
        """The (user, month) usage row, created if missing, locked for this transaction."""
        query = (
            select(MinuteUsage)
            .where(MinuteUsage.user_id == user_id, MinuteUsage.month == month)
            .with_for_update()
        )
        usage = await session.scalar(query)
        if usage is not None:
            return usage
        await session.execute(
            open_months(self._db.dialect), [new_month(tenant_id, user_id, month, now)]
        )
        usage = await session.scalar(query)
        assert usage is not None
        return usage


async def _reserved(session: AsyncSession, user_id: uuid.UUID, month: str, now: datetime) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(MinuteReservation.minutes), 0)).where(
            MinuteReservation.user_id == user_id,
            MinuteReservation.month == month,
            MinuteReservation.expires_at > now,
        )
    )
    return int(total or 0)
