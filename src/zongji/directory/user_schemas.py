"""The shapes of a user, shared by the API, the client, spreadsheet import and export.

Field validation lives here once, so a bad e-mail is refused with the same code whether it came
from the console, the client or row 812 of a spreadsheet. Checks that need the enterprise (its
extension plan, its number pool, its features, who else exists) live in `users.py`.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from zongji.directory.models import OutboundMode, OutboundRestriction, OutboundTime
from zongji.directory.schemas import Input
from zongji.platform.phone import InvalidNumber, clean_digits, to_mobile_e164
from zongji.platform.text import visible_text

EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def _name(value: str) -> str:
    """Zero-width and control characters out (`platform.text`): a name is what people see."""
    value = visible_text(value)
    if not value:
        raise ValueError("a name must have visible characters")
    return value


def _mobile(value: str) -> str:
    try:
        return to_mobile_e164(value)
    except InvalidNumber as exc:
        raise ValueError("not a valid mobile number") from exc


def _optional_text(value: str | None) -> str | None:
    if value is None:
        return None
    value = " ".join(value.split())
    return value or None


def _email(value: str | None) -> str | None:
    value = _optional_text(value)
    if value is not None and not EMAIL.match(value):
        raise ValueError("not a valid e-mail address")
    return value


def _clock(value: str | None) -> str | None:
    if value is None:
        return None
    value = clean_digits(value).replace("：", ":")
    if re.fullmatch(r"\d:\d\d", value):
        value = "0" + value
    if not CLOCK.match(value):
        raise ValueError("a time of day such as 09:00")
    return value


def _extension(value: str | None) -> str | None:
    if value is None:
        return None
    value = clean_digits(value)
    return value or None


Name = Annotated[str, AfterValidator(_name), Field(min_length=1, max_length=64)]
Mobile = Annotated[str, AfterValidator(_mobile), Field(max_length=32)]
Text64 = Annotated[Annotated[str, Field(max_length=64)] | None, AfterValidator(_optional_text)]
Text256 = Annotated[Annotated[str, Field(max_length=256)] | None, AfterValidator(_optional_text)]
Email = Annotated[Annotated[str, Field(max_length=128)] | None, AfterValidator(_email)]
Clock = Annotated[str | None, AfterValidator(_clock)]
Extension = Annotated[Annotated[str, Field(max_length=16)] | None, AfterValidator(_extension)]
Number = Annotated[Annotated[str, Field(max_length=32)] | None, AfterValidator(_optional_text)]


class _UserFields(Input):
    """Everything an admin sets on a user (DIR-4, CL-5, ADM-6…ADM-21)."""

    title: Text64 = None
    department_id: uuid.UUID | None = None
    extension: Extension = Field(None, description="3–6 digits; the next free one if omitted")
    email: Email = None
    phone: Number = None
    address: Text256 = None
    direct_line: Number = Field(None, description="A free number of the enterprise's pool")
    main_number: Number = Field(
        None, description="Caller ID; the enterprise's main number if omitted"
    )
    is_admin: bool = False
    is_receptionist: bool = False
    conference_allowed: bool = True
    outbound_restriction: OutboundRestriction = OutboundRestriction.DOMESTIC
    outbound_mode: OutboundMode = OutboundMode.NETWORK
    outbound_time: OutboundTime = OutboundTime.UNLIMITED
    monthly_minutes: int | None = Field(None, ge=0, le=1_000_000, description="None: unlimited")
    work_start: Clock = "09:00"
    work_end: Clock = "18:00"
    valid_from: date | None = None
    valid_until: date | None = None
    pinned: bool = False
    pin_order: int = Field(0, ge=0, le=1_000_000)

    @model_validator(mode="after")
    def _spans(self) -> _UserFields:
        # stable codes (not pydantic's generic value_error) so clients can say what is wrong
        if self.work_start and self.work_end and self.work_start >= self.work_end:
            raise PydanticCustomError("work_hours_order", "work_end must be after work_start")
        if self.valid_from and self.valid_until and self.valid_from > self.valid_until:
            raise PydanticCustomError("validity_order", "valid_until must not be before valid_from")
        return self


class UserCreate(_UserFields):
    name: Name
    mobile: Mobile


class UserChange(Input):
    """Only the fields given change; `null` clears an optional field."""

    name: Name | None = None
    mobile: Mobile | None = None
    title: Text64 = None
    department_id: uuid.UUID | None = None
    extension: Extension = None
    email: Email = None
    phone: Number = None
    address: Text256 = None
    direct_line: Number = None
    main_number: Number = None
    is_admin: bool | None = None
    is_receptionist: bool | None = None
    conference_allowed: bool | None = None
    outbound_restriction: OutboundRestriction | None = None
    outbound_mode: OutboundMode | None = None
    outbound_time: OutboundTime | None = None
    monthly_minutes: int | None = Field(None, ge=0, le=1_000_000)
    work_start: Clock = None
    work_end: Clock = None
    valid_from: date | None = None
    valid_until: date | None = None
    pinned: bool | None = None
    pin_order: int | None = Field(None, ge=0, le=1_000_000)

    @field_validator(
        "name",
        "mobile",
        "is_admin",
        "is_receptionist",
        "conference_allowed",
        "outbound_restriction",
        "outbound_mode",
        "outbound_time",
        "work_start",
        "work_end",
        "pinned",
        "pin_order",
    )
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("this field cannot be null")
        return value


class ProfileChange(Input):
    """What users may change about themselves (CL-5): name, phone, e-mail, address (and avatar)."""

    name: Name | None = None
    phone: Number = None
    email: Email = None
    address: Text256 = None

    @field_validator("name")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("this field cannot be null")
        return value


class UserOut(BaseModel):
    id: uuid.UUID
    name: str
    pinyin: str  # space-separated main reading, for clients' own grouping (A–Z index)
    mobile: str
    extension: str | None
    department_id: uuid.UUID | None
    department_path: str
    title: str | None
    email: str | None
    phone: str | None
    address: str | None
    avatar_url: str | None
    direct_line: str | None
    main_number: str | None
    is_admin: bool
    is_receptionist: bool
    conference_allowed: bool
    outbound_restriction: OutboundRestriction
    outbound_mode: OutboundMode
    outbound_time: OutboundTime
    monthly_minutes: int | None
    work_start: str
    work_end: str
    valid_from: date | None
    valid_until: date | None
    pinned: bool
    pin_order: int
    registered: bool
    registered_at: datetime | None
    suspended: bool  # 停机 (OPS-3): listed, but cannot log in, register or call until resumed
    suspended_at: datetime | None
    created_at: datetime
    updated_at: datetime


class UserPage(BaseModel):
    items: list[UserOut]
    next_cursor: str | None
