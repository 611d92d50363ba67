"""Outbound time (ADM-14, ADM-17, SEC-6): when a "workdays only" user may call outside.

A working day is Monday–Friday unless the enterprise calendar says otherwise: a holiday (节假日)
is off even on a weekday, a make-up working day (调休) is on even on a Saturday. Within a working
day, the user's working hours apply, start included and end excluded: with 09:00–18:00, 09:00:00
and 17:59:59 are inside, 08:59:59 and 18:00:00 are not. All of it in the enterprise's time zone,
whatever the server's.
"""

from __future__ import annotations

from datetime import date, datetime, time, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from zongji.directory.models import OutboundTime
from zongji.pbx.policy.models import DayKind

DEFAULT_ZONE = "Asia/Shanghai"


@lru_cache(maxsize=256)
def zone(name: str) -> tzinfo:
    """The enterprise's time zone; an unknown name falls back to China's (it was validated when
    set, so this only guards against a database edited by hand)."""
    try:
        return ZoneInfo(name or DEFAULT_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_ZONE)


def local_now(now: datetime, zone_name: str) -> datetime:
    return now.astimezone(zone(zone_name))


def is_working_day(day: date, override: DayKind | None) -> bool:
    if override is DayKind.HOLIDAY:
        return False
    if override is DayKind.WORKDAY:
        return True
    return day.weekday() < 5


def clock_time(value: str) -> time:
    """ "HH:MM" as a time; the directory validated the format."""
    hours, minutes = value.split(":", 1)
    return time(int(hours), int(minutes))


def within_hours(moment: datetime, start: str, end: str) -> bool:
    """Is the local `moment` inside [start, end)?"""
    return clock_time(start) <= moment.time().replace(tzinfo=None) < clock_time(end)


def may_call_out(
    rule: str, moment: datetime, start: str, end: str, override: DayKind | None
) -> bool:
    """May a user with outbound-time `rule` call outside at local time `moment`?"""
    if rule != OutboundTime.WORKDAYS.value:
        return True
    return is_working_day(moment.date(), override) and within_hours(moment, start, end)
