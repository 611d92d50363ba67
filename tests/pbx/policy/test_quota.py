"""Monthly minute quotas (ADM-18): billed per started minute, frozen when used up, unfrozen by a
raise or the month turning, and shared correctly by simultaneous calls (on SQLite and, with
ZONGJI_TEST_DATABASE_URL, on PostgreSQL)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from tests.pbx.policy.helpers import (
    LOCAL_LANDLINE,
    OTHER_CITY_MOBILE,
    extension,
    nanjing,
    outside,
    set_local,
    subscriber,
)
from zongji.pbx.contracts import Subscriber, TenantLine
from zongji.pbx.events import MinutesUsedUp
from zongji.pbx.policy.quota import MinuteQuota, billable_minutes
from zongji.pbx.policy.service import PolicyService
from zongji.platform.clock import FakeClock
from zongji.platform.db import Database
from zongji.services import Services


@pytest.fixture
def policy(services: Services) -> PolicyService:
    return services.pbx.policy


async def talk(
    policy: PolicyService,
    tenant: TenantLine,
    caller: Subscriber,
    seconds: int,
    call_id: str | None = None,
) -> int | None:
    """Place, answer and end one outside call; returns the limit given at answer."""
    call_id = call_id or uuid.uuid4().hex
    decision = await policy.authorise(call_id, tenant, caller, outside(OTHER_CITY_MOBILE))
    assert decision.allowed, decision
    limit = await policy.answered(call_id)
    await policy.ended(call_id, seconds)
    return limit


async def used(policy: PolicyService, tenant: TenantLine, caller: Subscriber) -> int:
    return (await policy.quota.standing(tenant.tenant_id, caller.user_id, "2026-01")).billed


def test_billing_is_per_started_minute() -> None:
    assert [billable_minutes(s) for s in (0, 1, 59, 60, 61, 119, 120, 121)] == [
        0, 1, 1, 1, 2, 2, 2, 3,
    ]  # fmt: skip


async def test_a_quota_used_up_freezes_outside_calls(policy: PolicyService) -> None:
    tenant = nanjing()
    caller = subscriber(tenant, monthly_minutes=3)
    first = await policy.authorise("a", tenant, caller, outside(LOCAL_LANDLINE))
    assert first.allowed
    assert first.max_seconds == 180
    assert await policy.answered("a") == 180  # the whole quota is this call's
    await policy.ended("a", 61)  # two started minutes
    assert await used(policy, tenant, caller) == 2

    assert await talk(policy, tenant, caller, 200) == 60  # one minute left: the limit says so
    assert await used(policy, tenant, caller) == 3  # an overrun past the limit isn't billed

    refused = await policy.authorise("b", tenant, caller, outside(LOCAL_LANDLINE))
    assert (refused.allowed, refused.rule, refused.prompt) == (
        False,
        "quota_exhausted",
        "minutes_used_up",
    )
    assert (await policy.authorise("c", tenant, caller, extension())).allowed  # internal: free


async def test_raising_the_quota_or_a_new_month_unfreezes(
    policy: PolicyService, clock: FakeClock
) -> None:
    set_local(clock, "2026-01-20 10:00:00")
    tenant = nanjing()
    caller = subscriber(tenant, monthly_minutes=1)
    await talk(policy, tenant, caller, 30)
    assert not (await policy.authorise("x", tenant, caller, outside(LOCAL_LANDLINE))).allowed

    raised = subscriber(tenant, user_id=caller.user_id, monthly_minutes=5)
    decision = await policy.authorise("y", tenant, raised, outside(LOCAL_LANDLINE))
    assert decision.allowed
    assert decision.max_seconds == 4 * 60
    await policy.ended("y", 0)

    set_local(clock, "2026-02-01 00:00:01")  # the month turns in the enterprise's time zone
    assert await talk(policy, tenant, caller, 10) == 60


async def test_unanswered_calls_cost_nothing_and_release_nothing(policy: PolicyService) -> None:
    tenant = nanjing()
    caller = subscriber(tenant, monthly_minutes=2)
    assert (await policy.authorise("n", tenant, caller, outside(LOCAL_LANDLINE))).allowed
    await policy.ended("n", 0)
    assert await used(policy, tenant, caller) == 0
    assert policy.live_calls() == 0


async def test_unlimited_users_are_billed_too(policy: PolicyService) -> None:
    tenant = nanjing()
    caller = subscriber(tenant, monthly_minutes=None)
    assert await talk(policy, tenant, caller, 125) is None  # no limit
    assert await used(policy, tenant, caller) == 3


async def test_two_simultaneous_calls_share_one_quota(policy: PolicyService) -> None:
    tenant = nanjing()
    caller = subscriber(tenant, monthly_minutes=5)
    assert (await policy.authorise("a", tenant, caller, outside(LOCAL_LANDLINE))).allowed
    assert (await policy.authorise("b", tenant, caller, outside(OTHER_CITY_MOBILE))).allowed
    # both answered at the same moment: one holds the five minutes, the other gets nothing
    limits = sorted(
        x or 0 for x in await asyncio.gather(policy.answered("a"), policy.answered("b"))
    )
    assert limits == [0, 300]
    # a third call finds nothing unreserved while the first is live
    third = await policy.authorise("c", tenant, caller, outside(LOCAL_LANDLINE))
    assert (third.allowed, third.rule) == (False, "quota_exhausted")
    await asyncio.gather(policy.ended("a", 299), policy.ended("b", 30))
    assert await used(policy, tenant, caller) == 5


async def test_a_second_call_gets_what_the_first_left(policy: PolicyService) -> None:
    tenant = nanjing()
    caller = subscriber(tenant, monthly_minutes=5)
    assert (await policy.authorise("a", tenant, caller, outside(LOCAL_LANDLINE))).allowed
    assert await policy.answered("a") == 300
    standing = await policy.quota.standing(tenant.tenant_id, caller.user_id, "2026-01")
    assert (standing.billed, standing.reserved) == (0, 5)
    await policy.ended("a", 90)  # two minutes billed, three released at once
    decision = await policy.authorise("b", tenant, caller, outside(LOCAL_LANDLINE))
    assert decision.allowed
    assert decision.max_seconds == 180
    assert await policy.answered("b") == 180
    await policy.ended("b", 180)
    standing = await policy.quota.standing(tenant.tenant_id, caller.user_id, "2026-01")
    assert (standing.billed, standing.reserved) == (5, 0)


async def test_many_concurrent_calls_never_bill_past_the_quota(policy: PolicyService) -> None:
    """Ten calls of one user at once, on the real database: the limits handed out at answer add
    up to the quota at most, and so does what is billed."""
    tenant = nanjing()
    caller = subscriber(tenant, monthly_minutes=7)
    ids = [f"call-{i}" for i in range(10)]
    for call_id in ids:
        assert (await policy.authorise(call_id, tenant, caller, outside(LOCAL_LANDLINE))).allowed
    limits = await asyncio.gather(*(policy.answered(c) for c in ids))
    assert sum(x or 0 for x in limits) == 7 * 60
    # each talks right up to its limit (and a second past it)
    await asyncio.gather(*(policy.ended(c, (x or 0) + 1) for c, x in zip(ids, limits, strict=True)))
    assert await used(policy, tenant, caller) == 7


async def test_a_reservation_left_by_a_dead_node_expires(
    services: Services, policy: PolicyService, clock: FakeClock
) -> None:
    tenant = nanjing()
    caller = subscriber(tenant, monthly_minutes=3)
    assert (await policy.authorise("lost", tenant, caller, outside(LOCAL_LANDLINE))).allowed
    assert await policy.answered("lost") == 180
    # the node dies: this call never ends. Another node (a fresh policy) still sees it held…
    from zongji.pbx.policy.service import PolicyService as Fresh

    other = Fresh(
        services.db,
        services.bus,
        clock,
        services.audit,
        services.directory.enterprises,
        services.directory.users,
    )
    held = await other.authorise("next", tenant, caller, outside(LOCAL_LANDLINE))
    assert (held.allowed, held.rule) == (False, "quota_exhausted")
    # …until the call can't possibly still be live (its limit and a grace period)
    clock.advance(3 * 60 + 5 * 60 + 1)
    assert await talk(other, tenant, caller, 10) == 180


async def test_using_up_the_month_is_announced(services: Services, policy: PolicyService) -> None:
    heard: list[MinutesUsedUp] = []

    async def listen(event: MinutesUsedUp) -> None:
        heard.append(event)

    services.bus.subscribe(MinutesUsedUp, listen)
    tenant = nanjing()
    caller = subscriber(tenant, monthly_minutes=2)
    await talk(policy, tenant, caller, 50)
    await services.bus.drain()
    assert heard == []  # one minute left
    await talk(policy, tenant, caller, 50)
    await services.bus.drain()
    assert heard == [
        MinutesUsedUp(
            tenant_id=tenant.tenant_id,
            user_id=caller.user_id,
            month="2026-01",
            monthly_minutes=2,
            billed_minutes=2,
            at=heard[0].at,
        )
    ]


async def test_a_database_failure_at_answer_keeps_the_limit_known_at_authorise(
    services: Services, policy: PolicyService, clock: FakeClock, tmp_path: Path
) -> None:
    tenant = nanjing()
    caller = subscriber(tenant, monthly_minutes=4)
    await talk(policy, tenant, caller, 61)  # two used, two left
    assert (await policy.authorise("x", tenant, caller, outside(LOCAL_LANDLINE))).allowed
    working = policy.quota
    # the database goes away between authorise and answer (a file that can't be opened)
    policy.quota = MinuteQuota(Database(f"sqlite+aiosqlite:///{tmp_path}/gone/db.sqlite"), clock)
    try:
        assert await policy.answered("x") == 120  # what was left at authorise, not unlimited
    finally:
        await policy.quota._db.dispose()
        policy.quota = working
    await policy.ended("x", 500)  # billing caps it at what is left
    assert await used(policy, tenant, caller) == 4
