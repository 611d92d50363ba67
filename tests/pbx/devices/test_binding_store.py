"""Registrations survive a restart: the location service's journal in the database.

A phone registers with the node's registrar (our own UA on real sockets); then a second set of
services on the same database (the node started again) restores the bindings into a fresh
location service, with flows built from the stored transport and address.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from tests.conftest import make_settings
from tests.pbx.devices.conftest import Phone, SipServer, new_phone

from zongji.pbx.devices.location import LocationService
from zongji.pbx.devices.models import RegistrationBinding
from zongji.platform.actor import SYSTEM
from zongji.platform.clock import FakeClock
from zongji.platform.db import PLATFORM
from zongji.services import Services, build_services
from zongji.sip.network import TransportKind


@pytest.fixture
async def restarted(database_url: str, tmp_path: Path, clock: FakeClock) -> AsyncIterator[Services]:
    """The node's services built again on the same database (not emptied): its next life."""
    services = build_services(make_settings(database_url, tmp_path / "again"), clock=clock)
    yield services
    await services.close()


async def restore(sip: SipServer, services: Services) -> LocationService:
    """What the node's SIP component does at start, into a fresh location service."""
    await sip.services.pbx.bindings.drain()
    location = services.pbx.location
    await services.pbx.bindings.restore(location, sip.ua.transport.flow_to)
    return location


async def rows(services: Services) -> int:
    async with services.db.session(PLATFORM) as session:
        return int(await session.scalar(select(func.count()).select_from(RegistrationBinding)))


async def test_udp_binding_behind_nat_comes_back_with_its_flow(
    sip: SipServer, phones: list[Phone], restarted: Services
) -> None:
    acme = await sip.enterprise("acme")
    alice = await sip.user(acme, "张三", "8001")
    cred = await sip.device(acme, alice)
    phone = await new_phone(sip, phones)
    private = f"<sip:{cred.username}@192.168.1.23:5060>"
    assert (await phone.register(cred, contacts=[private])).status == 200
    (before,) = sip.services.pbx.location.contacts(acme.id, alice)

    location = await restore(sip, restarted)
    (after,) = location.contacts(acme.id, alice)
    assert after.uri == before.uri  # the NAT-fixed contact
    assert after.flow.kind is TransportKind.UDP
    assert after.flow.remote == before.flow.remote  # the NAT's mapping, from our socket
    assert after.device == before.device
    assert 100 < after.expires_at - location.now() <= 120
    (binding,) = location.registrations(acme.id, alice)
    assert binding.nat
    assert binding.sent == f"sip:{cred.username}@192.168.1.23:5060"


async def test_path_is_kept_and_a_tcp_binding_is_reached_at_its_contact(
    sip: SipServer, phones: list[Phone], restarted: Services
) -> None:
    acme = await sip.enterprise("acme")
    alice = await sip.user(acme, "张三", "8001")
    bob = await sip.user(acme, "李四", "8002")
    alice_cred, bob_cred = await sip.device(acme, alice), await sip.device(acme, bob)
    proxied = await new_phone(sip, phones)
    path = ("Path", "<sip:edge.example.net;lr>")
    assert (await proxied.register(alice_cred, headers=[path])).status == 200
    tcp = await new_phone(sip, phones, TransportKind.TCP)
    contact = f"<sip:{bob_cred.username}@127.0.0.1:5099;transport=tcp>"
    assert (await tcp.register(bob_cred, contacts=[contact])).status == 200

    location = await restore(sip, restarted)
    (alice_contact,) = location.contacts(acme.id, alice)
    assert alice_contact.path == ("<sip:edge.example.net;lr>",)
    (bob_contact,) = location.contacts(acme.id, bob)
    # the connection died with the process: a new one goes to the Contact, not the phone's
    # ephemeral source port
    assert bob_contact.flow.kind is TransportKind.TCP
    assert (bob_contact.flow.remote.host, bob_contact.flow.remote.port) == ("127.0.0.1", 5099)


async def test_a_refresh_rewrites_its_row_and_removal_deletes_it(
    sip: SipServer, phones: list[Phone], restarted: Services, clock: FakeClock
) -> None:
    acme = await sip.enterprise("acme")
    alice = await sip.user(acme, "张三", "8001")
    cred = await sip.device(acme, alice)
    phone = await new_phone(sip, phones)
    call_id = "refreshing-phone"
    assert (await phone.register(cred, expires=300, call_id=call_id, cseq=1)).status == 200
    await sip.services.pbx.bindings.drain()  # written: the refresh below updates the row
    clock.advance(200)
    assert (await phone.register(cred, expires=300, call_id=call_id, cseq=3)).status == 200
    await sip.services.pbx.bindings.drain()
    assert await rows(sip.services) == 1  # one row per binding, refreshed in place
    location = await restore(sip, restarted)
    (binding,) = location.registrations(acme.id, alice)
    assert binding.contact.expires_at - location.now() > 250  # the refresh counts, not the first
    assert binding.cseq >= 3  # our UA's Digest retry counts too

    assert (await phone.register(cred, expires=0, call_id=call_id, cseq=10)).status == 200
    await sip.services.pbx.bindings.drain()
    assert await rows(sip.services) == 0


async def test_expired_and_revoked_bindings_are_not_restored(
    sip: SipServer, phones: list[Phone], restarted: Services, clock: FakeClock
) -> None:
    acme = await sip.enterprise("acme")
    alice = await sip.user(acme, "张三", "8001")
    bob = await sip.user(acme, "李四", "8002")
    alice_cred, bob_cred = await sip.device(acme, alice), await sip.device(acme, bob)
    one, two = await new_phone(sip, phones), await new_phone(sip, phones)
    assert (await one.register(alice_cred, expires=300)).status == 200
    assert (await two.register(bob_cred, expires=3600)).status == 200
    await sip.services.pbx.bindings.drain()
    # Bob's device is revoked while the node is down (its journal cannot hear of it).
    sip.services.pbx.credentials.on_revoke.clear()
    await sip.services.pbx.credentials.revoke(SYSTEM, acme.id, bob_cred.id)
    clock.advance(400)  # Alice's 300 s ran out while the node was down

    location = await restore(sip, restarted)
    assert location.contacts(acme.id, alice) == []
    assert location.contacts(acme.id, bob) == []
    assert await rows(restarted) == 1  # the expired row is gone; the revoked one is ignored


async def test_another_nodes_bindings_stay_with_it(
    sip: SipServer, phones: list[Phone], database_url: str, tmp_path: Path, clock: FakeClock
) -> None:
    acme = await sip.enterprise("acme")
    alice = await sip.user(acme, "张三", "8001")
    phone = await new_phone(sip, phones)
    assert (await phone.register(await sip.device(acme, alice))).status == 200
    settings = make_settings(database_url, tmp_path / "other").model_copy(
        update={"node_name": "other-node"}
    )
    other = build_services(settings, clock=clock)
    try:
        location = await restore(sip, other)
        assert location.contacts(acme.id, alice) == []
    finally:
        await other.close()
