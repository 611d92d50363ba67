"""The platform's write-behind (`platform/write_behind.py`): a lone change is written at once, the
changes made while a write is in flight or within the pace share the next transaction, transient
errors are retried, a refused batch is written entry by entry so one bad entry loses only itself,
and the worker gives its connection back when it is idle. The rows are real (the usage table of
the outbound policy, written with plain Core statements as an owner would)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Table, insert, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from zongji.pbx.policy.models import MinuteUsage
from zongji.platform.db import PLATFORM, Database, ScopeViolation, TenantScope
from zongji.platform.write_behind import WriteBehind
from zongji.services import Services

NOW = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
TENANT = uuid.UUID("01900000-0000-7000-8000-0000000000e1")
USAGE: Table = MinuteUsage.__table__  # type: ignore[assignment]
HANG_GUARD = 30.0  # seconds: only a broken worker gets near it


def never_transient(error: Exception) -> bool:
    return False


def operational(error: Exception) -> bool:
    return isinstance(error, OperationalError)


class Owner:
    """Writes each entry (a user's minutes) as a new usage row; records every transaction's
    keys; can be held inside a write, or made to fail the next few writes."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.hold: asyncio.Event | None = None
        self.writing = asyncio.Event()
        self.fail_next = 0
        self.lost: list[tuple[list[str], Exception]] = []
        self.users: dict[str, uuid.UUID] = {}

    def user(self, key: str) -> uuid.UUID:
        return self.users.setdefault(key, uuid.uuid4())

    async def write(self, connection: AsyncConnection, batch: dict[str, int]) -> None:
        self.writing.set()
        if self.hold is not None:
            await self.hold.wait()
        if self.fail_next:
            self.fail_next -= 1
            raise OperationalError("INSERT", {}, Exception("database is locked"))
        await connection.execute(
            insert(USAGE),
            [
                {
                    "id": uuid.uuid4(),
                    "tenant_id": TENANT,
                    "user_id": self.user(key),
                    "month": "2026-01",
                    "billed_minutes": minutes,
                    "calls": 1,
                    "updated_at": NOW,
                }
                for key, minutes in batch.items()
            ],
        )
        self.batches.append(sorted(batch))

    def on_lost(self, batch: dict[str, int], error: Exception) -> None:
        self.lost.append((sorted(batch), error))


_made: list[WriteBehind[str, int]] = []


@pytest.fixture(autouse=True)
async def drained(services: Services) -> AsyncIterator[None]:
    """Every batcher a test made has written and given its connection back before the
    database is closed (set up after `services`, so torn down before it): a worker still
    holding a connection when the loop closes leaves aiosqlite's thread calling into it."""
    yield
    made = list(_made)
    _made.clear()
    for changes in made:
        await asyncio.wait_for(changes.written(), HANG_GUARD)
        # a worker waiting out a long pace (an hour in one test) is ended rather than awaited;
        # its `finally` gives the connection back
        worker = changes._worker
        if worker is not None and not worker.done():
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker


def batcher(
    db: Database,
    owner: Owner,
    *,
    pace: float = 0.0,
    transient: object = never_transient,
    retry_seconds: float = 60.0,
) -> WriteBehind[str, int]:
    changes = WriteBehind(
        db,
        owner.write,
        pace=pace,
        transient=transient,  # type: ignore[arg-type]
        lost=owner.on_lost,
        retry_seconds=retry_seconds,
    )
    _made.append(changes)
    return changes


async def minutes_in_db(services: Services, owner: Owner) -> dict[str, int]:
    by_user = {user: key for key, user in owner.users.items()}
    async with services.db.session(PLATFORM) as session:
        rows = (await session.execute(select(USAGE.c.user_id, USAGE.c.billed_minutes))).all()
    return {by_user[user]: minutes for user, minutes in rows if user in by_user}


async def resolved(*waiters: asyncio.Future[None] | object) -> None:
    await asyncio.wait_for(asyncio.gather(*waiters), HANG_GUARD)  # type: ignore[arg-type]


async def test_a_lone_change_is_written_at_once_not_after_the_pace(services: Services) -> None:
    owner = Owner()
    changes = batcher(services.db, owner, pace=3600.0)  # an hour: only "at once" can finish
    await resolved(changes.put("a", 3))
    assert owner.batches == [["a"]]
    assert await minutes_in_db(services, owner) == {"a": 3}


async def test_changes_made_while_a_write_is_in_flight_share_the_next_transaction(
    services: Services,
) -> None:
    owner = Owner()
    owner.hold = asyncio.Event()
    changes = batcher(services.db, owner)  # no pace: pure group commit
    first = changes.put("a", 1)
    await owner.writing.wait()  # the worker is inside the first transaction
    later = [changes.put(f"b{i}", i) for i in range(10)]
    assert changes.pending == 10
    owner.hold.set()
    await resolved(first, *later)
    assert owner.batches == [["a"], sorted(f"b{i}" for i in range(10))]


async def test_changes_within_the_pace_wait_and_go_together(services: Services) -> None:
    owner = Owner()
    changes = batcher(services.db, owner, pace=0.5)
    await resolved(changes.put("a", 1))
    b = changes.put("b", 1)
    await asyncio.sleep(0)
    c = changes.put("c", 1)
    await resolved(b, c)
    assert owner.batches == [["a"], ["b", "c"]]


async def test_the_owner_merges_changes_of_one_key(services: Services) -> None:
    owner = Owner()
    changes = batcher(services.db, owner)
    one = changes.put("a", 1)
    two = changes.put("a", (changes.get("a") or 0) + 4)
    await resolved(one, two)
    assert owner.batches == [["a"]]
    assert await minutes_in_db(services, owner) == {"a": 5}


async def test_a_transient_error_is_retried_until_the_batch_is_written(
    services: Services,
) -> None:
    owner = Owner()
    owner.fail_next = 2
    changes = batcher(services.db, owner, transient=operational)
    await resolved(changes.put("a", 2), changes.put("b", 3))
    assert owner.batches == [["a", "b"]]  # written once, after two refusals
    assert owner.lost == []
    assert await minutes_in_db(services, owner) == {"a": 2, "b": 3}


async def test_a_batch_still_refused_at_its_deadline_is_given_up_and_its_waiters_resolved(
    services: Services,
) -> None:
    owner = Owner()
    owner.fail_next = 1000
    changes = batcher(services.db, owner, transient=operational, retry_seconds=0.0)
    await resolved(changes.put("a", 2))  # never raises
    assert [keys for keys, _ in owner.lost] == [["a"]]
    assert isinstance(owner.lost[0][1], OperationalError)
    owner.fail_next = 0
    await resolved(changes.put("b", 1))  # the worker goes on with the next changes
    assert await minutes_in_db(services, owner) == {"b": 1}


async def test_one_bad_entry_loses_only_itself(services: Services) -> None:
    owner = Owner()
    changes = batcher(services.db, owner)
    await resolved(changes.put("taken", 1))
    # the same user's month again: the unique (tenant, user, month) refuses it, not its batch
    again = changes.put("taken", 7)
    fine = [changes.put(f"fine{i}", i) for i in range(3)]
    await resolved(again, *fine)
    assert [keys for keys, _ in owner.lost] == [["taken"]]
    assert await minutes_in_db(services, owner) == {"taken": 1, "fine0": 0, "fine1": 1, "fine2": 2}


async def test_the_connection_is_held_while_busy_and_given_back_when_idle(
    services: Services,
) -> None:
    owner = Owner()
    owner.hold = asyncio.Event()
    pool = services.db.engine.pool
    before = pool.checkedout()  # type: ignore[attr-defined]
    changes = batcher(services.db, owner)
    written = changes.put("a", 1)
    await owner.writing.wait()
    assert pool.checkedout() == before + 1  # type: ignore[attr-defined]
    owner.hold.set()
    await resolved(written)
    await asyncio.wait_for(changes.drain(), HANG_GUARD)
    assert pool.checkedout() == before  # type: ignore[attr-defined]


async def test_written_waits_for_what_is_queued_and_in_flight(services: Services) -> None:
    owner = Owner()
    owner.hold = asyncio.Event()
    changes = batcher(services.db, owner)
    changes.put("a", 1)
    await owner.writing.wait()
    changes.put("b", 2)
    waiting = asyncio.ensure_future(changes.written())
    await asyncio.sleep(0)
    assert not waiting.done()
    owner.hold.set()
    await asyncio.wait_for(waiting, HANG_GUARD)
    assert await minutes_in_db(services, owner) == {"a": 1, "b": 2}


async def test_a_bare_connection_is_for_the_platform_scope_only(services: Services) -> None:
    with pytest.raises(ScopeViolation):
        services.db.connection(TenantScope(TENANT))  # type: ignore[arg-type]
    async with services.db.connection(PLATFORM) as connection:
        assert (await connection.execute(select(USAGE.c.id).limit(1))).all() == []
