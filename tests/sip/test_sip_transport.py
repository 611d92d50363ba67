"""Transports on real sockets: UDP, TCP and TLS, routing, keep-alives, and bad input.

Bad input: no byte sequence crashes anything or stalls other traffic; a malformed request gets
400 when it can be answered and is dropped otherwise; an oversized one gets 513; a TCP peer
that trickles a partial message or floods header bytes is cut off by the message timeout and
the buffer cap; idle connections are closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from zongji.sip.errors import SipParseError, TransportError
from zongji.sip.fields import parse_via_list
from zongji.sip.message import Response
from zongji.sip.network import HostPort, TransportKind
from zongji.sip.parser import Limits, parse_message
from zongji.sip.transport import client_context, response_flow, server_context
from zongji.sip.transport.base import Flow, Transport
from zongji.sip.transport.stream import StreamSettings, StreamTransport
from zongji.sip.transport.udp import _FLOW_CACHE_SIZE, UdpTransport
from zongji.sip.ua import IncomingRequest, UserAgent

WAIT = 5.0
DATA = Path(__file__).parent / "data"
CERT = str(DATA / "localhost-cert.pem")
KEY = str(DATA / "localhost-key.pem")


def options(via: str, *, extra: str = "", body: bytes = b"", length: int | None = None) -> bytes:
    head = (
        "OPTIONS sip:ua@127.0.0.1 SIP/2.0\r\n"
        f"Via: {via}\r\n"
        "From: <sip:test@127.0.0.1>;tag=t1\r\n"
        "To: <sip:ua@127.0.0.1>\r\n"
        f"Call-ID: {random.getrandbits(64):x}\r\n"
        "CSeq: 1 OPTIONS\r\n"
        f"{extra}"
        f"Content-Length: {len(body) if length is None else length}\r\n\r\n"
    )
    return head.encode() + body


class UdpPeer(asyncio.DatagramProtocol):
    """A raw UDP socket for speaking bytes at the stack."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[bytes, tuple[str, int]]] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.queue.put_nowait((data, addr))

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    def send(self, data: bytes, to: HostPort) -> None:
        assert self.transport is not None
        self.transport.sendto(data, (to.host, to.port))

    async def receive(self) -> Response:
        data, _ = await asyncio.wait_for(self.queue.get(), WAIT)
        message = parse_message(data)
        assert isinstance(message, Response)
        return message


@pytest.fixture
async def udp_peer() -> AsyncIterator[UdpPeer]:
    loop = asyncio.get_running_loop()
    transport, peer = await loop.create_datagram_endpoint(UdpPeer, local_addr=("127.0.0.1", 0))
    yield peer
    transport.close()


async def make_ua(
    *kinds: str, limits: Limits | None = None, settings: StreamSettings | None = None
) -> tuple[UserAgent, dict[str, Transport]]:
    ua = UserAgent(limits=limits or Limits())
    transports = {}
    for kind in kinds:
        if kind == "tls":
            transports[kind] = await ua.listen(
                "tls",
                server_ssl=server_context(CERT, KEY),
                client_ssl=client_context(CERT),
                stream_settings=settings,
            )
        else:
            transports[kind] = await ua.listen(kind, stream_settings=settings)
    return ua, transports


async def read_response(reader: asyncio.StreamReader) -> Response:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)
    length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
    body = await asyncio.wait_for(reader.readexactly(length), WAIT)
    message = parse_message(head + body, datagram=False)
    assert isinstance(message, Response)
    return message


async def closed_by_peer(reader: asyncio.StreamReader) -> bool:
    """True once the stack closed the connection (all it sent before is consumed)."""
    try:
        while await asyncio.wait_for(reader.read(65536), WAIT):
            pass
    except ConnectionResetError:
        return True
    return True


async def still_serves(ua_transport: Transport, peer: UdpPeer) -> None:
    """The stack answers a fresh, valid request (nothing is stalled)."""
    branch = f"z9hG4bK{random.getrandbits(40)}"
    peer.send(
        options(f"SIP/2.0/UDP 127.0.0.1:{peer.port};branch={branch};rport"),
        ua_transport.local_address,
    )
    while True:  # skip answers still in flight for earlier requests
        response = await peer.receive()
        if branch in (response.headers.get("via") or ""):
            assert response.status == 200
            return


# --------------------------------------------------------------------- routing


