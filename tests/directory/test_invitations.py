"""SMS invitations (DIR-6) link to the deployment's configured public address (item 23)."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.conftest import World, clear_tables, make_settings
from tests.directory.conftest import Console, enterprise
from zongji.api.app import create_app
from zongji.platform.clock import FakeClock
from zongji.services import build_services


async def test_the_invitation_links_to_the_configured_public_base_url(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(
        database_url, tmp_path, public_base_url="https://zongji.example.cn/tenant-a/"
    )
    services = build_services(settings, clock=FakeClock())
    await clear_tables(services)
    app = create_app(services)
    app.state.ready = True
    transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 40000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://zongji.test") as client:
            world = World(services, client)
            acme = Console(world, await enterprise(world, "acme"))
            b = await acme.user("乙", "13800000002")
            r = await acme.call("POST", f"/api/v1/directory/users/{b['id']}/invite")
            assert r.status_code == 202, r.text
            [sms] = await services.outbox.read(to="+8613800000002")
            assert "https://zongji.example.cn/tenant-a/app/" in sms.text
            assert "127.0.0.1" not in sms.text
    finally:
        await services.close()
