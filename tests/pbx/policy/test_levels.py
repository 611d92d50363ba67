"""Each restriction level against a table of numbers, for an enterprise in Nanjing (ADM-15, SEC-5),
and the rules that come before it: emergency, suspended enterprise, validity (ADM-21)."""

from __future__ import annotations

from datetime import date

import pytest

from tests.pbx.policy.helpers import (
    HONG_KONG,
    INTERNATIONAL,
    LOCAL_LANDLINE,
    LOCAL_MOBILE,
    OTHER_CITY_MOBILE,
    SERVICE_400,
    emergency,
    extension,
    nanjing,
    outside,
    set_local,
    subscriber,
)
from zongji.pbx.contracts import Dialled, NumberClass
from zongji.pbx.policy.service import PolicyService
from zongji.platform.clock import FakeClock
from zongji.services import Services

NUMBERS: dict[str, Dialled] = {
    "extension": extension(),
    "local landline": outside(LOCAL_LANDLINE),
    "local mobile": outside(LOCAL_MOBILE),
    "other-city mobile": outside(OTHER_CITY_MOBILE),
    "400 number": outside(SERVICE_400),
    "international": outside(INTERNATIONAL),
    "hong kong": outside(HONG_KONG),
    "emergency 110": emergency("110"),
    "emergency 120": emergency("120"),
}
Y = None  # allowed
# level → number → refusing rule (None: allowed); the operator has NOT enabled international
TABLE: dict[str, dict[str, str | None]] = {
    "internal": {
        "extension": Y,
        "local landline": "restriction",
        "local mobile": "restriction",
        "other-city mobile": "restriction",
        "400 number": "restriction",
        "international": "restriction",
        "hong kong": "restriction",
        "emergency 110": Y,
        "emergency 120": Y,
    },
    "local": {
        "extension": Y,
        "local landline": Y,
        "local mobile": Y,
        "other-city mobile": "restriction",
        "400 number": "restriction",
        "international": "restriction",
        "hong kong": "restriction",
        "emergency 110": Y,
        "emergency 120": Y,
    },
    "domestic": {
        "extension": Y,
        "local landline": Y,
        "local mobile": Y,
        "other-city mobile": Y,
        "400 number": Y,
        "international": "restriction",
        "hong kong": "restriction",
        "emergency 110": Y,
        "emergency 120": Y,
    },
    "international": {
        "extension": Y,
        "local landline": Y,
        "local mobile": Y,
        "other-city mobile": Y,
        "400 number": Y,
        "international": "international_disabled",
        "hong kong": "international_disabled",
        "emergency 110": Y,
        "emergency 120": Y,
    },
}


@pytest.fixture
def policy(services: Services) -> PolicyService:
    return services.pbx.policy


@pytest.mark.parametrize("level", list(TABLE))
async def test_each_level_against_the_table(policy: PolicyService, level: str) -> None:
    tenant = nanjing()
    caller = subscriber(tenant, outbound_restriction=level)
    for what, dialled in NUMBERS.items():
        decision = await policy.authorise(f"call-{level}-{what}", tenant, caller, dialled)
        expected = TABLE[level][what]
        assert decision.allowed is (expected is None), f"{level} calling {what}: {decision}"
        assert decision.rule == expected, f"{level} calling {what}"
        if expected is None:
            assert decision.prompt is None
        else:
            assert decision.prompt == "call_not_permitted"


async def test_international_goes_through_once_the_operator_enables_it(
    policy: PolicyService,
) -> None:
    off = nanjing()
    on = nanjing(off.tenant_id, features={"international_calling": True})
    caller = subscriber(off, outbound_restriction="international")
    refused = await policy.authorise("i1", off, caller, outside(INTERNATIONAL))
    assert (refused.allowed, refused.rule) == (False, "international_disabled")
    assert refused.number_class is NumberClass.INTERNATIONAL
    allowed = await policy.authorise("i2", on, caller, outside(INTERNATIONAL))
    assert allowed.allowed
    assert allowed.number_class is NumberClass.INTERNATIONAL
    # the switch alone isn't enough: the user's level must include international calls
    domestic = subscriber(on, outbound_restriction="domestic")
    still = await policy.authorise("i3", on, domestic, outside(INTERNATIONAL))
    assert (still.allowed, still.rule) == (False, "restriction")


@pytest.mark.parametrize("status", ["suspended", "cancelled"])
async def test_a_suspended_enterprise_calls_nothing_but_emergency(
    policy: PolicyService, status: str
) -> None:
    tenant = nanjing(status=status)
    caller = subscriber(tenant, outbound_restriction="international")
    for dialled in (extension(), outside(LOCAL_LANDLINE), outside(OTHER_CITY_MOBILE)):
        decision = await policy.authorise("s", tenant, caller, dialled)
        assert (decision.allowed, decision.rule) == (False, "enterprise_suspended")
        assert decision.prompt == "call_not_permitted"
    for code in ("110", "119", "120", "122"):
        assert (await policy.authorise("e", tenant, caller, emergency(code))).allowed


async def test_validity_period_in_the_enterprise_time_zone(
    policy: PolicyService, clock: FakeClock
) -> None:
    tenant = nanjing()
    caller = subscriber(tenant, valid_from=date(2026, 1, 5), valid_until=date(2026, 1, 31))
    call = outside(LOCAL_LANDLINE)

    set_local(clock, "2026-01-04 23:59:59")
    before = await policy.authorise("v1", tenant, caller, call)
    assert (before.allowed, before.rule, before.prompt) == (False, "validity", "call_not_permitted")
    inside = await policy.authorise("v2", tenant, caller, extension())
    assert (inside.allowed, inside.rule) == (False, "validity")  # colleagues neither (item 18)

    set_local(clock, "2026-01-05 00:00:00")  # first day included (16:00 UTC the day before)
    assert (await policy.authorise("v3", tenant, caller, call)).allowed
    set_local(clock, "2026-01-31 23:59:59")  # last day included
    assert (await policy.authorise("v4", tenant, caller, call)).allowed
    set_local(clock, "2026-02-01 00:00:00")
    assert (await policy.authorise("v5", tenant, caller, call)).rule == "validity"


async def test_a_suspended_user_calls_nobody_but_emergency(
    policy: PolicyService, clock: FakeClock
) -> None:
    set_local(clock, "2026-01-07 10:00:00")
    tenant = nanjing()
    caller = subscriber(tenant, suspended=True)
    for call in (extension(), outside(LOCAL_LANDLINE)):
        decision = await policy.authorise("s1", tenant, caller, call)
        assert (decision.allowed, decision.rule, decision.prompt) == (
            False,
            "user_suspended",
            "call_not_permitted",
        )
    assert (await policy.authorise("s2", tenant, caller, emergency("110"))).allowed


async def test_emergency_goes_through_whatever_the_policy(
    policy: PolicyService, clock: FakeClock
) -> None:
    set_local(clock, "2026-01-10 03:00:00")  # a Saturday night
    tenant = nanjing(status="suspended")
    caller = subscriber(
        tenant,
        outbound_restriction="internal",
        outbound_time="workdays",
        monthly_minutes=0,
        valid_until=date(2025, 12, 31),
    )
    decision = await policy.authorise("sos", tenant, caller, emergency("119"))
    assert decision.allowed
    assert decision.number_class is NumberClass.EMERGENCY
    assert decision.max_seconds is None
    assert await policy.answered("sos") is None  # no limit, nothing billed
    await policy.ended("sos", 3600)
    assert policy.live_calls() == 0
