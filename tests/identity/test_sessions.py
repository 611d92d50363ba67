"""Access and refresh tokens: expiry, rotation, reuse detection, device binding, logout and
deregistration (注销), password login and change, and the enterprise's state on every request."""

from __future__ import annotations

import uuid

import httpx

from tests.conftest import PASSWORD, World, bearer
from zongji.platform.clock import FakeClock

MOBILE = "13800003333"


async def _me(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get("/api/v1/auth/me", headers=bearer(token))


async def _refresh(client: httpx.AsyncClient, tokens: dict[str, object]) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/refresh",
        json={"refresh_token": tokens["refresh_token"], "device_id": tokens["device_id"]},
    )


async def test_access_tokens_expire_and_refresh_rotates(world: World, clock: FakeClock) -> None:
    t = await world.enterprise("acme")
    await world.user(t, "张三", MOBILE)
    tokens = await world.code_login(MOBILE)
    assert tokens["expires_in"] == 900
    clock.advance(901)
    r = await _me(world.client, tokens["access_token"])
    assert (r.status_code, r.json()["code"]) == (401, "token_expired")
    r = await _refresh(world.client, tokens)
    assert r.status_code == 200
    fresh = r.json()
    assert fresh["refresh_token"] != tokens["refresh_token"]
    assert fresh["device_id"] == tokens["device_id"]
    assert (await _me(world.client, fresh["access_token"])).status_code == 200


async def test_a_reused_refresh_token_ends_the_session(world: World) -> None:
    t = await world.enterprise("acme")
    await world.user(t, "张三", MOBILE)
    tokens = await world.code_login(MOBILE)
    fresh = (await _refresh(world.client, tokens)).json()
    stolen = await _refresh(world.client, tokens)  # the old one again: someone copied it
    assert (stolen.status_code, stolen.json()["code"]) == (401, "session_ended")
    r = await _refresh(world.client, fresh)
    assert (r.status_code, r.json()["code"]) == (401, "session_ended")
    r = await _me(world.client, fresh["access_token"])
    assert (r.status_code, r.json()["code"]) == (401, "session_ended")


async def test_refresh_tokens_are_bound_to_their_device(world: World) -> None:
    t = await world.enterprise("acme")
    await world.user(t, "张三", MOBILE)
    tokens = await world.code_login(MOBILE)
    r = await world.client.post(
        "/api/v1/auth/refresh",
        json={"refresh_token": tokens["refresh_token"], "device_id": str(uuid.uuid4())},
    )
    assert (r.status_code, r.json()["code"]) == (401, "invalid_refresh_token")
    r = await world.client.post(
        "/api/v1/auth/refresh",
        json={"refresh_token": "zrt_made-up", "device_id": tokens["device_id"]},
    )
    assert (r.status_code, r.json()["code"]) == (401, "invalid_refresh_token")
    assert (await _refresh(world.client, tokens)).status_code == 200


async def test_refresh_tokens_expire(world: World, clock: FakeClock) -> None:
    t = await world.enterprise("acme")
    await world.user(t, "张三", MOBILE)
    tokens = await world.code_login(MOBILE)
    clock.advance(30 * 24 * 3600 + 1)
    r = await _refresh(world.client, tokens)
    assert (r.status_code, r.json()["code"]) == (401, "session_ended")


async def test_logout_revokes_at_once(world: World) -> None:
    t = await world.enterprise("acme")
    await world.user(t, "张三", MOBILE)
    tokens = await world.code_login(MOBILE)
    r = await world.client.post("/api/v1/auth/logout", headers=bearer(tokens["access_token"]))
    assert r.status_code == 204
    assert (await _me(world.client, tokens["access_token"])).json()["code"] == "session_ended"
    assert (await _refresh(world.client, tokens)).status_code == 401


async def test_deregister_ends_every_session_of_the_device(world: World, clock: FakeClock) -> None:
    t = await world.enterprise("acme")
    await world.user(t, "张三", MOBILE)
    first = await world.code_login(MOBILE)
    clock.advance(61)
    second = await world.code_login(MOBILE, device={"device_id": first["device_id"]})
    assert second["device_id"] == first["device_id"]
    clock.advance(61)
    elsewhere = await world.code_login(MOBILE, device={"name": "平板", "platform": "ios"})
    assert elsewhere["device_id"] != first["device_id"]

    r = await world.client.post("/api/v1/auth/deregister", headers=bearer(second["access_token"]))
    assert r.status_code == 204
    for tokens in (first, second):
        assert (await _me(world.client, tokens["access_token"])).status_code == 401
        assert (await _refresh(world.client, tokens)).status_code == 401
    assert (await _me(world.client, elsewhere["access_token"])).status_code == 200
    clock.advance(61)
    again = await world.code_login(MOBILE, device={"device_id": first["device_id"]})
    assert again["device_id"] != first["device_id"]  # a deregistered device starts afresh


