"""The change feed (DIR-3) and the `directory.changed` event; the migration that starts the feed."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, select

from tests.conftest import World
from tests.directory.conftest import Console, enterprise
from zongji.directory.events import DirectoryChanged
from zongji.models import metadata
from zongji.platform.migrate import upgrade

URL = "/api/v1/directory/changes"


async def test_first_sync_then_only_what_changed(acme: Console) -> None:
    dept = await acme.department("研发部")
    a = await acme.user("张三", "13800000001", department_id=dept["id"])
    b = await acme.user("李四", "13800000002")
    member = await acme.employee("13800000002")  # registering changes 李四 too

    r = await acme.call("GET", URL, headers=member)
    first = r.json()
    assert {u["name"] for u in first["users"]} == {"张三", "李四"}
    assert [d["name"] for d in first["departments"]] == ["研发部"]
    assert first["deleted_users"] == []
    assert first["has_more"] is False
    cursor = first["cursor"]

    r = await acme.call("GET", URL, params={"cursor": cursor}, headers=member)
    assert (r.json()["users"], r.json()["departments"], r.json()["cursor"]) == ([], [], cursor)

    await acme.call("PATCH", f"/api/v1/directory/users/{a['id']}", json={"title": "经理"})
    await acme.call("DELETE", f"/api/v1/directory/users/{b['id']}")
    await acme.call("DELETE", f"/api/v1/directory/departments/{dept['id']}")
    r = await acme.call("GET", URL, params={"cursor": cursor})
    changed = r.json()
    assert [(u["name"], u["title"], u["department_id"]) for u in changed["users"]] == [
        ("张三", "经理", None)
    ]
    assert changed["deleted_users"] == [b["id"]]
    assert changed["deleted_departments"] == [dept["id"]]
    assert int(changed["cursor"]) > int(cursor)


async def test_pages_never_lose_a_change(acme: Console) -> None:
    for i in range(7):
        await acme.user(f"员工{i}", f"1380000000{i}")
    seen: set[str] = set()
    cursor = None
    for _ in range(10):
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await acme.call("GET", URL, params=params)).json()
        seen |= {u["name"] for u in page["users"]}
        cursor = page["cursor"]
        if not page["has_more"]:
            break
    assert seen == {f"员工{i}" for i in range(7)}
    r = await acme.call("GET", URL, params={"cursor": "x.y"})
    assert (r.status_code, r.json()["code"]) == (400, "invalid_cursor")


async def backup(world: World) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, as a backup holds them (whatever the database)."""
    async with world.services.db.engine.begin() as conn:
        return {
            t.name: [dict(r._mapping) for r in await conn.execute(select(t))]
            for t in metadata.sorted_tables
        }


async def restore(world: World, rows: dict[str, list[dict[str, Any]]]) -> None:
    async with world.services.db.engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            await conn.execute(delete(table))
        for table in metadata.sorted_tables:
            if rows[table.name]:
                await conn.execute(insert(table), rows[table.name])


async def test_a_cursor_ahead_of_the_feed_is_refused_after_a_restore(
    acme: Console, world: World
) -> None:
    """Issue 11 #24: a cursor this database never handed out (kept across a restore from a
    backup) is refused with `cursor_ahead`, not answered with "nothing changed"; the client
    syncs again from the start. Search, which follows the same feed, forgets what the restore
    took away."""
    await acme.user("张三", "13800000001")
    old = (await acme.call("GET", URL)).json()["cursor"]
    saved = await backup(world)
    await acme.user("李四", "13800000002")
    await acme.user("王五", "13800000003")
    ahead = (await acme.call("GET", URL, params={"cursor": old})).json()["cursor"]
    assert int(ahead) > int(old)
    r = await acme.call("GET", "/api/v1/directory/search", params={"q": "lisi"})
    assert [i["name"] for i in r.json()["items"]] == ["李四"]

    await restore(world, saved)
    r = await acme.call("GET", URL, params={"cursor": ahead})
    assert (r.status_code, r.json()["code"]) == (409, "cursor_ahead")
    assert r.headers["content-type"].startswith("application/problem+json")
    r = await acme.call("GET", URL, params={"cursor": f"{ahead}.{acme.tenant.id}"})
    assert (r.status_code, r.json()["code"]) == (409, "cursor_ahead")
    r = await acme.call("GET", URL, params={"cursor": old})
    assert (r.status_code, r.json()["users"]) == (200, [])
    again = (await acme.call("GET", URL)).json()  # from the start: what this database holds
    assert {u["name"] for u in again["users"]} == {"张三"}
    r = await acme.call("GET", "/api/v1/directory/search", params={"q": "lisi"})
    assert r.json()["items"] == []

    other = Console(world, await enterprise(world, "other"))  # an empty feed hands out "0"
    empty = (await other.call("GET", URL)).json()
    assert empty["cursor"] == "0"
    r = await other.call("GET", URL, params={"cursor": "0"})
    assert r.status_code == 200
    for cursor in ("1", "-1", "+1", "1e3"):
        r = await other.call("GET", URL, params={"cursor": cursor})
        assert r.status_code in (400, 409), cursor
        assert r.json()["code"] == ("cursor_ahead" if cursor == "1" else "invalid_cursor")


