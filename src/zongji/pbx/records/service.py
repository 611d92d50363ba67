"""Writing call records (the `CallRecords` contract) and closing what a dead node left live.

The call engine reports each call as it goes: opened, answered (with the call's dialogs),
closed; a call the node answers itself (IVR, voicemail) also reports the caller's dialog. For the
calls this service opened, a report changes the call's row in memory and is written behind the
call (`writer.py`): every few tens of milliseconds one transaction writes what every live call
reported, so a call costs one INSERT (opened, and answered if that came in the same window) and
one UPDATE (closed) shared with many other calls, instead of three transactions of its own. Each
report returns an awaitable that resolves when the row holds it; the engine awaits the answer and
the close, so a call's dialogs are durable a few tens of milliseconds after its 200 at most, and
a node that dies mid-call leaves its open row (the journal, see `models.py`) with the dialogs;
the node closes it as INTERRUPTED when it starts again (and ends the dialogs,
`calls/recovery.py`). Every write tolerates the others being missing, late or repeated (reports
for a call this service did not open, or already closed, take the slower path of one read and one
transaction each), and none of them raises into the engine: a record problem must never drop a
call. A database that is busy (SQLite's write lock held past its busy timeout under overload) or
briefly unreachable is retried with backoff for up to `RETRY_SECONDS`, so a slow database delays
a record instead of losing it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from zongji.pbx.contracts import (
    CallDirection,
    CallEnd,
    CallStart,
    CallStatus,
    HangupSide,
    Party,
)
from zongji.pbx.events import CallEnded
from zongji.pbx.records.export import CallRecordExport
from zongji.pbx.records.models import CallRecord
from zongji.pbx.records.search import CallFilters, CallRecordOut, CallRecordSearch
from zongji.pbx.records.stats import CallRecordStats, LiveCalls
from zongji.pbx.records.writer import RecordWriter
from zongji.platform.clock import Clock
from zongji.platform.db import PLATFORM, Database, TenantScope
from zongji.platform.events import EventBus
from zongji.platform.ids import uuid7
from zongji.platform.nodes import NodeRegistry, NodeState
from zongji.platform.uow import UnitOfWork
from zongji.platform.write_behind import transient
from zongji.sip import DialogSnapshot

log = logging.getLogger(__name__)

RETRY_SECONDS = 120.0
"""How long a record write keeps trying while the database is busy or unreachable."""


async def persist(what: str, call_id: str, write: Callable[[], Awaitable[None]]) -> None:
    """Run `write` until it succeeds, retrying transient database errors with backoff; log and
    give up on anything else or after `RETRY_SECONDS` (the engine never sees an exception)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + RETRY_SECONDS
    delay = 0.05
    while True:
        try:
            await write()
            return
        except Exception as error:
            if not transient(error) or loop.time() + delay > deadline:
                log.exception("call record not %s", what, extra={"call_id": call_id})
                return
            log.warning(
                "call record not %s yet (database busy); retrying", what, extra={"call_id": call_id}
            )
        await asyncio.sleep(delay)
        delay = min(delay * 2, 2.0)


def billable_seconds(answered_at: datetime | None, ended_at: datetime) -> int:
    """Talk time from answer to end, whole seconds (never negative: clocks of two hosts)."""
    if answered_at is None:
        return 0
    return max(0, int((ended_at - answered_at).total_seconds()))


def billed_minutes(direction: str, seconds: int) -> int:
    """Outbound calls are billed per started minute (61 s is 2 minutes); others are not billed."""
    if direction != CallDirection.OUTBOUND or seconds <= 0:
        return 0
    return math.ceil(seconds / 60)


def _clip(text: str | None, size: int) -> str | None:
    return None if text is None else text[:size]


def ended_event(row: CallRecord) -> CallEnded:
    """For what reacts to finished calls (missed-call notifications, statistics)."""
    return _ended_event({column: getattr(row, column) for column in _EVENT_COLUMNS})


