"""Device credentials over HTTP: employees their own, admins any user's, operators the blocks."""

from __future__ import annotations

import uuid

from tests.conftest import World, bearer
from tests.pbx.devices.conftest import Phone, SipServer, new_phone

from zongji.audit.service import AuditFilter
from zongji.pbx.devices.credentials import IssuedCredential
from zongji.pbx.devices.models import SipCredential
from zongji.platform.db import TenantScope


async def test_employee_issues_lists_and_revokes_own_devices(world: World) -> None:
    acme = await world.enterprise("acme")
    await world.user(acme, "张三", "13800000001", extension="8001")
    me = bearer((await world.code_login("13800000001"))["access_token"])

    r = await world.client.post(
        "/api/v1/me/devices", json={"kind": "softphone", "label": "手机"}, headers=me
    )
    assert r.status_code == 201, r.text
    issued = r.json()
    assert issued["username"].startswith("8001-")
    assert issued["sip_domain"] == "acme.zongji.local"
    assert len(issued["password"]) >= 16
    assert issued["registrar"]["port"] == world.services.settings.sip_port
    assert issued["registered"] is False

    r = await world.client.get("/api/v1/me/devices", headers=me)
    assert r.status_code == 200
    (listed,) = r.json()["items"]
    assert listed["id"] == issued["id"]
    assert "password" not in listed  # shown once, never again

    # the database holds no password, only the HA1 values
    async with world.services.db.session(TenantScope(acme.id)) as session:
        row = await session.get(SipCredential, uuid.UUID(issued["id"]))
        assert row is not None
        stored = " ".join(str(v) for v in vars(row).values())
        assert issued["password"] not in stored

    r = await world.client.delete(f"/api/v1/me/devices/{issued['id']}", headers=me)
    assert r.status_code == 204
    assert (await world.client.get("/api/v1/me/devices", headers=me)).json()["items"] == []
    r = await world.client.delete(f"/api/v1/me/devices/{issued['id']}", headers=me)
    assert r.status_code == 404
    assert r.json()["code"] == "not_found"


async def test_bad_device_kind_is_422(world: World) -> None:
    acme = await world.enterprise("acme")
    await world.user(acme, "张三", "13800000001")
    me = bearer((await world.code_login("13800000001"))["access_token"])
    r = await world.client.post("/api/v1/me/devices", json={"kind": "toaster"}, headers=me)
    assert r.status_code == 422
    r = await world.client.post("/api/v1/me/devices", json={"label": "x" * 65}, headers=me)
    assert r.status_code == 422


async def test_an_employee_cannot_revoke_a_colleagues_device(world: World) -> None:
    acme = await world.enterprise("acme")
    await world.user(acme, "张三", "13800000001")
    colleague = await world.user(acme, "李四", "13800000002")
    me = bearer((await world.code_login("13800000001"))["access_token"])
    admin = bearer(acme.admin_token)
    r = await world.client.post(
        f"/api/v1/directory/users/{colleague}/devices", json={"kind": "desk_phone"}, headers=admin
    )
    assert r.status_code == 201, r.text
    theirs = r.json()["id"]
    r = await world.client.delete(f"/api/v1/me/devices/{theirs}", headers=me)
    assert r.status_code == 404


