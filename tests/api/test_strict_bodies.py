"""Request bodies are taken as typed (item 21): `"yes"` is not a boolean, `"5"` not an integer,
`1` not a string — each refused with 422 problem+json naming the field, and nothing changes —
while dates, UUIDs and enum values still arrive as JSON strings."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import World, bearer

USERS = "/api/v1/directory/users"


def _fields(r: httpx.Response) -> dict[str, str]:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["code"] == "validation_failed"
    return {e["field"]: e["code"] for e in body["errors"]}


async def test_voicemail_settings_refuse_a_string_for_a_boolean(world: World) -> None:
    t = await world.enterprise("acme")
    await world.user(t, "甲", "13800000001")
    me = bearer((await world.code_login("13800000001"))["access_token"])
    url = "/api/v1/me/voicemail/settings"
    before = (await world.client.get(url, headers=me)).json()
    for sloppy in ("yes", "true", 1, "0"):
        r = await world.client.patch(url, json={"enabled": sloppy}, headers=me)
        assert _fields(r) == {"enabled": "bool_type"}, sloppy
    assert (await world.client.get(url, headers=me)).json() == before
    r = await world.client.patch(url, json={"enabled": not before["enabled"]}, headers=me)
    assert r.status_code == 200


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"monthly_minutes": "5"}, "monthly_minutes", "int_type"),
        ({"monthly_minutes": 5.0}, "monthly_minutes", "int_type"),
        ({"pin_order": "1"}, "pin_order", "int_type"),
        ({"title": 1}, "title", "string_type"),
        ({"is_receptionist": "yes"}, "is_receptionist", "bool_type"),
        ({"pinned": 1}, "pinned", "bool_type"),
    ],
)
async def test_user_fields_are_not_coerced(
    world: World, body: dict[str, Any], field: str, code: str
) -> None:
    t = await world.enterprise("acme")
    admin = bearer(t.admin_token)
    r = await world.client.post(
        USERS, json={"name": "甲", "mobile": "13800000001", **body}, headers=admin
    )
    assert _fields(r) == {field: code}
    r = await world.client.post(USERS, json={"name": 1, "mobile": 13800000001}, headers=admin)
    assert _fields(r) == {"name": "string_type", "mobile": "string_type"}
    assert (await world.client.get(USERS, headers=admin)).json()["items"] == []


async def test_json_strings_still_carry_dates_uuids_and_choices(world: World) -> None:
    t = await world.enterprise("acme")
    admin = bearer(t.admin_token)
    r = await world.client.post(
        "/api/v1/directory/departments", json={"name": "研发部"}, headers=admin
    )
    dept = r.json()["id"]
    r = await world.client.post(
        USERS,
        json={
            "name": "甲",
            "mobile": "13800000001",
            "department_id": dept,
            "valid_from": "2026-01-01",
            "outbound_restriction": "local",
            "monthly_minutes": 300,
            "is_receptionist": True,
        },
        headers=admin,
    )
    assert r.status_code == 201, r.text
    user = r.json()
    assert (user["department_id"], user["valid_from"], user["outbound_restriction"]) == (
        dept,
        "2026-01-01",
        "local",
    )
    r = await world.client.post(
        "/api/v1/auth/login", json={"account": "acme-admin", "password": True}
    )
    assert _fields(r) == {"password": "string_type"}
