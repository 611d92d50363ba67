"""What the operator sends and sees for a trunk (the API's shapes).

Shape and ranges are checked here (422 `validation_failed` with pydantic's codes); what depends on
several fields or on other data (a registration trunk needs its username and password, listed
enterprises must exist, addresses must parse) is checked by `TrunkService`, with our own codes.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from zongji.pbx.trunks.models import NumberFormat, TrunkMode, TrunkTransport
from zongji.platform.schemas import StrictModel

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Host = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=253)]
Secret = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Username = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
Address = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Port = Annotated[int, Field(ge=1, le=65535)]
Priority = Annotated[int, Field(ge=0, le=1000, description="Lower goes first")]
Interval = Annotated[int, Field(ge=0, le=3600, description="Seconds; 0: no OPTIONS keep-alive")]
Expires = Annotated[int, Field(ge=60, le=86400)]


class TrunkCreate(StrictModel):
    name: Name
    host: Host = Field(description="The carrier's SIP address: a host name or an IP address")
    port: Port = 5060
    transport: TrunkTransport = TrunkTransport.UDP
    mode: TrunkMode
    username: Username | None = None
    password: Secret | None = Field(None, description="Stored: needed to answer challenges")
    realm: Host | None = None
    register_expires: Expires = 600
    from_domain: Host | None = Field(None, description="Host part of From; default: the realm")
    inbound_addresses: list[Address] = Field(default_factory=list, max_length=64)
    priority: Priority = 100
    enabled: bool = True
    options_interval: Interval = 30
    all_enterprises: bool = True
    enterprise_ids: list[uuid.UUID] = Field(default_factory=list, max_length=10_000)
    number_format: NumberFormat = NumberFormat.E164


class TrunkChange(StrictModel):
    """Only the fields given change; `null` clears the optional ones."""

    name: Name | None = None
    host: Host | None = None
    port: Port | None = None
    transport: TrunkTransport | None = None
    mode: TrunkMode | None = None
    username: Username | None = None
    password: Secret | None = None
    realm: Host | None = None
    register_expires: Expires | None = None
    from_domain: Host | None = None
    inbound_addresses: list[Address] | None = Field(None, max_length=64)
    priority: Priority | None = None
    enabled: bool | None = None
    options_interval: Interval | None = None
    all_enterprises: bool | None = None
    enterprise_ids: list[uuid.UUID] | None = Field(None, max_length=10_000)
    number_format: NumberFormat | None = None


class TrunkHealthOut(BaseModel):
    """This node's view of the trunk (each node checks its trunks itself)."""

    state: str = Field(description="up, unknown (not checked yet), down, disabled, not_running")
    reason: str | None = Field(None, description="why down: registration_failed, options ...")
    registered: bool | None = None  # registration trunks only
    last_error: str | None = None  # the last failed check, e.g. "OPTIONS: 503 Service Unavailable"
    consecutive_failures: int = 0
    last_checked_at: datetime | None = None
    held_for_seconds: float | None = None  # hold-down after a failed call: seconds left


class TrunkOut(BaseModel):
    id: uuid.UUID
    name: str
    host: str
    port: int
    transport: TrunkTransport
    mode: TrunkMode
    username: str | None
    has_password: bool
    realm: str | None
    register_expires: int
    from_domain: str | None
    inbound_addresses: list[str]
    priority: int
    enabled: bool
    options_interval: int
    all_enterprises: bool
    enterprise_ids: list[uuid.UUID]
    number_format: NumberFormat
    created_at: datetime
    updated_at: datetime
    health: TrunkHealthOut | None = None
