"""SMS gateways: the outbox records (and the operator reads it); the HTTP adapter posts to a
provider, and a provider failure is a clear 503, not a crash. The provider itself is the one
thing here that cannot run locally, so it is a double (an httpx mock transport)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.conftest import World, bearer, make_settings
from zongji.api.app import create_app
from zongji.platform.actor import SYSTEM
from zongji.platform.clock import FakeClock
from zongji.platform.sms import MASK, HttpSmsGateway, OutboxGateway, SmsMessage
from zongji.services import Services, build_services


async def test_http_gateway_posts_json_with_the_token() -> None:
    seen: list[httpx.Request] = []

    def provider(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": True})

    gateway = HttpSmsGateway(
        "https://sms.example/v1/send", "tok", "【云总机】", transport=httpx.MockTransport(provider)
    )
    await gateway.send(SmsMessage("+8613800000001", "您好"))
    await gateway.close()
    [request] = seen
    assert request.headers["authorization"] == "Bearer tok"
    assert json.loads(request.content) == {
        "to": "+8613800000001",
        "text": "您好",
        "signature": "【云总机】",
    }


async def test_provider_failure_answers_503(database_url: str, tmp_path: Path) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502)

    gateway = HttpSmsGateway("https://sms.example", "", "", transport=httpx.MockTransport(down))
    services = build_services(make_settings(database_url, tmp_path), clock=FakeClock(), sms=gateway)
    from tests.conftest import clear_tables

    await clear_tables(services)
    try:
        ent = await services.directory.enterprises.find_by_code("x")
        assert ent is None
        from zongji.directory.schemas import EnterpriseCreate

        created = await services.directory.enterprises.create(
            SYSTEM, EnterpriseCreate(code="sms", name="S", area_code="025", city="南京")
        )
        from zongji.directory.user_schemas import UserCreate

        await services.directory.users.create(
            SYSTEM, created.id, UserCreate(name="甲", mobile="13800000001")
        )
        app = create_app(services)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            r = await client.post("/api/v1/auth/code", json={"mobile": "13800000001"})
        assert (r.status_code, r.json()["code"]) == (503, "sms_unavailable")
    finally:
        await services.close()


async def test_operator_reads_the_outbox_but_never_a_code(world: World) -> None:
    t = await world.enterprise("acme")
    await world.user(t, "甲", "13800000001")
    await world.client.post("/api/v1/auth/code", json={"mobile": "13800000001"})
    code = await world.last_code("13800000001")  # what the phone got
    op = bearer(await world.operator_token())
    r = await world.client.get(
        "/api/v1/platform/sms-outbox", headers=op, params={"to": "138 0000 0001"}
    )
    [sms] = r.json()
    assert sms["to"] == "+8613800000001"
    assert sms["tenant_id"] == str(t.id)
    assert sms["text"] == f"【云总机】您的登录验证码是 {MASK}，5 分钟内有效，请勿告诉他人。"
    assert code not in r.text
    [row] = await world.services.outbox.read(to="+8613800000001")
    assert code not in row.text  # nor in the table
    r = await world.client.get("/api/v1/platform/sms-outbox", headers=bearer(t.admin_token))
    assert r.status_code == 403


async def test_the_demo_outbox_shows_the_code(services: Services, clock: FakeClock) -> None:
    """In the demo the outbox (and the console) stand in for the users' phones."""
    demo = OutboxGateway(services.db, clock, reveal_secrets=True)
    await demo.send(SmsMessage("+8613800000001", "验证码 654321", secret="654321"))
    [row] = await demo.read(to="+8613800000001")
    assert row.text == "验证码 654321"


def test_a_message_shows_no_secret_in_its_repr() -> None:
    message = SmsMessage("+8613800000001", "验证码 654321", secret="654321")
    assert "654321" not in repr(message)
    assert "654321" not in str(message)


def test_upgrading_masks_codes_the_outbox_kept_in_clear(tmp_path: Path) -> None:
    """Before codes were masked the outbox stored them; migration 0010 masks those too."""
    import asyncio
    import sqlite3

    from zongji.platform.migrate import upgrade

    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    asyncio.run(upgrade(url, "0007"))
    db = sqlite3.connect(tmp_path / "old.db")
    db.executemany(
        "INSERT INTO sms_outbox (id, \"to\", text, created_at) VALUES (?, '+8613800000001', ?,"
        " '2026-01-01')",
        [
            ("0189aaaa000070008000000000000001", "【云总机】您的登录验证码是 123456，5 分钟内有效"),
            ("0189aaaa000070008000000000000002", "【云总机】邀请您加入，分机 801234"),
        ],
    )
    db.commit()
    asyncio.run(upgrade(url))
    assert [r[0] for r in db.execute("SELECT text FROM sms_outbox ORDER BY id")] == [
        f"【云总机】您的登录验证码是 {MASK}，5 分钟内有效",
        "【云总机】邀请您加入，分机 801234",  # no code in it: left alone
    ]
