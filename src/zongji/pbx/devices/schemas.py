"""What the device and registration routes take and return."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from zongji.directory.schemas import Input


class DeviceIn(Input):
    kind: Literal["softphone", "web", "desk_phone"] = "softphone"
    label: str = Field("", max_length=64, description="What the user calls the device")


class DeviceOut(BaseModel):
    id: uuid.UUID
    user_id: uuid.UUID
    kind: str
    label: str
    username: str
    sip_domain: str
    created_at: datetime
    last_registered_at: datetime | None
    registered: bool = Field(description="Has at least one live registration on this node")
    needs_reissue: bool = Field(
        description="Issued under an earlier SIP domain of the enterprise: it no longer "
        "authenticates; revoke it and issue a new one"
    )


class RegistrarInfo(BaseModel):
    host: str
    port: int
    transports: list[str]


class DeviceIssued(DeviceOut):
    """The one response that carries the password: show it, then forget it."""

    password: str
    registrar: RegistrarInfo


class DeviceList(BaseModel):
    items: list[DeviceOut]


class RegistrationOut(BaseModel):
    device_id: uuid.UUID
    username: str
    contact: str = Field(description="Where calls are sent (fixed to the source address for NAT)")
    transport: str
    source: str = Field(description="host:port the REGISTER came from")
    expires_in: int
    nat: bool
    user_agent: str


class RegistrationList(BaseModel):
    items: list[RegistrationOut]


class BlockOut(BaseModel):
    host: str
    since: datetime
    until: datetime
    failures: int
    username: str | None = None  # behind a trusted proxy: only this Digest username is blocked


class BlockList(BaseModel):
    items: list[BlockOut]
