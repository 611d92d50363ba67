"""Write-behind for the records of the calls this node carries: many calls, one transaction.

Each report of a call (opened, answered, its dialogs, routed, closed) used to be its own
transaction of one ORM statement; at a few hundred calls a second that was most of the node's
CPU (a Session, a transaction and a statement compiled per report, and on SQLite three trips
through the single writer per call). Here a report only changes the call's pending row in memory
and returns an awaitable that resolves once the row is in the database. The writer
(`platform/write_behind.py`) takes what is pending, for every call and every enterprise, and
writes it in one transaction: at once when it has been quiet, else at most once per
`GATHER_SECONDS` with everything that came meanwhile (a batch grows with the load, the
transactions a second do not). New rows go in with one INSERT executemany, changes to rows
already written with one UPDATE executemany by primary key per set of columns, both Core
statements built once, on a plain connection (no Session). Reports of one call that land in the
same batch are merged: a call answered before its row was written is one INSERT that already
holds the answer and the dialogs; a call refused at once is one INSERT of its final row.

Why the platform scope: the batch spans enterprises, and a tenant session refuses Core
statements on tenant tables (`platform/db.py`). Nothing here comes from a request: every row's
`tenant_id` is the one the engine classified the call under (`CallStart`), written once at
INSERT, and every UPDATE addresses a row by the primary key this writer generated for it, so no
statement can reach another enterprise's row.

Durability: what a report's awaitable promises is that the row holds it. A node that dies loses
at most the reports of its last `GATHER_SECONDS` plus one transaction, which the engine bounds
further by awaiting the answer (with the dialogs) and the close. Transient database errors (a
busy SQLite lock, a dropped connection) are retried with backoff for up to `RETRY_SECONDS`, the
reports arriving meanwhile waiting for the next batch; any other error writes the batch's rows
one by one, so one bad row (a duplicate call id) never loses the others.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, bindparam, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from zongji.pbx.records.models import CallRecord
from zongji.platform.db import Database
from zongji.platform.events import Event, EventBus
from zongji.platform.write_behind import WriteBehind, transient

log = logging.getLogger(__name__)

GATHER_SECONDS = 0.05
"""The least time between two transactions' starts: at 100 calls/s about a dozen reports share a
transaction, and it bounds what a crash can lose (with the transaction's time). On SQLite a
transaction costs the node about 1.5 ms of CPU whatever its size (most of it the hand-offs to
aiosqlite's thread, three per statement), so this is what sets the records' CPU per call at
moderate rates: 30 ms made it ~33 transactions a second, 50 ms 20."""
RETRY_SECONDS = 120.0
"""How long a batch keeps trying while the database is busy or unreachable."""

TABLE: Table = CallRecord.__table__  # type: ignore[assignment]
_INSERT = insert(TABLE)
_UPDATE = update(TABLE).where(TABLE.c.id == bindparam("row_id"))


@dataclass
class _Pending:
    """What is still to be written of one row."""

    insert: dict[str, Any] | None  # the whole row, if it is not in the database yet
    changes: dict[str, Any] = field(default_factory=dict)  # columns of a row already written
    events: list[Event] = field(default_factory=list)  # published once the row is written


class RecordWriter:
    """The queue of row writes and the worker that writes them (one per service)."""

    def __init__(
        self,
        db: Database,
        bus: EventBus,
        transient: Callable[[Exception], bool] = transient,
        gather: float = GATHER_SECONDS,
        retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        self._bus = bus
        self._rows: WriteBehind[uuid.UUID, _Pending] = WriteBehind(
            db,
            _write,
            pace=gather,
            transient=transient,
            after_commit=self._publish,
            lost=_lost,
            retry_seconds=retry_seconds,
        )

    # -- what the service queues ------------------------------------------------------------

    def insert(self, row_id: uuid.UUID, values: dict[str, Any]) -> Awaitable[None]:
        """A new row (every column of the table, `id` included)."""
        return self._rows.put(row_id, _Pending(insert=dict(values)))

    def update(
        self, row_id: uuid.UUID, values: dict[str, Any], event: Event | None = None
    ) -> Awaitable[None]:
        """Columns of a row queued or written before; `event` is published once they are."""
        pending = self._rows.get(row_id) or _Pending(insert=None)
        if pending.insert is not None:
            pending.insert.update(values)
        else:
            pending.changes.update(values)
        if event is not None:
            pending.events.append(event)
        return self._rows.put(row_id, pending)

    async def written(self) -> None:
        """Wait until what is queued or being written now is written (not what comes later:
        under load the writer is never idle). A read of rows this writer writes comes after
        this, so it sees every report made before it."""
        await self._rows.written()

    async def drain(self) -> None:
        """Wait until every report queued so far is written (shutdown, tests)."""
        await self._rows.drain()

    @property
    def pending(self) -> int:
        """Rows with something not yet written."""
        return self._rows.pending

    async def _publish(self, rows: dict[uuid.UUID, _Pending]) -> None:
        events = [event for pending in rows.values() for event in pending.events]
        if events:
            try:
                await self._bus.publish(events)
            except Exception:
                log.exception("call.ended not published for %d calls", len(events))


async def _write(connection: AsyncConnection, rows: dict[uuid.UUID, _Pending]) -> None:
    inserts = [p.insert for p in rows.values() if p.insert is not None]
    changes: dict[frozenset[str], list[dict[str, Any]]] = {}
    for row_id, pending in rows.items():
        if pending.insert is None and pending.changes:
            params = {"row_id": row_id, **pending.changes}
            changes.setdefault(frozenset(params), []).append(params)
    if inserts:
        await connection.execute(_INSERT, inserts)
    for same_columns in changes.values():
        await connection.execute(_UPDATE, same_columns)


def _lost(rows: dict[uuid.UUID, _Pending], error: Exception) -> None:
    if isinstance(error, IntegrityError):  # (tenant, call_id) is unique
        log.warning("call opened twice; its record %s not written", ", ".join(map(str, rows)))
    else:
        log.error("%d call records not written: %s", len(rows), error)
