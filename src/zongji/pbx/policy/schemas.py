"""The policy API's shapes: the holiday calendar, and a user's policy as it stands."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from zongji.pbx.policy.models import DayKind
from zongji.platform.schemas import Input

DayName = Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)]


class CalendarDayIn(Input):
    kind: DayKind = Field(description="holiday (off, even on a weekday) or workday (调休)")
    name: DayName = Field("", description="e.g. 春节, 国庆节调休")


class CalendarDatedIn(CalendarDayIn):
    date: date


class CalendarYearIn(Input):
    """The whole year's calendar: replaces every entry of that year."""

    year: int = Field(ge=2000, le=2100)
    days: list[CalendarDatedIn] = Field(max_length=366)


class CalendarDayOut(BaseModel):
    date: date
    kind: DayKind
    name: str


class CalendarYearOut(BaseModel):
    year: int
    days: list[CalendarDayOut]


class UserPolicyOut(BaseModel):
    user_id: uuid.UUID
    name: str
    extension: str | None
    enterprise_active: bool
    outbound_restriction: str
    international_enabled: bool
    outbound_time: str
    work_start: str
    work_end: str
    outside_hours_now: bool
    valid_from: date | None
    valid_until: date | None
    valid_now: bool
    month: str
    monthly_minutes: int | None
    used_minutes: int
    reserved_minutes: int
    left_minutes: int | None
    frozen: bool


class UserPolicyPage(BaseModel):
    items: list[UserPolicyOut]
    next_cursor: str | None


class CheckOut(BaseModel):
    """Whether a number could be called now, and why not."""

    dialled: str  # as given
    number: str  # as the PBX understands it: an extension, E.164, or an emergency code
    kind: str  # extension | external | emergency
    number_class: str  # internal | local | domestic | international | emergency
    allowed: bool
    rule: str | None  # the refusing rule, as in call records
    prompt: str | None  # what the caller would hear
    max_seconds: int | None  # the longest the call could last now (quota); None: no limit
