"""Billing users without a quota behind their calls (`policy/billing.py`): the calls ending in
the same moment share one transaction, nothing is lost or counted twice, and a quota set
afterwards counts the minutes still on their way."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from tests.pbx.lines import nanjing, subscriber
from tests.pbx.policy.helpers import OTHER_CITY_MOBILE, extension, outside
from zongji.pbx.contracts import Subscriber, TenantLine
from zongji.pbx.policy.service import PolicyService
from zongji.services import Services

MONTH = "2026-01"


@pytest.fixture
def policy(services: Services) -> PolicyService:
    return services.pbx.policy


@contextmanager
def commits(services: Services) -> Iterator[list[int]]:
    seen: list[int] = []
    engine = services.db.engine.sync_engine

    def on_commit(conn: Any) -> None:
        seen.append(1)

    event.listen(engine, "commit", on_commit)
    try:
        yield seen
    finally:
        event.remove(engine, "commit", on_commit)


async def answered_call(policy: PolicyService, tenant: TenantLine, caller: Subscriber) -> str:
    call_id = uuid.uuid4().hex
    decision = await policy.authorise(call_id, tenant, caller, outside(OTHER_CITY_MOBILE))
    assert decision.allowed
    assert await policy.answered(call_id) is None  # no quota: no limit, no reservation
    return call_id


async def billed(policy: PolicyService, tenant: TenantLine, caller: Subscriber) -> tuple[int, int]:
    standing = await policy.quota.standing(tenant.tenant_id, caller.user_id, MONTH)
    return standing.billed, standing.calls


async def test_the_calls_ending_together_are_billed_in_one_transaction(
    policy: PolicyService, services: Services
) -> None:
    tenant = nanjing()
    alice, bob = subscriber(tenant), subscriber(tenant)
    calls = [await answered_call(policy, tenant, who) for who in (alice, alice, alice, bob, bob)]
    with commits(services) as seen:
        await asyncio.gather(
            *(policy.ended(call_id, 61) for call_id in calls),  # two minutes each
            policy.ended(await answered_call(policy, tenant, bob), 0),  # nothing to bill
        )
    assert len(seen) == 1
    assert await billed(policy, tenant, alice) == (6, 3)
    assert await billed(policy, tenant, bob) == (4, 2)
    await policy.ended(await answered_call(policy, tenant, bob), 1)  # the row exists: added to
    assert await billed(policy, tenant, bob) == (5, 3)


async def test_a_quota_counts_the_minutes_still_being_billed(policy: PolicyService) -> None:
    tenant = nanjing()
    caller = subscriber(tenant)
    policy.billing.bill(tenant.tenant_id, caller.user_id, MONTH, 4)  # queued, not yet written
    limited = subscriber(tenant, user_id=caller.user_id, monthly_minutes=10)
    decision = await policy.authorise("q", tenant, limited, outside(OTHER_CITY_MOBILE))
    assert decision.max_seconds == 6 * 60
    assert await policy.answered("q") == 6 * 60
    await policy.ended("q", 30)
    assert await billed(policy, tenant, caller) == (5, 2)


async def test_internal_calls_and_unanswered_ones_write_nothing(
    policy: PolicyService, services: Services
) -> None:
    tenant = nanjing()
    caller = subscriber(tenant)
    with commits(services) as seen:
        decision = await policy.authorise("i", tenant, caller, extension("8002"))
        await policy.answered("i")
        await policy.ended("i", 300)
        unanswered = await policy.authorise("u", tenant, caller, outside(OTHER_CITY_MOBILE))
        assert unanswered.allowed
        await policy.ended("u", 0)
    assert decision.allowed
    assert seen == []