async def test_udp_received_and_rport(udp_peer: UdpPeer) -> None:
    ua, transports = await make_ua("udp")
    try:
        udp_peer.send(
            options("SIP/2.0/UDP 10.1.1.1:5099;branch=z9hG4bKr1;rport"),
            transports["udp"].local_address,
        )
        response = await udp_peer.receive()  # came back to the source port, not 10.1.1.1:5099
        via = response.top_via
        assert (via.received, via.rport) == ("127.0.0.1", udp_peer.port)
    finally:
        await ua.close()


async def test_udp_response_goes_to_sent_by_port_without_rport(udp_peer: UdpPeer) -> None:
    ua, transports = await make_ua("udp")
    loop = asyncio.get_running_loop()
    other_transport, other = await loop.create_datagram_endpoint(
        UdpPeer, local_addr=("127.0.0.1", 0)
    )
    try:
        udp_peer.send(
            options(f"SIP/2.0/UDP 127.0.0.1:{other.port};branch=z9hG4bKr2"),
            transports["udp"].local_address,
        )
        response = await other.receive()
        assert response.top_via.received is None  # sent-by host was already the source IP
        assert udp_peer.queue.empty()
    finally:
        other_transport.close()
        await ua.close()


def test_response_flow_rules() -> None:
    class Dummy(Transport):
        def __init__(self, kind: TransportKind) -> None:
            self.kind = kind
            self.local_address = self.advertised = HostPort("127.0.0.1", 5060)

        def send(self, data: bytes, remote: HostPort, on_error: object = None) -> None:
            pass

        async def close(self) -> None:
            pass

    udp = Flow(Dummy(TransportKind.UDP), HostPort("203.0.113.9", 40000))

    def route(via: str, flow: Flow = udp) -> HostPort:
        return response_flow(parse_via_list(via)[0], flow).remote

    assert route("SIP/2.0/UDP 10.0.0.1;received=203.0.113.9;rport=40000") == HostPort(
        "203.0.113.9", 40000
    )
    assert route("SIP/2.0/UDP 10.0.0.1:5070;received=203.0.113.9") == HostPort("203.0.113.9", 5070)
    assert route("SIP/2.0/UDP 10.0.0.1:5070;maddr=239.1.1.1") == HostPort("239.1.1.1", 5070)
    assert route("SIP/2.0/UDP 192.0.2.4") == HostPort("192.0.2.4", 5060)
    assert route("SIP/2.0/UDP [2001:db8::1]:5062") == HostPort("2001:db8::1", 5062)
    assert route("SIP/2.0/UDP phone.example.com") == udp.remote  # never resolve: answer the source
    tcp = Flow(Dummy(TransportKind.TCP), HostPort("203.0.113.9", 40001))
    assert route("SIP/2.0/TCP 10.0.0.1:5070;received=203.0.113.9", tcp) == HostPort(
        "203.0.113.9", 5070
    )


# --------------------------------------------------------------------- TCP and TLS


async def test_tcp_answers_on_the_same_connection_and_reuses_it() -> None:
    ua, transports = await make_ua("tcp")
    address = transports["tcp"].local_address
    reader, writer = await asyncio.open_connection(address.host, address.port)
    try:
        port = writer.get_extra_info("sockname")[1]
        for i in range(3):
            writer.write(options(f"SIP/2.0/TCP 10.9.9.9:9;branch=z9hG4bKt{i}"))
            response = await read_response(reader)
            assert response.status == 200
            assert response.top_via.received == "127.0.0.1"
        assert transports["tcp"].connection_count == 1
        assert transports["tcp"].connection_to(HostPort("127.0.0.1", port)) is not None
    finally:
        writer.close()
        await ua.close()


@pytest.mark.parametrize("kind", ["tcp", "tls"])
async def test_call_over_stream_transport(kind: str) -> None:
    alice, _ = await make_ua(kind)
    bob, bob_transports = await make_ua(kind)
    try:
        dialogs = []
        bob.on_request = lambda call: dialogs.append(call.answer())  # type: ignore[attr-defined, func-returns-value, return-value]
        address = bob_transports[kind].local_address
        call = await alice.invite(f"sip:bob@{address.host}:{address.port};transport={kind}")
        dialog = await asyncio.wait_for(call.answered(), WAIT)
        assert dialog.flow is not None
        assert dialog.flow.kind is TransportKind(kind.upper())
        await asyncio.wait_for(dialogs[0].wait_confirmed(), WAIT)
        assert (await asyncio.wait_for(dialog.bye(), WAIT)).status == 200  # type: ignore[union-attr]
        assert await asyncio.wait_for(dialogs[0].wait_terminated(), WAIT) == "remote BYE"
    finally:
        await alice.close()
        await bob.close()


