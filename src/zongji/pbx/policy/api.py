"""/api/v1/policy (enterprise admins) and /api/v1/me/policy (each employee).

The per-user rules are directory fields, edited with the user (PATCH /api/v1/directory/users/…);
here are the enterprise's holiday calendar and where a user's policy stands (quota used, frozen).
"""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from zongji.identity.web import Employee, EnterpriseAdmin
from zongji.pbx.contracts import DialError
from zongji.pbx.dialling import parse_dialled
from zongji.pbx.policy.calendar import Day
from zongji.pbx.policy.hours import local_now
from zongji.pbx.policy.schemas import (
    CalendarDayIn,
    CalendarDayOut,
    CalendarYearIn,
    CalendarYearOut,
    CheckOut,
    UserPolicyOut,
    UserPolicyPage,
)
from zongji.pbx.web import PbxApiDeps, PbxDeps
from zongji.platform.errors import FieldError, Problem, not_found
from zongji.platform.web import AddressDep

router = APIRouter(tags=["pbx: outbound policy"])


def _out(day: Day) -> CalendarDayOut:
    return CalendarDayOut(date=day.day, kind=day.kind, name=day.name)


def _check_year(body: CalendarYearIn) -> list[Day]:
    errors = []
    seen: set[date] = set()
    for i, d in enumerate(body.days):
        if d.date.year != body.year:
            errors.append(
                {
                    "field": f"days.{i}.date",
                    "code": "date_outside_year",
                    "message": f"{d.date} is not in {body.year}.",
                    "message_zh": f"{d.date} 不在 {body.year} 年内。",
                }
            )
        elif d.date in seen:
            errors.append(
                {
                    "field": f"days.{i}.date",
                    "code": "duplicate_date",
                    "message": f"{d.date} is given twice.",
                    "message_zh": f"{d.date} 重复。",
                }
            )
        seen.add(d.date)
    if errors:
        raise FieldError(errors)
    return [Day(d.date, d.kind, d.name) for d in body.days]


@router.get("/api/v1/policy/calendar", response_model=CalendarYearOut)
async def get_calendar(
    admin: EnterpriseAdmin,
    services: PbxDeps,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> CalendarYearOut:
    """The year's holidays and make-up workdays (this year in the enterprise's time zone if no
    year is given)."""
    if year is None:
        ent = await services.enterprises.get(admin.tenant_id)
        year = local_now(services.clock.now(), ent.timezone).year
    days = await services.pbx.policy.calendar.year(admin.tenant_id, year)
    return CalendarYearOut(year=year, days=[_out(d) for d in days])


@router.put("/api/v1/policy/calendar", response_model=CalendarYearOut)
async def put_calendar(
    body: CalendarYearIn, admin: EnterpriseAdmin, services: PbxDeps, address: AddressDep
) -> CalendarYearOut:
    """Replace a whole year: every entry of `year` becomes exactly `days`."""
    days = _check_year(body)
    saved = await services.pbx.policy.calendar.replace_year(
        admin.actor(address), admin.tenant_id, body.year, days
    )
    return CalendarYearOut(year=body.year, days=[_out(d) for d in saved])


@router.put("/api/v1/policy/calendar/{day}", response_model=CalendarDayOut)
async def put_calendar_day(
    day: date,
    body: CalendarDayIn,
    admin: EnterpriseAdmin,
    services: PbxDeps,
    address: AddressDep,
) -> CalendarDayOut:
    """Mark one day a holiday (off) or a make-up working day (调休), replacing what the
    calendar said for it."""
    saved = await services.pbx.policy.calendar.put_day(
        admin.actor(address), admin.tenant_id, Day(day, body.kind, body.name)
    )
    return _out(saved)


@router.delete("/api/v1/policy/calendar/{day}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_calendar_day(
    day: date, admin: EnterpriseAdmin, services: PbxDeps, address: AddressDep
) -> Response:
    """Back to an ordinary day."""
    await services.pbx.policy.calendar.delete_day(admin.actor(address), admin.tenant_id, day)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/api/v1/policy/users", response_model=UserPolicyPage)
async def list_user_policies(
    admin: EnterpriseAdmin,
    services: PbxDeps,
    frozen: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> UserPolicyPage:
    """Every user's policy and month, in directory order; `frozen=true` shows who has used up
    their minutes (a filtered page may be short: follow `next_cursor` to the end)."""
    items, next_cursor = await services.pbx.policy.user_policies(
        admin.tenant_id, limit=limit, cursor=cursor, frozen=frozen
    )
    return UserPolicyPage(
        items=[UserPolicyOut(**asdict(p)) for p in items], next_cursor=next_cursor
    )


@router.get("/api/v1/policy/users/{user_id}", response_model=UserPolicyOut)
async def get_user_policy(
    user_id: uuid.UUID, admin: EnterpriseAdmin, services: PbxDeps
) -> UserPolicyOut:
    """A user's outbound policy and this month's minutes: used, held by live calls, left,
    frozen. Raise a frozen user's quota by changing `monthly_minutes` on the user."""
    policy = await services.pbx.policy.user_policy(admin.tenant_id, user_id)
    return UserPolicyOut(**asdict(policy))


@router.get("/api/v1/me/policy", response_model=UserPolicyOut)
async def get_my_policy(employee: Employee, services: PbxDeps) -> UserPolicyOut:
    """What I may call, when, and how many minutes I have left this month."""
    policy = await services.pbx.policy.user_policy(employee.tenant_id, employee.subject_id)
    return UserPolicyOut(**asdict(policy))


Number = Annotated[str, Query(min_length=1, max_length=64, description="What would be dialled")]


async def _check(
    services: PbxApiDeps, tenant_id: uuid.UUID, user_id: uuid.UUID, number: str
) -> CheckOut:
    """The call engine's own view of the enterprise and the user, the dial plan, the policy."""
    view = services.pbx.view
    tenant = await view.tenant(tenant_id)
    caller = await view.subscriber(tenant_id, user_id)
    if tenant is None or caller is None:
        raise not_found("User", "用户")
    try:
        dialled = parse_dialled(number, tenant)
    except DialError as exc:
        raise Problem(
            422,
            f"dial_{exc.code}",
            f"This can't be dialled: {exc.reason}.",
            "无法拨打该号码。",
        ) from exc
    decision = await services.pbx.policy.check(tenant, caller, dialled)
    return CheckOut(
        dialled=number,
        number=dialled.number,
        kind=dialled.kind.value,
        number_class=decision.number_class.value,
        allowed=decision.allowed,
        rule=decision.rule,
        prompt=decision.prompt,
        max_seconds=decision.max_seconds,
    )


@router.get("/api/v1/me/policy/check", response_model=CheckOut)
async def check_my_call(number: Number, employee: Employee, services: PbxDeps) -> CheckOut:
    """Could I call this number now? The same decision a call would get, without placing one
    (`rule` and `prompt` say why not; bad dial strings are 422 `dial_<reason>`)."""
    return await _check(services, employee.tenant_id, employee.subject_id, number)


@router.get("/api/v1/policy/users/{user_id}/check", response_model=CheckOut)
async def check_user_call(
    user_id: uuid.UUID, number: Number, admin: EnterpriseAdmin, services: PbxDeps
) -> CheckOut:
    """Could this user call this number now (and if not, by which rule)?"""
    return await _check(services, admin.tenant_id, user_id, number)
