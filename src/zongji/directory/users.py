"""The directory's users as other contexts see them: who a mobile number belongs to, and what
they may do. (Full user management — departments, extensions, import — lives beside this.)"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select

from zongji.audit.service import AuditLog, Target
from zongji.directory.models import Enterprise, EnterpriseStatus, User
from zongji.platform.actor import Actor
from zongji.platform.clock import Clock
from zongji.platform.db import PLATFORM, Database, TenantScope
from zongji.platform.errors import conflict, field_error, not_found
from zongji.platform.events import Event, EventBus
from zongji.platform.phone import InvalidNumber, to_mobile_e164
from zongji.platform.uow import UnitOfWork


@dataclass(frozen=True)
class UserLogin:
    """What identity needs to let a user in: who, where, and with which rights."""

    tenant_id: uuid.UUID
    user_id: uuid.UUID
    name: str
    is_admin: bool
    enterprise_code: str
    enterprise_name: str
    enterprise_status: EnterpriseStatus
    registered: bool


class DirectoryUsers:
    def __init__(self, db: Database, bus: EventBus, clock: Clock, audit: AuditLog) -> None:
        self._db = db
        self._bus = bus
        self._clock = clock
        self._audit = audit

    async def logins_for_mobile(self, mobile: str) -> list[UserLogin]:
        """Every user with this mobile, across enterprises (a person may work for two)."""
        async with self._db.session(PLATFORM) as session:
            rows = await session.execute(
                select(User, Enterprise)
                .join(Enterprise, Enterprise.id == User.tenant_id)
                .where(User.mobile == mobile)
                .order_by(Enterprise.code)
            )
            return [_login(user, ent) for user, ent in rows.all()]

    async def login_of(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> UserLogin | None:
        async with self._db.session(TenantScope(tenant_id)) as session:
            row = (
                await session.execute(
                    select(User, Enterprise)
                    .join(Enterprise, Enterprise.id == User.tenant_id)
                    .where(User.id == user_id)
                )
            ).first()
            return None if row is None else _login(*row)

    async def mark_registered(self, uow: UnitOfWork, user_id: uuid.UUID) -> None:
        user = await uow.session.get(User, user_id)
        if user is not None and user.registered_at is None:
            user.registered_at = self._clock.now()
            uow.publish(Event("directory.changed", user.tenant_id, {"users": [str(user.id)]}))

    async def create_user(
        self,
        actor: Actor,
        tenant_id: uuid.UUID,
        *,
        name: str,
        mobile: str,
        extension: str | None = None,
        is_admin: bool = False,
    ) -> uuid.UUID:
        try:
            mobile = to_mobile_e164(mobile)
        except InvalidNumber as exc:
            raise field_error("mobile", "invalid_mobile", str(exc), "手机号码不正确。") from exc
        async with UnitOfWork(self._db, self._bus, TenantScope(tenant_id)) as uow:
            ent = await uow.session.get(Enterprise, tenant_id)
            if ent is None:
                raise not_found("Enterprise", "企业")
            count = await uow.session.scalar(select(func.count()).select_from(User))
            if (count or 0) >= ent.max_users:
                raise conflict(
                    "user_limit_reached",
                    f"The enterprise may have at most {ent.max_users} users.",
                    f"企业用户数已达上限 {ent.max_users}。",
                )
            if await uow.session.scalar(select(User.id).where(User.mobile == mobile)):
                raise conflict(
                    "mobile_taken", "This mobile is already in use.", "该手机号已被使用。"
                )
            now = self._clock.now()
            user = User(
                name=name,
                mobile=mobile,
                extension=extension,
                is_admin=is_admin,
                registered_at=None,
                created_at=now,
                updated_at=now,
            )
            uow.session.add(user)
            await uow.session.flush()
            await self._audit.record(
                uow,
                actor,
                "user.create",
                Target("user", str(user.id), name),
                summary={"created": {"name": name, "mobile": mobile, "extension": extension}},
            )
            uow.publish(Event("directory.changed", tenant_id, {"users": [str(user.id)]}))
            return user.id


def _login(user: User, ent: Enterprise) -> UserLogin:
    return UserLogin(
        tenant_id=user.tenant_id,
        user_id=user.id,
        name=user.name,
        is_admin=user.is_admin,
        enterprise_code=ent.code,
        enterprise_name=ent.name,
        enterprise_status=EnterpriseStatus(ent.status),
        registered=user.registered_at is not None,
    )
