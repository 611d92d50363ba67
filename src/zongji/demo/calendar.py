"""The demo enterprise's holiday calendar, so "workdays only" users (李四) show holidays and
make-up working days out of the box.

The days follow the State Council's holiday arrangement for 2026 as published; it is demo data,
which an admin replaces through the API (PUT /api/v1/policy/calendar).
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from zongji.pbx.policy.calendar import Day, HolidayCalendar
from zongji.pbx.policy.models import DayKind
from zongji.platform.actor import SYSTEM


def _span(first: date, last: date, name: str) -> list[Day]:
    days = (last - first).days + 1
    return [Day(first + timedelta(n), DayKind.HOLIDAY, name) for n in range(days)]


def calendar_2026() -> list[Day]:
    holidays = [
        *_span(date(2026, 1, 1), date(2026, 1, 3), "元旦"),
        *_span(date(2026, 2, 15), date(2026, 2, 23), "春节"),
        *_span(date(2026, 4, 4), date(2026, 4, 6), "清明节"),
        *_span(date(2026, 5, 1), date(2026, 5, 5), "劳动节"),
        *_span(date(2026, 6, 19), date(2026, 6, 21), "端午节"),
        *_span(date(2026, 9, 25), date(2026, 9, 27), "中秋节"),
        *_span(date(2026, 10, 1), date(2026, 10, 7), "国庆节"),
    ]
    make_up = [
        Day(date(2026, 1, 4), DayKind.WORKDAY, "元旦调休"),
        Day(date(2026, 2, 14), DayKind.WORKDAY, "春节调休"),
        Day(date(2026, 2, 28), DayKind.WORKDAY, "春节调休"),
        Day(date(2026, 5, 9), DayKind.WORKDAY, "劳动节调休"),
        Day(date(2026, 9, 20), DayKind.WORKDAY, "国庆节调休"),
        Day(date(2026, 10, 10), DayKind.WORKDAY, "国庆节调休"),
    ]
    return sorted(holidays + make_up, key=lambda d: d.day)


async def ensure_demo_calendar(calendar: HolidayCalendar, tenant_id: uuid.UUID) -> None:
    """Seed 2026 unless the enterprise already has entries for it (an admin's edits stay)."""
    if not await calendar.year(tenant_id, 2026):
        await calendar.replace_year(SYSTEM, tenant_id, 2026, calendar_2026())
