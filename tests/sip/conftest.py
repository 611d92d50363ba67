"""Fixtures for the SIP library tests."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from sip_fakes import FakeNetwork, FakeTransport, responses

from zongji.sip.auth import DigestAuthenticator
from zongji.sip.errors import SipParseError
from zongji.sip.message import Request, Response
from zongji.sip.network import HostPort
from zongji.sip.timers import ManualScheduler
from zongji.sip.ua import IncomingCall, IncomingRequest, UserAgent, parse_register

ELEMENT_ADDRESS = HostPort("192.0.2.200", 5060)
PEER_ADDRESS = HostPort("192.0.2.1", 5060)


@dataclass
class Element:
    """A user agent on a fake network, with a tiny registrar, recording what it is asked."""

    ua: UserAgent
    transport: FakeTransport
    network: FakeNetwork
    clock: ManualScheduler
    seen: list[Request] = field(default_factory=list)

    async def receive(self, data: bytes, source: HostPort = PEER_ADDRESS) -> list[Response]:
        """Deliver `data` and return every response the element sent because of it."""
        before = len(self.transport.sent)
        self.transport.deliver(data, source)
        await settle(self.network)
        return responses(self.transport.sent[before:])


async def settle(network: FakeNetwork) -> None:
    """Let handler tasks run and the network drain, until nothing moves."""
    for _ in range(20):
        moved = network.flush()
        await asyncio.sleep(0)
        if not moved and not network.queue:
            await asyncio.sleep(0)
            if not network.queue:
                return


@pytest.fixture
def element() -> Iterator[Element]:
    network = FakeNetwork()
    clock = ManualScheduler()
    ua = UserAgent(scheduler=clock)
    transport = FakeTransport(network, ELEMENT_ADDRESS)
    ua.add_transport(transport)
    result = Element(ua, transport, network, clock)
    authenticator = DigestAuthenticator("example.com", {"j.user": "secret"}.get)

    async def handler(incoming: IncomingRequest) -> None:
        request = incoming.request
        result.seen.append(request)
        if isinstance(incoming, IncomingCall):
            incoming.reject(603)
        elif request.method == "REGISTER":
            try:
                register = parse_register(request)
            except SipParseError:
                incoming.respond(400)
                return
            if register.aor.user == "j.user":  # a user with credentials must authenticate
                outcome = await authenticator.verify(request)
                if not outcome.ok:
                    incoming.send(authenticator.challenge(request, to_tag=incoming.to_tag))
                    return
            contacts = [
                ("Contact", b.contact.with_params(expires=str(b.expires)))
                for b in register.bindings
            ]
            incoming.respond(200, headers=contacts)
        else:
            incoming.respond(200)

    ua.on_request = handler
    return result
