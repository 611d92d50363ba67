"""The calendar's cache of days: cleared by a `CalendarChanged` from the bus, as a change made on
another node arrives, not only by a change made through this node's calendar."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from zongji.pbx.events import CalendarChanged
from zongji.pbx.policy.models import CalendarDay, DayKind
from zongji.platform.db import TenantScope
from zongji.services import Services

DAY = date(2026, 2, 16)


async def written_elsewhere(services: Services, tenant_id: uuid.UUID) -> None:
    """The row another node's calendar would write (this node's cache knows nothing of it)."""
    session = services.db.session(TenantScope(tenant_id), write=True)
    async with session, session.begin():
        session.add(
            CalendarDay(
                day=DAY,
                kind=DayKind.HOLIDAY.value,
                name="春节",
                updated_at=datetime(2026, 1, 5, tzinfo=UTC),
            )
        )


async def test_a_change_announced_on_the_bus_clears_the_cached_days(services: Services) -> None:
    calendar = services.pbx.policy.calendar
    tenant, other = uuid.uuid4(), uuid.uuid4()
    assert await calendar.kind_of(tenant, DAY) is None  # cached: an ordinary day
    assert await calendar.kind_of(other, DAY) is None
    await written_elsewhere(services, tenant)
    await written_elsewhere(services, other)
    assert await calendar.kind_of(tenant, DAY) is None  # still the cached answer

    await services.bus.publish([CalendarChanged(tenant_id=tenant, day=DAY)])
    await services.bus.drain()
    assert await calendar.kind_of(tenant, DAY) is DayKind.HOLIDAY
    assert await calendar.kind_of(other, DAY) is None  # another enterprise's stays cached
