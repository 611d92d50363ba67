"""Billing the calls of users without a quota, written behind the calls, many per transaction.

Every answered outside call is billed (ADM-18: the admin sees every user's month). For a user
with a quota, billing is part of the locked transaction that releases the call's reservation
(`quota.py`); a user without one has no reservation and nothing to check, so their call's bill is
only "add these minutes and one call to the month". Doing that in a locked transaction of its own
per call made the policy a transaction per outside call. Here the bills of the calls that end in
the same moment are summed per (user, month) and written in one transaction for every
enterprise (`platform/write_behind.py`: at once when quiet, else at most once per
`GATHER_SECONDS`): an INSERT … ON CONFLICT DO NOTHING that makes the months' rows that are missing
(`usage.py`, the statement the locked path uses too), and an UPDATE that adds to them (relative,
so it needs no row lock and commutes with the locked path), each one executemany.

Why the platform scope: the batch spans enterprises, and a tenant session refuses Core
statements. Every row's tenant is the one the engine authorised the call under (the ticket),
never a request's, and the UPDATE names it in its WHERE beside the user and the month.

`bill()` returns an awaitable that resolves once the minutes are in the database; `written()`
lets the locked path (a reservation, a quota user's bill) first wait for what is queued, so a
quota set mid-month counts every minute already talked. A node that dies loses at most the bills
of its last window. Errors are retried like the records' (`RETRY_SECONDS`), then logged.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, bindparam, update
from sqlalchemy.ext.asyncio import AsyncConnection

from zongji.pbx.policy.models import MinuteUsage
from zongji.pbx.policy.usage import new_month, open_months
from zongji.platform.clock import Clock
from zongji.platform.db import Database
from zongji.platform.write_behind import RETRY_SECONDS, WriteBehind, transient

log = logging.getLogger(__name__)

GATHER_SECONDS = 0.05
"""The least time between two billing transactions' starts."""

_Key = tuple[uuid.UUID, uuid.UUID, str]  # (tenant, user, month)

_USAGE: Table = MinuteUsage.__table__  # type: ignore[assignment]
_ADD = (
    update(_USAGE)
    .where(
        _USAGE.c.tenant_id == bindparam("tenant"),
        _USAGE.c.user_id == bindparam("user"),
        _USAGE.c.month == bindparam("of_month"),
    )
    .values(
        billed_minutes=_USAGE.c.billed_minutes + bindparam("add_minutes"),
        calls=_USAGE.c.calls + bindparam("add_calls"),
        updated_at=bindparam("now"),
    )
)


@dataclass
class _Bill:
    minutes: int = 0
    calls: int = 0


class UnlimitedBilling:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        gather: float = GATHER_SECONDS,
        transient: Callable[[Exception], bool] = transient,
    ) -> None:
        self._clock = clock
        self._dialect = db.dialect
        self._bills: WriteBehind[_Key, _Bill] = WriteBehind(
            db,
            self._write,
            pace=gather,
            transient=transient,
            lost=_lost,
            retry_seconds=RETRY_SECONDS,
        )

    def bill(
        self, tenant_id: uuid.UUID, user_id: uuid.UUID, month: str, minutes: int
    ) -> Awaitable[None]:
        """Add a call of `minutes` (> 0) to the user's month."""
        key = (tenant_id, user_id, month)
        pending = self._bills.get(key) or _Bill()
        pending.minutes += minutes
        pending.calls += 1
        return self._bills.put(key, pending)

    async def written(self) -> None:
        """Wait until every bill queued or being written now is in the database."""
        await self._bills.written()

    async def drain(self) -> None:
        """Wait until every bill is written and the writer has given its connection back
        (the node stopping)."""
        await self._bills.drain()

    async def _write(self, connection: AsyncConnection, bills: dict[_Key, _Bill]) -> None:
        now = self._clock.now()
        await connection.execute(
            open_months(self._dialect),
            [new_month(tenant, user, month, now) for tenant, user, month in bills],
        )
        adds: list[dict[str, Any]] = [
            {
                "tenant": tenant,
                "user": user,
                "of_month": month,
                "add_minutes": bill.minutes,
                "add_calls": bill.calls,
                "now": now,
            }
            for (tenant, user, month), bill in bills.items()
        ]
        await connection.execute(_ADD, adds)


def _lost(bills: dict[_Key, _Bill], error: Exception) -> None:
    log.error(
        "%d calls not billed (%s): %s",
        sum(b.calls for b in bills.values()),
        error,
        [(str(k[1]), k[2], b.minutes) for k, b in bills.items()],
    )