async def test_tls_refuses_an_untrusted_certificate() -> None:
    server, transports = await make_ua("tls")
    client = UserAgent()
    await client.listen("tls", server_ssl=server_context(CERT, KEY), client_ssl=client_context())
    try:
        address = transports["tls"].local_address
        with pytest.raises(TransportError):
            await asyncio.wait_for(
                client.options(f"sip:x@{address.host}:{address.port};transport=tls"), WAIT
            )
    finally:
        await client.close()
        await server.close()


async def listen_udp_and_tcp_on_one_port(ua: UserAgent) -> HostPort:
    for _ in range(20):
        udp = await ua.listen("udp")
        try:
            await ua.listen("tcp", port=udp.local_address.port)
        except OSError:
            continue
        return udp.local_address
    raise AssertionError("no port free for both UDP and TCP")


async def test_large_request_moves_from_udp_to_tcp() -> None:
    """RFC 3261 §18.1.1: over 1300 bytes a UDP request goes by TCP, and its Via says so."""
    alice = UserAgent()
    await listen_udp_and_tcp_on_one_port(alice)
    bob = UserAgent()
    address = await listen_udp_and_tcp_on_one_port(bob)
    seen: list[IncomingRequest] = []
    bob.on_request = lambda r: (seen.append(r), r.respond(200))  # type: ignore[func-returns-value, return-value]
    try:
        uri = f"sip:bob@{address.host}:{address.port}"
        assert (await asyncio.wait_for(alice.message(uri, "x" * 2000), WAIT)).status == 200
        assert (await asyncio.wait_for(alice.message(uri, "small"), WAIT)).status == 200
        assert [r.source.kind for r in seen] == [TransportKind.TCP, TransportKind.UDP]
        assert [r.request.top_via.transport for r in seen] == ["TCP", "UDP"]
    finally:
        await alice.close()
        await bob.close()


async def test_large_request_falls_back_to_udp_when_tcp_is_refused() -> None:
    alice = UserAgent()
    await listen_udp_and_tcp_on_one_port(alice)
    bob, transports = await make_ua("udp")  # no TCP listener: the connection is refused
    seen: list[IncomingRequest] = []
    bob.on_request = lambda r: (seen.append(r), r.respond(200))  # type: ignore[func-returns-value, return-value]
    try:
        address = transports["udp"].local_address
        uri = f"sip:bob@{address.host}:{address.port}"
        assert (await asyncio.wait_for(alice.message(uri, "y" * 2000), WAIT)).status == 200
        assert seen[0].source.kind is TransportKind.UDP
        assert seen[0].request.top_via.transport == "UDP"
    finally:
        await alice.close()
        await bob.close()


async def test_crlf_keepalive_ping_and_pong() -> None:
    """RFC 5626 §4.4.1: CRLFCRLF is answered with CRLF, both ways."""
    server, transports = await make_ua("tcp")
    address = transports["tcp"].local_address
    reader, writer = await asyncio.open_connection(address.host, address.port)
    try:
        writer.write(b"\r\n\r\n")
        assert await asyncio.wait_for(reader.readexactly(2), WAIT) == b"\r\n"
        client, client_transports = await make_ua("tcp")
        stream = client_transports["tcp"]
        assert isinstance(stream, StreamTransport)
        connection = stream.connect(address)
        await asyncio.wait_for(connection.ping(), WAIT)
        await client.close()
    finally:
        writer.close()
        await server.close()


# --------------------------------------------------------------------- bad input


async def test_malformed_udp_requests_get_400_and_garbage_is_dropped(udp_peer: UdpPeer) -> None:
    ua, transports = await make_ua("udp")
    target = transports["udp"].local_address
    via = f"SIP/2.0/UDP 127.0.0.1:{udp_peer.port};branch=z9hG4bKm1;rport"
    try:
        udp_peer.send(options(via, extra="CSeq: 2 OPTIONS\r\n"), target)  # two CSeq
        assert (await udp_peer.receive()).status == 400
        for garbage in (b"\x00\xff" * 50, b"HELLO\r\n\r\n", b"SIP/2.0 200 OK\r\n\r\n"):
            udp_peer.send(garbage, target)
        await still_serves(transports["udp"], udp_peer)  # and nothing answered the garbage
        assert udp_peer.queue.empty()
        assert ua.transport.stats.malformed_dropped == 3
    finally:
        await ua.close()


