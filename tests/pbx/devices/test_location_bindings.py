"""What call control reads of the location (`Location.bindings`: plain data naming the node that
holds each registration) and how the SIP side turns a binding into its live flow at send time
(`LocationService.flow_for`, `fork.device_target`).

The first tests use the location service on its own, on clocks the tests set; the last ones the
registrar on real sockets, with our own user agent as the phone, and a restart.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import make_settings
from tests.pbx.devices.conftest import Phone, SipServer, new_phone

from zongji.pbx.calls.fork import device_target
from zongji.pbx.contracts import Binding, Device
from zongji.pbx.devices.location import LocationService, NewBinding
from zongji.platform.clock import FakeClock
from zongji.services import build_services
from zongji.sip.address import NameAddress
from zongji.sip.network import HostPort, TransportKind
from zongji.sip.transport.base import Flow
from zongji.sip.uri import parse_uri

WALL = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
PLAIN = (str, int, float, bool, uuid.UUID, datetime, type(None))


class Socket:
    """Stands in for one of our transports: a flow needs only its kind and address here."""

    def __init__(self, kind: TransportKind = TransportKind.UDP) -> None:
        self.kind = kind
        self.local_address = HostPort("192.0.2.1", 5060)


def flow(port: int = 5062, kind: TransportKind = TransportKind.UDP) -> Flow:
    return Flow(Socket(kind), HostPort("198.51.100.7", port))  # type: ignore[arg-type]


def new(n: int, expires: int = 60, path: tuple[str, ...] = ()) -> NewBinding:
    uri = f"sip:8001-abcd@10.0.0.{n}:5060"
    return NewBinding(key=uri, sent=uri, uri=uri, expires=expires, nat=False, path=path)


def location(node: str = "node-a") -> LocationService:
    return LocationService(node=node, now=lambda: 1000.0, wall=lambda: WALL)


def device(tenant: uuid.UUID | None = None, user: uuid.UUID | None = None) -> Device:
    return Device(tenant or uuid.uuid4(), user or uuid.uuid4(), uuid.uuid4(), "8001-abcd")


def leaves(value: Any) -> list[Any]:
    """Every value inside a binding: through nested dataclasses (its Device) and tuples."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [v for f in dataclasses.fields(value) for v in leaves(getattr(value, f.name))]
    if isinstance(value, tuple):
        return [v for item in value for v in leaves(item)]
    return [value]


def addresses() -> tuple[NameAddress, NameAddress]:
    to = NameAddress(parse_uri("sip:8001@acme.example"))
    return to, NameAddress(parse_uri("sip:8002@acme.example"))


async def test_bindings_are_plain_data_naming_the_node_and_the_flow() -> None:
    here = location()
    phone = device()
    path = ("<sip:edge.example.net;lr>",)
    here.update(phone, [new(1, 60, path)], flow=flow(), call_id="c", cseq=1, user_agent="Yealink")

    (binding,) = await here.bindings(phone.tenant_id, phone.user_id)
    assert binding.node == "node-a"
    assert binding.device == phone
    assert binding.uri == "sip:8001-abcd@10.0.0.1:5060"
    assert binding.path == path
    assert binding.expires_at == WALL + timedelta(seconds=60)
    assert (binding.transport, binding.source) == ("udp", "198.51.100.7:5062")
    assert binding.flow == "udp 192.0.2.1:5060 198.51.100.7:5062"
    assert binding.user_agent == "Yealink"
    (registration,) = here.registrations(phone.tenant_id, phone.user_id)
    assert binding.id == registration.row_id  # the registration, kept across refreshes

    # nothing in it is a live object: it can be stored, sent to another node, compared
    values = leaves(binding)
    assert all(isinstance(v, PLAIN) for v in values), [type(v) for v in values]
    assert not any(isinstance(v, Flow) for v in values)
    with pytest.raises(dataclasses.FrozenInstanceError):
        binding.uri = "sip:elsewhere@203.0.113.1"  # type: ignore[misc]


async def test_bindings_are_the_users_live_ones_oldest_expiry_first() -> None:
    now = [1000.0]
    here = LocationService(node="node-a", now=lambda: now[0], wall=lambda: WALL)
    phone, stranger = device(), device()
    here.update(phone, [new(1, 120), new(2, 30)], flow=flow(), call_id="c", cseq=1)
    here.update(stranger, [new(3)], flow=flow(6000), call_id="s", cseq=1)
    bindings = await here.bindings(phone.tenant_id, phone.user_id)
    assert [b.uri for b in bindings] == [
        "sip:8001-abcd@10.0.0.2:5060",
        "sip:8001-abcd@10.0.0.1:5060",
    ]
    now[0] += 31
    (left,) = await here.bindings(phone.tenant_id, phone.user_id)
    assert left.uri == "sip:8001-abcd@10.0.0.1:5060"
    assert left.expires_at == WALL + timedelta(seconds=89)  # what remains, on the wall clock
    assert await here.bindings(phone.tenant_id, uuid.uuid4()) == []
    assert await here.bindings(uuid.uuid4(), phone.user_id) == []  # another enterprise


