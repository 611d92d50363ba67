"""The trunk runtime against real carriers on loopback (our own SIP stack playing the carrier):
registration with Digest, OPTIONS keep-alive, a carrier that stops answering is taken out and the
next trunk goes first, recovery, hold-down after a failed call, inbound matching, reloads."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import pytest

from tests.pbx.lines import nanjing
from tests.pbx.trunks.carrier import HOST, Carrier
from zongji.pbx.contracts import TenantLine
from zongji.pbx.trunks.models import TrunkMode
from zongji.pbx.trunks.runtime import TrunkRuntime
from zongji.pbx.trunks.schemas import TrunkChange, TrunkCreate
from zongji.platform.actor import SYSTEM
from zongji.platform.clock import FakeClock
from zongji.services import Services
from zongji.sip.ua import IncomingRequest
from zongji.sip.ua.core import UserAgent

USERNAME, PASSWORD = "02588880000", "carrier-secret"

ACME = nanjing(main_number="+862588880000")


async def eventually(check: Callable[[], bool], within: float = 10.0, what: str = "") -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {within}s: {what}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def pbx_ua() -> AsyncIterator[UserAgent]:
    """The PBX side's user agent, as the node's SIP component gives it to the runtime."""
    ua = UserAgent(local_user="zongji")
    await ua.listen("udp", HOST, 0)
    yield ua
    await ua.close()


@pytest.fixture
async def carriers() -> AsyncIterator[list[Carrier]]:
    started: list[Carrier] = []
    yield started
    for carrier in started:
        await carrier.stop()


async def carrier(carriers: list[Carrier], **kw: Any) -> Carrier:
    c = await Carrier(**kw).start()
    carriers.append(c)
    return c


@pytest.fixture
async def runtime(services: Services, clock: FakeClock) -> AsyncIterator[TrunkRuntime]:
    rt = TrunkRuntime(
        services.pbx.trunks,
        services.bus,
        clock,
        failures_to_down=2,
        hold_down=60.0,
        sip_timeout=0.5,
        register_retry=0.3,
    )
    yield rt
    await rt.stop()


async def ip_trunk(services: Services, name: str, port: int, **kw: Any) -> uuid.UUID:
    kw.setdefault("options_interval", 1)
    data = TrunkCreate(name=name, host=HOST, port=port, mode=TrunkMode.IP, **kw)
    return (await services.pbx.trunks.create(SYSTEM, data)).id


async def registration_trunk(services: Services, name: str, port: int, **kw: Any) -> uuid.UUID:
    fields: dict[str, Any] = {
        "name": name,
        "host": HOST,
        "port": port,
        "mode": "registration",
        "username": USERNAME,
        "password": PASSWORD,
        "realm": "carrier.example.com",
        "options_interval": 0,
        "register_expires": 60,
    }
    fields.update(kw)
    return (await services.pbx.trunks.create(SYSTEM, TrunkCreate(**fields))).id


def order(runtime: TrunkRuntime, tenant: TenantLine = ACME) -> list[str]:
    return [d.trunk_name for d in runtime.dials(tenant, "+8613912345678", "+862588880000")]


def state(runtime: TrunkRuntime, trunk_id: uuid.UUID) -> str:
    return runtime.health(trunk_id).state


async def test_registration_trunk_registers_with_digest_and_unregisters_on_stop(
    services: Services, runtime: TrunkRuntime, pbx_ua: UserAgent, carriers: list[Carrier]
) -> None:
    edge = await carrier(carriers, passwords={USERNAME: PASSWORD})
    trunk_id = await registration_trunk(services, "telecom", edge.port)
    await runtime.start(pbx_ua)
    await eventually(lambda: state(runtime, trunk_id) == "up", what="registered")
    health = runtime.health(trunk_id)
    assert health.registered is True
    assert edge.registrar.challenges >= 1  # it was challenged and answered with Digest
    assert edge.registrar.refused == 0
    port = pbx_ua.transport.transports[0].local_address.port
    assert edge.bound(USERNAME) == [f"sip:zongji@{HOST}:{port}"]

    dial = runtime.dials(ACME, "+8613912345678", "+862588880000")[0]
    assert dial.credentials is not None
    assert (dial.credentials.username, dial.credentials.password) == (USERNAME, PASSWORD)

    await runtime.stop()
    assert edge.bound(USERNAME) == []  # the binding was removed
    assert runtime.health(trunk_id).state == "not_running"


async def test_wrong_password_keeps_the_trunk_down(
    services: Services, runtime: TrunkRuntime, pbx_ua: UserAgent, carriers: list[Carrier]
) -> None:
    edge = await carrier(carriers, passwords={USERNAME: "another-password"})
    bad = await registration_trunk(services, "telecom", edge.port, priority=1)
    fallback_edge = await carrier(carriers)
    good = await ip_trunk(services, "unicom", fallback_edge.port, priority=9)
    await runtime.start(pbx_ua)
    await eventually(lambda: state(runtime, bad) == "down", what="registration refused")
    assert runtime.health(bad).reason == "registration_failed"
    assert "REGISTER: 401" in (runtime.health(bad).last_error or "")
    assert edge.registrar.refused >= 1
    await eventually(lambda: state(runtime, good) == "up", what="fallback up")
    assert order(runtime) == ["unicom", "telecom"]  # the down one is a last resort only


async def test_a_carrier_that_stops_answering_is_taken_out_and_comes_back(
    services: Services, runtime: TrunkRuntime, pbx_ua: UserAgent, carriers: list[Carrier]
) -> None:
    first = await carrier(carriers)
    second = await carrier(carriers)
    a = await ip_trunk(services, "a-first", first.port, priority=1)
    b = await ip_trunk(services, "b-second", second.port, priority=2)
    await runtime.start(pbx_ua)
    await eventually(lambda: state(runtime, a) == state(runtime, b) == "up", what="both up")
    assert order(runtime) == ["a-first", "b-second"]

    first.answering = False
    await eventually(lambda: state(runtime, a) == "down", within=15, what="a taken out")
    health = runtime.health(a)
    assert health.reason == "options_unanswered"
    assert health.last_error == "OPTIONS: no answer"
    assert health.consecutive_failures >= 2
    assert order(runtime) == ["b-second", "a-first"]
    assert state(runtime, b) == "up"

    first.answering = True
    await eventually(lambda: state(runtime, a) == "up", within=15, what="a back")
    assert runtime.health(a).consecutive_failures == 0
    assert order(runtime) == ["a-first", "b-second"]


async def test_5xx_to_keepalives_counts_as_failure(
    services: Services, runtime: TrunkRuntime, pbx_ua: UserAgent, carriers: list[Carrier]
) -> None:
    edge = await carrier(carriers, options_status=503)
    other = await carrier(carriers, options_status=404)  # any answer but 5xx: it is alive
    sick = await ip_trunk(services, "sick", edge.port, priority=1)
    alive = await ip_trunk(services, "alive", other.port, priority=2)
    await runtime.start(pbx_ua)
    await eventually(lambda: state(runtime, sick) == "down", within=15, what="503 → down")
    assert "503" in (runtime.health(sick).last_error or "")
    await eventually(lambda: state(runtime, alive) == "up", what="404 → up")
    assert order(runtime) == ["alive", "sick"]


async def test_a_failed_call_holds_the_trunk_down_for_a_while(
    services: Services,
    runtime: TrunkRuntime,
    pbx_ua: UserAgent,
    carriers: list[Carrier],
    clock: FakeClock,
) -> None:
    first, second = await carrier(carriers), await carrier(carriers)
    a = await ip_trunk(services, "a", first.port, priority=1, options_interval=0)
    await ip_trunk(services, "b", second.port, priority=2, options_interval=0)
    await runtime.start(pbx_ua)
    assert order(runtime) == ["a", "b"]  # no keep-alive configured: up from the start

    runtime.failed(a)
    assert order(runtime) == ["b", "a"]
    health = runtime.health(a)
    assert (health.state, health.reason) == ("down", "call_failed")
    assert health.held_for_seconds == pytest.approx(60.0)
    clock.advance(59)
    assert order(runtime) == ["b", "a"]
    clock.advance(2)
    assert order(runtime) == ["a", "b"]
    runtime.failed(uuid.uuid4())  # an unknown trunk is ignored


async def test_dials_write_numbers_and_caller_id_in_each_trunks_format(
    services: Services, runtime: TrunkRuntime, pbx_ua: UserAgent, carriers: list[Carrier]
) -> None:
    edge = await carrier(carriers)
    acme = await services.directory.enterprises.create(
        SYSTEM,
        _enterprise("acme"),
    )
    beta = await services.directory.enterprises.create(SYSTEM, _enterprise("beta"))
    await ip_trunk(services, "e164", edge.port, priority=1, options_interval=0)
    await ip_trunk(
        services,
        "national",
        edge.port,
        priority=2,
        options_interval=0,
        number_format="national",
        from_domain="carrier.example.com",
        transport="tcp",
        all_enterprises=False,
        enterprise_ids=[acme.id],
    )
    await ip_trunk(services, "off", edge.port, priority=0, options_interval=0, enabled=False)
    await runtime.start(pbx_ua)
    tenant = replace(ACME, tenant_id=acme.id)

    e164, national = runtime.dials(tenant, "+8613912345678", "+862588881234")
    our_host = HOST
    assert e164.request_uri == f"sip:+8613912345678@{HOST}:{edge.port};transport=udp"
    assert e164.from_uri == f"sip:+862588881234@{our_host}"
    assert dict(e164.headers)["P-Asserted-Identity"] == (
        f"<sip:+862588881234@{our_host};user=phone>"
    )
    assert e164.credentials is None
    assert e164.destination is None

    assert national.request_uri == f"sip:13912345678@{HOST}:{edge.port};transport=tcp"
    assert national.from_uri == "sip:02588881234@carrier.example.com"
    assert dict(national.headers)["P-Asserted-Identity"] == (
        "<sip:+862588881234@carrier.example.com;user=phone>"
    )

    # other numbers in national form; emergency codes as dialled everywhere
    by_number = {
        n: [d.request_uri.split("@")[0] for d in runtime.dials(tenant, n, "+862588881234")]
        for n in ("+862588886666", "+442079460958", "+8695588", "110")
    }
    assert by_number == {
        "+862588886666": ["sip:+862588886666", "sip:02588886666"],
        "+442079460958": ["sip:+442079460958", "sip:00442079460958"],
        "+8695588": ["sip:+8695588", "sip:95588"],
        "110": ["sip:110", "sip:110"],
    }

    # a trunk serving listed enterprises is not offered to others; disabled ones never
    assert order(runtime, replace(ACME, tenant_id=beta.id)) == ["e164"]
    assert order(runtime, tenant) == ["e164", "national"]


def _enterprise(code: str) -> Any:
    from zongji.directory.schemas import EnterpriseCreate

    return EnterpriseCreate(code=code, name=f"{code} 公司", area_code="025", city="南京")


async def test_inbound_requests_are_matched_to_trunks_by_source(
    services: Services, runtime: TrunkRuntime, pbx_ua: UserAgent, carriers: list[Carrier]
) -> None:
    edge = await carrier(carriers)
    by_cidr = await ip_trunk(
        services,
        "by-cidr",
        9,  # the carrier's signalling address is elsewhere; its calls come from 127.0.0.0/8
        options_interval=0,
        inbound_addresses=["127.0.0.0/8"],
    )
    await runtime.start(pbx_ua)
    seen: list[uuid.UUID | None] = []

    async def on_request(incoming: IncomingRequest) -> None:
        seen.append(runtime.inbound_trunk(incoming.source))
        incoming.respond(200)

    pbx_ua.on_request = on_request
    assert edge.ua is not None
    port = pbx_ua.transport.transports[0].local_address.port
    response = await edge.ua.options(f"sip:zongji@{HOST}:{port}")
    assert response.status == 200
    assert seen == [by_cidr]

    # no longer listed: a request from there is not an outside call
    await services.pbx.trunks.change(
        SYSTEM, by_cidr, TrunkChange(inbound_addresses=["198.51.100.0/24"])
    )
    await runtime.reload()
    await edge.ua.options(f"sip:zongji@{HOST}:{port}")
    assert seen[-1] is None

    # a registration trunk's calls come from its registrar (the host, resolved, and its port)
    reg_edge = await carrier(carriers, passwords={USERNAME: PASSWORD})
    reg = await registration_trunk(services, "reg", reg_edge.port, host="localhost")
    await runtime.reload()
    assert reg_edge.ua is not None
    await reg_edge.ua.options(f"sip:zongji@{HOST}:{port}")
    assert seen[-1] == reg

    # a phone on the same address but another port is not the carrier
    phone = await carrier(carriers)
    assert phone.ua is not None
    await phone.ua.options(f"sip:zongji@{HOST}:{port}")
    assert seen[-1] is None

    # unless the operator lists that exact source
    await services.pbx.trunks.change(
        SYSTEM, by_cidr, TrunkChange(inbound_addresses=[f"{HOST}:{phone.port}"])
    )
    await runtime.reload()
    await phone.ua.options(f"sip:zongji@{HOST}:{port}")
    assert seen[-1] == by_cidr


async def test_operator_changes_reach_the_running_trunks(
    services: Services, runtime: TrunkRuntime, pbx_ua: UserAgent, carriers: list[Carrier]
) -> None:
    """Through the service (as the API does): the change event reloads the runtime."""
    edge = await carrier(carriers, passwords={USERNAME: "new-secret"})
    trunk_id = await registration_trunk(services, "telecom", edge.port)
    await runtime.start(pbx_ua)
    await eventually(lambda: state(runtime, trunk_id) == "down", what="old password refused")

    await services.pbx.trunks.change(SYSTEM, trunk_id, TrunkChange(password="new-secret"))
    await eventually(lambda: state(runtime, trunk_id) == "up", what="re-registered")
    assert edge.bound(USERNAME)

    await services.pbx.trunks.change(SYSTEM, trunk_id, TrunkChange(enabled=False))
    await eventually(lambda: state(runtime, trunk_id) == "disabled", what="disabled")
    await eventually(lambda: edge.bound(USERNAME) == [], what="unregistered when disabled")
    assert order(runtime) == []

    await services.pbx.trunks.change(SYSTEM, trunk_id, TrunkChange(enabled=True, priority=7))
    await eventually(lambda: state(runtime, trunk_id) == "up", what="back")

    await services.pbx.trunks.delete(SYSTEM, trunk_id)
    await eventually(lambda: order(runtime) == [], what="deleted")
    await eventually(lambda: edge.bound(USERNAME) == [], what="unregistered when deleted")


async def test_tcp_trunk_registers_over_tcp_and_a_transport_we_lack_is_reported(
    services: Services, runtime: TrunkRuntime, carriers: list[Carrier]
) -> None:
    ua = UserAgent(local_user="zongji")
    await ua.listen("udp", HOST, 0)
    tcp = await ua.listen("tcp", HOST, 0)
    edge = Carrier(passwords={USERNAME: PASSWORD})
    await edge.start("tcp")
    carriers.append(edge)
    try:
        over_tcp = await registration_trunk(
            services, "tcp", edge.port, transport="tcp", options_interval=1
        )
        no_tls = await ip_trunk(services, "tls", 5061, transport="tls")
        await runtime.start(ua)
        await eventually(lambda: state(runtime, over_tcp) == "up", what="registered over TCP")
        assert edge.bound(USERNAME) == [f"sip:zongji@{HOST}:{tcp.local_address.port};transport=tcp"]
        assert edge.sources[0].kind.value == "TCP"
        assert edge.options_seen >= 1
        health = runtime.health(no_tls)
        assert (health.state, health.reason) == ("down", "no_transport")
        dial = runtime.dials(ACME, "+8613912345678", "+862588880000")[0]
        assert dial.request_uri.endswith(";transport=tcp")
    finally:
        await runtime.stop()
        await ua.close()


async def test_a_registrar_that_never_answers_takes_the_trunk_down(
    services: Services, runtime: TrunkRuntime, pbx_ua: UserAgent, carriers: list[Carrier]
) -> None:
    edge = await carrier(carriers, passwords={USERNAME: PASSWORD}, answering=False)
    trunk_id = await registration_trunk(services, "silent", edge.port)
    await runtime.start(pbx_ua)
    assert state(runtime, trunk_id) == "unknown"  # registering
    await eventually(lambda: state(runtime, trunk_id) == "down", what="no answer to REGISTER")
    assert runtime.health(trunk_id).reason == "registration_failed"
    assert runtime.health(trunk_id).last_error == "REGISTER: no answer"
    edge.answering = True  # retried every register_retry seconds
    await eventually(lambda: state(runtime, trunk_id) == "up", what="registered at last")
