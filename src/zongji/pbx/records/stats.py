"""Counting call records for the console's charts and dashboard (ADM-22..24): calls per day and
per hour, answered and missed, inbound and outbound, talk time.

Counted by the database, never by loading records: one GROUP BY over the enterprise's records in
the range (the `(tenant_id, started_at)` index finds them) into one row per (local hour,
direction, status), at most a few thousand rows for a year, which are then added up into days,
hours of the day and totals here.

Days and hours are the enterprise's, in its time zone (`Enterprise.timezone`, Asia/Shanghai by
default), as working hours and quota months are. Records hold UTC instants; the local hour of
each is `floor((epoch seconds + UTC offset) / 3600)`, computed in SQL on both databases
(`_epoch`). The offset is a constant for zones without daylight saving (China's), and otherwise a
CASE over the zone's transitions inside the range, found here; so a 23- or 25-hour day counts
each call in the local hour its clock showed. Zones an odd number of minutes off UTC
(Asia/Kolkata) work the same way, as the offset is added before the hour is cut.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from itertools import pairwise
from typing import Any, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field
from sqlalchemy import BigInteger, ColumnElement, case, cast, extract, func, literal_column, select

from zongji.pbx.contracts import CallDirection, CallStatus
from zongji.pbx.records.models import CallRecord
from zongji.pbx.records.search import MISSED_STATUSES, CallFilters, conditions
from zongji.platform.db import Database, TenantScope
from zongji.platform.errors import Problem

DEFAULT_ZONE = "Asia/Shanghai"
DEFAULT_DAYS = 30
MAX_DAYS = 366
FAILED_STATUSES = (CallStatus.FAILED, CallStatus.REFUSED, CallStatus.INTERRUPTED)
LIVE = "live"
STATUS_KEYS = (*(s.value for s in CallStatus), LIVE)
DIRECTIONS = (CallDirection.INBOUND, CallDirection.OUTBOUND, CallDirection.INTERNAL)


class Sums:
    """What one bucket adds up, as plain integers: calls, talk seconds, billed minutes, then one
    count per status (and live), then one per direction."""

    __slots__ = ("values",)

    def __init__(self) -> None:
        self.values = [0] * (3 + len(STATUS_KEYS) + len(DIRECTIONS))

    def count(self, direction: str, status: str | None, calls: int, talk: int, billed: int) -> None:
        values = self.values
        values[_CALLS] += calls
        values[_TALK] += talk
        values[_BILLED] += billed
        values[_STATUS_AT.get(status or LIVE, _OTHER_STATUS_AT)] += calls
        values[_DIRECTION_AT.get(direction, _OTHER_DIRECTION_AT)] += calls

    def add(self, other: Sums) -> None:
        values = self.values
        for n, value in enumerate(other.values):
            values[n] += value

    def __getitem__(self, part: int | slice) -> Any:
        return self.values[part]


_CALLS, _TALK, _BILLED = 0, 1, 2
_STATUS = slice(3, 3 + len(STATUS_KEYS))
_DIRECTION = slice(3 + len(STATUS_KEYS), None)
_STATUS_AT = {key: 3 + n for n, key in enumerate(STATUS_KEYS)}
_DIRECTION_AT = {d.value: 3 + len(STATUS_KEYS) + n for n, d in enumerate(DIRECTIONS)}
_OTHER_STATUS_AT = _STATUS_AT[CallStatus.FAILED.value]  # a status this node does not know
_OTHER_DIRECTION_AT = _DIRECTION_AT[CallDirection.INTERNAL.value]


class CallCounts(BaseModel):
    """Calls in one bucket. `answered + missed + failed + live == calls`, and
    `inbound + outbound + internal == calls`."""

    calls: int = 0
    answered: int = 0
    missed: int = Field(
        0, description="Not answered by a person: no answer, busy, cancelled, voicemail"
    )
    failed: int = Field(0, description="Failed, refused by the policy, or interrupted")
    live: int = Field(0, description="Still going")
    inbound: int = 0
    outbound: int = 0
    internal: int = 0
    talk_seconds: int = Field(0, description="From answer to end, over the answered calls")
    billed_minutes: int = Field(0, description="Outbound calls, per started minute")

    @classmethod
    def of(cls, sums: Sums, **key: Any) -> Self:
        by_status = dict(zip(STATUS_KEYS, sums[_STATUS], strict=True))
        return cls(
            **key,
            calls=sums[_CALLS],
            answered=by_status[CallStatus.ANSWERED.value],
            missed=sum(by_status[s.value] for s in MISSED_STATUSES),
            failed=sum(by_status[s.value] for s in FAILED_STATUSES),
            live=by_status[LIVE],
            inbound=sums[_DIRECTION][0],
            outbound=sums[_DIRECTION][1],
            internal=sums[_DIRECTION][2],
            talk_seconds=sums[_TALK],
            billed_minutes=sums[_BILLED],
        )


class DayCounts(CallCounts):
    date: date


class HourCounts(CallCounts):
    hour: int = Field(ge=0, le=23, description="Hour of the day, local time (9: 09:00–09:59)")


class CallStats(BaseModel):
    timezone: str = Field(description="The enterprise's zone that days and hours are in")
    start: datetime = Field(description="Counted from (included)")
    end: datetime = Field(description="Counted until (excluded)")
    totals: CallCounts
    by_day: list[DayCounts] = Field(description="Every local day of the range, oldest first")
    by_hour: list[HourCounts] = Field(description="Hours 0–23, over every day of the range")
    by_status: dict[str, int] = Field(description="Calls per record status; `live`: going on")


class LiveCalls(BaseModel):
    """Calls in progress now."""

    calls: int = 0
    inbound: int = 0
    outbound: int = 0
    internal: int = 0

    def add(self, direction: str, calls: int) -> None:
        self.calls += calls
        if direction == CallDirection.INBOUND:
            self.inbound += calls
        elif direction == CallDirection.OUTBOUND:
            self.outbound += calls
        else:
            self.internal += calls


def zone_of(name: str) -> tzinfo:
    try:
        return ZoneInfo(name or DEFAULT_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_ZONE)


def local_day_start(day: date, zone: tzinfo) -> datetime:
    """The instant (UTC) a local day starts (its first existing minute, on a DST day)."""
    start = datetime(day.year, day.month, day.day, tzinfo=zone)
    return start.astimezone(UTC)


def default_range(
    now: datetime, zone: tzinfo, since: datetime | None, until: datetime | None
) -> tuple[datetime, datetime]:
    """The range a request means: as given, else the `DEFAULT_DAYS` local days up to today's
    end (or up to `until`)."""
    if until is None:
        until = local_day_start(now.astimezone(zone).date() + timedelta(days=1), zone)
    if since is None:
        first = (until - timedelta(microseconds=1)).astimezone(zone).date()
        since = local_day_start(first - timedelta(days=DEFAULT_DAYS - 1), zone)
    return since.astimezone(UTC), until.astimezone(UTC)


def offsets(zone: tzinfo, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """The zone's UTC offset in seconds from `start`, and each change of it before `end`: the
    instant it changes and the new offset."""

    def offset(at: datetime) -> int:
        delta = at.astimezone(zone).utcoffset()
        return int(delta.total_seconds()) if delta is not None else 0

    found = [(start, offset(start))]
    step = timedelta(days=1)
    at = start
    while at < end:
        following = min(at + step, end)
        if offset(following) != found[-1][1]:
            low, high = at, following  # the change is in (low, high]: find it to the second
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                if offset(middle) == found[-1][1]:
                    low = middle
                else:
                    high = middle
            found.append((high.replace(microsecond=0), offset(high)))
        at = following
    return found


def _epoch(dialect: str) -> ColumnElement[Any]:
    """Whole seconds since 1970 of `started_at`: SQLite keeps UTC text, PostgreSQL a
    timestamptz."""
    if dialect == "postgresql":
        return cast(func.floor(extract("epoch", CallRecord.started_at)), BigInteger)
    return cast(func.strftime("%s", CallRecord.started_at), BigInteger)


def _offset(changes: list[tuple[datetime, int]]) -> ColumnElement[Any]:
    if len(changes) == 1:
        return literal_column(str(int(changes[0][1])))
    whens: list[tuple[ColumnElement[bool], ColumnElement[Any]]] = [
        (CallRecord.started_at < at, literal_column(str(int(before))))
        for (_, before), (at, _) in pairwise(changes)
    ]
    return case(*whens, else_=literal_column(str(int(changes[-1][1]))))


def local_dates(start: datetime, end: datetime, zone: tzinfo) -> Iterator[date]:
    day = start.astimezone(zone).date()
    last = (end - timedelta(microseconds=1)).astimezone(zone).date()
    while day <= last:
        yield day
        day += timedelta(days=1)


class CallRecordStats:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def count(
        self, tenant_id: uuid.UUID, filters: CallFilters, timezone: str, now: datetime
    ) -> CallStats:
        """The records matching `filters` counted per local day and hour; a missing end of the
        range is filled in (`default_range`)."""
        zone = zone_of(timezone)
        start, end = default_range(now, zone, filters.since, filters.until)
        if start >= end:
            raise Problem(  # as the search says it (`CallFilters.check`)
                400,
                "invalid_time_range",
                "The time range is empty: 'from' must be before 'to'.",
                "时间范围无效：开始时间须早于结束时间。",
            )
        days = list(local_dates(start, end, zone))
        if len(days) > MAX_DAYS:
            raise Problem(
                422,
                "range_too_long",
                f"Statistics cover at most {MAX_DAYS} days; narrow 'from' and 'to'.",
                f"统计范围最多 {MAX_DAYS} 天，请缩小时间范围。",
                extra={"max_days": MAX_DAYS},
            )
        ranged = replace(filters, since=start, until=end)
        hour = (_epoch(self._db.dialect) + _offset(offsets(zone, start, end))) // 3600
        stmt = (
            select(
                hour.label("local_hour"),
                CallRecord.direction,
                CallRecord.status,
                func.count(),
                func.sum(CallRecord.billable_seconds),
                func.sum(CallRecord.billed_minutes),
            )
            .where(*conditions(ranged))
            .group_by(literal_column("local_hour"), CallRecord.direction, CallRecord.status)
        )
        async with self._db.session(TenantScope(tenant_id)) as session:
            rows = (await session.execute(stmt)).all()
        # Each row goes into its local hour's sums (a few additions); the hours are then added
        # up into days, hours of the day and totals (at most 24 × 366 of them).
        hours: dict[int, Sums] = {}
        for local_hour, direction, status, calls, talk, billed in rows:
            sums = hours.get(local_hour)
            if sums is None:
                sums = hours[local_hour] = Sums()
            sums.count(direction, status, int(calls), int(talk or 0), int(billed or 0))
        totals = Sums()
        by_day = {day: Sums() for day in days}
        by_hour = [Sums() for _ in range(24)]
        epoch = datetime(1970, 1, 1)
        for local_hour, sums in hours.items():
            local = epoch + timedelta(hours=int(local_hour))
            totals.add(sums)
            by_hour[local.hour].add(sums)
            day = by_day.get(local.date())
            if day is not None:  # always, unless the zone's rules changed under the range
                day.add(sums)
        by_status = {
            key: count for key, count in zip(STATUS_KEYS, totals[_STATUS], strict=True) if count
        }
        return CallStats(
            timezone=timezone or DEFAULT_ZONE,
            start=start,
            end=end,
            totals=CallCounts.of(totals),
            by_day=[DayCounts.of(sums, date=day) for day, sums in by_day.items()],
            by_hour=[HourCounts.of(sums, hour=h) for h, sums in enumerate(by_hour)],
            by_status=by_status,
        )
