"""The number pool (ADM-13, CALL-9): numbers the operator gives an enterprise, and the direct lines
its admins hand out from them.

A number is unique across the platform (a unique index on `pool_numbers.number`) and never also
an enterprise's main or access number, so a called number identifies at most one enterprise and
at most one user: `route()` is the lookup the PBX makes for every inbound call.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from zongji.audit.service import Target
from zongji.directory.events import NumbersChanged
from zongji.directory.journal import Journal
from zongji.directory.models import Enterprise, PoolNumber, User
from zongji.directory.schemas import Input
from zongji.platform.actor import Actor
from zongji.platform.clock import Clock
from zongji.platform.db import PLATFORM, Database, TenantScope
from zongji.platform.errors import FieldError, Problem, conflict, not_found
from zongji.platform.events import EventBus
from zongji.platform.phone import InvalidNumber, to_e164
from zongji.platform.uow import UnitOfWork


class NumberState(StrEnum):
    ALL = "all"
    FREE = "free"
    ASSIGNED = "assigned"


class NumbersIn(Input):
    numbers: list[str] = Field(min_length=1, max_length=1000)


class PoolNumberOut(BaseModel):
    number: str
    user_id: uuid.UUID | None
    user_name: str | None


class RouteKind(StrEnum):
    DIRECT_LINE = "direct_line"  # rings the user
    POOL = "pool"  # the enterprise's, not assigned: the main number's flow
    MAIN = "main"
    ACCESS = "access"  # direct-dial access number (CALL-7)


@dataclass(frozen=True)
class NumberRoute:
    tenant_id: uuid.UUID
    kind: RouteKind
    user_id: uuid.UUID | None = None


def number_taken() -> Problem:
    return conflict("number_taken", "This number is already in use.", "该号码已被使用。")


def normalise_number(raw: str, area_code: str | None, field: str) -> str:
    try:
        return to_e164(raw, area_code=area_code)
    except InvalidNumber as exc:
        raise FieldError(
            [
                {
                    "field": field,
                    "code": "invalid_number",
                    "message": str(exc),
                    "message_zh": "号码格式不正确。",
                }
            ]
        ) from exc


async def number_in_use_elsewhere(session: AsyncSession, number: str) -> bool:
    """Is `number` any enterprise's main or access number, or in any pool? (platform scope)"""
    enterprise = await session.scalar(
        select(Enterprise.id).where(
            or_(Enterprise.main_number == number, Enterprise.access_number == number)
        )
    )
    pooled = await session.scalar(select(PoolNumber.id).where(PoolNumber.number == number))
    return enterprise is not None or pooled is not None


async def assign_direct_line(
    session: AsyncSession, user_id: uuid.UUID, number: str | None, now: datetime
) -> None:
    """Make `number` (from the enterprise's pool, free or already this user's) the user's direct
    line, releasing the one they had; None releases it."""
    current = await session.scalar(select(PoolNumber).where(PoolNumber.user_id == user_id))
    if current is not None and current.number == number:
        return
    target = None
    if number is not None:
        target = await session.scalar(
            select(PoolNumber).where(PoolNumber.number == number).with_for_update()
        )
        if target is None:
            raise FieldError(
                [
                    {
                        "field": "direct_line",
                        "code": "number_not_in_pool",
                        "message": "The number is not in the enterprise's number pool.",
                        "message_zh": "该号码不在企业号码池中。",
                    }
                ]
            )
        if target.user_id is not None:
            raise conflict(
                "number_assigned",
                "This number is another user's direct line.",
                "该号码已是其他用户的直线号码。",
            )
    if current is not None:
        current.user_id, current.assigned_at = None, None
        await session.flush()  # free (tenant, user) before the new row takes it
    if target is not None:
        target.user_id, target.assigned_at = user_id, now
    await session.flush()


