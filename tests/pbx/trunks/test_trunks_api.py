"""The operator's trunk API: CRUD, validation with stable codes, the operation log, and roles."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx

from tests.conftest import World, bearer
from tests.pbx.trunks.carrier import HOST, Carrier
from zongji.audit.models import AuditEntry
from zongji.audit.service import AuditFilter
from zongji.platform.db import PLATFORM, PLATFORM_TENANT
from zongji.services import Services
from zongji.sip.ua.core import UserAgent

URL = "/api/v1/platform/trunks"


def _registration(**extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "telecom-nj-1",
        "host": "sip.carrier.example.com",
        "port": 5060,
        "transport": "udp",
        "mode": "registration",
        "username": "02588880000",
        "password": "carrier-secret",
        "realm": "carrier.example.com",
        "priority": 10,
        "options_interval": 20,
    }
    body.update(extra)
    return body


def _ip(**extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "unicom-ip",
        "host": "203.0.113.10",
        "mode": "ip",
        "inbound_addresses": ["203.0.113.10", "198.51.100.0/28"],
        "number_format": "national",
    }
    body.update(extra)
    return body


def _codes(response: httpx.Response) -> dict[str, str]:
    body = response.json()
    return {e["field"]: e["code"] for e in body.get("errors", [])}


async def test_operator_creates_lists_reads_changes_and_deletes(
    client: httpx.AsyncClient, world: World, services: Services
) -> None:
    auth = bearer(await world.operator_token())
    created = await client.post(URL, json=_registration(), headers=auth)
    assert created.status_code == 201, created.text
    trunk = created.json()
    assert trunk["has_password"] is True
    assert "password" not in trunk  # write-only
    assert trunk["all_enterprises"] is True
    assert trunk["number_format"] == "e164"
    assert trunk["health"]["state"] == "not_running"  # no SIP in this process

    second = await client.post(URL, json=_ip(priority=5), headers=auth)
    assert second.status_code == 201, second.text

    listed = await client.get(URL, headers=auth)
    assert listed.status_code == 200
    assert [t["name"] for t in listed.json()] == ["unicom-ip", "telecom-nj-1"]  # by priority

    one = await client.get(f"{URL}/{trunk['id']}", headers=auth)
    assert one.json()["realm"] == "carrier.example.com"

    changed = await client.patch(
        f"{URL}/{trunk['id']}", json={"priority": 1, "enabled": False}, headers=auth
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["priority"], changed.json()["enabled"]) == (1, False)
    assert changed.json()["health"]["state"] == "not_running"

    deleted = await client.delete(f"{URL}/{trunk['id']}", headers=auth)
    assert deleted.status_code == 204
    missing = await client.get(f"{URL}/{trunk['id']}", headers=auth)
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    assert [t["name"] for t in (await client.get(URL, headers=auth)).json()] == ["unicom-ip"]

    # the operation log has each step, and never the password
    entries = [e async for e in _platform_log(services)]
    actions = [e.action for e in entries]
    assert actions.count("trunk.create") == 2
    assert "trunk.change" in actions
    assert "trunk.delete" in actions
    assert all("carrier-secret" not in repr(e.summary) for e in entries)


async def _platform_log(services: Services) -> AsyncIterator[AuditEntry]:
    flt = AuditFilter(tenant_id=PLATFORM_TENANT)
    async for entry in services.audit.stream(PLATFORM, flt):
        yield entry


async def test_trunk_serving_listed_enterprises(client: httpx.AsyncClient, world: World) -> None:
    auth = bearer(await world.operator_token())
    acme = await world.enterprise("acme")
    r = await client.post(
        URL, json=_ip(all_enterprises=False, enterprise_ids=[str(acme.id)]), headers=auth
    )
    assert r.status_code == 201, r.text
    assert r.json()["enterprise_ids"] == [str(acme.id)]

    unknown = str(uuid.uuid4())
    r = await client.patch(
        f"{URL}/{r.json()['id']}", json={"enterprise_ids": [str(acme.id), unknown]}, headers=auth
    )
    assert r.status_code == 422
    assert _codes(r) == {"enterprise_ids.1": "unknown_enterprise"}


async def test_bad_input_is_refused_with_stable_codes(
    client: httpx.AsyncClient, world: World
) -> None:
    auth = bearer(await world.operator_token())

    r = await client.post(URL, json=_registration(username=None, password=None), headers=auth)
    assert r.status_code == 422
    assert r.json()["code"] == "validation_failed"
    assert _codes(r) == {"username": "required", "password": "required"}

    r = await client.post(URL, json=_registration(host="not a host!"), headers=auth)
    assert _codes(r) == {"host": "invalid_host"}

    r = await client.post(URL, json=_registration(username="bad user@x"), headers=auth)
    assert _codes(r) == {"username": "invalid_username"}

    sources = ["10.0.0.1", "nope/33", "10.0.0.0/8:5060", "10.0.0.1:0", "[::1]x", "1.2.3.4:x"]
    r = await client.post(URL, json=_ip(inbound_addresses=sources), headers=auth)
    assert _codes(r) == {f"inbound_addresses.{i}": "invalid_address" for i in range(1, 6)}
    fine = ["10.0.0.1", "10.0.0.0/8", "10.0.0.1:5060", "2001:db8::/32", "[2001:db8::1]:5060"]
    r = await client.post(URL, json=_ip(name="fine", inbound_addresses=fine), headers=auth)
    assert r.status_code == 201, r.text

    r = await client.post(URL, json=_ip(all_enterprises=False), headers=auth)
    assert _codes(r) == {"enterprise_ids": "enterprises_required"}

    # shape and ranges (pydantic's codes)
    for bad in (
        {"port": 0},
        {"port": 70000},
        {"transport": "sctp"},
        {"mode": "magic"},
        {"priority": -1},
        {"options_interval": -5},
        {"number_format": "local"},
        {"register_expires": 10},
        {"name": ""},
        {"unexpected": 1},
    ):
        r = await client.post(URL, json=_registration(**bad), headers=auth)
        assert r.status_code == 422, bad
        assert r.json()["code"] == "validation_failed", bad

    r = await client.post(URL, json=_registration(), headers=auth)
    assert r.status_code == 201
    trunk_id = r.json()["id"]
    again = await client.post(URL, json=_registration(host="other.example.com"), headers=auth)
    assert again.status_code == 409
    assert again.json()["code"] == "trunk_name_taken"

    # a change is checked against the whole trunk after it
    r = await client.patch(f"{URL}/{trunk_id}", json={"password": None}, headers=auth)
    assert _codes(r) == {"password": "required"}
    r = await client.patch(f"{URL}/{trunk_id}", json={"priority": None}, headers=auth)
    assert _codes(r) == {"priority": "required"}
    r = await client.patch(
        f"{URL}/{trunk_id}", json={"mode": "ip", "username": None, "password": None}, headers=auth
    )
    assert r.status_code == 200, r.text
    assert r.json()["has_password"] is False

    # nothing half-written: the refused changes left the trunk as it was
    r = await client.get(f"{URL}/{trunk_id}", headers=auth)
    assert r.json()["priority"] == 10

    r = await client.patch(f"{URL}/{uuid.uuid4()}", json={"priority": 3}, headers=auth)
    assert r.status_code == 404
    r = await client.delete(f"{URL}/{uuid.uuid4()}", headers=auth)
    assert r.status_code == 404


async def test_only_operators(client: httpx.AsyncClient, world: World) -> None:
    auth = bearer(await world.operator_token())
    r = await client.post(URL, json=_ip(), headers=auth)
    trunk_id = r.json()["id"]
    acme = await world.enterprise("acme")
    admin = bearer(acme.admin_token)
    for method, url, body in (
        ("GET", URL, None),
        ("POST", URL, _ip(name="x")),
        ("GET", f"{URL}/{trunk_id}", None),
        ("PATCH", f"{URL}/{trunk_id}", {"priority": 1}),
        ("DELETE", f"{URL}/{trunk_id}", None),
    ):
        r = await client.request(method, url, json=body, headers=admin)
        assert r.status_code == 403, (method, url)
        r = await client.request(method, url, json=body)
        assert r.status_code == 401, (method, url)
    assert (await client.get(f"{URL}/{trunk_id}", headers=auth)).json()["priority"] == 100


async def test_the_list_shows_each_trunks_live_health(
    client: httpx.AsyncClient, world: World, services: Services
) -> None:
    """With the node's runtime running, a trunk made through the API is registered and checked
    at once (the change event reloads it), and the API shows what the runtime sees."""
    auth = bearer(await world.operator_token())
    edge = await Carrier(passwords={"02588880000": "the-right-one"}).start()
    ua = UserAgent(local_user="zongji")
    await ua.listen("udp", HOST, 0)
    runtime = services.pbx.trunk_runtime
    try:
        await runtime.start(ua)
        r = await client.post(
            URL, json=_ip(host=HOST, port=edge.port, options_interval=0), headers=auth
        )
        ip_id = r.json()["id"]
        r = await client.post(URL, json=_registration(host=HOST, port=edge.port), headers=auth)
        reg_id = r.json()["id"]

        async def health() -> dict[str, dict[str, Any]]:
            listed = (await client.get(URL, headers=auth)).json()
            return {t["id"]: t["health"] for t in listed}

        deadline = asyncio.get_running_loop().time() + 10
        while (await health())[reg_id]["state"] != "down":
            assert asyncio.get_running_loop().time() < deadline, await health()
            await asyncio.sleep(0.1)
        seen = await health()
        assert seen[ip_id]["state"] == "up"
        assert seen[reg_id]["reason"] == "registration_failed"  # wrong password
        assert seen[reg_id]["registered"] is False
        assert "401" in seen[reg_id]["last_error"]

        r = await client.patch(f"{URL}/{reg_id}", json={"password": "the-right-one"}, headers=auth)
        assert r.status_code == 200
        while (await health())[reg_id]["state"] != "up":
            assert asyncio.get_running_loop().time() < deadline + 10, await health()
            await asyncio.sleep(0.1)
        one = (await client.get(f"{URL}/{reg_id}", headers=auth)).json()
        assert one["health"]["registered"] is True
    finally:
        await runtime.stop()
        await ua.close()
        await edge.stop()