async def test_console_password_login_and_lockout(world: World) -> None:
    t = await world.enterprise("acme")
    r = await world.client.post(
        "/api/v1/auth/login", json={"account": t.admin_login, "password": "wrong-1"}
    )
    assert (r.status_code, r.json()["code"]) == (401, "invalid_credentials")
    r = await world.client.post(
        "/api/v1/auth/login", json={"account": "nobody", "password": "wrong-1"}
    )
    assert (r.status_code, r.json()["code"]) == (401, "invalid_credentials")
    for _ in range(9):
        await world.client.post(
            "/api/v1/auth/login", json={"account": t.admin_login, "password": "wrong-2"}
        )
    r = await world.client.post(
        "/api/v1/auth/login", json={"account": t.admin_login, "password": PASSWORD}
    )
    assert (r.status_code, r.json()["code"]) == (429, "rate_limited")


async def test_password_change_ends_other_sessions(world: World) -> None:
    t = await world.enterprise("acme")
    other = await world.password_login(t.admin_login)
    r = await world.client.post(
        "/api/v1/auth/password",
        json={"old_password": "not-it-1", "new_password": "Another-pass-456"},
        headers=bearer(t.admin_token),
    )
    assert (r.status_code, r.json()["errors"][0]["code"]) == (422, "password_wrong")
    r = await world.client.post(
        "/api/v1/auth/password",
        json={"old_password": PASSWORD, "new_password": "short"},
        headers=bearer(t.admin_token),
    )
    assert (r.status_code, r.json()["errors"][0]["code"]) == (422, "password_length")
    r = await world.client.post(
        "/api/v1/auth/password",
        json={"old_password": PASSWORD, "new_password": "Another-pass-456"},
        headers=bearer(t.admin_token),
    )
    assert r.status_code == 204
    assert (await _me(world.client, t.admin_token)).status_code == 200
    assert (await _me(world.client, other)).json()["code"] == "session_ended"
    r = await world.client.post(
        "/api/v1/auth/login", json={"account": t.admin_login, "password": PASSWORD}
    )
    assert r.status_code == 401
    await world.password_login(t.admin_login, "Another-pass-456")


async def test_employees_have_no_password_to_change(world: World) -> None:
    t = await world.enterprise("acme")
    await world.user(t, "张三", MOBILE)
    tokens = await world.code_login(MOBILE)
    r = await world.client.post(
        "/api/v1/auth/password",
        json={"old_password": "x", "new_password": "Another-pass-456"},
        headers=bearer(tokens["access_token"]),
    )
    assert r.status_code == 403


async def test_suspension_cuts_off_existing_sessions_until_resumed(world: World) -> None:
    t = await world.enterprise("acme")
    await world.user(t, "张三", MOBILE)
    employee = await world.code_login(MOBILE)
    op = bearer(await world.operator_token())
    await world.client.post(f"/api/v1/platform/enterprises/{t.id}/suspend", headers=op)
    for token in (employee["access_token"], t.admin_token):
        r = await _me(world.client, token)
        assert (r.status_code, r.json()["code"]) == (403, "enterprise_suspended")
    r = await _refresh(world.client, employee)
    assert (r.status_code, r.json()["code"]) == (403, "enterprise_suspended")
    r = await world.client.post(
        "/api/v1/auth/login", json={"account": t.admin_login, "password": PASSWORD}
    )
    assert (r.status_code, r.json()["code"]) == (403, "enterprise_suspended")
    await world.client.post(f"/api/v1/platform/enterprises/{t.id}/resume", headers=op)
    assert (await _me(world.client, employee["access_token"])).status_code == 200
    await world.client.post(f"/api/v1/platform/enterprises/{t.id}/cancel", headers=op)
    r = await _me(world.client, t.admin_token)
    assert (r.status_code, r.json()["code"]) == (403, "enterprise_cancelled")


async def test_contact_managers_carry_their_role(world: World) -> None:
    t = await world.enterprise("acme")
    await world.user(t, "管理员工", MOBILE, is_admin=True)
    tokens = await world.code_login(MOBILE)
    assert tokens["roles"] == ["contact_manager", "employee"]


async def test_forged_tokens_are_refused(world: World) -> None:
    t = await world.enterprise("acme")
    header, payload, signature = t.admin_token.split(".")
    forged = f"{header}.{payload}.{signature[:-2]}xx"
    for token in (forged, "garbage", ""):
        r = await world.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401
