"""The dashboard's device figures follow real registrations: phones registering over SIP with the
registrar, counted from the journal every node writes, per enterprise."""

from __future__ import annotations

from tests.conftest import World, bearer
from tests.pbx.devices.conftest import Ent, Phone, SipServer, new_phone

from zongji.platform.actor import SYSTEM


async def test_issued_and_registered_devices(
    world: World, sip: SipServer, phones: list[Phone]
) -> None:
    t = await world.enterprise("acme")
    acme = Ent(t.id, t.code, (await world.services.directory.enterprises.get(t.id)).sip_domain)
    other = await sip.enterprise("other")
    zhang = await sip.user(acme, "张三", "8001")
    li = await sip.user(acme, "李四", "8002")
    desk, soft = await sip.device(acme, zhang, "desk_phone"), await sip.device(acme, zhang)
    await sip.device(acme, li)  # issued, never registered
    revoked = await sip.device(acme, li)
    await world.services.pbx.credentials.revoke(SYSTEM, acme.id, revoked.id)
    stranger = await sip.device(other, await sip.user(other, "王五", "8001"))
    for credential in (desk, soft, stranger):
        phone = await new_phone(sip, phones)
        assert (await phone.register(credential)).status == 200

    async def devices() -> dict[str, int]:
        r = await world.client.get("/api/v1/dashboard", headers=bearer(t.admin_token))
        assert r.status_code == 200, r.text
        found: dict[str, int] = r.json()["devices"]
        return found

    assert await devices() == {"issued": 3, "registered": 2, "users_registered": 1}
    # the desk phone unregisters (Expires: 0): counted off at once
    phone = phones[0]
    assert (await phone.register(desk, expires=0, cseq=2)).status == 200
    assert await devices() == {"issued": 3, "registered": 1, "users_registered": 1}
