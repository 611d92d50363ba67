"""Input and output shapes of enterprise provisioning, shared by the API, the CLI and the BSS.

Validation lives here once: a name that is too long or a main number that is not a number is
refused the same way whichever door it came through.
"""

from __future__ import annotations

import re
import uuid
import zoneinfo
from datetime import datetime
from functools import cache
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, field_validator, model_validator

from zongji.directory.models import EnterpriseStatus
from zongji.platform.phone import InvalidNumber, normalise_area_code, to_e164
from zongji.platform.schemas import Input

__all__ = ["Input"]  # request bodies here and in other directory modules share it

CODE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,31}$")
DOMAIN_RE = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$"
)
LOGIN_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{2,63}$")


@cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _strip(value: str) -> str:
    return value.strip()


Name = Annotated[str, AfterValidator(_strip), Field(min_length=1, max_length=128)]


class EnterpriseFeatures(Input):
    """What the operator has switched on for an enterprise."""

    ivr_customer_service: bool = False  # IVR-2 客服模式
    ivr_welcome_ring: bool = False  # IVR-3 炫铃模式
    callback: bool = False  # CALL-8 电话回拨
    direct_dial: bool = True  # CALL-7 电话直拨
    international_calling: bool = False  # SEC-5: off unless the operator allows it


class EnterpriseFeaturesChange(Input):
    ivr_customer_service: bool | None = None
    ivr_welcome_ring: bool | None = None
    callback: bool | None = None
    direct_dial: bool | None = None
    international_calling: bool | None = None


class AdminAccountCreate(Input):
    login: str = Field(pattern=LOGIN_RE.pattern, description="Console login name, unique")
    name: Name = "管理员"
    password: str = Field(min_length=8, max_length=128)


class _EnterpriseFields(Input):
    """Validators shared by create and change."""

    @field_validator("sip_domain", check_fields=False)
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.lower()
        if not DOMAIN_RE.match(value):
            raise ValueError("not a valid domain name")
        return value

    @field_validator("area_code", check_fields=False)
    @classmethod
    def _area(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return normalise_area_code(value)
        except InvalidNumber as exc:
            raise ValueError("not a Chinese area code such as 025") from exc

    @field_validator("timezone", check_fields=False)
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None and value not in _zones():
            raise ValueError("unknown time zone; use an IANA name such as Asia/Shanghai")
        return value


def _number(value: str | None, area_code: str | None) -> str | None:
    if value is None or value == "":
        return None
    try:
        return to_e164(value, area_code=area_code)
    except InvalidNumber as exc:
        raise ValueError(str(exc)) from exc


class EnterpriseCreate(_EnterpriseFields):
    code: str = Field(pattern=CODE_RE.pattern, description="Short unique code, e.g. `acme`")
    name: Name
    sip_domain: str | None = Field(None, description="Defaults to `<code>.<platform domain>`")
    area_code: str = Field(description="Area code of the enterprise's city, e.g. 025")
    city: Name
    timezone: str = "Asia/Shanghai"
    main_number: str | None = None
    access_number: str | None = None
    features: EnterpriseFeatures = EnterpriseFeatures()
    max_users: int = Field(100, ge=1, le=1_000_000)
    admin: AdminAccountCreate | None = None

    @model_validator(mode="after")
    def _numbers(self) -> EnterpriseCreate:
        self.main_number = _number(self.main_number, self.area_code)
        self.access_number = _number(self.access_number, self.area_code)
        return self


class EnterpriseChange(_EnterpriseFields):
    """Only the fields given are changed. The code is permanent."""

    name: Name | None = None
    sip_domain: str | None = None
    area_code: str | None = None
    city: Name | None = None
    timezone: str | None = None
    main_number: str | None = None
    access_number: str | None = None
    features: EnterpriseFeaturesChange | None = None
    max_users: int | None = Field(None, ge=1, le=1_000_000)


class StatusChange(Input):
    reason: str | None = Field(None, max_length=256)


class EnterpriseOut(BaseModel):
    id: uuid.UUID
    code: str
    name: str
    sip_domain: str
    area_code: str
    city: str
    timezone: str
    main_number: str | None
    access_number: str | None
    features: EnterpriseFeatures
    max_users: int
    user_count: int
    status: EnterpriseStatus
    created_at: datetime
    updated_at: datetime
    status_changed_at: datetime


class EnterpriseCard(BaseModel):
    """What every member of an enterprise may know about it: its name and how to reach it (the
    client's header, about page and softphone setup). Limits, features and status stay with the
    console (`EnterpriseOut`)."""

    id: uuid.UUID
    code: str
    name: str
    city: str
    sip_domain: str
    main_number: str | None
    access_number: str | None


class EnterprisePage(BaseModel):
    items: list[EnterpriseOut]
    next_cursor: str | None
