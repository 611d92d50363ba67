"""Boxes and messages in storage: settings, greetings, leaving, listing, hearing, deleting.

Every change is one unit of work that publishes its event after the commit (`VoicemailLeft`,
`VoicemailHeard`, `VoicemailDeleted`, `GreetingChanged`); the MWI notifier and the
messaging work react to those events, never to a change that was rolled back. Audio goes to file
storage *before* the row that points at it is written (and is deleted again if that write
fails), so a row never points at a missing file; a deleted message's file is removed once its
row is marked.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from zongji.pbx.contracts import Party
from zongji.pbx.events import GreetingChanged, VoicemailDeleted, VoicemailHeard, VoicemailLeft
from zongji.pbx.voicemail.audio import convert_greeting
from zongji.pbx.voicemail.models import VoicemailBox, VoicemailMessage
from zongji.pbx.voicemail.schemas import BoxSettingsOut, CallerOut, MessageList, MessageOut
from zongji.platform.clock import Clock
from zongji.platform.db import Database, TenantScope
from zongji.platform.errors import not_found
from zongji.platform.events import EventBus
from zongji.platform.files import FileStorage
from zongji.platform.ids import uuid7
from zongji.platform.uow import UnitOfWork


@dataclass(frozen=True)
class BoxSettings:
    enabled: bool
    greeting: str | None  # file-storage key of the user's own greeting
    greeting_seconds: float | None


DEFAULT_BOX = BoxSettings(enabled=True, greeting=None, greeting_seconds=None)


@dataclass(frozen=True)
class Counts:
    """What message-waiting indication reports: unheard and heard messages still kept."""

    new: int
    old: int


def _message_out(m: VoicemailMessage) -> MessageOut:
    return MessageOut(
        id=m.id,
        caller=CallerOut(number=m.caller_number, name=m.caller_name, user_id=m.caller_user_id),
        received_at=m.received_at,
        seconds=round(m.seconds, 2),
        heard=m.heard_at is not None,
        heard_at=m.heard_at,
        audio_url=f"/api/v1/me/voicemail/{m.id}/audio",
    )


def _settings_out(s: BoxSettings) -> BoxSettingsOut:
    return BoxSettingsOut(
        enabled=s.enabled,
        greeting=s.greeting is not None,
        greeting_seconds=None if s.greeting_seconds is None else round(s.greeting_seconds, 2),
        greeting_url="/api/v1/me/voicemail/greeting" if s.greeting else None,
    )


class Mailbox:
    def __init__(self, db: Database, bus: EventBus, files: FileStorage, clock: Clock) -> None:
        self._db = db
        self._bus = bus
        self._files = files
        self._clock = clock

    # -- box settings and greeting ------------------------------------------------------------

    async def settings(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> BoxSettings:
        async with self._db.session(TenantScope(tenant_id)) as session:
            box = await session.scalar(select(VoicemailBox).where(VoicemailBox.user_id == user_id))
        if box is None:
            return DEFAULT_BOX
        return BoxSettings(box.enabled, box.greeting, box.greeting_seconds)

    async def settings_out(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> BoxSettingsOut:
        return _settings_out(await self.settings(tenant_id, user_id))

    async def _box(self, uow: UnitOfWork, user_id: uuid.UUID) -> VoicemailBox:
        """The user's box row, locked, made with the defaults if the user had none yet."""
        stmt = select(VoicemailBox).where(VoicemailBox.user_id == user_id).with_for_update()
        box = await uow.session.scalar(stmt)
        if box is None:
            box = VoicemailBox(user_id=user_id, enabled=True, updated_at=self._clock.now())
            uow.session.add(box)
        return box

    async def set_enabled(
        self, tenant_id: uuid.UUID, user_id: uuid.UUID, enabled: bool
    ) -> BoxSettingsOut:
        async with UnitOfWork(self._db, self._bus, TenantScope(tenant_id)) as uow:
            box = await self._box(uow, user_id)
            box.enabled, box.updated_at = enabled, self._clock.now()
            out = BoxSettings(box.enabled, box.greeting, box.greeting_seconds)
        return _settings_out(out)

    async def set_greeting(
        self, tenant_id: uuid.UUID, user_id: uuid.UUID, data: bytes
    ) -> BoxSettingsOut:
        """Any WAV in; stored converted to 8 kHz mono (see `audio.convert_greeting`)."""
        wav, seconds = convert_greeting(data)
        return await self.store_greeting(tenant_id, user_id, wav, seconds)

    async def store_greeting(
        self, tenant_id: uuid.UUID, user_id: uuid.UUID, wav: bytes, seconds: float
    ) -> BoxSettingsOut:
        key = f"voicemail/{tenant_id}/{user_id}/greeting-{uuid7().hex}.wav"
        await self._files.put(key, wav)
        try:
            async with UnitOfWork(self._db, self._bus, TenantScope(tenant_id)) as uow:
                box = await self._box(uow, user_id)
                old = box.greeting
                box.greeting, box.greeting_seconds = key, seconds
                box.updated_at = self._clock.now()
                out = BoxSettings(box.enabled, box.greeting, box.greeting_seconds)
                uow.publish(GreetingChanged(tenant_id=tenant_id, box_user_id=user_id))
        except BaseException:
            await self._files.delete(key)
            raise
        if old:
            await self._files.delete(old)
        return _settings_out(out)

    async def clear_greeting(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> BoxSettingsOut:
        async with UnitOfWork(self._db, self._bus, TenantScope(tenant_id)) as uow:
            box = await self._box(uow, user_id)
            old = box.greeting
            box.greeting, box.greeting_seconds = None, None
            box.updated_at = self._clock.now()
            out = BoxSettings(box.enabled, None, None)
            if old:
                uow.publish(GreetingChanged(tenant_id=tenant_id, box_user_id=user_id))
        if old:
            await self._files.delete(old)
        return _settings_out(out)

    async def greeting_audio(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> bytes:
        key = (await self.settings(tenant_id, user_id)).greeting
        data = await self._files.get(key) if key else None
        if data is None:
            raise not_found("Greeting", "问候语")
        return data

    # -- messages ------------------------------------------------------------------------------

    async def leave(
        self,
        tenant_id: uuid.UUID,
        box_user_id: uuid.UUID,
        *,
        caller: Party,
        call_id: str,
        received_at: datetime,
        seconds: float,
        wav: bytes,
    ) -> MessageOut:
        """Store a message left by a caller and announce it (`VoicemailLeft`) after commit."""
        message_id = uuid7()
        key = f"voicemail/{tenant_id}/{box_user_id}/{message_id.hex}.wav"
        await self._files.put(key, wav)
        try:
            async with UnitOfWork(self._db, self._bus, TenantScope(tenant_id)) as uow:
                message = VoicemailMessage(
                    id=message_id,
                    box_user_id=box_user_id,
                    caller_number=caller.number[:32],
                    caller_name=caller.name[:64] if caller.name else None,
                    caller_user_id=caller.user_id,
                    call_id=call_id[:128],
                    received_at=received_at,
                    seconds=seconds,
                    file_key=key,
                )
                uow.session.add(message)
                uow.publish(
                    VoicemailLeft(
                        tenant_id=tenant_id,
                        box_user_id=box_user_id,
                        message_id=message_id,
                        caller_number=caller.number,
                        caller_name=caller.name,
                        caller_user_id=caller.user_id,
                        call_id=call_id,
                        seconds=round(seconds, 2),
                        received_at=received_at,
                        file_key=key,
                    )
                )
                out = _message_out(message)
        except BaseException:
            await self._files.delete(key)
            raise
        return out

    async def messages(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> MessageList:
        """The box's messages, newest first, with how many are unheard."""
        async with self._db.session(TenantScope(tenant_id)) as session:
            rows = (
                await session.scalars(
                    select(VoicemailMessage)
                    .where(VoicemailMessage.box_user_id == user_id, ~VoicemailMessage.deleted)
                    .order_by(VoicemailMessage.received_at.desc(), VoicemailMessage.id.desc())
                )
            ).all()
        items = [_message_out(m) for m in rows]
        unheard = sum(1 for m in items if not m.heard)
        return MessageList(items=items, total=len(items), unheard=unheard)

    async def counts(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> Counts:
        heard = VoicemailMessage.heard_at.is_not(None)
        async with self._db.session(TenantScope(tenant_id)) as session:
            rows = (
                await session.execute(
                    select(heard, func.count())
                    .where(VoicemailMessage.box_user_id == user_id, ~VoicemailMessage.deleted)
                    .group_by(heard)
                )
            ).all()
        by = {bool(was_heard): int(n) for was_heard, n in rows}
        return Counts(new=by.get(False, 0), old=by.get(True, 0))

    async def _message(
        self, tenant_id: uuid.UUID, user_id: uuid.UUID, message_id: uuid.UUID
    ) -> VoicemailMessage:
        async with self._db.session(TenantScope(tenant_id)) as session:
            m = await session.get(VoicemailMessage, message_id)
        if m is None or m.deleted or m.box_user_id != user_id:
            raise not_found("Voicemail message", "留言")
        return m

    async def audio(self, tenant_id: uuid.UUID, user_id: uuid.UUID, message_id: uuid.UUID) -> bytes:
        m = await self._message(tenant_id, user_id, message_id)
        data = await self._files.get(m.file_key)
        if data is None:
            raise not_found("Voicemail audio", "留言录音")
        return data

    async def mark_heard(
        self, tenant_id: uuid.UUID, user_id: uuid.UUID, message_id: uuid.UUID
    ) -> MessageOut:
        async with UnitOfWork(self._db, self._bus, TenantScope(tenant_id)) as uow:
            m = await uow.session.get(VoicemailMessage, message_id, with_for_update=True)
            if m is None or m.deleted or m.box_user_id != user_id:
                raise not_found("Voicemail message", "留言")
            if m.heard_at is None:
                m.heard_at = self._clock.now()
                uow.publish(
                    VoicemailHeard(tenant_id=tenant_id, box_user_id=user_id, message_id=message_id)
                )
            out = _message_out(m)
        return out

    async def delete(self, tenant_id: uuid.UUID, user_id: uuid.UUID, message_id: uuid.UUID) -> None:
        async with UnitOfWork(self._db, self._bus, TenantScope(tenant_id)) as uow:
            m = await uow.session.get(VoicemailMessage, message_id, with_for_update=True)
            if m is None or m.deleted or m.box_user_id != user_id:
                raise not_found("Voicemail message", "留言")
            m.deleted = True
            key = m.file_key
            uow.publish(
                VoicemailDeleted(tenant_id=tenant_id, box_user_id=user_id, message_id=message_id)
            )
        await self._files.delete(key)
