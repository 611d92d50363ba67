"""Users (DIR-4, DIR-5, CL-5, ADM-6…ADM-21) through the API."""

from __future__ import annotations

import struct
import zlib

from sqlalchemy import func, select

from tests.conftest import World, bearer
from tests.directory.conftest import Console, enterprise
from zongji.audit.models import AuditEntry
from zongji.directory.models import User
from zongji.platform.db import PLATFORM

URL = "/api/v1/directory/users"


def png() -> bytes:
    raw = b"\x00\xff\x00\x00"
    body = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", body)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


async def test_a_user_with_every_field(acme: Console, world: World) -> None:
    op = bearer(await world.operator_token())
    await world.client.post(
        f"/api/v1/platform/enterprises/{acme.tenant.id}/numbers",
        json={"numbers": ["025-84001111"]},
        headers=op,
    )
    await world.client.patch(
        f"/api/v1/platform/enterprises/{acme.tenant.id}",
        json={"features": {"callback": True}},
        headers=op,
    )
    dept = await acme.department("研发部")
    user = await acme.user(
        " 曾  小贤 ",
        "１３８ 0000 0001",
        extension="８００１",
        department_id=dept["id"],
        title="主持人",
        email="zeng@example.com",
        phone="84002222",
        address="南京市",
        direct_line="02584001111",
        main_number="+86 25 8400 0000",
        is_admin=True,
        is_receptionist=True,
        conference_allowed=False,
        outbound_restriction="local",
        outbound_mode="callback",
        outbound_time="workdays",
        monthly_minutes=300,
        work_start="8:30",
        work_end="17:30",
        valid_from="2026-01-01",
        valid_until="2026-12-31",
        pinned=True,
        pin_order=3,
    )
    assert user["name"] == "曾 小贤"
    assert user["pinyin"] == "zeng xiao xian"
    assert user["mobile"] == "+8613800000001"
    assert user["extension"] == "8001"
    assert user["department_path"] == "研发部"
    assert user["phone"] == "+862584002222"
    assert user["direct_line"] == "+862584001111"
    assert user["main_number"] == "+862584000000"
    assert (user["is_admin"], user["is_receptionist"], user["conference_allowed"]) == (
        True,
        True,
        False,
    )
    assert (user["outbound_restriction"], user["outbound_mode"], user["outbound_time"]) == (
        "local", "callback", "workdays",
    )  # fmt: skip
    assert (user["monthly_minutes"], user["work_start"], user["work_end"]) == (
        300,
        "08:30",
        "17:30",
    )
    assert (user["valid_from"], user["valid_until"]) == ("2026-01-01", "2026-12-31")
    assert (user["pinned"], user["pin_order"], user["registered"]) == (True, 3, False)
    r = await acme.call("GET", f"{URL}/{user['id']}")
    assert r.json() == user
    async with world.services.db.session(PLATFORM) as s:
        entry = await s.scalar(select(AuditEntry).where(AuditEntry.action == "user.create"))
    assert entry is not None
    assert entry.summary["created"]["extension"] == "8001"


