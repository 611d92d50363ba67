"""The registrar on real sockets, with our own user agent as the phone."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pydantic import ValidationError
from tests.conftest import make_settings
from tests.pbx.devices.conftest import Phone, SipServer, new_phone

from zongji.pbx.devices.guard import parse_networks
from zongji.pbx.trunks.models import TrunkMode
from zongji.pbx.trunks.schemas import TrunkCreate
from zongji.platform.actor import SYSTEM
from zongji.platform.clock import FakeClock
from zongji.services import build_services
from zongji.sip.auth.client import Credentials, DigestClient
from zongji.sip.message import Request
from zongji.sip.network import TransportKind
from zongji.sip.ua.core import UserAgent


async def test_md5_challenge_then_200_with_the_binding(sip: SipServer, phones: list[Phone]) -> None:
    acme = await sip.enterprise("acme")
    alice = await sip.user(acme, "张三", "8001")
    cred = await sip.device(acme, alice)
    phone = await new_phone(sip, phones)

    challenge = await phone.send(phone.register_request(acme.domain, cred.username))
    assert challenge.status == 401
    offered = [c.params["algorithm"] for c in challenge.www_authenticate]
    assert offered == ["MD5", "SHA-256"]  # MD5 first: SIPp 3.6 gives up otherwise
    assert {c.params["realm"] for c in challenge.www_authenticate} == {acme.domain}

    response = await phone.register(cred, expires=300)
    assert response.status == 200
    assert len(response.contacts) == 1
    assert response.contacts[0].params["expires"] in ("299", "300")
    contacts = sip.services.pbx.location.contacts(acme.id, alice)
    assert len(contacts) == 1
    assert contacts[0].device.username == cred.username
    assert contacts[0].device.credential_id == cred.id
    assert contacts[0].uri.startswith("sip:phone@127.0.0.1:")


async def test_sha256_digest_is_accepted(sip: SipServer, phones: list[Phone]) -> None:
    acme = await sip.enterprise("acme")
    alice = await sip.user(acme, "张三", "8001")
    cred = await sip.device(acme, alice)
    phone = await new_phone(sip, phones)
    response = await phone.register(cred, sha256=True)
    assert response.status == 200
    assert sip.services.pbx.location.contacts(acme.id, alice)


async def test_wrong_password_is_challenged_again(sip: SipServer, phones: list[Phone]) -> None:
    acme = await sip.enterprise("acme")
    alice = await sip.user(acme, "张三", "8001")
    cred = await sip.device(acme, alice)
    phone = await new_phone(sip, phones)
    response = await phone.register(cred, password="not-the-password")
    assert response.status == 401
    assert sip.services.pbx.location.contacts(acme.id, alice) == []


async def test_expiry_below_the_minimum_gets_423_with_min_expires(
    sip: SipServer, phones: list[Phone]
) -> None:
    acme = await sip.enterprise("acme")
    alice = await sip.user(acme, "张三", "8001")
    cred = await sip.device(acme, alice)
    phone = await new_phone(sip, phones)
    response = await phone.register(cred, expires=30)
    assert response.status == 423
    assert response.min_expires == 60
    assert sip.services.pbx.location.contacts(acme.id, alice) == []


async def test_expiry_above_the_maximum_is_cut(sip: SipServer, phones: list[Phone]) -> None:
    acme = await sip.enterprise("acme")
    alice = await sip.user(acme, "张三", "8001")
    cred = await sip.device(acme, alice)
    phone = await new_phone(sip, phones, TransportKind.TCP)
    response = await phone.register(cred, expires=86400)
    assert response.status == 200
    granted = int(response.contacts[0].params["expires"])
    assert 3590 <= granted <= 3600


async def test_udp_contact_behind_nat_is_fixed_and_kept_short(
    sip: SipServer, phones: list[Phone]
) -> None:
    acme = await sip.enterprise("acme")
    alice = await sip.user(acme, "张三", "8001")
    cred = await sip.device(acme, alice)
    phone = await new_phone(sip, phones)
    private = f"<sip:{cred.username}@192.168.1.23:5060>"
    response = await phone.register(cred, expires=3600, contacts=[private])
    assert response.status == 200
    # listed as the phone sent it, so the phone recognises its binding; granted the NAT expiry
    assert str(response.contacts[0].uri) == f"sip:{cred.username}@192.168.1.23:5060"
    assert 110 <= int(response.contacts[0].params["expires"]) <= 120
    (contact,) = sip.services.pbx.location.contacts(acme.id, alice)
    source = contact.flow.remote
    assert contact.uri == f"sip:{cred.username}@127.0.0.1:{source.port}"
    assert source.port != 5060


async def test_tcp_contact_keeps_its_connection(sip: SipServer, phones: list[Phone]) -> None:
    acme = await sip.enterprise("acme")
    alice = await sip.user(acme, "张三", "8001")
    cred = await sip.device(acme, alice)
    phone = await new_phone(sip, phones, TransportKind.TCP)
    unreachable = f"<sip:{cred.username}@192.168.1.23:5060;transport=tcp>"
    assert (await phone.register(cred, contacts=[unreachable])).status == 200
    (contact,) = sip.services.pbx.location.contacts(acme.id, alice)
    assert contact.uri == f"sip:{cred.username}@192.168.1.23:5060;transport=tcp"
    assert contact.flow.connection is not None  # requests to the phone reuse its connection


async def test_several_devices_and_contacts_per_user(sip: SipServer, phones: list[Phone]) -> None:
    acme = await sip.enterprise("acme")
    alice = await sip.user(acme, "张三", "8001")
    softphone = await sip.device(acme, alice)
    desk = await sip.device(acme, alice, "desk_phone")
    one, two = await new_phone(sip, phones), await new_phone(sip, phones, TransportKind.TCP)
    assert (await one.register(softphone)).status == 200
    response = await two.register(
        desk,
        contacts=[
            f"<sip:{desk.username}@10.0.0.5:5060;transport=tcp>",
            f"<sip:{desk.username}@10.0.0.6:5060;transport=tcp>",
        ],
    )
    assert response.status == 200
    assert len(response.contacts) == 2  # the 200 lists this device's bindings
    contacts = sip.services.pbx.location.contacts(acme.id, alice)
    assert len(contacts) == 3
    assert {c.device.credential_id for c in contacts} == {softphone.id, desk.id}


async def test_unregister_one_contact_and_all_with_star(
    sip: SipServer, phones: list[Phone]
) -> None:
    acme = await sip.enterprise("acme")
    alice = await sip.user(acme, "张三", "8001")
    cred = await sip.device(acme, alice)
    other = await sip.device(acme, alice)
    phone = await new_phone(sip, phones, TransportKind.TCP)
    a = f"<sip:{cred.username}@10.0.0.5:5060;transport=tcp>"
    b = f"<sip:{cred.username}@10.0.0.6:5060;transport=tcp>"
    assert (await phone.register(cred, contacts=[a, b], call_id="c1", cseq=1)).status == 200
    assert (await phone.register(other, call_id="c9")).status == 200
    assert len(sip.services.pbx.location.contacts(acme.id, alice)) == 3

    response = await phone.register(cred, expires=0, contacts=[a], call_id="c1", cseq=3)
    assert response.status == 200
    assert [str(c.uri) for c in response.contacts] == [
        f"sip:{cred.username}@10.0.0.6:5060;transport=tcp"
    ]

    response = await phone.register(cred, expires=0, star=True, call_id="c1", cseq=5)
    assert response.status == 200
    assert response.contacts == []
    remaining = sip.services.pbx.location.contacts(acme.id, alice)
    assert [c.device.credential_id for c in remaining] == [other.id]  # only this AOR's went


async def test_star_without_expires_zero_is_a_bad_request(
    sip: SipServer, phones: list[Phone]
) -> None:
    acme = await sip.enterprise("acme")
    alice = await sip.user(acme, "张三", "8001")
    cred = await sip.device(acme, alice)
    phone = await new_phone(sip, phones)
    response = await phone.register(cred, expires=60, star=True)
    assert response.status == 400


async def test_unknown_domain_is_404(sip: SipServer, phones: list[Phone]) -> None:
    acme = await sip.enterprise("acme")
    alice = await sip.user(acme, "张三", "8001")
    cred = await sip.device(acme, alice)
    phone = await new_phone(sip, phones)
    response = await phone.register(cred, domain="nobody.example.com")
    assert response.status == 404


async def test_domain_is_case_insensitive(sip: SipServer, phones: list[Phone]) -> None:
    acme = await sip.enterprise("acme")
    alice = await sip.user(acme, "张三", "8001")
    cred = await sip.device(acme, alice)
    phone = await new_phone(sip, phones)
    request = phone.register_request(acme.domain.upper(), cred.username)
    response = await phone.send(request, DigestClient(Credentials(cred.username, cred.password)))
    assert response.status == 200


async def test_another_enterprises_credential_is_403(sip: SipServer, phones: list[Phone]) -> None:
    acme = await sip.enterprise("acme")
    beta = await sip.enterprise("beta")
    await sip.user(acme, "张三", "8001")
    bob = await sip.user(beta, "李四", "8001")
    beta_cred = await sip.device(beta, bob)
    phone = await new_phone(sip, phones)
    # a phone of beta pointed at acme's domain, with its own (valid, but beta's) credential
    response = await phone.register(beta_cred, domain=acme.domain)
    assert response.status == 403
    assert sip.services.pbx.location.contacts(acme.id, bob) == []
    assert sip.services.pbx.location.contacts(beta.id, bob) == []


async def test_registering_for_someone_else_is_403(sip: SipServer, phones: list[Phone]) -> None:
    acme = await sip.enterprise("acme")
    alice = await sip.user(acme, "张三", "8001")
    await sip.user(acme, "李四", "8002")
    cred = await sip.device(acme, alice)
    phone = await new_phone(sip, phones)
    assert (await phone.register(cred, aor_user="8002")).status == 403
    # the user's own extension is a fine address-of-record
    assert (await phone.register(cred, aor_user="8001")).status == 200


async def test_suspended_enterprise_is_403_and_loses_its_registrations(
    sip: SipServer, phones: list[Phone]
) -> None:
    acme = await sip.enterprise("acme")
    alice = await sip.user(acme, "张三", "8001")
    cred = await sip.device(acme, alice)
    phone = await new_phone(sip, phones)
    assert (await phone.register(cred)).status == 200
    await sip.services.directory.enterprises.set_status(SYSTEM, acme.id, "suspend")
    await sip.services.bus.drain()
    assert sip.services.pbx.location.contacts(acme.id, alice) == []
    assert (await phone.register(cred)).status == 403
    await sip.services.directory.enterprises.set_status(SYSTEM, acme.id, "resume")
    await sip.services.bus.drain()
    assert (await phone.register(cred)).status == 200


async def test_same_extension_in_two_enterprises_never_crosses(
    sip: SipServer, phones: list[Phone]
) -> None:
    acme = await sip.enterprise("acme")
    beta = await sip.enterprise("beta")
    a8001 = await sip.user(acme, "张三", "8001")
    b8001 = await sip.user(beta, "李四", "8001")
    a_cred = await sip.device(acme, a8001)
    b_cred = await sip.device(beta, b8001)
    a_phone, b_phone = await new_phone(sip, phones), await new_phone(sip, phones)
    assert (await a_phone.register(a_cred, aor_user="8001")).status == 200
    assert (await b_phone.register(b_cred, aor_user="8001")).status == 200
    location = sip.services.pbx.location
    (a_contact,) = location.contacts(acme.id, a8001)
    (b_contact,) = location.contacts(beta.id, b8001)
    assert a_contact.device.tenant_id == acme.id
    assert b_contact.device.tenant_id == beta.id
    assert a_contact.flow.remote != b_contact.flow.remote
    view = sip.services.pbx.view
    a_sub = await view.by_extension(acme.id, "8001")
    b_sub = await view.by_extension(beta.id, "8001")
    assert a_sub is not None
    assert a_sub.user_id == a8001
    assert b_sub is not None
    assert b_sub.user_id == b8001
    # unregistering one leaves the other alone
    assert (await a_phone.register(a_cred, aor_user="8001", expires=0, star=True)).status == 200
    assert location.contacts(acme.id, a8001) == []
    assert location.contacts(beta.id, b8001) == [b_contact]


async def test_repeated_failures_block_the_source(sip: SipServer, phones: list[Phone]) -> None:
    acme = await sip.enterprise("acme")
    alice = await sip.user(acme, "张三", "8001")
    cred = await sip.device(acme, alice)
    phone = await new_phone(sip, phones)
    guard = sip.services.pbx.guard
    statuses = []
    while not statuses or statuses[-1] != 403:
        statuses.append((await phone.register(cred, password="guess")).status)
        assert len(statuses) <= guard.max_failures
    assert set(statuses[:-1]) == {401}  # challenged again until the guard blocks the source
    assert [b.host for b in guard.blocks()] == ["127.0.0.1"]
    # now even the right password is refused, before any challenge
    assert (await phone.register(cred)).status == 403
    assert guard.unblock("127.0.0.1")
    assert (await phone.register(cred)).status == 200


async def test_phones_that_fail_on_sha256_challenges_get_md5_alone(
    sip: SipServer, phones: list[Phone]
) -> None:
    acme = await sip.enterprise("acme")
    alice = await sip.user(acme, "张三", "8001")
    cred = await sip.device(acme, alice)
    old = UserAgent(local_user="phone", user_agent="baresip v1.0.0 (x86_64/linux)")
    await old.listen("udp", "127.0.0.1", 0)
    phones.append(Phone(old, sip, TransportKind.UDP))
    phone = phones[-1]
    challenge = await phone.send(phone.register_request(acme.domain, cred.username))
    assert [c.params["algorithm"] for c in challenge.www_authenticate] == ["MD5"]
    assert (await phone.register(cred)).status == 200


async def test_other_requests_are_challenged_with_407(sip: SipServer, phones: list[Phone]) -> None:
    acme = await sip.enterprise("acme")
    beta = await sip.enterprise("beta")
    alice = await sip.user(acme, "张三", "8001")
    bob = await sip.user(beta, "李四", "8001")
    cred = await sip.device(acme, alice)
    betas = await sip.device(beta, bob)
    phone = await new_phone(sip, phones)

    def subscribe(domain: str, user: str) -> Request:
        aor = f"sip:{user}@{domain}"
        return phone.ua.create_request(
            "SUBSCRIBE",
            f"sip:8002@{domain}",
            from_=aor,
            headers=[("Event", "message-summary"), ("Expires", "0")],
        )

    challenge = await phone.send(subscribe(acme.domain, cred.username))
    assert challenge.status == 407
    assert [c.params["algorithm"] for c in challenge.proxy_authenticate] == ["MD5", "SHA-256"]
    ok = await phone.send(
        subscribe(acme.domain, cred.username),
        DigestClient(Credentials(cred.username, cred.password)),
    )
    assert ok.status == 200
    assert ok.headers.get("X-Device") == cred.username
    refused = await phone.send(
        subscribe(acme.domain, betas.username),
        DigestClient(Credentials(betas.username, betas.password)),
    )
    assert refused.status == 403


async def test_a_flooding_source_is_throttled_and_others_are_not(
    sip: SipServer, phones: list[Phone]
) -> None:
    acme = await sip.enterprise("acme")
    alice = await sip.user(acme, "张三", "8001")
    cred = await sip.device(acme, alice)
    guard = sip.services.pbx.guard
    guard.rate, guard.burst = 1.0, 5.0
    flooder = await new_phone(sip, phones)
    answers = await asyncio.gather(
        *(flooder.send(flooder.register_request(acme.domain, cred.username)) for _ in range(20))
    )
    statuses = sorted(r.status for r in answers)
    assert statuses.count(401) == 5  # the burst is challenged as usual
    assert statuses.count(403) == 15  # the rest turned away before any work
    assert not guard.blocked("127.0.0.1")  # throttled, not blocked

    other = UserAgent(local_user="phone")
    await other.listen("udp", "127.0.0.2", 0)  # another source address
    phones.append(Phone(other, sip, TransportKind.UDP))
    assert (await phones[-1].register(cred)).status == 200


async def test_a_register_without_contact_lists_the_bindings(
    sip: SipServer, phones: list[Phone]
) -> None:
    acme = await sip.enterprise("acme")
    alice = await sip.user(acme, "张三", "8001")
    cred = await sip.device(acme, alice)
    phone = await new_phone(sip, phones, TransportKind.TCP)
    contact = f"<sip:{cred.username}@10.0.0.5:5060;transport=tcp>"
    assert (await phone.register(cred, contacts=[contact], expires=600)).status == 200
    query = phone.register_request(acme.domain, cred.username, expires=None, query=True)
    response = await phone.send(query, DigestClient(Credentials(cred.username, cred.password)))
    assert response.status == 200
    (listed,) = response.contacts
    assert str(listed.uri) == f"sip:{cred.username}@10.0.0.5:5060;transport=tcp"
    assert 590 <= int(listed.params["expires"]) <= 600
    assert len(sip.services.pbx.location.contacts(acme.id, alice)) == 1  # nothing changed


async def _phone_at(sip: SipServer, phones: list[Phone], host: str) -> Phone:
    """A phone on another loopback address (another source, or one behind the same proxy)."""
    ua = UserAgent(local_user="phone")
    await ua.listen("udp", host, 0)
    phones.append(Phone(ua, sip, TransportKind.UDP))
    return phones[-1]


async def test_forged_nonces_never_block_the_source(sip: SipServer, phones: list[Phone]) -> None:
    """Anyone can send a REGISTER from a forged address with a nonce we never issued (or issued
    to someone else): each is challenged again, none counts, so the address is never blocked."""
    acme = await sip.enterprise("acme")
    alice = await sip.user(acme, "张三", "8001")
    cred = await sip.device(acme, alice)
    guard = sip.services.pbx.guard
    phone = await new_phone(sip, phones)
    for attempt in range(2 * guard.max_failures):
        forged = phone.register_request(acme.domain, cred.username)
        forged.headers.add(
            "Authorization",
            f'Digest username="{cred.username}", realm="{acme.domain}", nonce="forged{attempt}",'
            f' uri="sip:{acme.domain}", response="{"0" * 32}", algorithm=MD5',
        )
        assert (await phone.send(forged)).status == 401
    # a real nonce, but issued to another address, answered with guesses from this one
    elsewhere = await _phone_at(sip, phones, "127.0.0.2")
    challenge = await elsewhere.send(elsewhere.register_request(acme.domain, cred.username))
    for _ in range(guard.max_failures):
        request = phone.register_request(acme.domain, cred.username)
        assert DigestClient(Credentials(cred.username, "guess")).authorize(request, challenge)
        assert (await phone.send(request)).status == 401
    assert guard.blocks() == []
    assert (await phone.register(cred)).status == 200


async def test_behind_a_trusted_proxy_one_guessing_phone_blocks_only_its_username(
    sip: SipServer, phones: list[Phone]
) -> None:
    acme = await sip.enterprise("acme")
    alice = await sip.user(acme, "张三", "8001")
    bob = await sip.user(acme, "李四", "8002")
    alice_cred = await sip.device(acme, alice)
    bob_cred = await sip.device(acme, bob)
    guard = sip.services.pbx.guard
    guard.proxies = parse_networks(["127.0.0.3"])  # sip_trusted_proxies (wired: test_config)
    guesser = await _phone_at(sip, phones, "127.0.0.3")
    honest = await _phone_at(sip, phones, "127.0.0.3")  # same address: behind the same proxy
    statuses = []
    while not statuses or statuses[-1] != 403:
        statuses.append((await guesser.register(alice_cred, password="guess")).status)
        assert len(statuses) <= guard.max_failures
    assert set(statuses[:-1]) == {401}
    (block,) = guard.blocks()
    assert (block.host, block.username) == ("127.0.0.3", alice_cred.username)
    assert (await guesser.register(alice_cred)).status == 403  # alice's username is blocked
    assert (await honest.register(bob_cred)).status == 200  # the proxy is not
    assert sip.services.pbx.location.contacts(acme.id, bob)


async def test_the_nodes_guard_never_blocks_a_trunk(sip: SipServer) -> None:
    """The guard the node builds asks the trunk registry, as trunks are now: a device guessing
    passwords from the carrier's address gets that address blocked, but never the trunk's own
    address:port, whose calls keep coming in."""
    services = sip.services
    guard = services.pbx.guard
    carrier_port = 5999
    trunk = await services.pbx.trunks.create(
        SYSTEM,
        TrunkCreate(
            name="carrier",
            host="127.0.0.9",
            port=carrier_port,
            mode=TrunkMode.IP,
            options_interval=0,
        ),
    )
    await services.pbx.trunk_runtime.reload()
    for _ in range(guard.max_failures):
        guard.failed("127.0.0.9", carrier_port, "x")  # never counted
    assert guard.blocks() == []
    while not guard.failed("127.0.0.9", 40000, "x"):  # a phone on the carrier's machine
        pass
    assert guard.blocked("127.0.0.9")
    assert not guard.admit("127.0.0.9", 40000, "INVITE")
    assert all(guard.admit("127.0.0.9", carrier_port, "INVITE") for _ in range(500))
    await services.pbx.trunks.delete(SYSTEM, trunk.id)
    await services.pbx.trunk_runtime.reload()
    assert not guard.admit("127.0.0.9", carrier_port, "INVITE")  # no longer a trunk


async def test_trusted_proxies_come_from_the_configuration(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZONGJI_SIP_TRUSTED_PROXIES", '["10.1.0.0/16", "192.0.2.7"]')
    services = build_services(make_settings(database_url, tmp_path), clock=FakeClock())
    try:
        guard = services.pbx.guard
        assert guard.is_proxy("10.1.2.3")
        assert guard.is_proxy("192.0.2.7")
        assert not guard.is_proxy("10.2.0.1")
    finally:
        await services.close()
    with pytest.raises(ValidationError, match="not an IP address or CIDR block"):
        make_settings(database_url, tmp_path, sip_trusted_proxies=("10.0.0.0/33",))


# -- through a proxy (RFC 3327 Path) --------------------------------------------------------


async def test_register_through_a_proxy_with_path_keeps_the_contact_and_the_path(
    sip: SipServer, phones: list[Phone]
) -> None:
    acme = await sip.enterprise("acme")
    alice = await sip.user(acme, "张三", "8001")
    cred = await sip.device(acme, alice)
    phone = await new_phone(sip, phones)
    behind = f"<sip:{cred.username}@192.168.1.23:5060>"
    path = [("Path", "<sip:edge.example.net:5070;lr>"), ("Path", "<sip:10.1.1.1;lr>")]
    response = await phone.register(
        cred, expires=3600, contacts=[behind], headers=[*path, ("Supported", "path")]
    )
    assert response.status == 200
    assert response.headers.get_all("path") == [
        "<sip:edge.example.net:5070;lr>",
        "<sip:10.1.1.1;lr>",
    ]  # echoed: the phone said it supports Path
    assert int(response.contacts[0].params["expires"]) > 3500  # not a NAT's short expiry
    (contact,) = sip.services.pbx.location.contacts(acme.id, alice)
    assert contact.uri == f"sip:{cred.username}@192.168.1.23:5060"  # not "fixed" to the proxy
    assert contact.path == ("<sip:edge.example.net:5070;lr>", "<sip:10.1.1.1;lr>")
    (binding,) = sip.services.pbx.location.registrations(acme.id, alice)
    assert not binding.nat


async def test_path_is_not_echoed_to_a_phone_that_did_not_say_it_supports_it(
    sip: SipServer, phones: list[Phone]
) -> None:
    acme = await sip.enterprise("acme")
    alice = await sip.user(acme, "张三", "8001")
    cred = await sip.device(acme, alice)
    phone = await new_phone(sip, phones)
    response = await phone.register(cred, headers=[("Path", "<sip:edge.example.net;lr>")])
    assert response.status == 200
    assert "path" not in response.headers
    (contact,) = sip.services.pbx.location.contacts(acme.id, alice)
    assert contact.path == ("<sip:edge.example.net;lr>",)


async def test_a_proxy_may_require_path(sip: SipServer, phones: list[Phone]) -> None:
    acme = await sip.enterprise("acme")
    alice = await sip.user(acme, "张三", "8001")
    cred = await sip.device(acme, alice)
    phone = await new_phone(sip, phones)
    headers = [("Path", "<sip:edge.example.net;lr>"), ("Require", "path")]
    response = await phone.register(cred, headers=headers)
    assert response.status == 200  # not 420 Bad Extension


async def test_register_relayed_by_a_proxy_without_path_is_not_taken_for_nat(
    sip: SipServer, phones: list[Phone]
) -> None:
    """Two Vias: the source address is the relaying proxy's, not the phone's NAT."""
    acme = await sip.enterprise("acme")
    alice = await sip.user(acme, "张三", "8001")
    cred = await sip.device(acme, alice)
    phone = await new_phone(sip, phones)
    phone.ua.transactions.discard_multiple_via = False  # the "proxy" reads the response itself
    behind = f"<sip:{cred.username}@192.168.1.23:5060>"
    phone_via = ("Via", "SIP/2.0/UDP 192.168.1.23:5060;branch=z9hG4bK-phone-1")
    response = await phone.register(cred, expires=3600, contacts=[behind], headers=[phone_via])
    assert response.status == 200
    (contact,) = sip.services.pbx.location.contacts(acme.id, alice)
    assert contact.uri == f"sip:{cred.username}@192.168.1.23:5060"
    assert int(response.contacts[0].params["expires"]) > 3500


async def test_a_malformed_path_is_a_bad_request(sip: SipServer, phones: list[Phone]) -> None:
    acme = await sip.enterprise("acme")
    alice = await sip.user(acme, "张三", "8001")
    cred = await sip.device(acme, alice)
    phone = await new_phone(sip, phones)
    response = await phone.register(cred, headers=[("Path", "<sip:edge.example.net;lr")])
    assert response.status == 400
    assert sip.services.pbx.location.contacts(acme.id, alice) == []
