"""Device credentials: issued once, revoked for good, gone with their user, bound to the domain."""

from __future__ import annotations

import pytest
from tests.pbx.devices.conftest import Phone, SipServer, new_phone

from zongji.directory.schemas import EnterpriseChange
from zongji.pbx.events import RegistrationChanged
from zongji.platform.actor import SYSTEM
from zongji.platform.errors import Problem
from zongji.sip.auth.digest import DigestAlgorithm, compute_ha1


async def test_issue_returns_the_password_once_and_stores_only_ha1(sip: SipServer) -> None:
    acme = await sip.enterprise("acme")
    alice = await sip.user(acme, "张三", "8001")
    credentials = sip.services.pbx.credentials
    issued = await credentials.issue(SYSTEM, acme.id, alice, kind="web", label="浏览器")
    assert issued.username.startswith("8001-")
    assert issued.domain == acme.domain
    record = await credentials.find(acme.id, issued.username)
    assert record is not None
    assert record.kind == "web"
    assert record.secret.password is None
    assert record.secret.ha1[DigestAlgorithm.MD5] == compute_ha1(
        DigestAlgorithm.MD5, issued.username, acme.domain, issued.password
    )
    assert record.secret.ha1[DigestAlgorithm.SHA256] == compute_ha1(
        DigestAlgorithm.SHA256, issued.username, acme.domain, issued.password
    )
    (listed,) = await credentials.list(acme.id, alice)
    assert listed.id == issued.id
    assert not hasattr(listed, "password")
    other = await credentials.issue(SYSTEM, acme.id, alice)
    assert other.username != issued.username
    assert other.password != issued.password


async def test_issue_refuses_bad_kinds_and_unknown_users(sip: SipServer) -> None:
    acme = await sip.enterprise("acme")
    beta = await sip.enterprise("beta")
    alice = await sip.user(acme, "张三", "8001")
    credentials = sip.services.pbx.credentials
    with pytest.raises(Problem) as bad_kind:
        await credentials.issue(SYSTEM, acme.id, alice, kind="fax")
    assert bad_kind.value.code == "invalid_device_kind"
    with pytest.raises(Problem) as elsewhere:
        await credentials.issue(SYSTEM, beta.id, alice)
    assert elsewhere.value.status == 404


async def test_revoking_ends_the_registration_and_the_login(
    sip: SipServer, phones: list[Phone]
) -> None:
    acme = await sip.enterprise("acme")
    alice = await sip.user(acme, "张三", "8001")
    lost = await sip.device(acme, alice)
    kept = await sip.device(acme, alice)
    phone, other = await new_phone(sip, phones), await new_phone(sip, phones)
    assert (await phone.register(lost)).status == 200
    assert (await other.register(kept)).status == 200
    location = sip.services.pbx.location
    assert len(location.contacts(acme.id, alice)) == 2

    await sip.services.pbx.credentials.revoke(SYSTEM, acme.id, lost.id)
    assert [c.device.credential_id for c in location.contacts(acme.id, alice)] == [kept.id]
    assert (await phone.register(lost)).status == 401  # unknown now: challenged, never admitted
    assert await sip.services.pbx.credentials.find(acme.id, lost.username) is None


async def test_deleting_the_user_revokes_their_devices(sip: SipServer, phones: list[Phone]) -> None:
    acme = await sip.enterprise("acme")
    alice = await sip.user(acme, "张三", "8001")
    bob = await sip.user(acme, "李四", "8002")
    cred = await sip.device(acme, alice)
    bobs = await sip.device(acme, bob)
    phone = await new_phone(sip, phones)
    assert (await phone.register(cred)).status == 200

    await sip.services.directory.users.delete(SYSTEM, acme.id, alice)
    await sip.services.bus.drain()
    credentials = sip.services.pbx.credentials
    assert await credentials.list(acme.id, alice) == []
    assert sip.services.pbx.location.contacts(acme.id, alice) == []
    assert (await phone.register(cred)).status == 401
    assert [c.id for c in await credentials.list(acme.id, bob)] == [bobs.id]


async def test_a_changed_sip_domain_needs_new_credentials(
    sip: SipServer, phones: list[Phone]
) -> None:
    acme = await sip.enterprise("acme")
    alice = await sip.user(acme, "张三", "8001")
    old = await sip.device(acme, alice)
    await sip.services.directory.enterprises.change(
        SYSTEM, acme.id, EnterpriseChange(sip_domain="pbx.acme.example")
    )
    await sip.services.bus.drain()
    phone = await new_phone(sip, phones)
    # the old HA1 is for the old realm: it cannot verify in the new one
    assert (await phone.register(old, domain="pbx.acme.example")).status == 401
    assert (await phone.register(old)).status == 404  # the old domain is nobody's now
    new = await sip.device(acme, alice)
    assert new.domain == "pbx.acme.example"
    assert (await phone.register(new)).status == 200


async def test_last_registration_time_is_written_by_housekeeping(
    sip: SipServer, phones: list[Phone]
) -> None:
    acme = await sip.enterprise("acme")
    alice = await sip.user(acme, "张三", "8001")
    cred = await sip.device(acme, alice)
    phone = await new_phone(sip, phones)
    assert (await phone.register(cred)).status == 200
    await sip.services.pbx.registrar.housekeeping()
    record = await sip.services.pbx.credentials.get(acme.id, cred.id)
    assert record is not None
    assert record.last_registered_at == sip.services.clock.now()


async def test_first_registration_marks_the_user_registered(
    sip: SipServer, phones: list[Phone]
) -> None:
    acme = await sip.enterprise("acme")
    alice = await sip.user(acme, "张三", "8001")
    cred = await sip.device(acme, alice)
    events: list[RegistrationChanged] = []

    async def seen(event: RegistrationChanged) -> None:
        events.append(event)

    sip.services.bus.subscribe(RegistrationChanged, seen)
    assert not (await sip.services.directory.users.get(acme.id, alice)).registered
    phone = await new_phone(sip, phones)
    assert (await phone.register(cred)).status == 200
    await _settle(sip)
    assert (await sip.services.directory.users.get(acme.id, alice)).registered
    assert (await phone.register(cred, expires=0, star=True)).status == 200
    await _settle(sip)
    assert [(e.tenant_id, e.user_id, e.registered) for e in events] == [
        (acme.id, alice, True),
        (acme.id, alice, False),
    ]


async def _settle(sip: SipServer) -> None:
    presence = sip.services.pbx.location.on_presence
    drain = getattr(presence, "drain", None)
    if drain is not None:
        await drain()
    await sip.services.bus.drain()


async def test_a_user_created_a_moment_ago_can_get_a_device_at_once(sip: SipServer) -> None:
    acme = await sip.enterprise("acme")
    alice = await sip.user(acme, "张三", "8001")
    await sip.device(acme, alice)  # the view of acme is now loaded
    bob = await sip.user(acme, "李四", "8002")  # its directory event not yet delivered
    issued = await sip.device(acme, bob)
    assert issued.username.startswith("8002-")