async def test_udp_content_length_beyond_the_datagram_gets_400(udp_peer: UdpPeer) -> None:
    """RFC 3261 §18.3: a datagram holds the whole message; one shorter than its Content-Length
    is answered 400 and never reaches the application; octets beyond it are discarded."""
    ua, transports = await make_ua("udp")
    seen: list[bytes] = []

    def handle(incoming: IncomingRequest) -> None:
        seen.append(incoming.request.body)
        incoming.respond(200)

    ua.on_request = handle
    target = transports["udp"].local_address
    try:
        via = f"SIP/2.0/UDP 127.0.0.1:{udp_peer.port};branch=z9hG4bKshort;rport"
        udp_peer.send(options(via, body=b"0123456789", length=50), target)
        answer = await udp_peer.receive()
        assert answer.status == 400
        assert "Content-Length" in (answer.headers.get("Warning") or "")
        via = f"SIP/2.0/UDP 127.0.0.1:{udp_peer.port};branch=z9hG4bKlong;rport"
        udp_peer.send(options(via, body=b"0123456789trailing", length=10), target)
        assert (await udp_peer.receive()).status == 200
        assert seen == [b"0123456789"]
    finally:
        await ua.close()


async def test_tcp_message_ends_where_its_content_length_says() -> None:
    """A body split over segments waits for the rest; the next message may share a segment."""
    ua, transports = await make_ua("tcp")
    seen: list[bytes] = []

    def handle(incoming: IncomingRequest) -> None:
        seen.append(incoming.request.body)
        incoming.respond(200)

    ua.on_request = handle
    address = transports["tcp"].local_address
    reader, writer = await asyncio.open_connection(address.host, address.port)
    try:
        first = options("SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKs1", body=b"A" * 300)
        second = options("SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKs2", body=b"B" * 20)
        stream = first + second
        cuts = [0, len(first) - 150, len(first) + 40, len(stream)]  # in the body; in the next
        for start, end in itertools.pairwise(cuts):
            writer.write(stream[start:end])
            await writer.drain()
            await asyncio.sleep(0.02)  # separate segments; correctness does not depend on it
        assert [(await read_response(reader)).status for _ in range(2)] == [200, 200]
        assert seen == [b"A" * 300, b"B" * 20]
    finally:
        writer.close()
        await ua.close()


async def test_oversized_udp_request_gets_513(udp_peer: UdpPeer) -> None:
    ua, transports = await make_ua("udp", limits=Limits(max_message_size=1000))
    try:
        via = f"SIP/2.0/UDP 127.0.0.1:{udp_peer.port};branch=z9hG4bKbig;rport"
        udp_peer.send(options(via, body=b"z" * 1500), transports["udp"].local_address)
        assert (await udp_peer.receive()).status == 513
    finally:
        await ua.close()


async def test_oversized_tcp_request_gets_513_then_close() -> None:
    ua, transports = await make_ua("tcp", limits=Limits(max_message_size=4096))
    address = transports["tcp"].local_address
    reader, writer = await asyncio.open_connection(address.host, address.port)
    try:
        writer.write(options("SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKhuge", length=100000))
        assert (await read_response(reader)).status == 513
        assert await closed_by_peer(reader)
    finally:
        writer.close()
        await ua.close()


async def test_tcp_without_content_length_gets_400_then_close() -> None:
    ua, transports = await make_ua("tcp")
    address = transports["tcp"].local_address
    reader, writer = await asyncio.open_connection(address.host, address.port)
    try:
        data = options("SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKncl").replace(
            b"Content-Length: 0\r\n", b""
        )
        writer.write(data)
        assert (await read_response(reader)).status == 400
        assert await closed_by_peer(reader)
    finally:
        writer.close()
        await ua.close()


