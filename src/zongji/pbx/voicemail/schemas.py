"""The shapes of voicemail in the API: a user's messages and their box settings."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel

from zongji.platform.schemas import StrictModel


class CallerOut(BaseModel):
    number: str
    name: str | None
    user_id: uuid.UUID | None


class MessageOut(BaseModel):
    id: uuid.UUID
    caller: CallerOut
    received_at: datetime
    seconds: float
    heard: bool
    heard_at: datetime | None
    audio_url: str


class MessageList(BaseModel):
    items: list[MessageOut]
    total: int
    unheard: int


class BoxSettingsOut(BaseModel):
    enabled: bool
    greeting: bool  # True: the user's own greeting; False: the platform's default
    greeting_seconds: float | None
    greeting_url: str | None


class SettingsChange(StrictModel):
    enabled: bool
