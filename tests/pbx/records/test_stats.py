"""Call statistics and the admin's dashboard, counted from records reported as the call engine
reports them: local days and hours at their exact edges, each outcome and direction, another
enterprise's calls never counted, employees refused, bad parameters answered with stable codes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.conftest import Tenant, World, bearer
from tests.pbx.records.helpers import start, whole_call
from zongji.pbx.contracts import CallDirection, CallEnd, CallStatus, HangupSide, Party
from zongji.platform.clock import FakeClock

# Nanjing is UTC+8 all year: its 5 January 2026 runs from 4 Jan 16:00 to 5 Jan 16:00 UTC.
DAY_START = datetime(2026, 1, 4, 16, 0, tzinfo=UTC)
NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)  # 20:00 in Nanjing
SECOND = timedelta(seconds=1)


async def calls_of_a_day(world: World, t: Tenant, other: Tenant) -> None:
    """Calls placed around 5 January's edges (Nanjing time), and the same in another company."""
    records = world.services.pbx.records
    zhang = Party("8001", await world.user(t, "张三", "13800000001", extension="8001"), "张三")
    li = Party("8002", await world.user(t, "李四", "13800000002", extension="8002"), "李四")
    outside = Party("+8613912345678")
    calls: list[tuple[str, datetime, dict[str, Any], dict[str, Any]]] = [
        # the last second of 4 January: yesterday
        ("y23", DAY_START - SECOND, {}, {"talk": 30}),
        # the first second of 5 January, hour 0: answered internal, 30 s talked
        ("h00", DAY_START, {"caller": zhang, "callee": li}, {"talk": 30}),
        # 09:59:59, hour 9: an inbound call nobody answered (missed)
        (
            "h09",
            DAY_START + timedelta(hours=10) - SECOND,
            {"direction": CallDirection.INBOUND, "caller": outside, "callee": zhang},
            {"talk": None, "status": CallStatus.NO_ANSWER},
        ),
        # 10:00:00, hour 10: an outbound call answered for 61 s (2 billed minutes)
        (
            "h10a",
            DAY_START + timedelta(hours=10),
            {"direction": CallDirection.OUTBOUND, "caller": zhang, "callee": outside},
            {"talk": 61},
        ),
        # 10:30, hour 10: inbound, busy (missed)
        (
            "h10b",
            DAY_START + timedelta(hours=10, minutes=30),
            {"direction": CallDirection.INBOUND, "caller": outside, "callee": li},
            {"talk": None, "status": CallStatus.BUSY},
        ),
        # 23:59:59, hour 23 (later than now: a clock set back still shows it as today)
        ("h23", DAY_START + timedelta(days=1) - SECOND, {"caller": li, "callee": zhang}, {}),
        # the first second of 6 January: tomorrow, not today
        ("t00", DAY_START + timedelta(days=1), {}, {}),
    ]
    for tenant in (t, other):
        for call_id, at, parties, how in calls:
            await whole_call(records, start(tenant.id, call_id, at, **parties), **how)
    # 11:00: an outbound call refused by the policy
    refused = start(
        t.id, "h11", DAY_START + timedelta(hours=11), direction=CallDirection.OUTBOUND,
        caller=li, callee=Party("+12125550100"),
    )  # fmt: skip
    await records.opened(refused)
    await records.closed(
        "h11", CallEnd(CallStatus.REFUSED, refused.started_at, HangupSide.SYSTEM, "403")
    )
    # 19:58: an inbound call still going (in progress now)
    live = start(
        t.id, "live", NOW - timedelta(minutes=2), direction=CallDirection.INBOUND,
        caller=outside, callee=li,
    )  # fmt: skip
    await records.opened(live)
    await records.answered("live", NOW - timedelta(minutes=1), li)


async def two_companies(world: World, clock: FakeClock) -> tuple[Tenant, Tenant]:
    clock.advance((NOW - clock.now()).total_seconds())
    t = await world.enterprise("acme")
    other = await world.enterprise("other")
    await world.user(other, "王五", "13800000003", extension="8001")
    await calls_of_a_day(world, t, other)
    return t, other


async def get(client: httpx.AsyncClient, url: str, t: Tenant, **params: Any) -> dict[str, Any]:
    r = await client.get(url, params=params, headers=bearer(t.admin_token))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def counts(bucket: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in bucket.items() if k not in ("hour", "date") and v}


