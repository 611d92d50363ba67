"""A user out of service — suspended (OPS-3 停机) or outside the validity period (ADM-21) — can't
log in, refresh or use a session; admins and the operator suspend and resume single users."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx

from tests.conftest import World, bearer
from zongji.platform.clock import FakeClock

MOBILE = "13800000001"
USERS = "/api/v1/directory/users"


async def _refresh(client: httpx.AsyncClient, tokens: dict[str, Any]) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/refresh",
        json={"refresh_token": tokens["refresh_token"], "device_id": tokens["device_id"]},
    )


async def _code_login(world: World, mobile: str) -> httpx.Response:
    r = await world.client.post("/api/v1/auth/code", json={"mobile": mobile})
    assert r.status_code == 202, r.text
    code = await world.last_code(mobile)
    return await world.client.post("/api/v1/auth/code-login", json={"mobile": mobile, "code": code})


async def test_a_suspended_user_is_listed_but_logged_out_until_resumed(
    world: World, clock: FakeClock
) -> None:
    t = await world.enterprise("acme")
    user_id = await world.user(t, "甲", MOBILE)
    tokens = await world.code_login(MOBILE)
    me = bearer(tokens["access_token"])
    admin = bearer(t.admin_token)

    r = await world.client.post(
        f"{USERS}/{user_id}/suspend", json={"reason": "离职交接"}, headers=admin
    )
    assert r.status_code == 200, r.text
    assert r.json()["suspended"] is True
    # the running session ends at once: requests and refresh are refused
    r = await world.client.get("/api/v1/directory/me", headers=me)
    assert (r.status_code, r.json()["code"]) == (401, "session_ended")
    r = await _refresh(world.client, tokens)
    assert (r.status_code, r.json()["code"]) == (401, "session_ended")
    clock.advance(61)
    r = await _code_login(world, MOBILE)
    assert (r.status_code, r.json()["code"]) == (403, "user_suspended")
    # still in the directory, marked
    r = await world.client.get(USERS, headers=admin)
    [listed] = r.json()["items"]
    assert (listed["name"], listed["suspended"]) == ("甲", True)
    # suspending again changes nothing (a BSS may retry)
    r = await world.client.post(f"{USERS}/{user_id}/suspend", headers=admin)
    assert (r.status_code, r.json()["suspended"]) == (200, True)

    r = await world.client.post(f"{USERS}/{user_id}/resume", headers=admin)
    assert (r.status_code, r.json()["suspended"]) == (200, False)
    clock.advance(61)
    r = await _code_login(world, MOBILE)
    assert r.status_code == 200, r.text
    r = await _refresh(world.client, tokens)
    assert r.status_code == 401  # the old session stays ended


async def test_the_operator_suspends_and_resumes_a_user_managers_cannot(world: World) -> None:
    t = await world.enterprise("acme")
    other = await world.enterprise("other")
    user_id = await world.user(t, "甲", MOBILE)
    await world.user(t, "经理", "13800000009", is_admin=True)
    manager = bearer((await world.code_login("13800000009"))["access_token"])
    op = bearer(await world.operator_token())
    base = f"/api/v1/platform/enterprises/{t.id}/users/{user_id}"

    r = await world.client.post(f"{base}/suspend", headers=op)
    assert (r.status_code, r.json()["suspended"]) == (200, True)
    r = await _code_login(world, MOBILE)
    assert (r.status_code, r.json()["code"]) == (403, "user_suspended")
    r = await world.client.post(f"{base}/resume", headers=op)
    assert (r.status_code, r.json()["suspended"]) == (200, False)
    # another enterprise's user is not found there
    r = await world.client.post(
        f"/api/v1/platform/enterprises/{other.id}/users/{user_id}/suspend", headers=op
    )
    assert r.status_code == 404
    # contact managers and enterprise admins can't use the operator's route; managers can't
    # suspend at all (it is telephony policy)
    r = await world.client.post(f"{USERS}/{user_id}/suspend", headers=manager)
    assert r.status_code == 403
    r = await world.client.post(f"{base}/suspend", headers=bearer(t.admin_token))
    assert r.status_code == 403


async def test_outside_the_validity_period_no_login_and_no_session(
    world: World, clock: FakeClock
) -> None:
    # the clock stands at 2026-01-05 10:00 in Shanghai
    t = await world.enterprise("acme")
    await world.user(t, "过期", "13800000002", valid_until=date(2026, 1, 4))
    await world.user(t, "未到", "13800000003", valid_from=date(2026, 1, 6))
    await world.user(t, "在期", MOBILE, valid_from=date(2026, 1, 5), valid_until=date(2026, 1, 5))

    r = await _code_login(world, "13800000002")
    assert (r.status_code, r.json()["code"]) == (403, "outside_validity")
    assert r.json()["valid_until"] == "2026-01-04"
    r = await _code_login(world, "13800000003")
    assert (r.status_code, r.json()["code"]) == (403, "outside_validity")
    assert r.json()["valid_from"] == "2026-01-06"

    clock.advance(13 * 3600 + 55 * 60)  # 23:55 on the last valid day: in
    tokens = await world.code_login(MOBILE)
    r = await world.client.get("/api/v1/directory/me", headers=bearer(tokens["access_token"]))
    assert r.status_code == 200
    clock.advance(5 * 60)  # 2026-01-06 00:00 in Shanghai: out
    r = await world.client.get("/api/v1/directory/me", headers=bearer(tokens["access_token"]))
    assert (r.status_code, r.json()["code"]) == (403, "outside_validity")
    r = await _refresh(world.client, tokens)
    assert (r.status_code, r.json()["code"]) == (403, "outside_validity")