_EVENT_COLUMNS = (
    "id", "tenant_id", "call_id", "direction", "status", "caller_number", "caller_user_id",
    "caller_name", "callee_number", "callee_user_id", "callee_name", "answered_by_user_id",
    "started_at", "answered_at", "ended_at", "billable_seconds",
)  # fmt: skip


def _ended_event(row: Mapping[str, Any]) -> CallEnded:
    """`CallEnded` of a row's values (a loaded row's, or a live call's as the writer writes it)."""
    return CallEnded(
        tenant_id=row["tenant_id"],
        call_id=row["call_id"],
        record_id=row["id"],
        direction=CallDirection(row["direction"]),
        status=None if row["status"] is None else CallStatus(row["status"]),
        caller_number=row["caller_number"],
        caller_user_id=row["caller_user_id"],
        caller_name=row["caller_name"],
        callee_number=row["callee_number"],
        callee_user_id=row["callee_user_id"],
        callee_name=row["callee_name"],
        answered_by_user_id=row["answered_by_user_id"],
        started_at=row["started_at"],
        answered_at=row["answered_at"],
        ended_at=row["ended_at"],
        billable_seconds=row["billable_seconds"],
    )


def _close_values(row: Mapping[str, Any], end: CallEnd) -> dict[str, Any]:
    """What closing `row` with `end` writes: the end never before the start or the answer."""
    ended_at = max(end.ended_at, row["started_at"])
    answered_at = row["answered_at"]
    if answered_at is not None and ended_at < answered_at:
        ended_at = answered_at
    seconds = billable_seconds(answered_at, ended_at)
    return {
        "ended_at": ended_at,
        "status": end.status.value,
        "hangup_side": end.hangup_side.value if end.hangup_side else None,
        "reason": _clip(end.reason, 255),
        "rule": _clip(end.rule, 64),
        "billable_seconds": seconds,
        "billed_minutes": billed_minutes(row["direction"], seconds),
        "legs": None,  # its dialogs are over; nothing to end after a crash
    }


def _answer_values(
    row: Mapping[str, Any],
    at: datetime,
    by: Party | None,
    trunk_id: uuid.UUID | None,
    legs: Sequence[DialogSnapshot] = (),
) -> dict[str, Any]:
    values: dict[str, Any] = {"answered_at": max(at, row["started_at"])}
    if legs:
        values["legs"] = [leg.to_json() for leg in legs]
    if by is not None:
        values["answered_by_number"] = by.number[:64]
        values["answered_by_user_id"] = by.user_id
        values["answered_by_name"] = _clip(by.name, 64)
    if trunk_id is not None:
        values["trunk_id"] = trunk_id
    return values