async def test_trickling_peer_is_cut_off_without_stalling_others(udp_peer: UdpPeer) -> None:
    settings = StreamSettings(message_timeout=0.3)
    ua, transports = await make_ua("tcp", "udp", settings=settings)
    address = transports["tcp"].local_address
    reader, writer = await asyncio.open_connection(address.host, address.port)
    try:
        partial = options("SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKslow")[:-10]
        closed = asyncio.ensure_future(closed_by_peer(reader))
        for byte in partial[:60]:  # one byte at a time: never a complete message
            if closed.done():
                break
            writer.write(bytes([byte]))
            await still_serves(transports["udp"], udp_peer)  # others are served meanwhile
            await asyncio.sleep(0.02)
        assert await asyncio.wait_for(closed, WAIT)
        assert transports["tcp"].connection_count == 0
    finally:
        writer.close()
        await ua.close()


async def test_header_flood_hits_the_buffer_cap() -> None:
    ua, transports = await make_ua(
        "tcp", limits=Limits(max_header_section=2048), settings=StreamSettings(message_timeout=600)
    )
    address = transports["tcp"].local_address
    reader, writer = await asyncio.open_connection(address.host, address.port)
    try:
        writer.write(b"OPTIONS sip:x SIP/2.0\r\n" + b"X-Flood: " + b"a" * 4000)
        assert await closed_by_peer(reader)  # long before the 600 s message timeout
    finally:
        writer.close()
        await ua.close()


async def test_idle_connection_is_closed() -> None:
    ua, transports = await make_ua("tcp", settings=StreamSettings(idle_timeout=0.3))
    address = transports["tcp"].local_address
    reader, writer = await asyncio.open_connection(address.host, address.port)
    try:
        assert await closed_by_peer(reader)
        assert transports["tcp"].connection_count == 0
    finally:
        writer.close()
        await ua.close()


async def test_connection_limit() -> None:
    ua, transports = await make_ua("tcp", settings=StreamSettings(max_connections=2))
    address = transports["tcp"].local_address
    streams = [await asyncio.open_connection(address.host, address.port) for _ in range(3)]
    try:
        reader, writer = streams[0]
        writer.write(options("SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKc0"))
        assert (await read_response(reader)).status == 200
        assert await closed_by_peer(streams[2][0])
        assert transports["tcp"].connection_count == 2
    finally:
        for _, writer in streams:
            writer.close()
        await ua.close()


async def test_random_bytes_on_every_transport_break_nothing(udp_peer: UdpPeer) -> None:
    """A flood of random and mangled input: the stack stays up, answers, and holds no state."""
    ua, transports = await make_ua("udp", "tcp", "tls")
    rng = random.Random(4475)
    seed = options("SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKseed;rport")
    try:
        for i in range(1500):
            if i % 2:
                data = bytearray(seed)
                for _ in range(rng.randint(1, 8)):
                    data[rng.randrange(len(data))] = rng.randrange(256)
                payload = bytes(data)
            else:
                payload = rng.randbytes(rng.randint(0, 1400))
            udp_peer.send(payload, transports["udp"].local_address)
            if i % 100 == 0:
                await asyncio.sleep(0)
        for kind in ("tcp", "tls"):
            address = transports[kind].local_address
            for _ in range(20):
                ssl_context = client_context(CERT) if kind == "tls" else None
                with contextlib.suppress(OSError, ssl.SSLError, TimeoutError):
                    _, writer = await asyncio.wait_for(
                        asyncio.open_connection(address.host, address.port, ssl=ssl_context), WAIT
                    )
                    writer.write(rng.randbytes(rng.randint(1, 3000)) + b"\r\n\r\n")
                    await writer.drain()
                    writer.close()
        while not udp_peer.queue.empty():
            udp_peer.queue.get_nowait()
        await still_serves(transports["udp"], udp_peer)
        # Nothing the flood did is kept: no dialogs, and only the transactions of the requests
        # that were well-formed enough to answer (they end with Timer J).
        assert ua.dialogs == {}
        assert all(t.method == "OPTIONS" for t in ua.transactions.server_transactions.values())
        for _ in range(100):
            if transports["tcp"].connection_count == transports["tls"].connection_count == 0:
                break
            await asyncio.sleep(0.02)
        assert transports["tcp"].connection_count == 0
        assert transports["tls"].connection_count == 0
    finally:
        await ua.close()


