"""The demo enterprise shows the outbound policy: a user at each restriction level (international
included, which the operator's switch allows there), one with a small quota, and a holiday
calendar with make-up working days."""

from __future__ import annotations

from datetime import date

from zongji.demo.enterprise import ensure_demo
from zongji.pbx.policy.models import DayKind
from zongji.services import Services


async def test_demo_policies(services: Services) -> None:
    await ensure_demo(services, http_port=8080)
    ent = await services.directory.enterprises.find_by_code("demo")
    assert ent is not None
    assert ent.features.international_calling
    users = (await services.directory.users.page(ent.id, limit=500)).items
    assert {u.outbound_restriction.value for u in users} == {
        "internal",
        "local",
        "domestic",
        "international",
    }
    small = [u for u in users if u.monthly_minutes is not None and u.monthly_minutes <= 5]
    assert [u.name for u in small] == ["区志强"]
    policy = await services.pbx.policy.user_policy(ent.id, small[0].id)
    assert (policy.monthly_minutes, policy.left_minutes, policy.frozen) == (3, 3, False)

    days = {d.day: d for d in await services.pbx.policy.calendar.year(ent.id, 2026)}
    assert days[date(2026, 10, 1)].kind is DayKind.HOLIDAY
    assert days[date(2026, 2, 14)].kind is DayKind.WORKDAY  # a Saturday
    assert date(2026, 2, 14).weekday() == 5
    await ensure_demo(services, http_port=8080)  # a second start keeps the calendar as it is
    assert len(await services.pbx.policy.calendar.year(ent.id, 2026)) == len(days)
