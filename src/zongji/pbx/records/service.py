"""Writing call records (the `CallRecords` contract) and closing what a dead node left live.

The call engine reports each call three times: opened, answered (with the call's dialogs),
closed; a call the node answers itself (IVR, voicemail) also reports the caller's dialog. Each
report is its own short transaction, so a record is durable from the moment the call starts: if
the node dies mid-call, the open row (the journal, see `models.py`) survives with the call's
dialogs, and the node closes it as INTERRUPTED when it starts again (and ends the dialogs,
`calls/recovery.py`). The engine awaits these writes as the call proceeds, so they are kept to
one statement each for the calls this service opened (no read-back). Every write tolerates the
others being missing, late or repeated, and none of them raises into the engine: a record
problem must never drop a call. A database that is busy (SQLite's write lock held past its busy
timeout under overload) or briefly unreachable is retried with backoff for up to
`RETRY_SECONDS`, so a slow database delays a record instead of losing it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

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
from zongji.platform.clock import Clock
from zongji.platform.db import PLATFORM, Database, TenantScope
from zongji.platform.events import EventBus
from zongji.platform.nodes import NodeRegistry
from zongji.platform.uow import UnitOfWork
from zongji.sip.dialog import DialogSnapshot

log = logging.getLogger(__name__)

RETRY_SECONDS = 120.0
"""How long a record write keeps trying while the database is busy or unreachable."""


def transient(error: Exception) -> bool:
    """A database error worth retrying: a lock not granted in time, a dropped connection, a
    deadlock or serialisation failure. Anything else (a bug, bad data) is not."""
    if isinstance(error, OperationalError):
        return True
    if isinstance(error, DBAPIError):
        text = str(error.orig).lower()
        return error.connection_invalidated or "deadlock" in text or "serializ" in text
    return False


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
    return CallEnded(
        tenant_id=row.tenant_id,
        call_id=row.call_id,
        record_id=row.id,
        direction=CallDirection(row.direction),
        status=None if row.status is None else CallStatus(row.status),
        caller_number=row.caller_number,
        caller_user_id=row.caller_user_id,
        caller_name=row.caller_name,
        callee_number=row.callee_number,
        callee_user_id=row.callee_user_id,
        callee_name=row.callee_name,
        answered_by_user_id=row.answered_by_user_id,
        started_at=row.started_at,
        answered_at=row.answered_at,
        ended_at=row.ended_at,
        billable_seconds=row.billable_seconds,
    )


def _close_values(row: CallRecord, end: CallEnd) -> dict[str, Any]:
    """What closing `row` with `end` writes: the end never before the start or the answer."""
    ended_at = max(end.ended_at, row.started_at)
    if row.answered_at is not None and ended_at < row.answered_at:
        ended_at = row.answered_at
    seconds = billable_seconds(row.answered_at, ended_at)
    return {
        "ended_at": ended_at,
        "status": end.status.value,
        "hangup_side": end.hangup_side.value if end.hangup_side else None,
        "reason": _clip(end.reason, 255),
        "rule": _clip(end.rule, 64),
        "billable_seconds": seconds,
        "billed_minutes": billed_minutes(row.direction, seconds),
        "legs": None,  # its dialogs are over; nothing to end after a crash
    }


def _answer_values(
    row: CallRecord,
    at: datetime,
    by: Party | None,
    trunk_id: uuid.UUID | None,
    legs: Sequence[DialogSnapshot] = (),
) -> dict[str, Any]:
    values: dict[str, Any] = {"answered_at": max(at, row.started_at)}
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
        self._live: dict[str, CallRecord] = {}
        """The live calls this service opened, as written (detached rows): the engine reports
        answers and ends by call id alone, and with these each is one UPDATE, without reading
        the row back. A call opened elsewhere (a rebuilt service) takes the slower path."""

    # --- the contract ---------------------------------------------------------------------

    async def opened(self, start: CallStart) -> None:
        await persist("opened", start.call_id, lambda: self._open(start))

    async def answered(
        self,
        call_id: str,
        at: datetime,
        answered_by: Party | None = None,
        trunk_id: uuid.UUID | None = None,
        legs: Sequence[DialogSnapshot] = (),
    ) -> None:
        await persist(
            "answered", call_id, lambda: self._answer(call_id, at, answered_by, trunk_id, legs)
        )

    async def dialogs(self, call_id: str, legs: Sequence[DialogSnapshot]) -> None:
        await persist("dialogs", call_id, lambda: self._dialogs(call_id, legs))

    async def closed(self, call_id: str, end: CallEnd) -> None:
        try:
            await persist("closed", call_id, lambda: self._finish(call_id, end))
        finally:
            self._live.pop(call_id, None)

    async def routed(self, call_id: str, callee: Party) -> None:
        """The live call now rings `callee` (the IVR transferred it to the extension keyed in):
        it becomes the record's callee, so an unanswered transfer is that user's missed call."""
        await persist("routed", call_id, lambda: self._route(call_id, callee))

    async def _route(self, call_id: str, callee: Party) -> None:
        live = self._live.get(call_id)
        tenant_id = live.tenant_id if live is not None else await self._tenant_of(call_id)
        if tenant_id is None:
            return
        values = {
            "callee_number": callee.number[:64],
            "callee_user_id": callee.user_id,
            "callee_name": _clip(callee.name, 64),
        }
        async with UnitOfWork(self._db, self._bus, TenantScope(tenant_id)) as uow:
            changed = await _update(
                uow, values, CallRecord.call_id == call_id, CallRecord.ended_at.is_(None)
            )
        if changed and live is not None:
            for key, value in values.items():
                setattr(live, key, value)

    async def all_for(self, tenant_id: uuid.UUID, limit: int = 1000) -> list[CallRecordOut]:
        """The enterprise's latest records, newest first, live ones included (tests, tools)."""
        page = await self.search.page(tenant_id, CallFilters(), limit=limit)
        return page.items

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

    # --- the writes ---------------------------------------------------------------------------

    async def _open(self, start: CallStart) -> None:
        row = CallRecord(
            tenant_id=start.tenant_id,
            call_id=start.call_id,
            direction=start.direction.value,
            caller_number=start.caller.number[:64],
            caller_user_id=start.caller.user_id,
            caller_name=_clip(start.caller.name, 64),
            callee_number=start.callee.number[:64],
            callee_user_id=start.callee.user_id,
            callee_name=_clip(start.callee.name, 64),
            started_at=start.started_at,
            trunk_id=start.trunk_id,
            outside_number=_clip(start.outside_number, 32),
            billable_seconds=0,
            billed_minutes=0,
            node=self.node,
        )
        try:
            async with UnitOfWork(self._db, self._bus, TenantScope(start.tenant_id)) as uow:
                uow.session.add(row)
        except IntegrityError:  # (tenant, call_id) is unique
            log.warning("call opened twice", extra={"call_id": start.call_id})
            return
        self._live[start.call_id] = row  # detached now, its values as written

    async def _answer(
        self,
        call_id: str,
        at: datetime,
        by: Party | None,
        trunk_id: uuid.UUID | None,
        legs: Sequence[DialogSnapshot],
    ) -> None:
        live = self._live.get(call_id)
        if live is None:
            await self._answer_unknown(call_id, at, by, trunk_id, legs)
            return
        if live.answered_at is not None:
            return  # answered twice: the first answer stands
        values = _answer_values(live, at, by, trunk_id, legs)
        async with UnitOfWork(self._db, self._bus, TenantScope(live.tenant_id)) as uow:
            changed = await _update(
                uow,
                values,
                CallRecord.call_id == call_id,
                CallRecord.answered_at.is_(None),
                CallRecord.ended_at.is_(None),
            )
        if changed:
            for key, value in values.items():
                setattr(live, key, value)

    async def _answer_unknown(
        self,
        call_id: str,
        at: datetime,
        by: Party | None,
        trunk_id: uuid.UUID | None,
        legs: Sequence[DialogSnapshot],
    ) -> None:
        """An answer for a call this service did not open, or one already closed."""
        tenant_id = await self._tenant_of(call_id)
        if tenant_id is None:
            return
        async with UnitOfWork(self._db, self._bus, TenantScope(tenant_id)) as uow:
            row = await uow.session.scalar(select(CallRecord).where(CallRecord.call_id == call_id))
            if row is None or row.answered_at is not None:
                return  # gone, or answered twice: the first answer stands
            if row.ended_at is not None and at > row.ended_at:
                return  # an answer after the end is not one
            values = _answer_values(row, at, by, trunk_id, legs if row.ended_at is None else ())
            for key, value in values.items():
                setattr(row, key, value)
            if row.ended_at is not None:  # the close landed first: its talk time is this long
                row.billable_seconds = billable_seconds(row.answered_at, row.ended_at)
                row.billed_minutes = billed_minutes(row.direction, row.billable_seconds)

    async def _dialogs(self, call_id: str, legs: Sequence[DialogSnapshot]) -> None:
        live = self._live.get(call_id)
        tenant_id = live.tenant_id if live is not None else await self._tenant_of(call_id)
        if tenant_id is None or not legs:
            return
        values = {"legs": [leg.to_json() for leg in legs]}
        async with UnitOfWork(self._db, self._bus, TenantScope(tenant_id)) as uow:
            await _update(uow, values, CallRecord.call_id == call_id, CallRecord.ended_at.is_(None))

    async def _finish(self, call_id: str, end: CallEnd) -> None:
        live = self._live.get(call_id)
        if live is None:
            tenant_id = await self._tenant_of(call_id)
            if tenant_id is not None:
                await self._close_in(tenant_id, call_id, end)
            return
        values = _close_values(live, end)
        async with UnitOfWork(self._db, self._bus, TenantScope(live.tenant_id)) as uow:
            if await _update(
                uow, values, CallRecord.call_id == call_id, CallRecord.ended_at.is_(None)
            ):
                for key, value in values.items():
                    setattr(live, key, value)
                uow.publish(ended_event(live))

    async def _close_in(self, tenant_id: uuid.UUID, call_id: str, end: CallEnd) -> bool:
        async with UnitOfWork(self._db, self._bus, TenantScope(tenant_id)) as uow:
            row = await uow.session.scalar(select(CallRecord).where(CallRecord.call_id == call_id))
            if row is None or row.ended_at is not None:
                return False  # closed twice: the first close stands
            for key, value in _close_values(row, end).items():
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
