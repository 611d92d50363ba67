"""Enterprise provisioning by the operator and the BSS (OPS-1, OPS-3)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from tests.conftest import PASSWORD, World, bearer
from zongji.directory.models import Enterprise
from zongji.platform.db import PLATFORM
from zongji.platform.errors import Problem

URL = "/api/v1/platform/enterprises"


async def test_operator_opens_an_enterprise_with_defaults(world: World) -> None:
    op = bearer(await world.operator_token())
    r = await world.client.post(
        URL,
        json={
            "code": "acme",
            "name": " 艾克米科技 ",
            "area_code": "25",
            "city": "南京",
            "main_number": "025-8400 1234",
            "access_number": "８４００１２３５",
            "features": {"callback": True},
            "max_users": 20,
        },
        headers=op,
    )
    assert r.status_code == 201, r.text
    ent = r.json()
    assert ent["name"] == "艾克米科技"
    assert ent["area_code"] == "025"
    assert ent["sip_domain"] == "acme.zongji.local"
    assert ent["timezone"] == "Asia/Shanghai"
    assert ent["main_number"] == "+862584001234"
    assert ent["access_number"] == "+862584001235"  # full-width digits, local number
    assert ent["features"]["callback"] is True
    assert ent["features"]["international_calling"] is False  # off unless the operator allows
    assert ent["status"] == "active"
    assert ent["user_count"] == 0

    r = await world.client.get(f"{URL}/{ent['id']}", headers=op)
    assert r.json()["code"] == "acme"
    r = await world.client.get(URL, headers=op, params={"q": "艾克米"})
    assert [e["code"] for e in r.json()["items"]] == ["acme"]


async def test_invalid_fields_are_refused_one_by_one(world: World) -> None:
    op = bearer(await world.operator_token())
    r = await world.client.post(
        URL,
        json={
            "code": "ok-code",
            "name": "x" * 129,
            "area_code": "02a",
            "city": "南京",
            "timezone": "Mars/Olympus",
            "main_number": "12",
            "max_users": 0,
            "sip_domain": "not a domain",
        },
        headers=op,
    )
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert {"name", "area_code", "timezone", "max_users", "sip_domain"} <= fields
    async with world.services.db.session(PLATFORM) as s:
        assert await s.scalar(select(func.count()).select_from(Enterprise)) == 0


async def test_codes_domains_and_main_numbers_are_unique(world: World) -> None:
    await world.enterprise("alpha", main_number="02584000001")
    op = bearer(await world.operator_token())
    base = {"name": "B", "area_code": "025", "city": "南京"}
    r = await world.client.post(URL, json={**base, "code": "alpha"}, headers=op)
    assert (r.status_code, r.json()["code"]) == (409, "enterprise_code_taken")
    r = await world.client.post(
        URL, json={**base, "code": "beta", "sip_domain": "alpha.zongji.local"}, headers=op
    )
    assert (r.status_code, r.json()["code"]) == (409, "sip_domain_taken")
    r = await world.client.post(
        URL, json={**base, "code": "beta", "main_number": "+86 25 8400 0001"}, headers=op
    )
    assert (r.status_code, r.json()["code"]) == (409, "number_taken")


async def test_a_failed_admin_leaves_no_enterprise_behind(world: World) -> None:
    await world.enterprise("first")
    op = bearer(await world.operator_token())
    r = await world.client.post(
        URL,
        json={
            "code": "second",
            "name": "Second",
            "area_code": "025",
            "city": "南京",
            "admin": {"login": "first-admin", "password": PASSWORD},
        },
        headers=op,
    )
    assert (r.status_code, r.json()["code"]) == (409, "login_taken")
    r = await world.client.get(URL, headers=op)
    assert [e["code"] for e in r.json()["items"]] == ["first"]


async def test_change_updates_only_given_fields_and_merges_features(world: World) -> None:
    t = await world.enterprise("gamma", features={"callback": True})
    op = bearer(await world.operator_token())
    r = await world.client.patch(
        f"{URL}/{t.id}",
        json={
            "name": "伽马",
            "features": {"international_calling": True},
            "main_number": "84009999",
        },
        headers=op,
    )
    assert r.status_code == 200, r.text
    ent = r.json()
    assert ent["name"] == "伽马"
    assert ent["city"] == "南京"
    assert ent["main_number"] == "+862584009999"
    assert ent["features"]["callback"] is True
    assert ent["features"]["international_calling"] is True
    r = await world.client.patch(f"{URL}/{t.id}", json={"code": "new"}, headers=op)
    assert r.status_code == 422  # the code is permanent
    r = await world.client.patch(f"{URL}/{t.id}", json={"name": None}, headers=op)
    assert (r.status_code, r.json()["errors"][0]["field"]) == (422, "name")


async def test_max_users_cannot_drop_below_the_users_there_are(world: World) -> None:
    t = await world.enterprise("delta", max_users=2)
    await world.user(t, "甲", "13900000001")
    await world.user(t, "乙", "13900000002")
    with pytest.raises(Problem) as refused:
        await world.user(t, "丙", "13900000003")
    assert refused.value.code == "user_limit_reached"
    op = bearer(await world.operator_token())
    r = await world.client.patch(f"{URL}/{t.id}", json={"max_users": 1}, headers=op)
    assert (r.status_code, r.json()["code"]) == (409, "max_users_below_count")


async def test_suspend_resume_cancel_follow_the_lifecycle(world: World) -> None:
    t = await world.enterprise("eps")
    op = bearer(await world.operator_token())
    r = await world.client.post(f"{URL}/{t.id}/resume", headers=op)
    assert (r.status_code, r.json()["code"]) == (409, "invalid_status_transition")
    r = await world.client.post(f"{URL}/{t.id}/suspend", json={"reason": "欠费"}, headers=op)
    assert (r.status_code, r.json()["status"]) == (200, "suspended")
    r = await world.client.post(f"{URL}/{t.id}/suspend", headers=op)
    assert r.status_code == 409
    r = await world.client.post(f"{URL}/{t.id}/resume", headers=op)
    assert r.json()["status"] == "active"
    r = await world.client.post(f"{URL}/{t.id}/cancel", headers=op)
    assert r.json()["status"] == "cancelled"
    for verb in ("resume", "suspend", "cancel"):
        r = await world.client.post(f"{URL}/{t.id}/{verb}", headers=op)
        assert r.status_code == 409
    r = await world.client.patch(f"{URL}/{t.id}", json={"name": "x"}, headers=op)
    assert (r.status_code, r.json()["code"]) == (409, "enterprise_cancelled")
    r = await world.client.get(URL, headers=op, params={"status": "cancelled"})
    assert [e["code"] for e in r.json()["items"]] == ["eps"]


async def test_unknown_enterprise_is_404(world: World) -> None:
    op = bearer(await world.operator_token())
    r = await world.client.post(f"{URL}/01234567-89ab-7def-8123-456789abcdef/suspend", headers=op)
    assert (r.status_code, r.json()["code"]) == (404, "not_found")
    r = await world.client.post(f"{URL}/not-a-uuid/suspend", headers=op)
    assert r.status_code == 422


async def test_list_pages_by_code(world: World) -> None:
    for code in ("c1", "c2", "c3"):
        await world.enterprise(code)
    op = bearer(await world.operator_token())
    r = await world.client.get(URL, headers=op, params={"limit": 2})
    page = r.json()
    assert [e["code"] for e in page["items"]] == ["c1", "c2"]
    r = await world.client.get(URL, headers=op, params={"limit": 2, "cursor": page["next_cursor"]})
    assert [e["code"] for e in r.json()["items"]] == ["c3"]
    assert r.json()["next_cursor"] is None


async def test_only_operators_provision(world: World) -> None:
    t = await world.enterprise("zeta")
    await world.user(t, "员工", "13700000001")
    employee = (await world.code_login("13700000001"))["access_token"]
    for token in (t.admin_token, employee):
        r = await world.client.get(URL, headers=bearer(token))
        assert (r.status_code, r.json()["code"]) == (403, "forbidden")
        r = await world.client.post(f"{URL}/{t.id}/suspend", headers=bearer(token))
        assert r.status_code == 403
    r = await world.client.get(URL)
    assert r.status_code == 401
    r = await world.client.get("/api/v1/enterprise", headers=bearer(t.admin_token))
    assert r.json()["code"] == "zeta"


# -- BSS idempotency ------------------------------------------------------------------------------


async def test_bss_retry_with_the_same_request_id_does_nothing_twice(world: World) -> None:
    op = bearer(await world.operator_token())
    body = {"code": "bss1", "name": "BSS 一", "area_code": "025", "city": "南京"}
    first = await world.client.post(URL, json=body, headers={**op, "Idempotency-Key": "req-1"})
    again = await world.client.post(URL, json=body, headers={**op, "Idempotency-Key": "req-1"})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    other = await world.client.post(
        URL, json={**body, "name": "改了"}, headers={**op, "Idempotency-Key": "req-1"}
    )
    assert (other.status_code, other.json()["code"]) == (422, "request_id_reused")
    without = await world.client.post(URL, json=body, headers=op)
    assert (without.status_code, without.json()["code"]) == (409, "enterprise_code_taken")

    eid = first.json()["id"]
    s1 = await world.client.post(f"{URL}/{eid}/suspend", headers={**op, "Idempotency-Key": "s-1"})
    s2 = await world.client.post(f"{URL}/{eid}/suspend", headers={**op, "Idempotency-Key": "s-1"})
    assert s1.status_code == s2.status_code == 200
    assert s1.json()["status"] == s2.json()["status"] == "suspended"
    entries = await world.client.get(
        "/api/v1/platform/operation-log",
        params={"enterprise_id": eid, "action": "enterprise.suspend"},
        headers=op,
    )
    assert len(entries.json()["items"]) == 1  # suspended once, answered twice


async def test_concurrent_duplicates_create_one_enterprise(world: World) -> None:
    op = bearer(await world.operator_token())
    body = {"code": "race", "name": "Race", "area_code": "025", "city": "南京"}
    responses = await asyncio.gather(
        *[
            world.client.post(URL, json=body, headers={**op, "Idempotency-Key": "dup"})
            for _ in range(5)
        ]
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    async with world.services.db.session(PLATFORM) as s:
        assert await s.scalar(select(func.count()).select_from(Enterprise)) == 1


async def test_request_id_must_be_sane(world: World) -> None:
    op = bearer(await world.operator_token())
    body = {"code": "rid", "name": "R", "area_code": "025", "city": "南京"}
    r = await world.client.post(URL, json=body, headers={**op, "Idempotency-Key": "x" * 200})
    assert r.status_code == 422
