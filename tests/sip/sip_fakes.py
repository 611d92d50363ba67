"""An in-memory network for tests of the layers above the transports.

`FakeNetwork` connects `FakeTransport`s by address. Nothing moves until the test calls
`flush()`, and a `drop` predicate can lose chosen packets, so with a `ManualScheduler` every
retransmission and timeout can be provoked and observed exactly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from zongji.sip.message import Request, Response
from zongji.sip.network import HostPort, TransportKind
from zongji.sip.parser import parse_message
from zongji.sip.timers import ManualScheduler
from zongji.sip.transport.base import ErrorCallback, Flow, Transport
from zongji.sip.ua import UserAgent

RFC4475_DIR = Path(__file__).resolve().parents[1] / "data" / "rfc4475"


def rfc4475(name: str) -> bytes:
    """A torture message of RFC 4475, read as bytes from the project's own test data."""
    path = RFC4475_DIR / name
    assert path.exists(), f"RFC 4475 test data missing: {path}"
    return path.read_bytes()


@dataclass
class Packet:
    source: FakeTransport
    data: bytes
    destination: HostPort
    kind: TransportKind

    @property
    def message(self) -> Request | Response:
        return parse_message(self.data, datagram=not self.kind.reliable)

    def __repr__(self) -> str:
        first = self.data.split(b"\r\n", 1)[0].decode(errors="replace")
        return f"<Packet {self.source.local_address}->{self.destination} {first}>"


@dataclass
class FakeNetwork:
    """Routes packets between fake transports; loses the ones `drop` picks."""

    drop: Callable[[Packet], bool] = lambda packet: False
    queue: list[Packet] = field(default_factory=list)
    log: list[Packet] = field(default_factory=list)
    dropped: list[Packet] = field(default_factory=list)
    transports: dict[tuple[TransportKind, HostPort], FakeTransport] = field(default_factory=dict)

    def attach(self, transport: FakeTransport) -> None:
        self.transports[(transport.kind, transport.local_address)] = transport

    def send(self, packet: Packet, on_error: ErrorCallback | None) -> None:
        self.log.append(packet)
        if (packet.kind, packet.destination) not in self.transports and packet.kind.reliable:
            if on_error is not None:
                on_error(ConnectionRefusedError(f"nothing at {packet.destination}"))
            return
        self.queue.append(packet)

    def flush(self, limit: int = 1000) -> int:
        """Deliver queued packets (and what they cause) until the network is quiet."""
        delivered = 0
        while self.queue:
            packet = self.queue.pop(0)
            if self.drop(packet):
                self.dropped.append(packet)
                continue
            target = self.transports.get((packet.kind, packet.destination))
            if target is not None:
                target.deliver(packet.data, packet.source.local_address)
            delivered += 1
            assert delivered < limit, "packet storm"
        return delivered

    def sent_by(self, transport: FakeTransport) -> list[Packet]:
        return [p for p in self.log if p.source is transport]


class FakeTransport(Transport):
    """A transport whose wire is a `FakeNetwork`."""

    def __init__(
        self, network: FakeNetwork, address: HostPort, kind: TransportKind = TransportKind.UDP
    ) -> None:
        self.kind = kind
        self.network = network
        self.local_address = address
        self.advertised = address
        network.attach(self)

    def send(self, data: bytes, remote: HostPort, on_error: ErrorCallback | None = None) -> None:
        self.network.send(Packet(self, data, remote, self.kind), on_error)

    def deliver(self, data: bytes, remote: HostPort) -> None:
        """Hand bytes to the stack as if they arrived from `remote`."""
        assert self.receiver is not None
        self.receiver.data_received(data, Flow(self, remote), not self.kind.reliable)

    async def close(self) -> None:
        self.network.transports.pop((self.kind, self.local_address), None)

    @property
    def sent(self) -> list[Packet]:
        return self.network.sent_by(self)


def messages(packets: list[Packet]) -> list[Request | Response]:
    return [p.message for p in packets]


def responses(packets: list[Packet]) -> list[Response]:
    return [m for m in messages(packets) if isinstance(m, Response)]


def requests(packets: list[Packet]) -> list[Request]:
    return [m for m in messages(packets) if isinstance(m, Request)]


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
