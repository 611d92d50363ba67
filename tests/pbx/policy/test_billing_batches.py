"""Bills behind the calls (`policy/billing.py`) of several enterprises share one transaction,
each added to its own enterprise's user and month only."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import event

from tests.pbx.lines import nanjing, subscriber
from zongji.services import Services

MONTH = "2026-01"


async def test_bills_of_several_enterprises_are_one_transaction(services: Services) -> None:
    policy = services.pbx.policy
    acme, other = nanjing(), nanjing()
    alice = subscriber(acme)
    bob = subscriber(other, user_id=alice.user_id)  # the same user id in another enterprise
    commits: list[int] = []
    engine = services.db.engine.sync_engine

    def on_commit(conn: Any) -> None:
        commits.append(1)

    await policy.billing.bill(acme.tenant_id, uuid.uuid4(), MONTH, 1)  # the writer is busy now
    event.listen(engine, "commit", on_commit)
    try:
        first = policy.billing.bill(acme.tenant_id, alice.user_id, MONTH, 2)
        second = policy.billing.bill(other.tenant_id, bob.user_id, MONTH, 5)
        third = policy.billing.bill(acme.tenant_id, alice.user_id, MONTH, 1)
        await first
        await second
        await third
    finally:
        event.remove(engine, "commit", on_commit)
    assert len(commits) == 1
    mine = await policy.quota.standing(acme.tenant_id, alice.user_id, MONTH)
    theirs = await policy.quota.standing(other.tenant_id, bob.user_id, MONTH)
    assert (mine.billed, mine.calls) == (3, 2)
    assert (theirs.billed, theirs.calls) == (5, 1)
