"""Write-behind for the records of the calls this node carries: many calls, one transaction.

Each report of a call (opened, answered, its dialogs, routed, closed) used to be its own
transaction of one ORM statement; at a few hundred calls a second that was most of the node's
CPU (a Session, a transaction and a statement compiled per report, and on SQLite three trips
through the single writer per call). Here a report only changes the call's pending row in memory
and returns an awaitable that resolves once the row is in the database. Every `GATHER_SECONDS`
the writer takes what is pending, for every call and every enterprise, and writes it in one
transaction: new rows with one INSERT executemany, changes to rows already written with one
UPDATE executemany by primary key per set of columns, both Core statements (compiled once,
cached). Reports of one call that land in the same window are merged: a call answered before its
row was written is one INSERT that already holds the answer and the dialogs; a call refused at
once is one INSERT of its final row.

Why the platform scope: the batch spans enterprises, and a tenant session refuses Core
statements on tenant tables (`platform/db.py`). Nothing here comes from a request: every row's
`tenant_id` is the one the engine classified the call under (`CallStart`), written once at
INSERT, and every UPDATE addresses a row by the primary key this writer generated for it, so no
statement can reach another enterprise's row. (`devices/binding_store.py` writes one tenant
session per enterprise with ORM bulk statements; its batches are mostly refreshes of few
enterprises, these are many enterprises' calls at once.)

Durability: what a report's awaitable promises is that the row holds it. A node that dies loses
at most the reports of its last `GATHER_SECONDS` plus one transaction, which the engine bounds
further by awaiting the answer (with the dialogs) and the close. Transient database errors (a
busy SQLite lock, a dropped connection) are retried with backoff for up to `RETRY_SECONDS`, the
reports arriving meanwhile waiting for the next batch; any other error writes the batch's rows
one by one, so one bad row (a duplicate call id) never loses the others.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, bindparam, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from zongji.pbx.records.models import CallRecord
from zongji.platform.db import PLATFORM, Database
from zongji.platform.events import Event, EventBus

log = logging.getLogger(__name__)

GATHER_SECONDS = 0.03
"""How long a report waits for others before the writer writes: at 100 calls/s about ten
reports share a transaction, and it bounds what a crash can lose (with the transaction's time)."""
BATCH = 2000
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
    waiters: list[asyncio.Future[None]] = field(default_factory=list)


class RecordWriter:
    """The queue of row writes and the task that writes them (one per service)."""

    def __init__(
        self,
        db: Database,
        bus: EventBus,
        transient: Any,
        gather: float = GATHER_SECONDS,
        retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        self._db = db
        self._bus = bus
        self._transient = transient  # (Exception) -> bool: worth retrying
        self._gather = gather
        self._retry_seconds = retry_seconds
        self._pending: dict[uuid.UUID, _Pending] = {}
        self._writing: dict[uuid.UUID, _Pending] = {}  # the batch being written
        self._worker: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    # -- what the service queues ------------------------------------------------------------

    def insert(self, row_id: uuid.UUID, values: dict[str, Any]) -> Awaitable[None]:
        """A new row (every column of the table, `id` included)."""
        self._pending[row_id] = _Pending(insert=dict(values))
        return self._waiter(row_id)

    def update(
        self, row_id: uuid.UUID, values: dict[str, Any], event: Event | None = None
    ) -> Awaitable[None]:
        """Columns of a row queued or written before; `event` is published once they are."""
        pending = self._pending.get(row_id)
        if pending is None:
            pending = self._pending[row_id] = _Pending(insert=None)
        if pending.insert is not None:
            pending.insert.update(values)
        else:
            pending.changes.update(values)
        if event is not None:
            pending.events.append(event)
        return self._waiter(row_id)

    async def written(self) -> None:
        """Wait until what is queued or being written now is written (not what comes later:
        under load the writer is never idle). A read of rows this writer writes comes after
        this, so it sees every report made before it."""
        waiters = [
            waiter
            for rows in (self._writing, self._pending)
            for pending in rows.values()
            for waiter in pending.waiters
        ]
        if waiters:
            await asyncio.wait(waiters)

    async def drain(self) -> None:
        """Wait until every report queued so far is written (shutdown, tests)."""
        await self._idle.wait()

    @property
    def pending(self) -> int:
        """Rows with something not yet written."""
        return len(self._pending)

    # -- the worker ---------------------------------------------------------------------------

    def _waiter(self, row_id: uuid.UUID) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._pending[row_id].waiters.append(future)
        self._idle.clear()
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._run())
        return future

    async def _run(self) -> None:
        """Write until nothing is pending, then end (the next report starts a new worker)."""
        try:
            while self._pending:
                await asyncio.sleep(self._gather)  # let the reports of this moment gather
                ids = list(self._pending)[:BATCH]
                batch = {row_id: self._pending.pop(row_id) for row_id in ids}
                self._writing = batch
                try:
                    await self._write_batch(batch)
                finally:
                    self._writing = {}
                    for pending in batch.values():
                        for waiter in pending.waiters:
                            if not waiter.done():
                                waiter.set_result(None)
        finally:
            if not self._pending:
                self._idle.set()

    async def _write_batch(self, batch: dict[uuid.UUID, _Pending]) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._retry_seconds
        delay = 0.05
        while True:
            try:
                await self._write(batch)
                break
            except Exception as error:
                if not self._transient(error):
                    log.warning("call records batch refused (%s); writing row by row", error)
                    await self._write_one_by_one(batch)
                    return
                if loop.time() + delay > deadline:
                    log.exception("%d call records not written (database busy)", len(batch))
                    return
                log.warning("call records not written yet (database busy); retrying")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
        await self._publish(batch.values())

    async def _write_one_by_one(self, batch: dict[uuid.UUID, _Pending]) -> None:
        for row_id, pending in batch.items():
            try:
                await self._write({row_id: pending})
            except IntegrityError:  # (tenant, call_id) is unique
                log.warning("call opened twice; its record %s not written", row_id)
                continue
            except Exception:
                log.exception("call record %s not written", row_id)
                continue
            await self._publish([pending])

    async def _write(self, rows: dict[uuid.UUID, _Pending]) -> None:
        inserts = [p.insert for p in rows.values() if p.insert is not None]
        changes: dict[frozenset[str], list[dict[str, Any]]] = {}
        for row_id, pending in rows.items():
            if pending.insert is None and pending.changes:
                params = {"row_id": row_id, **pending.changes}
                changes.setdefault(frozenset(params), []).append(params)
        if not inserts and not changes:
            return
        session = self._db.session(PLATFORM, write=True)
        async with session, session.begin():
            connection: AsyncConnection = await session.connection()
            if inserts:
                await connection.execute(_INSERT, inserts)
            for same_columns in changes.values():
                await connection.execute(_UPDATE, same_columns)

    async def _publish(self, rows: Any) -> None:
        events = [event for pending in rows for event in pending.events]
        if events:
            try:
                await self._bus.publish(events)
            except Exception:
                log.exception("call.ended not published for %d calls", len(events))
