"""The enterprise holiday calendar: holidays and make-up working days (调休), per enterprise.

China's public holidays move every year and come with make-up working days on weekends, so the
calendar is data the enterprise admin maintains, a year at a time (typically pasted from the State
Council's notice). Only days that differ from Monday–Friday need an entry.

Authorising a call asks for one day; answers are cached for a minute per (enterprise, day). A
change made on this node clears that enterprise's entries at once, and so does its
`CalendarChanged` event when it arrives from the bus (a change made on another node, once the bus
is shared between nodes), so the minute is only a bound for a lost event.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import delete, select

from zongji.audit.service import AuditLog, Target
from zongji.pbx.events import CalendarChanged
from zongji.pbx.policy.models import CalendarDay, DayKind
from zongji.platform.actor import Actor
from zongji.platform.clock import Clock
from zongji.platform.db import Database, TenantScope
from zongji.platform.errors import not_found
from zongji.platform.events import EventBus
from zongji.platform.uow import UnitOfWork

CACHE_SECONDS = 60.0


@dataclass(frozen=True)
class Day:
    day: date
    kind: DayKind
    name: str


class HolidayCalendar:
    def __init__(self, db: Database, bus: EventBus, clock: Clock, audit: AuditLog) -> None:
        self._db = db
        self._bus = bus
        self._clock = clock
        self._audit = audit
        self._cache: dict[tuple[uuid.UUID, date], tuple[float, DayKind | None]] = {}
        bus.subscribe(CalendarChanged, self._changed)

    async def _changed(self, event: CalendarChanged) -> None:
        if event.tenant_id is not None:
            self._forget(event.tenant_id)

    async def kind_of(self, tenant_id: uuid.UUID, day: date) -> DayKind | None:
        """The calendar's word on a day: holiday, make-up workday, or None (an ordinary day)."""
        key = (tenant_id, day)
        now = self._clock.monotonic()
        cached = self._cache.get(key)
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        async with self._db.session(TenantScope(tenant_id)) as session:
            kind = await session.scalar(select(CalendarDay.kind).where(CalendarDay.day == day))
        found = DayKind(kind) if kind is not None else None
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[key] = (now, found)
        return found

    async def year(self, tenant_id: uuid.UUID, year: int) -> list[Day]:
        async with self._db.session(TenantScope(tenant_id)) as session:
            rows = await session.scalars(
                select(CalendarDay)
                .where(CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31))
                .order_by(CalendarDay.day)
            )
            return [_day(r) for r in rows.all()]

    async def replace_year(
        self, actor: Actor, tenant_id: uuid.UUID, year: int, days: Sequence[Day]
    ) -> list[Day]:
        """The year's calendar becomes exactly `days` (validated by the caller: all in `year`,
        no date twice)."""
        async with UnitOfWork(self._db, self._bus, TenantScope(tenant_id)) as uow:
            await uow.session.execute(
                delete(CalendarDay).where(
                    CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31)
                )
            )
            now = self._clock.now()
            for d in days:
                uow.session.add(
                    CalendarDay(day=d.day, kind=d.kind.value, name=d.name, updated_at=now)
                )
            await uow.session.flush()
            await self._audit.record(
                uow,
                actor,
                "policy.calendar.replace",
                Target("calendar", str(year), f"{year}"),
                tenant_id=tenant_id,
                summary={
                    "year": year,
                    "holidays": sum(d.kind is DayKind.HOLIDAY for d in days),
                    "workdays": sum(d.kind is DayKind.WORKDAY for d in days),
                },
            )
            uow.publish(CalendarChanged(tenant_id=tenant_id, year=year))
        self._forget(tenant_id)
        return sorted(days, key=lambda d: d.day)

    async def put_day(self, actor: Actor, tenant_id: uuid.UUID, day: Day) -> Day:
        async with UnitOfWork(self._db, self._bus, TenantScope(tenant_id)) as uow:
            row = await uow.session.scalar(
                select(CalendarDay).where(CalendarDay.day == day.day).with_for_update()
            )
            now = self._clock.now()
            if row is None:
                uow.session.add(
                    CalendarDay(day=day.day, kind=day.kind.value, name=day.name, updated_at=now)
                )
            else:
                row.kind, row.name, row.updated_at = day.kind.value, day.name, now
            await uow.session.flush()
            await self._audit.record(
                uow,
                actor,
                "policy.calendar.put",
                Target("calendar", day.day.isoformat(), day.day.isoformat()),
                tenant_id=tenant_id,
                summary={"kind": day.kind.value, "name": day.name},
            )
            uow.publish(CalendarChanged(tenant_id=tenant_id, day=day.day))
        self._forget(tenant_id)
        return day

    async def delete_day(self, actor: Actor, tenant_id: uuid.UUID, day: date) -> None:
        async with UnitOfWork(self._db, self._bus, TenantScope(tenant_id)) as uow:
            row = await uow.session.scalar(
                select(CalendarDay).where(CalendarDay.day == day).with_for_update()
            )
            if row is None:
                raise not_found("Calendar day", "日历日期")
            await uow.session.delete(row)
            await self._audit.record(
                uow,
                actor,
                "policy.calendar.delete",
                Target("calendar", day.isoformat(), day.isoformat()),
                tenant_id=tenant_id,
            )
            uow.publish(CalendarChanged(tenant_id=tenant_id, day=day))
        self._forget(tenant_id)

    def _forget(self, tenant_id: uuid.UUID) -> None:
        for key in [k for k in self._cache if k[0] == tenant_id]:
            del self._cache[key]


def _day(row: CalendarDay) -> Day:
    return Day(row.day, DayKind(row.kind), row.name)