async def test_listing_order_is_pinned_then_pinyin(acme: Console) -> None:
    for name, mobile in [("张三", "13800000001"), ("李四", "13800000002"), ("阿里", "13800000003"),
                         ("王五", "13800000004"), ("Bob", "13800000005")]:  # fmt: skip
        await acme.user(name, mobile)
    await acme.user("赵老板", "13800000006", pinned=True, pin_order=2)
    await acme.user("钱总", "13800000007", pinned=True, pin_order=1)
    r = await acme.call("GET", URL)
    assert [u["name"] for u in r.json()["items"]] == [
        "钱总",
        "赵老板",
        "阿里",
        "Bob",
        "李四",
        "王五",
        "张三",
    ]
    pages, cursor = [], None
    while True:
        r = await acme.call(
            "GET", URL, params={"limit": 2, **({"cursor": cursor} if cursor else {})}
        )
        pages += [u["name"] for u in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert pages == ["钱总", "赵老板", "阿里", "Bob", "李四", "王五", "张三"]
    r = await acme.call("GET", URL, params={"cursor": "garbage"})
    assert (r.status_code, r.json()["code"]) == (400, "invalid_cursor")


async def test_the_next_free_extension_is_assigned_when_none_is_given(acme: Console) -> None:
    await acme.user("甲", "13800000001", extension="8000")
    await acme.user("乙", "13800000002", extension="8002")
    third = await acme.user("丙", "13800000003")
    fourth = await acme.user("丁", "13800000004")
    assert (third["extension"], fourth["extension"]) == ("8001", "8003")


async def test_field_errors_are_reported_one_by_one_and_nothing_is_written(
    acme: Console, world: World
) -> None:
    r = await acme.call(
        "POST",
        URL,
        json={
            "name": "",
            "mobile": "12345",
            "email": "not-mail",
            "outbound_restriction": "galactic",
            "monthly_minutes": -1,
            "work_start": "25:00",
        },
    )
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert {
        "name",
        "mobile",
        "email",
        "outbound_restriction",
        "monthly_minutes",
        "work_start",
    } <= fields
    r = await acme.call(
        "POST", URL, json={"name": "甲", "mobile": "13800000001", "extension": "110"}
    )
    assert r.json()["errors"][0]["code"] == "extension_reserved"
    r = await acme.call(
        "POST", URL, json={"name": "甲", "mobile": "13800000001", "extension": "*72"}
    )
    assert r.json()["errors"][0]["code"] == "extension_not_digits"
    r = await acme.call(
        "POST", URL, json={"name": "甲", "mobile": "13800000001", "extension": "80011"}
    )
    assert r.json()["errors"][0]["code"] == "extension_length"
    r = await acme.call(
        "POST", URL, json={"name": "甲", "mobile": "13800000001", "extension": "7001"}
    )
    assert r.json()["errors"][0]["code"] == "extension_out_of_range"
    r = await acme.call(
        "POST",
        URL,
        json={"name": "甲", "mobile": "13800000001", "outbound_restriction": "international"},
    )
    assert r.json()["errors"][0]["code"] == "international_not_allowed"  # SEC-5: operator's call
    r = await acme.call(
        "POST", URL, json={"name": "甲", "mobile": "13800000001", "direct_line": "02584009999"}
    )
    assert r.json()["errors"][0]["code"] == "number_not_in_pool"
    async with world.services.db.session(PLATFORM) as s:
        assert await s.scalar(select(func.count()).select_from(User)) == 0


async def test_mobile_and_extension_are_unique_within_the_enterprise(
    acme: Console, world: World
) -> None:
    await acme.user("甲", "13800000001", extension="8001")
    r = await acme.call(
        "POST", URL, json={"name": "乙", "mobile": "13800000001", "extension": "8001"}
    )
    assert r.status_code == 422
    assert {e["code"] for e in r.json()["errors"]} == {"mobile_taken", "extension_taken"}
    other = await enterprise(world, "other")
    r = await world.client.post(
        URL,
        json={"name": "丙", "mobile": "13800000001", "extension": "8001"},
        headers=bearer(other.admin_token),
    )
    assert r.status_code == 201  # another enterprise: its own numbering


async def test_change_moves_and_deletes(acme: Console, world: World) -> None:
    op = bearer(await world.operator_token())
    await world.client.post(
        f"/api/v1/platform/enterprises/{acme.tenant.id}/numbers",
        json={"numbers": ["84001111"]},
        headers=op,
    )
    dept = await acme.department("销售部")
    user = await acme.user("张三", "13800000001", direct_line="84001111", title="工程师")
    r = await acme.call(
        "PATCH",
        f"{URL}/{user['id']}",
        json={"department_id": dept["id"], "title": None, "name": "张叁"},
    )
    assert r.status_code == 200, r.text
    changed = r.json()
    assert (changed["department_path"], changed["title"], changed["name"]) == (
        "销售部",
        None,
        "张叁",
    )
    assert (changed["extension"], changed["direct_line"]) == (user["extension"], "+862584001111")
    r = await acme.call("PATCH", f"{URL}/{user['id']}", json={"mobile": None})
    assert r.status_code == 422
    r = await acme.call("PATCH", f"{URL}/{user['id']}", json={"work_start": "19:00"})
    assert r.status_code == 422  # after the (unchanged) end of work

    r = await acme.call("DELETE", f"{URL}/{user['id']}")
    assert r.status_code == 204
    assert (await acme.call("GET", f"{URL}/{user['id']}")).status_code == 404
    r = await acme.call("GET", "/api/v1/directory/numbers", params={"state": "free"})
    assert [n["number"] for n in r.json()] == ["+862584001111"]  # released with the user
    again = await acme.user("李四", "13800000002", extension=user["extension"])
    assert again["extension"] == user["extension"]  # the extension is free again


async def test_max_users_is_enforced(world: World) -> None:
    from tests.directory.conftest import Console, enterprise

    small = Console(world, await enterprise(world, "small", max_users=1))
    await small.user("甲", "13800000001")
    r = await small.call("POST", URL, json={"name": "乙", "mobile": "13800000002"})
    assert (r.status_code, r.json()["code"]) == (409, "user_limit_reached")


async def test_contact_managers_edit_from_the_client_employees_cannot(acme: Console) -> None:
    await acme.user("经理", "13800000009", is_admin=True)
    colleague = await acme.user("员工", "13800000008")
    manager = await acme.employee("13800000009")
    employee = await acme.employee("13800000008")
    r = await acme.call(
        "POST", URL, json={"name": "新人", "mobile": "13800000007"}, headers=manager
    )
    assert r.status_code == 201
    r = await acme.call(
        "PATCH", f"{URL}/{colleague['id']}", json={"title": "组长"}, headers=manager
    )
    assert r.json()["title"] == "组长"
    r = await acme.call(
        "POST", URL, json={"name": "新人2", "mobile": "13800000006"}, headers=employee
    )
    assert r.status_code == 403
    r = await acme.call("PATCH", f"{URL}/{colleague['id']}", json={"title": "x"}, headers=employee)
    assert r.status_code == 403
    r = await acme.call("GET", URL, headers=employee)
    assert len(r.json()["items"]) == 3
    me = (await acme.call("GET", "/api/v1/directory/me", headers=employee)).json()
    assert me["registered"] is True  # logged in: registered (DIR-1)


async def test_contact_managers_edit_directory_fields_never_policy_or_roles(
    acme: Console, world: World
) -> None:
    """Item 17: a contact manager may not raise their own outbound restriction nor hand out the
    admin or receptionist flags; the console admin still may."""
    await world.client.patch(
        f"/api/v1/platform/enterprises/{acme.tenant.id}",
        json={"features": {"international_calling": True}},
        headers=bearer(await world.operator_token()),
    )
    me = await acme.user("经理", "13800000009", is_admin=True)
    colleague = await acme.user("员工", "13800000008")
    manager = await acme.employee("13800000009")
    refused = [
        (me["id"], {"outbound_restriction": "international"}, "outbound_restriction"),
        (me["id"], {"monthly_minutes": 100000}, "monthly_minutes"),
        (me["id"], {"valid_until": "2099-12-31"}, "valid_until"),
        (colleague["id"], {"is_admin": True}, "is_admin"),
        (colleague["id"], {"is_receptionist": True}, "is_receptionist"),
        (colleague["id"], {"title": "组长", "outbound_mode": "callback"}, "outbound_mode"),
        (colleague["id"], {"conference_allowed": False}, "conference_allowed"),
    ]
    for user_id, body, field in refused:
        r = await acme.call("PATCH", f"{URL}/{user_id}", json=body, headers=manager)
        assert r.status_code == 403, (body, r.text)
        assert (r.json()["code"], r.json()["field"]) == ("field_not_permitted", field)
    r = await acme.call(
        "POST", URL, json={"name": "新人", "mobile": "13800000007", "is_admin": True},
        headers=manager,
    )  # fmt: skip
    assert (r.status_code, r.json()["field"]) == (403, "is_admin")
    # nothing was written by the refused requests
    after = (await acme.call("GET", f"{URL}/{colleague['id']}")).json()
    assert (after["is_admin"], after["is_receptionist"], after["title"]) == (False, False, None)
    mine = (await acme.call("GET", f"{URL}/{me['id']}")).json()
    assert mine["outbound_restriction"] == "domestic"
    # directory fields pass, and sending back a policy value unchanged is not a change
    r = await acme.call(
        "PATCH",
        f"{URL}/{colleague['id']}",
        json={"title": "组长", "extension": "8123", "is_admin": False, "work_start": "9:00"},
        headers=manager,
    )
    assert r.status_code == 200, r.text
    r = await acme.call(
        "POST", URL, json={"name": "新人", "mobile": "13800000007", "is_admin": False},
        headers=manager,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    # the console admin sets policy and roles
    r = await acme.call(
        "PATCH", f"{URL}/{colleague['id']}", json={"is_admin": True, "is_receptionist": True}
    )
    assert (r.json()["is_admin"], r.json()["is_receptionist"]) == (True, True)


async def test_users_edit_their_own_profile_but_only_its_own_fields(acme: Console) -> None:
    await acme.user("员工", "13800000008", extension="8008")
    me = await acme.employee("13800000008")
    r = await acme.call(
        "PATCH", "/api/v1/directory/me",
        json={"name": "新名字", "email": "me@example.com", "phone": "84003333", "address": "苏州"},
        headers=me,
    )  # fmt: skip
    assert r.status_code == 200
    assert (r.json()["name"], r.json()["phone"], r.json()["address"]) == (
        "新名字",
        "+862584003333",
        "苏州",
    )
    r = await acme.call("PATCH", "/api/v1/directory/me", json={"extension": "8009"}, headers=me)
    assert r.status_code == 422  # not theirs to change
    r = await acme.call("PUT", "/api/v1/directory/me/avatar", content=png(), headers=me)
    assert r.status_code == 200, r.text
    url = r.json()["avatar_url"]
    r = await acme.call("GET", url.split("?")[0], headers=me)
    assert (r.status_code, r.headers["content-type"], r.content) == (200, "image/png", png())
    r = await acme.call("PUT", "/api/v1/directory/me/avatar", content=b"<svg/>", headers=me)
    assert (r.status_code, r.json()["code"]) == (415, "avatar_not_an_image")
    r = await acme.call(
        "PUT",
        "/api/v1/directory/me/avatar",
        content=b"\x89PNG\r\n\x1a\n" + b"0" * 3_000_000,
        headers=me,
    )
    assert r.status_code == 413


async def test_another_enterprise_never_sees_users(acme: Console, world: World) -> None:
    user = await acme.user("张三", "13800000001")
    other = bearer((await enterprise(world, "other")).admin_token)
    r = await world.client.get(URL, headers=other)
    assert r.json()["items"] == []
    for method in ("GET", "PATCH", "DELETE"):
        kw = {"json": {"title": "x"}} if method == "PATCH" else {}
        r = await world.client.request(method, f"{URL}/{user['id']}", headers=other, **kw)
        assert r.status_code == 404, method
    r = await world.client.post(f"{URL}/{user['id']}/invite", headers=other)
    assert r.status_code == 404


async def test_concurrent_creates_of_one_mobile_make_one_user(acme: Console, world: World) -> None:
    import asyncio

    body = {"name": "甲", "mobile": "13800000001"}
    first, second = await asyncio.gather(
        acme.call("POST", URL, json=body), acme.call("POST", URL, json={**body, "name": "乙"})
    )
    assert sorted([first.status_code, second.status_code])[0] == 201
    assert sorted([first.status_code, second.status_code])[1] in (409, 422)
    async with world.services.db.session(PLATFORM) as s:
        assert await s.scalar(select(func.count()).select_from(User)) == 1