async def test_the_dashboard_counts_today_by_local_hour(world: World, clock: FakeClock) -> None:
    t, _ = await two_companies(world, clock)
    board = await get(world.client, "/api/v1/dashboard", t)
    assert board["timezone"] == "Asia/Shanghai"
    assert board["today"] == "2026-01-05"
    assert board["as_of"] == "2026-01-05T12:00:00Z"
    assert board["calls_in_progress"] == {"calls": 1, "inbound": 1, "outbound": 0, "internal": 0}
    assert counts(board["today_calls"]) == {
        "calls": 7, "answered": 3, "missed": 2, "failed": 1, "live": 1,
        "inbound": 3, "outbound": 2, "internal": 2,
        "talk_seconds": 30 + 61 + 30, "billed_minutes": 2,  # the live call has no talk yet
    }  # fmt: skip
    hours = board["today_by_hour"]
    assert [h["hour"] for h in hours] == list(range(24))
    per_hour = {h["hour"]: counts(h) for h in hours if h["calls"]}
    assert per_hour == {
        0: {"calls": 1, "answered": 1, "internal": 1, "talk_seconds": 30},
        9: {"calls": 1, "missed": 1, "inbound": 1},
        10: {"calls": 2, "answered": 1, "missed": 1, "inbound": 1, "outbound": 1,
             "talk_seconds": 61, "billed_minutes": 2},
        11: {"calls": 1, "failed": 1, "outbound": 1},
        19: {"calls": 1, "live": 1, "inbound": 1},
        23: {"calls": 1, "answered": 1, "internal": 1, "talk_seconds": 30},
    }  # fmt: skip
    assert board["devices"] == {"issued": 0, "registered": 0, "users_registered": 0}


async def test_the_months_billed_minutes_are_the_policys(world: World, clock: FakeClock) -> None:
    t, other = await two_companies(world, clock)
    billing = world.services.pbx.policy.billing
    zhang = (await world.services.directory.users.page(t.id, limit=5)).items[0].id
    await billing.bill(t.id, zhang, "2026-01", 2)
    await billing.bill(t.id, zhang, "2026-01", 5)
    await billing.bill(t.id, zhang, "2025-12", 40)  # last month
    other_user = (await world.services.directory.users.page(other.id, limit=5)).items[0].id
    await billing.bill(other.id, other_user, "2026-01", 100)
    board = await get(world.client, "/api/v1/dashboard", t)
    assert board["month"] == {"month": "2026-01", "billed_minutes": 7, "billed_calls": 2}
    # 31 January 16:00 UTC is already 1 February in Nanjing: a new month, nothing billed yet
    clock.advance((datetime(2026, 1, 31, 16, 0, tzinfo=UTC) - clock.now()).total_seconds())
    t.admin_token = await world.password_login(t.admin_login)  # the last one expired
    board = await get(world.client, "/api/v1/dashboard", t)
    assert board["month"] == {"month": "2026-02", "billed_minutes": 0, "billed_calls": 0}
    assert board["today"] == "2026-02-01"
    assert board["today_calls"]["calls"] == 0


async def test_stats_per_day_and_hour_over_a_range(world: World, clock: FakeClock) -> None:
    t, _ = await two_companies(world, clock)
    stats = await get(
        world.client,
        "/api/v1/calls/stats",
        t,
        **{"from": "2026-01-04T00:00:00+08:00", "to": "2026-01-07T00:00:00+08:00"},
    )
    assert stats["start"] == "2026-01-03T16:00:00Z"
    assert stats["end"] == "2026-01-06T16:00:00Z"
    days = {d["date"]: d["calls"] for d in stats["by_day"]}
    assert days == {"2026-01-04": 1, "2026-01-05": 7, "2026-01-06": 1}
    assert stats["totals"]["calls"] == 9
    assert stats["by_status"] == {
        "answered": 5, "no_answer": 1, "busy": 1, "refused": 1, "live": 1,
    }  # fmt: skip
    by_hour = {h["hour"]: h["calls"] for h in stats["by_hour"] if h["calls"]}
    assert by_hour == {0: 2, 9: 1, 10: 2, 11: 1, 19: 1, 23: 2}

    # the same filters as the search: only inbound, only 李四's
    inbound = await get(world.client, "/api/v1/calls/stats", t, direction="inbound")
    assert counts(inbound["totals"]) == {
        "calls": 3, "missed": 2, "live": 1, "inbound": 3,
    }  # fmt: skip
    li = await get(world.client, "/api/v1/calls", t, caller="李四", match="exact")
    assert li["items"]
    by_li = await get(world.client, "/api/v1/calls/stats", t, caller="李四", match="exact")
    assert by_li["totals"]["calls"] == len(li["items"]) == 2


