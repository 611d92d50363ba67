"""Outbound time (ADM-14, ADM-17, SEC-6): workdays-only users call out Monday–Friday within their
working hours, in the enterprise's time zone, with the enterprise's holidays and make-up days."""

from __future__ import annotations

from datetime import date

import pytest

from tests.pbx.policy.helpers import (
    LOCAL_LANDLINE,
    emergency,
    extension,
    nanjing,
    outside,
    set_local,
    subscriber,
)
from zongji.pbx.policy.calendar import Day
from zongji.pbx.policy.models import DayKind
from zongji.pbx.policy.service import PolicyService
from zongji.platform.actor import SYSTEM
from zongji.platform.clock import FakeClock
from zongji.services import Services


@pytest.fixture
def policy(services: Services) -> PolicyService:
    return services.pbx.policy


@pytest.mark.parametrize(
    ("local", "allowed"),
    [
        ("2026-01-05 08:59:59", False),  # Monday
        ("2026-01-05 09:00:00", True),
        ("2026-01-05 17:59:00", True),
        ("2026-01-05 17:59:59", True),
        ("2026-01-05 18:00:00", False),
        ("2026-01-09 12:00:00", True),  # Friday
        ("2026-01-10 12:00:00", False),  # Saturday
        ("2026-01-11 12:00:00", False),  # Sunday
    ],
)
async def test_working_hours_at_the_edges(
    policy: PolicyService, clock: FakeClock, local: str, allowed: bool
) -> None:
    set_local(clock, local)
    tenant = nanjing()
    caller = subscriber(tenant, outbound_time="workdays")
    decision = await policy.authorise("c", tenant, caller, outside(LOCAL_LANDLINE))
    assert decision.allowed is allowed
    if not allowed:
        assert (decision.rule, decision.prompt) == ("outbound_time", "outbound_outside_hours")
    # outside working time, colleagues and emergency numbers are still reachable
    assert (await policy.authorise("i", tenant, caller, extension())).allowed
    assert (await policy.authorise("e", tenant, caller, emergency("120"))).allowed


async def test_the_users_own_hours(policy: PolicyService, clock: FakeClock) -> None:
    tenant = nanjing()
    caller = subscriber(tenant, outbound_time="workdays", work_start="13:30", work_end="22:00")
    set_local(clock, "2026-01-06 13:29:59")
    assert not (await policy.authorise("a", tenant, caller, outside(LOCAL_LANDLINE))).allowed
    set_local(clock, "2026-01-06 21:59:59")
    assert (await policy.authorise("b", tenant, caller, outside(LOCAL_LANDLINE))).allowed


async def test_unlimited_users_call_any_time(policy: PolicyService, clock: FakeClock) -> None:
    set_local(clock, "2026-01-11 03:00:00")  # Sunday night
    tenant = nanjing()
    caller = subscriber(tenant, outbound_time="unlimited")
    assert (await policy.authorise("c", tenant, caller, outside(LOCAL_LANDLINE))).allowed


async def test_hours_are_the_enterprises_time_zone(policy: PolicyService, clock: FakeClock) -> None:
    # 10:00 in Urumqi is 12:00 in Shanghai and 04:00 UTC
    tenant = nanjing(timezone="Asia/Urumqi")
    caller = subscriber(tenant, outbound_time="workdays", work_start="09:00", work_end="11:00")
    set_local(clock, "2026-01-05 12:30:00")  # Shanghai time: 10:30 in Urumqi
    assert (await policy.authorise("c", tenant, caller, outside(LOCAL_LANDLINE))).allowed
    set_local(clock, "2026-01-05 10:30:00")  # 08:30 in Urumqi
    assert not (await policy.authorise("d", tenant, caller, outside(LOCAL_LANDLINE))).allowed


async def test_a_holiday_and_a_make_up_saturday(
    services: Services, policy: PolicyService, clock: FakeClock
) -> None:
    tenant = nanjing()
    other = nanjing()
    caller = subscriber(tenant, outbound_time="workdays")
    await policy.calendar.replace_year(
        SYSTEM,
        tenant.tenant_id,
        2026,
        [
            Day(date(2026, 2, 16), DayKind.HOLIDAY, "春节"),  # a Monday
            Day(date(2026, 2, 14), DayKind.WORKDAY, "春节调休"),  # a Saturday
        ],
    )
    set_local(clock, "2026-02-16 10:00:00")
    refused = await policy.authorise("h", tenant, caller, outside(LOCAL_LANDLINE))
    assert (refused.allowed, refused.rule) == (False, "outbound_time")
    assert (await policy.authorise("h-int", tenant, caller, extension())).allowed
    # another enterprise's calendar is its own
    assert (
        await policy.authorise(
            "o", other, subscriber(other, outbound_time="workdays"), outside(LOCAL_LANDLINE)
        )
    ).allowed

    set_local(clock, "2026-02-14 10:00:00")
    assert (await policy.authorise("w", tenant, caller, outside(LOCAL_LANDLINE))).allowed
    set_local(clock, "2026-02-14 18:00:00")  # working hours still apply on a make-up day
    assert not (await policy.authorise("w2", tenant, caller, outside(LOCAL_LANDLINE))).allowed

    # the admin takes the holiday back: an ordinary Monday again, at once
    await policy.calendar.delete_day(SYSTEM, tenant.tenant_id, date(2026, 2, 16))
    set_local(clock, "2026-02-16 10:00:00")
    assert (await policy.authorise("h2", tenant, caller, outside(LOCAL_LANDLINE))).allowed