async def _update(uow: UnitOfWork, values: dict[str, Any], *where: Any) -> bool:
    """One ORM UPDATE (so the tenant scope applies) of the row matching `where`; did it?"""
    result = await uow.session.execute(
        update(CallRecord)
        .where(*where)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


@dataclass(frozen=True)
class InterruptedCall:
    """A call a dead node left live, closed now; its dialogs are still open at the phones."""

    tenant_id: uuid.UUID
    call_id: str
    legs: tuple[DialogSnapshot, ...]


def _snapshots(call_id: str, legs: Any) -> tuple[DialogSnapshot, ...]:
    found: list[DialogSnapshot] = []
    for data in legs if isinstance(legs, list) else []:
        try:
            found.append(DialogSnapshot.from_json(data))
        except ValueError:
            log.warning("unreadable dialog in call record", extra={"call_id": call_id})
    return tuple(found)


class CallRecordService:
    """The `CallRecords` implementation: one row per call, written as the call goes."""

    def __init__(
        self,
        db: Database,
        bus: EventBus,
        clock: Clock,
        node: str,
        nodes: NodeRegistry | None = None,
    ) -> None:
        self._db = db
        self._bus = bus
        self._clock = clock
        self.node = node
        self._nodes = nodes
        self.search = CallRecordSearch(db)
        self.export = CallRecordExport(self.search)
        self.stats = CallRecordStats(db)
        self.writer = RecordWriter(db, bus)
        self._live: dict[str, dict[str, Any]] = {}
        """The live calls this service opened: each row's values as they will be once what is
        queued is written (every column). The engine reports answers and ends by call id alone,
        and with these each is a change queued for the writer, never a read. A call opened
        elsewhere (a rebuilt service) takes the slower path."""

    # --- the contract ---------------------------------------------------------------------
    # Each report is queued at once (so the reports of one call are written in the order they
    # were made, whether or not the caller awaits them); the awaitable resolves once written.

    def opened(self, start: CallStart) -> Awaitable[None]:
        if start.call_id in self._live:
            log.warning("call opened twice", extra={"call_id": start.call_id})
            return _done()
        row = _open_values(start, self.node)
        self._live[start.call_id] = row
        return self.writer.insert(row["id"], row)

    def answered(
        self,
        call_id: str,
        at: datetime,
        answered_by: Party | None = None,
        trunk_id: uuid.UUID | None = None,
        legs: Sequence[DialogSnapshot] = (),
    ) -> Awaitable[None]:
        live = self._live.get(call_id)
        if live is None:
            return _later(
                persist(
                    "answered",
                    call_id,
                    lambda: self._answer_unknown(call_id, at, answered_by, trunk_id, legs),
                )
            )
        if live["answered_at"] is not None:
            return _done()  # answered twice: the first answer stands
        values = _answer_values(live, at, answered_by, trunk_id, legs)
        live.update(values)
        return self.writer.update(live["id"], values)

    def dialogs(self, call_id: str, legs: Sequence[DialogSnapshot]) -> Awaitable[None]:
        live = self._live.get(call_id)
        if live is None:
            return _later(persist("dialogs", call_id, lambda: self._dialogs(call_id, legs)))
        if not legs:
            return _done()
        values = {"legs": [leg.to_json() for leg in legs]}
        live.update(values)
        return self.writer.update(live["id"], values)

    def closed(self, call_id: str, end: CallEnd) -> Awaitable[None]:
        live = self._live.pop(call_id, None)
        if live is None:
            return _later(persist("closed", call_id, lambda: self._finish(call_id, end)))
        values = _close_values(live, end)
        live.update(values)
        return self.writer.update(live["id"], values, _ended_event(live))

    def routed(self, call_id: str, callee: Party) -> Awaitable[None]:
        """The live call now rings `callee` (the IVR transferred it to the extension keyed in):
        it becomes the record's callee, so an unanswered transfer is that user's missed call."""
        values = {
            "callee_number": callee.number[:64],
            "callee_user_id": callee.user_id,
            "callee_name": _clip(callee.name, 64),
        }
        live = self._live.get(call_id)
        if live is None:
            return _later(persist("routed", call_id, lambda: self._route(call_id, values)))
        live.update(values)
        return self.writer.update(live["id"], values)

    async def drain(self) -> None:
        """Wait until every report made so far is written (the node stopping, tests)."""
        await self.writer.drain()

    async def all_for(self, tenant_id: uuid.UUID, limit: int = 1000) -> list[CallRecordOut]:
        """The enterprise's latest records, newest first, live ones included (tests, tools)."""
        await self.writer.written()
        page = await self.search.page(tenant_id, CallFilters(), limit=limit)
        return page.items

    async def live(self, tenant_id: uuid.UUID) -> LiveCalls:
        """The enterprise's calls in progress now, on every node: its open records (`status IS
        NULL` until a call is closed, on the `(tenant_id, status, …)` index) on this node and
        the nodes the registry holds as starting, running or stopping. Records a dead node left
        open are not counted (its heartbeat went stale, or it stopped): they are closed as
        interrupted when that node starts again."""
        await self.writer.written()
        # One row per live call, counted here: a GROUP BY direction made SQLite walk the
        # `(tenant_id, direction, …)` index over every record of the enterprise instead.
        stmt = select(CallRecord.direction).where(CallRecord.status.is_(None))
        if self._nodes is not None:
            alive = {self.node} | {
                n.name
                for n in await self._nodes.all()
                if n.state in (NodeState.STARTING, NodeState.RUNNING, NodeState.STOPPING)
            }
            stmt = stmt.where(CallRecord.node.in_(sorted(alive)))
        async with self._db.session(TenantScope(tenant_id)) as session:
            directions = (await session.scalars(stmt)).all()
        live = LiveCalls()
        for direction in directions:
            live.add(direction, 1)
        return live

    async def latest_inbound(self, caller_number: str, since: datetime) -> CallRecordOut | None:
        """The newest inbound record from `caller_number` started at or after `since`, in any
        enterprise (platform tools: `zongji demo call` finds the record of the call it placed;
        the engine records calls under its own ids, not the caller's Call-ID)."""
        async with self._db.session(PLATFORM) as session:
            row = await session.scalar(
                select(CallRecord)
                .where(
                    CallRecord.direction == CallDirection.INBOUND.value,
                    CallRecord.caller_number == caller_number,
                    CallRecord.started_at >= since,
                )
                .order_by(CallRecord.started_at.desc())
                .limit(1)
            )
        return CallRecordOut.of(row) if row is not None else None

    # --- recovery ---------------------------------------------------------------------------

    async def recover_interrupted(self) -> int:
        """`close_interrupted()`, counted."""
        return len(await self.close_interrupted())

    async def close_interrupted(self) -> list[InterruptedCall]:
        """Close every call this node left live as INTERRUPTED ("node failure"); return them
        with the dialogs they still had, for the node to end with a BYE each.

        Called by the node at start, before it takes calls: a node that stops normally ends its
        calls first, so a live record left behind means the node died. The end time is the
        node's last heartbeat of its previous run when known (the node was alive until about
        then), else now; never before the call started or was answered."""
        heartbeat = await self._nodes.previous_heartbeat() if self._nodes is not None else None
        now = self._clock.now()
        until = min(heartbeat, now) if heartbeat is not None else now
        async with self._db.session(PLATFORM) as session:
            live = (
                await session.execute(
                    select(CallRecord.tenant_id, CallRecord.call_id, CallRecord.legs).where(
                        CallRecord.node == self.node, CallRecord.ended_at.is_(None)
                    )
                )
            ).all()
        closed: list[InterruptedCall] = []
        end = CallEnd(CallStatus.INTERRUPTED, until, HangupSide.SYSTEM, reason="node failure")
        for tenant_id, call_id, legs in live:
            if await self._close_in(tenant_id, call_id, end):
                closed.append(InterruptedCall(tenant_id, call_id, _snapshots(call_id, legs)))
        if closed:
            log.warning(
                "calls interrupted by a node failure closed",
                extra={"node": self.node, "calls": len(closed)},
            )
        return closed

    # --- the slower path: calls this service did not open, or has closed ----------------------

    async def _route(self, call_id: str, values: dict[str, Any]) -> None:
        await self.writer.written()
        tenant_id = await self._tenant_of(call_id)
        if tenant_id is None:
            return
        async with UnitOfWork(self._db, self._bus, TenantScope(tenant_id)) as uow:
            await _update(uow, values, CallRecord.call_id == call_id, CallRecord.ended_at.is_(None))

    async def _answer_unknown(
        self,
        call_id: str,
        at: datetime,
        by: Party | None,
        trunk_id: uuid.UUID | None,
        legs: Sequence[DialogSnapshot],
    ) -> None:
        """An answer for a call this service did not open, or one already closed."""
        await self.writer.written()  # the close of the call may still be on its way
        tenant_id = await self._tenant_of(call_id)
        if tenant_id is None:
            return
        async with UnitOfWork(self._db, self._bus, TenantScope(tenant_id)) as uow:
            row = await uow.session.scalar(select(CallRecord).where(CallRecord.call_id == call_id))
            if row is None or row.answered_at is not None:
                return  # gone, or answered twice: the first answer stands
            if row.ended_at is not None and at > row.ended_at:
                return  # an answer after the end is not one
            values = _answer_values(
                _times_of(row), at, by, trunk_id, legs if row.ended_at is None else ()
            )
            for key, value in values.items():
                setattr(row, key, value)
            if row.ended_at is not None:  # the close landed first: its talk time is this long
                row.billable_seconds = billable_seconds(row.answered_at, row.ended_at)
                row.billed_minutes = billed_minutes(row.direction, row.billable_seconds)

    async def _dialogs(self, call_id: str, legs: Sequence[DialogSnapshot]) -> None:
        await self.writer.written()
        tenant_id = await self._tenant_of(call_id)
        if tenant_id is None or not legs:
            return
        values = {"legs": [leg.to_json() for leg in legs]}
        async with UnitOfWork(self._db, self._bus, TenantScope(tenant_id)) as uow:
            await _update(uow, values, CallRecord.call_id == call_id, CallRecord.ended_at.is_(None))

    async def _finish(self, call_id: str, end: CallEnd) -> None:
        await self.writer.written()
        tenant_id = await self._tenant_of(call_id)
        if tenant_id is not None:
            await self._close_in(tenant_id, call_id, end)

    async def _close_in(self, tenant_id: uuid.UUID, call_id: str, end: CallEnd) -> bool:
        async with UnitOfWork(self._db, self._bus, TenantScope(tenant_id)) as uow:
            row = await uow.session.scalar(select(CallRecord).where(CallRecord.call_id == call_id))
            if row is None or row.ended_at is not None:
                return False  # closed twice: the first close stands
            for key, value in _close_values(_times_of(row), end).items():
                setattr(row, key, value)
            uow.publish(ended_event(row))
        return True

    async def _tenant_of(self, call_id: str) -> uuid.UUID | None:
        """The enterprise of a call this service does not remember (it was rebuilt, or the call
        is closed already), looked up among this node's records."""
        async with self._db.session(PLATFORM) as session:
            found: list[Any] = list(
                (
                    await session.scalars(
                        select(CallRecord.tenant_id)
                        .where(CallRecord.call_id == call_id, CallRecord.node == self.node)
                        .order_by(CallRecord.started_at.desc())
                        .limit(1)
                    )
                ).all()
            )
        if not found:
            log.warning("call record not found", extra={"call_id": call_id})
            return None
        tenant: uuid.UUID = found[0]
        return tenant


def _open_values(start: CallStart, node: str) -> dict[str, Any]:
    """The new row of a call: every column of the table (the writer inserts many at once)."""
    return {
        "id": uuid7(),
        "tenant_id": start.tenant_id,
        "call_id": start.call_id,
        "direction": start.direction.value,
        "caller_number": start.caller.number[:64],
        "caller_user_id": start.caller.user_id,
        "caller_name": _clip(start.caller.name, 64),
        "callee_number": start.callee.number[:64],
        "callee_user_id": start.callee.user_id,
        "callee_name": _clip(start.callee.name, 64),
        "answered_by_number": None,
        "answered_by_user_id": None,
        "answered_by_name": None,
        "started_at": start.started_at,
        "answered_at": None,
        "ended_at": None,
        "billable_seconds": 0,
        "billed_minutes": 0,
        "trunk_id": start.trunk_id,
        "outside_number": _clip(start.outside_number, 32),
        "status": None,
        "reason": None,
        "rule": None,
        "hangup_side": None,
        "node": node,
        "legs": None,
    }


def _times_of(row: CallRecord) -> dict[str, Any]:
    """What `_answer_values` and `_close_values` read of a row loaded from the database."""
    return {
        "started_at": row.started_at,
        "answered_at": row.answered_at,
        "direction": row.direction,
    }


def _done() -> Awaitable[None]:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    future.set_result(None)
    return future


def _later(write: Awaitable[None]) -> Awaitable[None]:
    """A report on the slower path, started now (so it is made whether or not it is awaited)."""
    return asyncio.ensure_future(write)