async def test_stats_default_to_the_last_30_days(world: World, clock: FakeClock) -> None:
    t, _ = await two_companies(world, clock)
    stats = await get(world.client, "/api/v1/calls/stats", t)
    assert len(stats["by_day"]) == 30
    assert stats["by_day"][0]["date"] == "2025-12-07"
    assert stats["by_day"][-1]["date"] == "2026-01-05"
    assert stats["end"] == "2026-01-05T16:00:00Z"  # the end of today, Nanjing time
    assert stats["totals"]["calls"] == 8  # tomorrow's call is not in it


async def test_days_follow_a_zone_with_summer_time(world: World, clock: FakeClock) -> None:
    """Berlin's clocks go from 02:00 to 03:00 on 29 March 2026: that day has 23 hours."""
    clock.advance((datetime(2026, 3, 30, 12, 0, tzinfo=UTC) - clock.now()).total_seconds())
    t = await world.enterprise("berlin", timezone="Europe/Berlin")
    records = world.services.pbx.records
    for call_id, at in (
        ("before", datetime(2026, 3, 29, 0, 59, 59, tzinfo=UTC)),  # 01:59:59 CET
        ("after", datetime(2026, 3, 29, 1, 0, 0, tzinfo=UTC)),  # 03:00:00 CEST
        ("evening", datetime(2026, 3, 29, 21, 59, 59, tzinfo=UTC)),  # 23:59:59 CEST
        ("monday", datetime(2026, 3, 29, 22, 0, 0, tzinfo=UTC)),  # 00:00 on the 30th
        ("saturday", datetime(2026, 3, 28, 22, 59, 59, tzinfo=UTC)),  # 23:59:59 CET on the 28th
    ):
        await whole_call(records, start(t.id, call_id, at))
    stats = await get(
        world.client,
        "/api/v1/calls/stats",
        t,
        **{"from": "2026-03-28T00:00:00+01:00", "to": "2026-03-31T00:00:00+02:00"},
    )
    assert stats["timezone"] == "Europe/Berlin"
    days = {d["date"]: d["calls"] for d in stats["by_day"]}
    assert days == {"2026-03-28": 1, "2026-03-29": 3, "2026-03-30": 1}
    by_hour = {h["hour"]: h["calls"] for h in stats["by_hour"] if h["calls"]}
    assert by_hour == {0: 1, 1: 1, 3: 1, 23: 2}


async def test_employees_are_refused(world: World, clock: FakeClock) -> None:
    await two_companies(world, clock)
    employee = bearer((await world.code_login("13800000001"))["access_token"])
    for url in ("/api/v1/dashboard", "/api/v1/calls/stats"):
        r = await world.client.get(url, headers=employee)
        assert r.status_code == 403, url
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["code"] == "forbidden"
        r = await world.client.get(url)
        assert r.status_code == 401, url
    operator = bearer(await world.operator_token())
    assert (await world.client.get("/api/v1/dashboard", headers=operator)).status_code == 403


async def test_bad_parameters_are_problems_with_stable_codes(
    world: World, clock: FakeClock
) -> None:
    t, _ = await two_companies(world, clock)

    async def code(**params: Any) -> tuple[int, str, list[str]]:
        r = await world.client.get(
            "/api/v1/calls/stats", params=params, headers=bearer(t.admin_token)
        )
        assert r.headers["content-type"] == "application/problem+json", r.text
        body = r.json()
        return r.status_code, body["code"], [e["field"] for e in body.get("errors", [])]

    assert await code(**{"from": "yesterday"}) == (422, "validation_failed", ["from"])
    assert await code(**{"to": "2026-13-01T00:00:00+08:00"}) == (422, "validation_failed", ["to"])
    assert await code(direction="sideways") == (422, "validation_failed", ["direction"])
    assert await code(status="ringing") == (422, "validation_failed", ["status.0"])
    assert await code(user_id="42") == (422, "validation_failed", ["user_id"])
    assert await code(**{"from": "2025-01-01T00:00:00+08:00"}) == (422, "range_too_long", [])
    assert await code(
        **{"from": "2026-01-05T12:00:00+08:00", "to": "2026-01-05T10:00:00+08:00"}
    ) == (400, "invalid_time_range", [])
    assert await code(**{"from": "2026-01-05T10:00:00"}) == (400, "time_without_zone", [])
    # a range of exactly 366 days is fine
    ok = await world.client.get(
        "/api/v1/calls/stats",
        params={"from": "2025-01-05T00:00:00+08:00", "to": "2026-01-06T00:00:00+08:00"},
        headers=bearer(t.admin_token),
    )
    assert ok.status_code == 200, ok.text
    assert len(ok.json()["by_day"]) == 366
