"""Tables of voicemail: one box per user (its settings and greeting), and the messages left in it.

A box row exists only once a user changed something (disabled the box, set a greeting): a user
without one has the default box, enabled with the platform's greeting, so nothing has to be
created when a user is added. Audio lives in file storage under the keys kept here.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from zongji.platform.db import Base, TenantOwned


class VoicemailBox(TenantOwned, Base):
    __tablename__ = "voicemail_boxes"
    __table_args__ = (UniqueConstraint("tenant_id", "user_id"),)

    user_id: Mapped[uuid.UUID]
    enabled: Mapped[bool] = mapped_column(default=True)
    greeting: Mapped[str | None] = mapped_column(String(256), default=None)  # file-storage key
    greeting_seconds: Mapped[float | None] = mapped_column(default=None)
    updated_at: Mapped[datetime]


class VoicemailMessage(TenantOwned, Base):
    __tablename__ = "voicemail_messages"
    __table_args__ = (
        Index("ix_voicemail_messages_box", "tenant_id", "box_user_id", "received_at"),
    )

    box_user_id: Mapped[uuid.UUID]
    caller_number: Mapped[str] = mapped_column(String(32))
    caller_name: Mapped[str | None] = mapped_column(String(64), default=None)
    caller_user_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    call_id: Mapped[str] = mapped_column(String(128))
    received_at: Mapped[datetime]
    seconds: Mapped[float]
    file_key: Mapped[str] = mapped_column(String(256))
    heard_at: Mapped[datetime | None] = mapped_column(default=None)
    deleted: Mapped[bool] = mapped_column(default=False)
