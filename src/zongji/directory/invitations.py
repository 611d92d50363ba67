"""SMS invitations (DIR-6, CL-1): any registered user asks an unregistered colleague to install the
client, with the client's link.

Texting someone costs money and can annoy, so it is limited: per inviter (10 an hour, 30 a day)
and per invitee (1 in 10 minutes, 3 a day, whoever asks). Limits are counted only for invitations
that were actually sent.
"""

from __future__ import annotations

import uuid

from pydantic import BaseModel
from sqlalchemy import select

from zongji.audit.service import Target
from zongji.directory.events import UserInvited
from zongji.directory.journal import Journal
from zongji.directory.models import Enterprise, User
from zongji.platform.actor import Actor
from zongji.platform.clock import Clock
from zongji.platform.db import Database, TenantScope
from zongji.platform.errors import Problem, conflict, not_found
from zongji.platform.events import EventBus
from zongji.platform.ratelimit import Limit, RateLimiter
from zongji.platform.sms import SmsGateway, SmsMessage
from zongji.platform.uow import UnitOfWork

PER_INVITER = (Limit(10, 3600), Limit(30, 86400))
PER_INVITEE = (Limit(1, 600), Limit(3, 86400))


class InvitationSent(BaseModel):
    user_id: uuid.UUID
    mobile: str


class Invitations:
    def __init__(
        self,
        db: Database,
        bus: EventBus,
        clock: Clock,
        journal: Journal,
        sms: SmsGateway,
        limiter: RateLimiter,
        client_url: str,
        signature: str,
    ) -> None:
        self._db = db
        self._bus = bus
        self._clock = clock
        self._journal = journal
        self._sms = sms
        self._limiter = limiter
        self._client_url = client_url
        self._signature = signature

    async def invite(
        self, actor: Actor, tenant_id: uuid.UUID, inviter_is_user: bool, user_id: uuid.UUID
    ) -> InvitationSent:
        async with self._db.session(TenantScope(tenant_id)) as session:
            if inviter_is_user:
                registered = await session.scalar(
                    select(User.registered_at).where(User.id == actor.id)
                )
                if registered is None:
                    raise Problem(
                        403,
                        "inviter_not_registered",
                        "Only registered users can invite.",
                        "只有已注册的用户才能邀请同事。",
                    )
            user = await session.get(User, user_id)
            ent = await session.get(Enterprise, tenant_id)
        if user is None or ent is None:
            raise not_found("User", "用户")
        if user.registered_at is not None:
            raise conflict(
                "already_registered",
                "This colleague already uses the client.",
                "该同事已注册使用客户端。",
            )
        inviter_key = f"invite:from:{tenant_id}:{actor.id or actor.name}"
        invitee_key = f"invite:to:{tenant_id}:{user.id}"
        self._limiter.check(inviter_key, PER_INVITER)
        self._limiter.check(invitee_key, PER_INVITEE)
        text = (
            f"{self._signature}{actor.name}邀请您加入“{ent.name}”的云总机"
            f"（分机 {user.extension or '-'}），"
            f"请打开 {self._client_url} 安装客户端，并用本手机号登录。"
        )
        await self._sms.send(SmsMessage(user.mobile, text, tenant_id))
        self._limiter.hit(inviter_key, 86400)
        self._limiter.hit(invitee_key, 86400)
        async with UnitOfWork(self._db, self._bus, TenantScope(tenant_id)) as uow:
            await self._journal.note(
                uow,
                actor,
                "user.invite",
                Target("user", str(user.id), user.name),
                tenant_id,
                event=UserInvited(tenant_id=tenant_id, user_id=user.id),
            )
        return InvitationSent(user_id=user.id, mobile=user.mobile)
