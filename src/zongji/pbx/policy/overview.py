"""What the admin and the user see of a user's outbound policy: the rules, and where the month
stands (used, held by live calls, left, frozen), as of now in the enterprise's time zone."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from zongji.directory.models import EnterpriseStatus
from zongji.directory.schemas import EnterpriseOut
from zongji.directory.user_schemas import UserOut
from zongji.pbx.policy.hours import may_call_out
from zongji.pbx.policy.models import DayKind
from zongji.pbx.policy.quota import Standing
from zongji.pbx.policy.validity import within_validity


@dataclass(frozen=True)
class UserPolicy:
    """A user's outbound policy and its state this month, for the console and the client."""

    user_id: uuid.UUID
    name: str
    extension: str | None
    enterprise_active: bool
    outbound_restriction: str
    international_enabled: bool  # the operator's switch for the enterprise
    outbound_time: str
    work_start: str
    work_end: str
    outside_hours_now: bool  # a "workdays only" user outside working time right now
    valid_from: date | None
    valid_until: date | None
    valid_now: bool
    month: str
    monthly_minutes: int | None
    used_minutes: int
    reserved_minutes: int  # held by calls in progress
    left_minutes: int | None  # None: unlimited
    frozen: bool  # the month's quota is used up: no outside calls until raised or next month


def policy_of(
    ent: EnterpriseOut,
    user: UserOut,
    moment: datetime,
    standing: Standing,
    override: DayKind | None,
) -> UserPolicy:
    quota = user.monthly_minutes
    return UserPolicy(
        user_id=user.id,
        name=user.name,
        extension=user.extension,
        enterprise_active=ent.status is EnterpriseStatus.ACTIVE,
        outbound_restriction=user.outbound_restriction.value,
        international_enabled=ent.features.international_calling,
        outbound_time=user.outbound_time.value,
        work_start=user.work_start,
        work_end=user.work_end,
        outside_hours_now=not may_call_out(
            user.outbound_time.value, moment, user.work_start, user.work_end, override
        ),
        valid_from=user.valid_from,
        valid_until=user.valid_until,
        valid_now=within_validity(moment.date(), user.valid_from, user.valid_until),
        month=standing.month,
        monthly_minutes=quota,
        used_minutes=standing.billed,
        reserved_minutes=standing.reserved,
        left_minutes=standing.left(quota),
        frozen=standing.frozen(quota),
    )