async def test_the_flow_is_found_at_send_time_on_the_node_that_holds_it() -> None:
    here = location()
    phone = device()
    first, second = flow(5062), flow(5064)
    here.update(phone, [new(1)], flow=first, call_id="c", cseq=1)
    (binding,) = await here.bindings(phone.tenant_id, phone.user_id)
    assert here.flow_for(binding) is first

    # the phone refreshed from a new NAT mapping after the binding was read: the new one is used
    here.update(phone, [new(1)], flow=second, call_id="c", cseq=2)
    assert here.flow_for(binding) is second

    # a registration another node holds: its flow is there, not here
    assert here.flow_for(dataclasses.replace(binding, node="node-b")) is None
    assert location("node-b").flow_for(binding) is None

    here.update(phone, [new(1, 0)], flow=second, call_id="c", cseq=3)  # unregistered since
    assert here.flow_for(binding) is None


async def test_a_direct_binding_rings_on_its_flow_and_only_from_its_node(
    caplog: pytest.LogCaptureFixture,
) -> None:
    here = location()
    phone = device()
    live = flow()
    here.update(phone, [new(1)], flow=live, call_id="c", cseq=1)
    (binding,) = await here.bindings(phone.tenant_id, phone.user_id)
    to, from_ = addresses()

    target = device_target(binding, here.flow_for(binding), to=to, from_=from_, label="a")
    assert target is not None
    assert (target.request_uri, target.destination, target.pin_flow) == (binding.uri, live, True)
    assert target.headers == ()

    elsewhere = dataclasses.replace(binding, node="node-b")
    with caplog.at_level(logging.INFO, logger="zongji.pbx.calls.fork"):
        skipped = device_target(elsewhere, here.flow_for(elsewhere), to=to, from_=from_, label="b")
    assert skipped is None
    assert "node-b" in caplog.text
    assert binding.flow in caplog.text


async def test_a_binding_behind_a_path_is_reached_through_it_from_any_node() -> None:
    here = location()
    phone = device()
    path = ("<sip:edge.example.net:5070;lr>", "<sip:10.1.1.1;lr>")
    here.update(phone, [new(1, 60, path)], flow=flow(), call_id="c", cseq=1)
    (binding,) = await here.bindings(phone.tenant_id, phone.user_id)
    to, from_ = addresses()
    for seen in (binding, dataclasses.replace(binding, node="node-b")):
        target = device_target(seen, here.flow_for(seen), to=to, from_=from_, label="a")
        assert target is not None
        assert target.headers == (("Route", path[0]), ("Route", path[1]))
        assert (target.destination, target.pin_flow) == (None, False)  # the edge holds the flow


async def test_a_tcp_phone_is_reached_on_its_own_connection(
    sip: SipServer, phones: list[Phone]
) -> None:
    acme = await sip.enterprise("acme")
    alice = await sip.user(acme, "张三", "8001")
    cred = await sip.device(acme, alice)
    phone = await new_phone(sip, phones, TransportKind.TCP)
    assert (await phone.register(cred)).status == 200
    location = sip.services.pbx.location

    (binding,) = await location.bindings(acme.id, alice)
    assert binding.node == sip.services.settings.node_name
    assert binding.transport == "tcp"
    assert binding.source.startswith("127.0.0.1:")
    live = location.flow_for(binding)
    assert live is not None
    assert live.connection is not None  # the phone's connection, not a new one
    (contact,) = location.contacts(acme.id, alice)
    assert live is contact.flow
    assert str(live.remote) == binding.source


async def test_restored_bindings_keep_their_identity_and_find_their_flow(
    sip: SipServer, phones: list[Phone], database_url: str, tmp_path: Path, clock: FakeClock
) -> None:
    acme = await sip.enterprise("acme")
    alice = await sip.user(acme, "张三", "8001")
    cred = await sip.device(acme, alice)
    phone = await new_phone(sip, phones)
    assert (await phone.register(cred, expires=300)).status == 200
    (before,) = await sip.services.pbx.location.bindings(acme.id, alice)
    await sip.services.pbx.bindings.drain()

    restarted = build_services(make_settings(database_url, tmp_path / "again"), clock=clock)
    try:
        location = restarted.pbx.location
        assert await restarted.pbx.bindings.restore(location, sip.ua.transport.flow_to) == 1
        (after,) = await location.bindings(acme.id, alice)
        assert (after.id, after.node, after.uri, after.source) == (
            before.id,
            before.node,
            before.uri,
            before.source,
        )
        live = location.flow_for(after)
        assert live is not None
        assert live.kind is TransportKind.UDP
        assert str(live.remote) == before.source  # rung where the phone registered from
    finally:
        await restarted.close()


def test_a_binding_is_plain_data_by_its_declaration() -> None:
    """No field of `Binding` can hold a live object: only names, addresses, ids and times."""
    declared = {f.name: f.type for f in dataclasses.fields(Binding)}
    assert "Flow" not in " ".join(str(t) for t in declared.values())
    assert declared["flow"] == "str"
