"""Finding call records (ADM-22..24) and a user's own call history.

Newest first, keyset-paginated on `(started_at, id)` like the directory's lists, so a page
never repeats or skips a record when calls are added while someone pages through.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, and_, or_, select

from zongji.pbx.contracts import CallDirection, CallStatus, HangupSide
from zongji.pbx.records.models import CallRecord
from zongji.platform.db import Database, TenantScope
from zongji.platform.errors import Problem


class Match(StrEnum):
    CONTAINS = "contains"
    EXACT = "exact"


class HistoryKind(StrEnum):
    OUTGOING = "outgoing"
    INCOMING = "incoming"
    MISSED = "missed"


MISSED_STATUSES = (
    CallStatus.NO_ANSWER,
    CallStatus.VOICEMAIL,
    CallStatus.CANCELLED,
    CallStatus.BUSY,
)
"""An incoming call the user did not take: it rang out, went to voicemail, the caller gave up,
or every device was busy."""


@dataclass(frozen=True)
class CallFilters:
    direction: CallDirection | None = None
    caller: str | None = None  # number or name
    callee: str | None = None
    match: Match = Match.CONTAINS
    since: datetime | None = None  # started at or after
    until: datetime | None = None  # started before
    statuses: tuple[CallStatus, ...] = ()
    user_id: uuid.UUID | None = None  # as caller, callee or the one who answered

    def check(self) -> None:
        if self.since and self.until and self.since >= self.until:
            raise Problem(
                400,
                "invalid_time_range",
                "The time range is empty: 'from' must be before 'to'.",
                "时间范围无效：开始时间须早于结束时间。",
            )
        for value in (self.since, self.until):
            if value is not None and value.tzinfo is None:
                raise Problem(
                    400,
                    "time_without_zone",
                    "Times must carry a time zone (e.g. 2026-01-05T09:00:00+08:00).",
                    "时间须带时区（例如 2026-01-05T09:00:00+08:00）。",
                )


class CallRecordOut(BaseModel):
    id: uuid.UUID
    call_id: str
    direction: CallDirection
    caller_number: str
    caller_user_id: uuid.UUID | None
    caller_name: str | None
    callee_number: str
    callee_user_id: uuid.UUID | None
    callee_name: str | None
    answered_by_number: str | None
    answered_by_user_id: uuid.UUID | None
    answered_by_name: str | None
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None  # None: the call is still going
    billable_seconds: int
    billed_minutes: int
    trunk_id: uuid.UUID | None
    outside_number: str | None
    status: CallStatus | None  # None while the call is live
    reason: str | None
    rule: str | None
    hangup_side: HangupSide | None

    @classmethod
    def of(cls, row: CallRecord) -> CallRecordOut:
        return cls.model_validate(row, from_attributes=True)


class CallRecordPage(BaseModel):
    items: list[CallRecordOut]
    next_cursor: str | None


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _party(number: Any, name: Any, text: str, match: Match) -> ColumnElement[bool]:
    if match is Match.EXACT:
        return or_(number == text, name == text)
    pattern = _like(text)
    return or_(number.like(pattern, escape="\\"), name.like(pattern, escape="\\"))


def conditions(f: CallFilters) -> list[ColumnElement[bool]]:
    c: list[ColumnElement[bool]] = []
    if f.direction is not None:
        c.append(CallRecord.direction == f.direction.value)
    if f.caller:
        c.append(_party(CallRecord.caller_number, CallRecord.caller_name, f.caller, f.match))
    if f.callee:
        callee = _party(CallRecord.callee_number, CallRecord.callee_name, f.callee, f.match)
        answered = _party(
            CallRecord.answered_by_number, CallRecord.answered_by_name, f.callee, f.match
        )
        c.append(or_(callee, answered))
    if f.since is not None:
        c.append(CallRecord.started_at >= f.since)
    if f.until is not None:
        c.append(CallRecord.started_at < f.until)
    if f.statuses:
        c.append(CallRecord.status.in_([s.value for s in f.statuses]))
    if f.user_id is not None:
        c.append(
            or_(
                CallRecord.caller_user_id == f.user_id,
                CallRecord.callee_user_id == f.user_id,
                CallRecord.answered_by_user_id == f.user_id,
            )
        )
    return c


def history_conditions(user_id: uuid.UUID, kind: HistoryKind | None) -> list[ColumnElement[bool]]:
    outgoing = CallRecord.caller_user_id == user_id
    incoming = and_(
        or_(CallRecord.callee_user_id == user_id, CallRecord.answered_by_user_id == user_id),
        or_(CallRecord.caller_user_id.is_(None), CallRecord.caller_user_id != user_id),
    )
    if kind is HistoryKind.OUTGOING:
        return [outgoing]
    if kind is HistoryKind.INCOMING:
        return [incoming]
    if kind is HistoryKind.MISSED:
        # not `answered_at IS NULL`: a call the IVR or voicemail answered was still missed
        return [incoming, CallRecord.status.in_([s.value for s in MISSED_STATUSES])]
    return [or_(outgoing, incoming)]


NEWEST_FIRST = (CallRecord.started_at.desc(), CallRecord.id.desc())


def _encode_cursor(row: CallRecord) -> str:
    raw = json.dumps([row.started_at.isoformat(), str(row.id)])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _after(stmt: Select[Any], cursor: str) -> Select[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        started, ident = json.loads(raw)
        started_at = datetime.fromisoformat(started)
        record_id = uuid.UUID(ident)
        if started_at.tzinfo is None:
            raise ValueError("naive time")
    except (ValueError, TypeError) as exc:
        raise Problem(400, "invalid_cursor", "The cursor is not valid.", "分页游标无效。") from exc
    return stmt.where(
        or_(
            CallRecord.started_at < started_at,
            and_(CallRecord.started_at == started_at, CallRecord.id < record_id),
        )
    )


class CallRecordSearch:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def page(
        self,
        tenant_id: uuid.UUID,
        filters: CallFilters,
        *,
        limit: int = 50,
        cursor: str | None = None,
    ) -> CallRecordPage:
        filters.check()
        return await self._page(tenant_id, conditions(filters), limit, cursor)

    async def get(self, tenant_id: uuid.UUID, record_id: uuid.UUID) -> CallRecordOut | None:
        """One record of the enterprise (None: no such record there)."""
        async with self._db.session(TenantScope(tenant_id)) as session:
            row = await session.get(CallRecord, record_id)
        return CallRecordOut.of(row) if row is not None else None

    async def history(
        self,
        tenant_id: uuid.UUID,
        user_id: uuid.UUID,
        kind: HistoryKind | None,
        *,
        limit: int = 50,
        cursor: str | None = None,
    ) -> CallRecordPage:
        return await self._page(tenant_id, history_conditions(user_id, kind), limit, cursor)

    async def _page(
        self,
        tenant_id: uuid.UUID,
        conditions: list[ColumnElement[bool]],
        limit: int,
        cursor: str | None,
    ) -> CallRecordPage:
        stmt = select(CallRecord).where(*conditions).order_by(*NEWEST_FIRST)
        if cursor:
            stmt = _after(stmt, cursor)
        async with self._db.session(TenantScope(tenant_id)) as session:
            rows = list((await session.scalars(stmt.limit(limit + 1))).all())
        return CallRecordPage(
            items=[CallRecordOut.of(r) for r in rows[:limit]],
            next_cursor=_encode_cursor(rows[limit - 1]) if len(rows) > limit else None,
        )

    async def rows(
        self, tenant_id: uuid.UUID, filters: CallFilters, batch: int = 1000
    ) -> AsyncIterator[CallRecord]:
        """Every matching record, newest first, from one server-side cursor (for exports)."""
        filters.check()
        stmt = (
            select(CallRecord)
            .where(*conditions(filters))
            .order_by(*NEWEST_FIRST)
            .execution_options(yield_per=batch)
        )
        async with self._db.session(TenantScope(tenant_id)) as session:
            result = await session.stream_scalars(stmt)
            async for row in result:
                yield row
