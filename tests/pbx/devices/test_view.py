"""The telephony view: loaded once per enterprise, dropped by directory events, never stale."""

from __future__ import annotations

import asyncio

from tests.pbx.devices.conftest import SipServer

from zongji.directory.schemas import EnterpriseChange
from zongji.directory.user_schemas import UserChange
from zongji.platform.actor import SYSTEM


async def test_enterprise_and_users_as_routing_sees_them(sip: SipServer) -> None:
    services = sip.services
    acme = await sip.enterprise("acme")
    await services.directory.enterprises.change(
        SYSTEM, acme.id, EnterpriseChange(main_number="025-8888 0000")
    )
    await services.directory.numbers.add(SYSTEM, acme.id, ["025-8888 0001"])
    alice = await sip.user(acme, "张三", "8001")
    await services.directory.users.change(
        SYSTEM, acme.id, alice, UserChange(direct_line="025-8888 0001", is_receptionist=True)
    )
    bob = await sip.user(acme, "李四", "8002")
    await services.bus.drain()
    view = services.pbx.view

    line = await view.tenant_by_domain("ACME.zongji.local")
    assert line is not None
    assert line.tenant_id == acme.id
    assert line.active
    assert line.area_code == "25"
    assert line.main_number == "+862588880000"
    assert line.extension_length == 4
    alice_sub = await view.by_extension(acme.id, "8001")
    assert alice_sub is not None
    assert alice_sub.user_id == alice
    assert alice_sub.direct_line == "+862588880001"
    assert alice_sub.is_receptionist
    bob_sub = await view.subscriber(acme.id, bob)
    assert bob_sub is not None
    assert bob_sub.direct_line is None
    assert [r.user_id for r in await view.receptionists(acme.id)] == [alice]
    assert await view.by_extension(acme.id, "8999") is None
    assert await view.tenant_by_domain("nobody.example.com") is None


async def test_loaded_once_then_reloaded_after_a_change(sip: SipServer) -> None:
    services = sip.services
    acme = await sip.enterprise("acme")
    alice = await sip.user(acme, "张三", "8001")
    await services.bus.drain()
    view = services.pbx.view
    before = view.loads
    for _ in range(5):
        assert await view.by_extension(acme.id, "8001") is not None
    assert view.loads == before + 1

    await services.directory.users.change(SYSTEM, acme.id, alice, UserChange(extension="8005"))
    await services.bus.drain()
    assert await view.by_extension(acme.id, "8001") is None
    moved = await view.by_extension(acme.id, "8005")
    assert moved is not None
    assert moved.user_id == alice
    assert view.loads == before + 2

    await services.directory.enterprises.set_status(SYSTEM, acme.id, "suspend")
    await services.bus.drain()
    line = await view.tenant(acme.id)
    assert line is not None
    assert line.status == "suspended"


async def test_a_new_enterprise_is_found_at_once_after_an_unknown_lookup(sip: SipServer) -> None:
    view = sip.services.pbx.view
    assert await view.tenant_by_domain("later.zongji.local") is None  # remembered as unknown
    later = await sip.enterprise("later")
    await sip.services.bus.drain()
    line = await view.tenant_by_domain("later.zongji.local")
    assert line is not None
    assert line.tenant_id == later.id


async def test_concurrent_requests_share_one_load(sip: SipServer) -> None:
    acme = await sip.enterprise("acme")
    await sip.user(acme, "张三", "8001")
    await sip.services.bus.drain()
    view = sip.services.pbx.view
    view.invalidate()
    before = view.loads
    found = await asyncio.gather(*(view.by_extension(acme.id, "8001") for _ in range(20)))
    assert all(s is not None for s in found)
    assert view.loads == before + 1
