"""Shapes of the login API."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, Field

from zongji.identity.models import CodeChannel, Role, SubjectKind
from zongji.platform.schemas import Input


class DeviceInfo(Input):
    device_id: uuid.UUID | None = Field(
        None, description="The id a previous login returned; omit on a new device"
    )
    name: str = Field("Web", min_length=1, max_length=128)
    platform: Literal["web", "android", "ios", "softphone", "desk", "cli", "other"] = "web"


class PasswordLogin(Input):
    account: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=128)
    device: DeviceInfo = DeviceInfo()


class CodeRequest(Input):
    mobile: str = Field(min_length=3, max_length=32)
    channel: CodeChannel = CodeChannel.SMS


class CodeLogin(Input):
    mobile: str = Field(min_length=3, max_length=32)
    code: str = Field(min_length=1, max_length=16)
    enterprise: str | None = Field(
        None, description="Enterprise code; needed only when the mobile is in several"
    )
    device: DeviceInfo = DeviceInfo()


class RefreshRequest(Input):
    refresh_token: str = Field(min_length=1, max_length=256)
    device_id: uuid.UUID


class PasswordChange(Input):
    old_password: str = Field(min_length=1, max_length=128)
    new_password: str = Field(min_length=1, max_length=128)


class TokenPair(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - a scheme name
    expires_in: int
    refresh_token: str
    refresh_expires_in: int
    device_id: uuid.UUID
    subject_kind: SubjectKind
    subject_id: uuid.UUID
    tenant_id: uuid.UUID
    name: str
    roles: list[Role]


class CodeSent(BaseModel):
    detail: str = "If this mobile is registered, a code is on its way."
    expires_in: int
    channel: CodeChannel


class Me(BaseModel):
    subject_kind: SubjectKind
    subject_id: uuid.UUID
    tenant_id: uuid.UUID
    name: str
    roles: list[Role]
    device_id: uuid.UUID
    session_id: uuid.UUID
