"""Employee login by mobile + SMS code (CL-3): 6 digits, 5 minutes, single use, 5 wrong tries,
rate-limited per number and per source address."""

from __future__ import annotations

import httpx

from tests.conftest import World, bearer
from zongji.platform.clock import FakeClock

MOBILE = "13800001111"


async def _ask(client: httpx.AsyncClient, mobile: str = MOBILE, **kw: object) -> httpx.Response:
    return await client.post("/api/v1/auth/code", json={"mobile": mobile, **kw})


async def _login(
    client: httpx.AsyncClient, code: str, mobile: str = MOBILE, **kw: object
) -> httpx.Response:
    return await client.post("/api/v1/auth/code-login", json={"mobile": mobile, "code": code, **kw})


async def test_code_login_marks_the_user_registered(world: World) -> None:
    t = await world.enterprise("acme")
    user_id = await world.user(t, "张三", MOBILE, extension="8001")
    r = await _ask(world.client, "+86 138-0000-1111")
    assert r.status_code == 202
    assert r.json()["expires_in"] == 300
    code = await world.last_code(MOBILE)
    assert len(code) == 6
    assert code.isdigit()
    r = await _login(world.client, code, device={"name": "张三的手机", "platform": "android"})
    assert r.status_code == 200, r.text
    tokens = r.json()
    assert tokens["subject_id"] == str(user_id)
    assert tokens["roles"] == ["employee"]
    me = await world.client.get("/api/v1/auth/me", headers=bearer(tokens["access_token"]))
    assert me.json()["name"] == "张三"
    login = (await world.services.directory.users.logins_for_mobile("+8613800001111"))[0]
    assert login.registered


async def test_a_code_is_single_use(world: World) -> None:
    t = await world.enterprise("acme")
    await world.user(t, "张三", MOBILE)
    await _ask(world.client)
    code = await world.last_code(MOBILE)
    assert (await _login(world.client, code)).status_code == 200
    r = await _login(world.client, code)
    assert (r.status_code, r.json()["code"]) == (401, "code_invalid")


async def test_a_code_expires_after_five_minutes(world: World, clock: FakeClock) -> None:
    t = await world.enterprise("acme")
    await world.user(t, "张三", MOBILE)
    await _ask(world.client)
    code = await world.last_code(MOBILE)
    clock.advance(299)
    await _ask(world.client, "13800002222")  # unrelated traffic
    clock.advance(2)
    r = await _login(world.client, code)
    assert (r.status_code, r.json()["code"]) == (401, "code_expired")


async def test_five_wrong_tries_lock_the_code(world: World) -> None:
    t = await world.enterprise("acme")
    await world.user(t, "张三", MOBILE)
    await _ask(world.client)
    code = await world.last_code(MOBILE)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for left in (4, 3, 2, 1):
        r = await _login(world.client, wrong)
        assert (r.status_code, r.json()["code"], r.json()["attempts_left"]) == (
            401,
            "code_invalid",
            left,
        )
    r = await _login(world.client, wrong)
    assert r.json()["code"] == "code_locked"
    r = await _login(world.client, code)  # even the right one, now
    assert r.json()["code"] == "code_locked"


async def test_a_new_code_replaces_the_old_one(world: World, clock: FakeClock) -> None:
    t = await world.enterprise("acme")
    await world.user(t, "张三", MOBILE)
    await _ask(world.client)
    old = await world.last_code(MOBILE)
    clock.advance(61)
    await _ask(world.client)
    new = await world.last_code(MOBILE)
    if old != new:
        assert (await _login(world.client, old)).json()["code"] == "code_invalid"
    assert (await _login(world.client, new)).status_code == 200


async def test_codes_are_rate_limited_per_number(world: World, clock: FakeClock) -> None:
    t = await world.enterprise("acme")
    await world.user(t, "张三", MOBILE)
    assert (await _ask(world.client)).status_code == 202
    r = await _ask(world.client)
    assert (r.status_code, r.json()["code"]) == (429, "rate_limited")
    assert 1 <= int(r.headers["retry-after"]) <= 60
    sent = 1
    for _ in range(10):
        clock.advance(61)
        if (await _ask(world.client)).status_code == 202:
            sent += 1
    assert sent == 5  # at most 5 an hour
    rows = await world.services.outbox.read(to="+8613800001111", limit=100)
    assert len(rows) == 5


async def test_codes_are_rate_limited_per_source_address(world: World) -> None:
    statuses = [(await _ask(world.client, f"1390000{i:04d}")).status_code for i in range(7)]
    assert statuses[:5] == [202] * 5
    assert statuses[5:] == [429, 429]


async def test_unregistered_numbers_get_the_same_answer_but_no_sms(world: World) -> None:
    r = await _ask(world.client, "13600000000")
    assert r.status_code == 202
    assert await world.services.outbox.read(to="+8613600000000") == []


async def test_bad_mobiles_are_refused(world: World) -> None:
    for bad in ("12345", "02584000000", "abc"):
        r = await _ask(world.client, bad)
        assert (r.status_code, r.json()["errors"][0]["field"]) == (422, "mobile"), bad


async def test_suspended_enterprise_gets_no_code_and_no_login(world: World) -> None:
    t = await world.enterprise("acme")
    await world.user(t, "张三", MOBILE)
    await _ask(world.client)
    code = await world.last_code(MOBILE)
    op = bearer(await world.operator_token())
    await world.client.post(f"/api/v1/platform/enterprises/{t.id}/suspend", headers=op)
    r = await _login(world.client, code)
    assert (r.status_code, r.json()["code"]) == (403, "enterprise_suspended")
    before = len(await world.services.outbox.read(to="+8613800001111"))
    world.services.limiter.reset("code-send:mobile:+8613800001111")
    await _ask(world.client)
    assert len(await world.services.outbox.read(to="+8613800001111")) == before


async def test_a_mobile_in_two_enterprises_chooses_one(world: World) -> None:
    a = await world.enterprise("alpha")
    b = await world.enterprise("beta")
    await world.user(a, "张三", MOBILE)
    user_b = await world.user(b, "张三", MOBILE)
    await _ask(world.client)
    code = await world.last_code(MOBILE)
    r = await _login(world.client, code)
    assert r.status_code == 409
    assert r.json()["code"] == "enterprise_choice_required"
    assert {e["code"] for e in r.json()["enterprises"]} == {"alpha", "beta"}
    r = await _login(world.client, code, enterprise="beta")  # the code still stands
    assert r.status_code == 200
    assert r.json()["subject_id"] == str(user_b)
    assert r.json()["tenant_id"] == str(b.id)


async def test_voice_codes_are_an_interface_until_the_pbx_provides_them(world: World) -> None:
    t = await world.enterprise("acme")
    await world.user(t, "张三", MOBILE)
    r = await _ask(world.client, channel="voice")
    assert (r.status_code, r.json()["code"]) == (503, "voice_code_unavailable")

    calls: list[tuple[str, str]] = []

    class Recorder:
        async def call_with_code(self, tenant_id: object, mobile: str, code: str) -> None:
            calls.append((mobile, code))

    world.services.identity.voice = Recorder()
    r = await _ask(world.client, channel="voice")
    assert r.status_code == 202
    [(mobile, code)] = calls
    assert mobile == "+8613800001111"
    assert (await _login(world.client, code)).status_code == 200