async def test_requests_can_go_back_on_the_flow_a_request_came_from() -> None:
    """What a registrar does for a phone behind NAT: reach it on the connection it opened."""
    server, _ = await make_ua("tcp")
    phone, phone_transports = await make_ua("tcp")
    sources: list[Flow] = []
    server.on_request = lambda r: (sources.append(r.source), r.respond(200))  # type: ignore[func-returns-value, return-value]
    seen: list[IncomingRequest] = []
    phone.on_request = lambda r: (seen.append(r), r.respond(200))  # type: ignore[func-returns-value, return-value]
    try:
        address = server.transport.transports[0].local_address
        uri = f"sip:server@{address.host}:{address.port};transport=tcp"
        assert (await asyncio.wait_for(phone.options(uri), WAIT)).status == 200
        (flow,) = sources
        assert flow.connection is not None
        assert flow.kind is TransportKind.TCP
        # The phone's Contact port is not where it listens; the flow still reaches it.
        request = server.create_request("OPTIONS", "sip:phone@192.0.2.99:5999;transport=tcp")
        assert (
            await asyncio.wait_for(server.request(request, destination=flow), WAIT)
        ).status == 200
        assert len(seen) == 1
        assert seen[0].source.connection is not None
        assert phone_transports["tcp"].connection_count == 1  # the same connection, reused
    finally:
        await phone.close()
        await server.close()


async def test_tls_peer_that_never_finishes_the_handshake_is_cut_off() -> None:
    ua, transports = await make_ua("tls", settings=StreamSettings(message_timeout=0.3))
    address = transports["tls"].local_address
    reader, writer = await asyncio.open_connection(address.host, address.port)  # plain TCP
    try:
        writer.write(b"\x16\x03\x01\x00")  # the first bytes of a ClientHello, then silence
        assert await closed_by_peer(reader)
        for _ in range(100):
            if transports["tls"].connection_count == 0:
                break
            await asyncio.sleep(0.01)
        assert transports["tls"].connection_count == 0
    finally:
        writer.close()
        await ua.close()


async def test_response_after_the_connection_closed_goes_to_the_sent_by_port() -> None:
    """RFC 3261 §18.2.2: with the request's connection gone, open one to the sent-by."""
    ua, transports = await make_ua("tcp")
    pending: list[IncomingRequest] = []
    ua.on_request = pending.append
    listener = await asyncio.start_server(lambda r, w: got.put_nowait((r, w)), "127.0.0.1", 0)
    got: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    sent_by = listener.sockets[0].getsockname()[1]
    address = transports["tcp"].local_address
    reader, writer = await asyncio.open_connection(address.host, address.port)
    try:
        writer.write(options(f"SIP/2.0/TCP 127.0.0.1:{sent_by};branch=z9hG4bKgone"))
        for _ in range(100):
            if pending:
                break
            await asyncio.sleep(0.01)
        pending[0].respond(100)  # while the connection is up: on it
        assert (await read_response(reader)).status == 100
        writer.close()
        for _ in range(100):
            if transports["tcp"].connection_count == 0:
                break
            await asyncio.sleep(0.01)
        pending[0].respond(200)
        new_reader, new_writer = await asyncio.wait_for(got.get(), WAIT)
        assert (await read_response(new_reader)).status == 200
        new_writer.close()
    finally:
        listener.close()
        await ua.close()


async def test_udp_flows_are_reused_per_peer_address_and_bounded() -> None:
    class Collect:
        def __init__(self) -> None:
            self.flows: list[Flow] = []

        def data_received(self, data: bytes, flow: Flow, datagram: bool) -> None:
            self.flows.append(flow)

        def framing_error(self, error: SipParseError, flow: Flow) -> None:
            raise AssertionError(error)

    transport = await UdpTransport.bind("127.0.0.1", 0)
    try:
        collect = Collect()
        transport.receiver = collect
        transport.datagram_received(b"x", ("192.0.2.1", 5060))
        transport.datagram_received(b"y", ("192.0.2.1", 5060))
        transport.datagram_received(b"z", ("192.0.2.1", 5062))
        first, again, other = collect.flows
        assert again is first
        assert first.remote == HostPort("192.0.2.1", 5060)
        assert first.transport is transport
        assert first.connection is None
        assert other.remote == HostPort("192.0.2.1", 5062)
        for port in range(_FLOW_CACHE_SIZE + 10):
            transport.datagram_received(b"x", ("192.0.2.9", port))
        assert len(transport._flows) <= _FLOW_CACHE_SIZE
        assert collect.flows[-1].remote == HostPort("192.0.2.9", _FLOW_CACHE_SIZE + 9)
    finally:
        await transport.close()
