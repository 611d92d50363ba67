"""The quota's promises under a random mix of calls, several at once: at every moment billed +
held <= quota, no call is given more than what was left, and each call is billed exactly
min(ceil(talk / 60), its limit in minutes)."""

from __future__ import annotations

import asyncio
import math
import random

import pytest

from tests.pbx.policy.helpers import LOCAL_LANDLINE, nanjing, outside, subscriber
from zongji.pbx.policy.service import PolicyService
from zongji.services import Services

QUOTA = 12


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
async def test_random_calls_keep_the_quota(services: Services, seed: int) -> None:
    policy: PolicyService = services.pbx.policy
    rng = random.Random(seed)
    tenant = nanjing()
    caller = subscriber(tenant, monthly_minutes=QUOTA)
    ringing: list[str] = []
    live: dict[str, int] = {}  # call → limit in seconds
    expected_billed = 0
    counter = 0

    async def start() -> None:
        nonlocal counter
        counter += 1
        call_id = f"c{seed}-{counter}"
        decision = await policy.authorise(call_id, tenant, caller, outside(LOCAL_LANDLINE))
        if decision.allowed:
            ringing.append(call_id)

    async def answer(call_id: str) -> None:
        limit = await policy.answered(call_id)
        assert limit is not None
        live[call_id] = limit

    async def end(call_id: str, talk: int) -> None:
        nonlocal expected_billed
        limit = live.pop(call_id, 0)
        expected_billed += min(math.ceil(talk / 60) if talk > 0 else 0, limit // 60)
        await policy.ended(call_id, talk)

    for _ in range(60):
        steps = []
        for _ in range(rng.randint(1, 4)):  # a few things happen at the same moment
            choice = rng.random()
            if choice < 0.35 or not (ringing or live):
                steps.append(start())
            elif choice < 0.6 and ringing:
                steps.append(answer(ringing.pop(rng.randrange(len(ringing)))))
            elif choice < 0.7 and ringing:
                steps.append(end(ringing.pop(rng.randrange(len(ringing))), 0))  # never answered
            elif live:
                call_id = rng.choice([c for c in live if all(c not in str(s) for s in steps)])
                talk = rng.randint(0, live[call_id] + 30)  # sometimes past the limit
                steps.append(end(call_id, talk))
        await asyncio.gather(*steps)
        standing = await policy.quota.standing(tenant.tenant_id, caller.user_id, "2026-01")
        assert standing.billed + standing.reserved <= QUOTA
        assert standing.reserved * 60 == sum(live.values())
        assert standing.billed == expected_billed
    for call_id in list(live):
        await end(call_id, live[call_id])
    for call_id in ringing:
        await policy.ended(call_id, 0)
    standing = await policy.quota.standing(tenant.tenant_id, caller.user_id, "2026-01")
    assert (standing.billed, standing.reserved) == (expected_billed, 0)
    assert standing.billed <= QUOTA
    assert policy.live_calls() == 0
