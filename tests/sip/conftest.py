"""Fixtures for the SIP library tests (helpers live in sip_fakes.py, which has a unique name)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping

import pytest
from sip_fakes import ELEMENT_ADDRESS, Element, FakeNetwork, FakeTransport

from zongji import eventloop
from zongji.sip.auth import DigestAuthenticator
from zongji.sip.errors import SipParseError
from zongji.sip.timers import ManualScheduler
from zongji.sip.ua import IncomingCall, IncomingRequest, UserAgent, parse_register

LoopFactory = Callable[[], asyncio.AbstractEventLoop]

# Modules that put the stack on real sockets: they run on both loops, the stdlib's and the one
# `zongji serve` runs on (uvloop), because the loops' transports differ (uvloop's are not
# subclasses of asyncio's) and a check that passes on one can fail on the other.
REAL_SOCKET_MODULES = frozenset({"test_sip_transport", "test_sip_ua"})


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, LoopFactory]:
    factories: dict[str, LoopFactory] = {"stdlib-loop": asyncio.new_event_loop}
    if item.path.stem in REAL_SOCKET_MODULES:
        factories["node-loop"] = eventloop.new_event_loop
    return factories


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