class NumberPool:
    def __init__(self, db: Database, bus: EventBus, clock: Clock, journal: Journal) -> None:
        self._db = db
        self._bus = bus
        self._clock = clock
        self._journal = journal

    async def add(
        self, actor: Actor, tenant_id: uuid.UUID, raw_numbers: list[str]
    ) -> list[PoolNumberOut]:
        """The operator gives an enterprise numbers. All or none: one bad number refuses all."""
        async with UnitOfWork(self._db, self._bus, PLATFORM) as uow:
            ent = await uow.session.get(Enterprise, tenant_id)
            if ent is None:
                raise not_found("Enterprise", "企业")
            numbers: list[str] = []
            errors = []
            for i, raw in enumerate(raw_numbers):
                field = f"numbers.{i}"
                try:
                    number = normalise_number(raw, ent.area_code, field)
                except FieldError as exc:
                    errors.extend(exc.extra["errors"])
                    continue
                if number in numbers or await number_in_use_elsewhere(uow.session, number):
                    errors.append(
                        {
                            "field": field,
                            "code": "number_taken",
                            "message": f"{number} is already in use.",
                            "message_zh": f"{number} 已被使用。",
                        }
                    )
                numbers.append(number)
            if errors:
                raise FieldError(errors)
            now = self._clock.now()
            uow.session.add_all(
                PoolNumber(
                    tenant_id=tenant_id, number=n, user_id=None, added_at=now, assigned_at=None
                )
                for n in numbers
            )
            await uow.session.flush()
            await self._journal.note(
                uow,
                actor,
                "number_pool.add",
                Target("enterprise", str(ent.id), ent.name),
                tenant_id,
                event=NumbersChanged(tenant_id=tenant_id, added=tuple(numbers)),
                summary={"numbers": numbers},
            )
        return await self.all(tenant_id, NumberState.ALL)

    async def remove(self, actor: Actor, tenant_id: uuid.UUID, raw: str) -> None:
        async with UnitOfWork(self._db, self._bus, TenantScope(tenant_id)) as uow:
            ent = await uow.session.get(Enterprise, tenant_id)
            number = normalise_number(raw, ent.area_code if ent else None, "number")
            row = await uow.session.scalar(
                select(PoolNumber).where(PoolNumber.number == number).with_for_update()
            )
            if row is None:
                raise not_found("Number", "号码")
            if row.user_id is not None:
                raise conflict(
                    "number_assigned",
                    "The number is a user's direct line; release it first.",
                    "该号码正作为用户的直线号码使用，请先解除。",
                )
            await uow.session.delete(row)
            await self._journal.note(
                uow,
                actor,
                "number_pool.remove",
                Target("number", number, number),
                tenant_id,
                event=NumbersChanged(tenant_id=tenant_id, removed=(number,)),
            )

    async def all(self, tenant_id: uuid.UUID, state: NumberState) -> list[PoolNumberOut]:
        stmt = (
            select(PoolNumber, User.name)
            .outerjoin(User, User.id == PoolNumber.user_id)
            .order_by(PoolNumber.number)
        )
        if state is NumberState.FREE:
            stmt = stmt.where(PoolNumber.user_id.is_(None))
        elif state is NumberState.ASSIGNED:
            stmt = stmt.where(PoolNumber.user_id.isnot(None))
        async with self._db.session(TenantScope(tenant_id)) as session:
            rows = (await session.execute(stmt)).all()
        return [
            PoolNumberOut(number=p.number, user_id=p.user_id, user_name=name) for p, name in rows
        ]

    async def route(self, called: str) -> NumberRoute | None:
        """Which enterprise (and user) a called E.164 number reaches: the PBX's inbound lookup."""
        async with self._db.session(PLATFORM) as session:
            row = await session.scalar(select(PoolNumber).where(PoolNumber.number == called))
            if row is not None:
                kind = RouteKind.DIRECT_LINE if row.user_id else RouteKind.POOL
                return NumberRoute(row.tenant_id, kind, row.user_id)
            ent = await session.scalar(
                select(Enterprise).where(
                    or_(Enterprise.main_number == called, Enterprise.access_number == called)
                )
            )
            if ent is None:
                return None
            kind = RouteKind.MAIN if ent.main_number == called else RouteKind.ACCESS
            return NumberRoute(ent.id, kind)
