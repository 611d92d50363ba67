"""Favourites (常用联系人, DIR-8): colleagues or personal contacts a user keeps on top of the
directory and first in search results. Private to the user."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel
from sqlalchemy import func, select

from zongji.audit.service import Target
from zongji.directory.events import FavouritesChanged
from zongji.directory.journal import Journal
from zongji.directory.models import Favourite, PersonalContact, User
from zongji.directory.schemas import Input
from zongji.platform.actor import Actor
from zongji.platform.clock import Clock
from zongji.platform.db import Database, TenantScope
from zongji.platform.errors import Problem, not_found
from zongji.platform.events import EventBus
from zongji.platform.uow import UnitOfWork

MAX_FAVOURITES = 200


class TargetKind(StrEnum):
    USER = "user"
    CONTACT = "contact"


class FavouriteIn(Input):
    kind: TargetKind
    id: uuid.UUID


class FavouriteOut(BaseModel):
    kind: TargetKind
    id: uuid.UUID
    name: str
    position: int
    created_at: datetime


class Favourites:
    def __init__(self, db: Database, bus: EventBus, clock: Clock, journal: Journal) -> None:
        self._db = db
        self._bus = bus
        self._clock = clock
        self._journal = journal

    async def all(self, tenant_id: uuid.UUID, owner_id: uuid.UUID) -> list[FavouriteOut]:
        async with self._db.session(TenantScope(tenant_id)) as session:
            rows = (
                await session.execute(
                    select(Favourite, func.coalesce(User.name, PersonalContact.name))
                    .outerjoin(User, User.id == Favourite.target_id)
                    .outerjoin(PersonalContact, PersonalContact.id == Favourite.target_id)
                    .where(Favourite.owner_id == owner_id)
                    .order_by(Favourite.position, Favourite.created_at)
                )
            ).all()
        return [
            FavouriteOut(
                kind=TargetKind(f.target_kind),
                id=f.target_id,
                name=name or "",
                position=f.position,
                created_at=f.created_at,
            )
            for f, name in rows
        ]

    async def ids(self, tenant_id: uuid.UUID, owner_id: uuid.UUID) -> set[uuid.UUID]:
        async with self._db.session(TenantScope(tenant_id)) as session:
            return set(
                (
                    await session.scalars(
                        select(Favourite.target_id).where(Favourite.owner_id == owner_id)
                    )
                ).all()
            )

    async def add(
        self, actor: Actor, tenant_id: uuid.UUID, owner_id: uuid.UUID, data: FavouriteIn
    ) -> list[FavouriteOut]:
        async with UnitOfWork(self._db, self._bus, TenantScope(tenant_id)) as uow:
            if data.kind is TargetKind.USER:
                name = await uow.session.scalar(select(User.name).where(User.id == data.id))
            else:
                name = await uow.session.scalar(
                    select(PersonalContact.name).where(
                        PersonalContact.id == data.id, PersonalContact.owner_id == owner_id
                    )
                )
            if name is None:
                raise not_found("Contact", "联系人")
            existing = list(
                (
                    await uow.session.scalars(
                        select(Favourite).where(Favourite.owner_id == owner_id)
                    )
                ).all()
            )
            already = any(f.target_id == data.id for f in existing)
            if not already and len(existing) >= MAX_FAVOURITES:
                raise Problem(
                    409,
                    "too_many_favourites",
                    f"At most {MAX_FAVOURITES} favourites.",
                    f"常用联系人最多 {MAX_FAVOURITES} 个。",
                )
            if already:  # adding twice changes nothing
                return await self.all(tenant_id, owner_id)
            uow.session.add(
                Favourite(
                    owner_id=owner_id,
                    target_kind=data.kind.value,
                    target_id=data.id,
                    position=max((f.position for f in existing), default=-1) + 1,
                    created_at=self._clock.now(),
                )
            )
            await uow.session.flush()
            await self._journal.note(
                uow,
                actor,
                "favourite.add",
                Target(data.kind.value, str(data.id), name),
                tenant_id,
                event=FavouritesChanged(
                    tenant_id=tenant_id, owner_id=owner_id, action="favourite.add"
                ),
            )
        return await self.all(tenant_id, owner_id)

    async def remove(
        self, actor: Actor, tenant_id: uuid.UUID, owner_id: uuid.UUID, target_id: uuid.UUID
    ) -> None:
        async with UnitOfWork(self._db, self._bus, TenantScope(tenant_id)) as uow:
            row = await uow.session.scalar(
                select(Favourite).where(
                    Favourite.owner_id == owner_id, Favourite.target_id == target_id
                )
            )
            if row is None:
                raise not_found("Favourite", "常用联系人")
            await uow.session.delete(row)
            await self._journal.note(
                uow,
                actor,
                "favourite.remove",
                Target(row.target_kind, str(target_id), str(target_id)),
                tenant_id,
                event=FavouritesChanged(
                    tenant_id=tenant_id, owner_id=owner_id, action="favourite.remove"
                ),
            )

    async def reorder(
        self, actor: Actor, tenant_id: uuid.UUID, owner_id: uuid.UUID, order: list[uuid.UUID]
    ) -> list[FavouriteOut]:
        async with UnitOfWork(self._db, self._bus, TenantScope(tenant_id)) as uow:
            rows = {
                f.target_id: f
                for f in (
                    await uow.session.scalars(
                        select(Favourite).where(Favourite.owner_id == owner_id)
                    )
                ).all()
            }
            if set(order) != set(rows) or len(order) != len(rows):
                raise Problem(
                    422,
                    "order_mismatch",
                    "The order must list every favourite once.",
                    "排序须包含每个常用联系人且仅一次。",
                )
            for position, target in enumerate(order):
                rows[target].position = position
            await self._journal.note(
                uow,
                actor,
                "favourite.reorder",
                Target("favourites", None, "常用联系人"),
                tenant_id,
                event=FavouritesChanged(
                    tenant_id=tenant_id, owner_id=owner_id, action="favourite.reorder"
                ),
            )
        return await self.all(tenant_id, owner_id)
