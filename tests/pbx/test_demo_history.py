"""The demo's week of call history: reported through the records and billed through the policy,
the same calls for the same day, every kind of call, and a restart adding only the days since."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from tests.conftest import World, bearer
from zongji.demo.enterprise import ensure_demo
from zongji.pbx.records.search import CallFilters
from zongji.platform.clock import FakeClock

NOW = datetime(2026, 1, 7, 9, 30, tzinfo=UTC)  # Wednesday 17:30 in Nanjing


async def demo_records(world: World) -> list[dict[str, object]]:
    ent = await world.services.directory.enterprises.find_by_code("demo")
    assert ent is not None
    found = await world.services.pbx.records.all_for(ent.id, limit=1000)
    return [r.model_dump(mode="json") for r in found]


async def test_a_week_of_calls_for_the_console(world: World, clock: FakeClock) -> None:
    clock.advance((NOW - clock.now()).total_seconds())
    demo = await ensure_demo(world.services, http_port=8080)
    records = await demo_records(world)
    local = [datetime.fromisoformat(str(r["started_at"])) + timedelta(hours=8) for r in records]
    days = Counter(f"{t:%Y-%m-%d}" for t in local)
    assert sorted(days) == [f"2026-01-{d:02d}" for d in range(1, 8)]
    assert all(days[d] >= 20 for d in ("2026-01-05", "2026-01-06"))  # weekdays are busy
    assert days["2026-01-03"] <= 8  # a Saturday is not
    assert all(datetime.fromisoformat(str(r["ended_at"])) <= NOW for r in records)
    assert len({t.hour for t in local}) >= 8
    assert {r["direction"] for r in records} == {"internal", "inbound", "outbound"}
    statuses = Counter(str(r["status"]) for r in records)
    assert statuses["answered"] > len(records) / 2
    assert {"no_answer", "busy", "cancelled"} <= set(statuses)
    assert all(str(r["call_id"]).startswith("demo-2026-01-") for r in records)

    # the admin's pages are not empty
    admin = bearer(await world.password_login("admin", demo["enterprise_admin"]["password"]))
    board = (await world.client.get("/api/v1/dashboard", headers=admin)).json()
    assert board["today"] == "2026-01-07"
    assert board["today_calls"]["calls"] == days["2026-01-07"] > 0
    assert (
        board["month"]["billed_minutes"] == sum(int(str(r["billed_minutes"])) for r in records) > 0
    )  # every answered outside call billed to its caller's month, as the policy bills
    stats = (await world.client.get("/api/v1/calls/stats", headers=admin)).json()
    assert stats["totals"]["calls"] == len(records)
    assert stats["totals"]["missed"] > 0

    # a restart the same day adds nothing; two days later, only the two new days
    await ensure_demo(world.services, http_port=8080)
    assert await demo_records(world) == records
    clock.advance(2 * 86400)
    await ensure_demo(world.services, http_port=8080)
    again = await demo_records(world)
    assert [r for r in again if r["call_id"] in {x["call_id"] for x in records}] == records
    added = {str(r["call_id"])[5:15] for r in again} - {str(r["call_id"])[5:15] for r in records}
    assert added == {"2026-01-08", "2026-01-09"}


async def test_the_same_day_gets_the_same_calls(world: World, clock: FakeClock) -> None:
    clock.advance((NOW - clock.now()).total_seconds())
    await ensure_demo(world.services, http_port=8080)
    first = await demo_records(world)
    # the demo made again from nothing (another installation, the same day)
    from tests.conftest import clear_tables

    await clear_tables(world.services)
    (world.services.settings.data_dir / "demo.json").unlink()
    await ensure_demo(world.services, http_port=8080)
    second = await demo_records(world)

    def shape(rows: list[dict[str, object]]) -> list[tuple[object, ...]]:
        keys = ("call_id", "direction", "status", "started_at", "ended_at", "callee_number")
        return [tuple(r[k] for k in keys) for r in rows]

    assert shape(second) == shape(first)


async def test_a_day_with_real_calls_is_left_alone(world: World, clock: FakeClock) -> None:
    from tests.pbx.records.helpers import start, whole_call

    clock.advance((NOW - clock.now()).total_seconds())
    await ensure_demo(world.services, http_port=8080)
    ent = await world.services.directory.enterprises.find_by_code("demo")
    assert ent is not None
    clock.advance(86400)
    real = start(ent.id, "real-call", clock.now() - timedelta(hours=1))
    await whole_call(world.services.pbx.records, real)
    await ensure_demo(world.services, http_port=8080)
    day = CallFilters(
        since=datetime(2026, 1, 7, 16, tzinfo=UTC), until=datetime(2026, 1, 8, 16, tzinfo=UTC)
    )
    page = await world.services.pbx.records.search.page(ent.id, day, limit=100)
    assert [r.call_id for r in page.items] == ["real-call"]