async def test_event_after_commit_and_never_for_a_failed_change(
    acme: Console, world: World
) -> None:
    heard: list[DirectoryChanged] = []

    async def listen(event: DirectoryChanged) -> None:
        heard.append(event)

    world.services.bus.subscribe(DirectoryChanged, listen)
    user = await acme.user("张三", "13800000001")
    await world.services.bus.drain()
    assert [(e.tenant_id, e.action, e.users) for e in heard] == [
        (acme.tenant.id, "user.create", (uuid.UUID(user["id"]),))
    ]
    r = await acme.call(
        "POST", "/api/v1/directory/users", json={"name": "李四", "mobile": "13800000001"}
    )
    assert r.status_code == 422
    await world.services.bus.drain()
    assert len(heard) == 1


async def test_another_enterprise_sees_nothing_in_the_feed(acme: Console, world: World) -> None:
    await acme.user("张三", "13800000001")
    await acme.department("研发部")
    other = Console(world, await enterprise(world, "other"))
    feed = (await other.call("GET", URL)).json()
    assert (feed["users"], feed["departments"]) == ([], [])
    feed = (await other.call("GET", URL, params={"cursor": "0"})).json()
    assert (feed["users"], feed["deleted_users"]) == ([], [])


def test_upgrading_a_foundation_database_starts_the_feed(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    asyncio.run(upgrade(url, "0001"))
    db = sqlite3.connect(tmp_path / "old.db")
    db.execute(
        "INSERT INTO users (id, tenant_id, name, mobile, is_admin, created_at, updated_at)"
        " VALUES ('0189aaaa000070008000000000000001', '0189aaaa000070008000000000000002',"
        " '曾小贤', '+8613800000001', 0, '2026-01-01', '2026-01-01')"
    )
    db.commit()
    asyncio.run(upgrade(url))
    assert db.execute("SELECT sort_key, outbound_restriction FROM users").fetchone() == (
        "zeng xiao xian\x01曾小贤",
        "domestic",
    )
    assert db.execute("SELECT kind, seq, deleted FROM directory_changes").fetchall() == [
        ("user", 0, 0)
    ]


def test_upgrading_respells_names_written_in_traditional_characters(tmp_path: Path) -> None:
    """Issue 11 #15: names stored before search compared simplified characters are spelled
    again, so that 张三 finds 張三 without anyone editing them."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    asyncio.run(upgrade(url, "0007"))
    db = sqlite3.connect(tmp_path / "old.db")
    old = ("單 dan chan shan|田 tian|芳 fang", "dan tian fang\x01單田芳")
    db.execute(
        "INSERT INTO users (id, tenant_id, name, mobile, is_admin, created_at, updated_at,"
        " name_readings, sort_key)"
        " VALUES ('0189aaaa000070008000000000000001', '0189aaaa000070008000000000000002',"
        " '單田芳', '+8613800000001', 0, '2026-01-01', '2026-01-01', ?, ?)",
        old,
    )
    db.execute(
        "INSERT INTO users (id, tenant_id, name, mobile, is_admin, created_at, updated_at,"
        " name_readings, sort_key)"
        " VALUES ('0189aaaa000070008000000000000003', '0189aaaa000070008000000000000002',"
        " '张三', '+8613800000002', 0, '2026-01-01', '2026-01-01', 'kept', 'kept')"
    )
    db.commit()
    asyncio.run(upgrade(url))
    assert db.execute("SELECT name, name_readings, sort_key FROM users ORDER BY id").fetchall() == [
        ("單田芳", "单 shan dan chan|田 tian|芳 fang", "shan tian fang\x01单田芳"),
        ("张三", "kept", "kept"),  # nothing to convert: untouched
    ]
