"""Billing the calls of users without a quota, written behind the calls, many per transaction.

Every answered outside call is billed (ADM-18: the admin sees every user's month). For a user
with a quota, billing is part of the locked transaction that releases the call's reservation
(`quota.py`); a user without one has no reservation and nothing to check, so their call's bill is
only "add these minutes and one call to the month". Doing that in a locked transaction of its own
per call made the policy a transaction per outside call. Here the bills of the calls that end in
the same `GATHER_SECONDS` are summed per (user, month) and written in one transaction per
enterprise: an INSERT … ON CONFLICT DO NOTHING that makes the month's row if it is missing, and
an UPDATE that adds to it (relative, so it needs no row lock and commutes with the locked path).

`bill()` returns an awaitable that resolves once the minutes are in the database; `written()`
lets the locked path (a reservation, a quota user's bill) first wait for what is queued, so a
quota set mid-month counts every minute already talked. A node that dies loses at most the bills
of its last window. Errors are retried like the records' (`RETRY_SECONDS`), then logged.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, OperationalError

from zongji.pbx.policy.models import MinuteUsage
from zongji.platform.clock import Clock
from zongji.platform.db import Database, TenantScope
from zongji.platform.ids import uuid7

log = logging.getLogger(__name__)

GATHER_SECONDS = 0.03
RETRY_SECONDS = 120.0

_Key = tuple[uuid.UUID, uuid.UUID, str]  # (tenant, user, month)


@dataclass
class _Bill:
    minutes: int = 0
    calls: int = 0
    waiters: list[asyncio.Future[None]] = field(default_factory=list)


def transient(error: Exception) -> bool:
    """Worth retrying: a lock not granted in time, a dropped connection, a deadlock."""
    if isinstance(error, OperationalError):
        return True
    if isinstance(error, DBAPIError):
        return error.connection_invalidated or "deadlock" in str(error.orig).lower()
    return False


class UnlimitedBilling:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        gather: float = GATHER_SECONDS,
        transient: Callable[[Exception], bool] = transient,
    ) -> None:
        self._db = db
        self._clock = clock
        self._transient = transient
        self._gather = gather
        self._pending: dict[_Key, _Bill] = {}
        self._writing: dict[_Key, _Bill] = {}
        self._worker: asyncio.Task[None] | None = None

    def bill(
        self, tenant_id: uuid.UUID, user_id: uuid.UUID, month: str, minutes: int
    ) -> Awaitable[None]:
        """Add a call of `minutes` (> 0) to the user's month."""
        loop = asyncio.get_running_loop()
        pending = self._pending.setdefault((tenant_id, user_id, month), _Bill())
        pending.minutes += minutes
        pending.calls += 1
        future: asyncio.Future[None] = loop.create_future()
        pending.waiters.append(future)
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._run())
        return future

    async def written(self) -> None:
        """Wait until every bill queued or being written now is in the database."""
        waiters = [
            waiter
            for bills in (self._writing, self._pending)
            for bill in bills.values()
            for waiter in bill.waiters
        ]
        if waiters:
            await asyncio.wait(waiters)

    async def _run(self) -> None:
        while self._pending:
            await asyncio.sleep(self._gather)
            batch, self._pending = self._pending, {}
            self._writing = batch
            try:
                await self._write_batch(batch)
            finally:
                self._writing = {}
                for bill in batch.values():
                    for waiter in bill.waiters:
                        if not waiter.done():
                            waiter.set_result(None)

    async def _write_batch(self, batch: dict[_Key, _Bill]) -> None:
        by_tenant: dict[uuid.UUID, dict[_Key, _Bill]] = {}
        for key, bill in batch.items():
            by_tenant.setdefault(key[0], {})[key] = bill
        loop = asyncio.get_running_loop()
        for tenant_id, bills in by_tenant.items():
            deadline = loop.time() + RETRY_SECONDS
            delay = 0.05
            while True:
                try:
                    await self._write(tenant_id, bills)
                    break
                except Exception as error:
                    if not self._transient(error) or loop.time() + delay > deadline:
                        log.exception(
                            "%d calls not billed: %s",
                            sum(b.calls for b in bills.values()),
                            [(str(k[1]), k[2], b.minutes) for k, b in bills.items()],
                        )
                        break
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def _write(self, tenant_id: uuid.UUID, bills: dict[_Key, _Bill]) -> None:
        now = self._clock.now()
        insert = postgresql.insert if self._db.dialect == "postgresql" else sqlite.insert
        session = self._db.session(TenantScope(tenant_id), write=True)
        async with session, session.begin():
            for (_, user_id, month), bill in bills.items():
                await session.execute(
                    insert(MinuteUsage)
                    .values(
                        id=uuid7(),
                        user_id=user_id,
                        month=month,
                        billed_minutes=0,
                        calls=0,
                        updated_at=now,
                    )
                    .on_conflict_do_nothing()
                )
                await session.execute(
                    update(MinuteUsage)
                    .where(MinuteUsage.user_id == user_id, MinuteUsage.month == month)
                    .values(
                        billed_minutes=MinuteUsage.billed_minutes + bill.minutes,
                        calls=MinuteUsage.calls + bill.calls,
                        updated_at=now,
                    )
                    .execution_options(synchronize_session=False)
                )