async def test_admin_manages_a_users_devices_within_the_enterprise(world: World) -> None:
    acme = await world.enterprise("acme")
    beta = await world.enterprise("beta")
    alice = await world.user(acme, "张三", "13800000001")
    bob = await world.user(beta, "李四", "13800000002")
    admin = bearer(acme.admin_token)

    r = await world.client.post(
        f"/api/v1/directory/users/{alice}/devices",
        json={"kind": "desk_phone", "label": "前台话机"},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    device = r.json()
    assert device["password"]
    r = await world.client.get(f"/api/v1/directory/users/{alice}/devices", headers=admin)
    assert [d["id"] for d in r.json()["items"]] == [device["id"]]
    r = await world.client.get(f"/api/v1/directory/users/{alice}/registrations", headers=admin)
    assert r.json() == {"items": []}

    # another enterprise's user does not exist for this admin
    for method, path in (
        ("GET", f"/api/v1/directory/users/{bob}/devices"),
        ("POST", f"/api/v1/directory/users/{bob}/devices"),
        ("GET", f"/api/v1/directory/users/{bob}/registrations"),
    ):
        r = await world.client.request(method, path, json={}, headers=admin)
        assert r.status_code == 404, (method, path, r.text)

    r = await world.client.delete(
        f"/api/v1/directory/users/{alice}/devices/{device['id']}", headers=admin
    )
    assert r.status_code == 204
    entries = await world.services.audit.list(
        TenantScope(acme.id), AuditFilter(action="device."), limit=10
    )
    assert sorted(e.action for e in entries) == ["device.issue", "device.revoke"]
    assert {e.actor_kind for e in entries} == {"admin"}
    assert all(device["password"] not in str(e.summary) for e in entries)


async def test_registrations_are_listed_for_the_user_and_the_admin(
    world: World, sip: SipServer, phones: list[Phone]
) -> None:
    acme = await world.enterprise("acme")
    alice = await world.user(acme, "张三", "13800000001", extension="8001")
    me = bearer((await world.code_login("13800000001"))["access_token"])
    r = await world.client.post("/api/v1/me/devices", json={"kind": "softphone"}, headers=me)
    body = r.json()
    cred = await _issued(world, acme.id, body)
    phone = await new_phone(sip, phones)
    assert (await phone.register(cred, expires=600)).status == 200

    r = await world.client.get("/api/v1/me/registrations", headers=me)
    (registration,) = r.json()["items"]
    assert registration["device_id"] == body["id"]
    assert registration["username"] == body["username"]
    assert registration["transport"] == "udp"
    assert registration["source"].startswith("127.0.0.1:")
    assert 590 <= registration["expires_in"] <= 600
    assert registration["nat"] is False
    r = await world.client.get(
        f"/api/v1/directory/users/{alice}/registrations", headers=bearer(acme.admin_token)
    )
    assert len(r.json()["items"]) == 1
    (device,) = (await world.client.get("/api/v1/me/devices", headers=me)).json()["items"]
    assert device["registered"] is True


async def test_operator_sees_and_lifts_blocks(
    world: World, sip: SipServer, phones: list[Phone]
) -> None:
    acme = await world.enterprise("acme")
    await world.user(acme, "张三", "13800000001", extension="8001")
    me = bearer((await world.code_login("13800000001"))["access_token"])
    body = (await world.client.post("/api/v1/me/devices", json={}, headers=me)).json()
    cred = await _issued(world, acme.id, body)
    phone = await new_phone(sip, phones)
    guard = sip.services.pbx.guard
    for _ in range(guard.max_failures):
        if (await phone.register(cred, password="wrong")).status == 403:
            break
    operator = bearer(await world.operator_token())

    r = await world.client.get("/api/v1/platform/sip/blocks", headers=operator)
    assert r.status_code == 200
    (block,) = r.json()["items"]
    assert block["host"] == "127.0.0.1"
    assert block["failures"] >= guard.max_failures
    assert block["username"] is None  # a whole address (not a trusted proxy)
    r = await world.client.get("/api/v1/platform/sip/blocks", headers=bearer(acme.admin_token))
    assert r.status_code == 403

    r = await world.client.delete("/api/v1/platform/sip/blocks/127.0.0.1", headers=operator)
    assert r.status_code == 204
    r = await world.client.delete("/api/v1/platform/sip/blocks/127.0.0.1", headers=operator)
    assert r.status_code == 404
    assert r.json()["code"] == "not_blocked"
    assert (await phone.register(cred)).status == 200


async def _issued(world: World, tenant_id: uuid.UUID, body: dict[str, str]) -> IssuedCredential:
    record = await world.services.pbx.credentials.get(tenant_id, uuid.UUID(body["id"]))
    assert record is not None
    return IssuedCredential(record, body["password"])
