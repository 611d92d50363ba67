"""SIP over TCP and TLS through the node, with real phones, on the loop `zongji serve` runs.

Every test in tests/interop runs on `zongji.eventloop` (uvloop), as the node does in the field
(tests/interop/conftest.py). The stream transports once accepted connections only on the stdlib
loop (uvloop's transports are not subclasses of asyncio's), so under `zongji serve` every TCP
and TLS connection was dropped while the suite, on the stdlib loop, passed. Here SIPp registers
over TCP at a `zongji serve` process; SIPp registers and calls over TCP; baresip registers over
TCP and over TLS and is called on the connection it registered on; and raw bytes check RFC 3261
§18.3 framing: a UDP request whose Content-Length is larger than its datagram gets 400, and on
TCP a message ends where its Content-Length says.

SIPp as packaged by Debian is built without OpenSSL (`-t l1` is refused), so baresip is the
TLS peer.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvloop
from tests.interop.baresip import Baresip
from tests.interop.pbx_harness import HOST, PbxTenant, RunningPbx, SipCredential, running_pbx
from tests.interop.peers import Peers
from tests.interop.sipp import Sipp, free_port, ok
from tests.test_node import RunningNode

from zongji import cli
from zongji.sip.network import TransportKind
from zongji.sip.parser import parse_message

pytestmark = pytest.mark.interop

SCENARIOS = Path(__file__).parent / "scenarios"
DATA = Path(__file__).resolve().parent.parent / "sip" / "data"
CERT, KEY = DATA / "localhost-cert.pem", DATA / "localhost-key.pem"
WAIT = 10.0  # a bound for anything on loopback, never a speed assertion


@pytest.fixture
async def node(database_url: str, tmp_path: Path) -> AsyncIterator[RunningPbx]:
    """The node's SIP component with UDP, TCP and TLS (the suite's self-signed certificate)."""
    async with running_pbx(
        database_url, tmp_path / "node", sip_tls_cert=CERT, sip_tls_key=KEY, sip_tls_port=0
    ) as running:
        yield running


class Phones(Peers):
    """The calls tests' peers (stopped at the end whatever happens), over TCP and TLS."""

    def sipp_over_tcp(self, scenario: str, rows: str, *extra: str) -> Sipp:
        fields = self.tmp_path / f"{scenario}-{uuid.uuid4().hex[:6]}.csv"
        fields.write_text(f"SEQUENTIAL\n{rows}\n")
        sipp = Sipp(
            "-sf", str(SCENARIOS / f"{scenario}.xml"), "-inf", str(fields),
            f"{HOST}:{self.pbx.tcp_port}", "-timeout", "30s", *extra,
            transport="t1",
        )  # fmt: skip
        self.sipps.append(sipp)
        return sipp

    async def baresip_over(self, cred: SipCredential, transport: str) -> Baresip:
        """A softphone registering with its device credential over `transport` (tcp or tls)."""
        port = self.pbx.tcp_port if transport == "tcp" else int(self.pbx.ports["tls"])
        phone = Baresip(
            f"<sip:{cred.username}@{cred.domain}>;auth_pass={cred.password}"
            f';outbound="sip:{HOST}:{port};transport={transport}";regint=600;answermode=auto',
            config=f"sip_cafile\t\t{CERT}\n",  # trust the node's self-signed certificate
        )
        self.phones.append(phone)
        await phone.start()
        return phone


@pytest.fixture
async def phones(node: RunningPbx, tmp_path: Path) -> AsyncIterator[Phones]:
    made = Phones(node, tmp_path)
    try:
        yield made
    finally:
        await made.close()


async def registered_over(
    node: RunningPbx, tenant: PbxTenant, user: uuid.UUID, kind: TransportKind
) -> None:
    """Wait until the user has a binding, and check it was made over `kind`."""
    location = node.services.pbx.location
    deadline = asyncio.get_running_loop().time() + 15
    while not location.contacts(tenant.id, user):
        assert asyncio.get_running_loop().time() < deadline, "the phone did not register"
        await asyncio.sleep(0.05)
    (contact,) = location.contacts(tenant.id, user)
    assert contact.flow.kind is kind
    assert contact.flow.connection is not None  # the phone is reached again on this connection


def test_zongji_commands_run_on_uvloop() -> None:
    """`zongji serve` (and every command) runs its coroutine through `cli._run`."""

    async def loop_kind() -> type[asyncio.AbstractEventLoop]:
        return type(asyncio.get_running_loop())

    seen: list[type[asyncio.AbstractEventLoop]] = []

    async def command() -> int:
        seen.append(await loop_kind())
        return 0

    assert cli._run(command()) == 0
    assert seen == [uvloop.Loop]


async def test_the_node_under_test_runs_on_the_same_loop() -> None:
    assert isinstance(asyncio.get_running_loop(), uvloop.Loop)


async def test_sipp_registers_over_tcp_at_zongji_serve(tmp_path: Path) -> None:
    """The user's path, as reported: `zongji serve --demo` in its own process, a phone with
    the demo softphone credential registering over TCP (SIPp `-t t1`)."""
    node = RunningNode(tmp_path, "--demo")
    sipp: Sipp | None = None
    try:
        await asyncio.to_thread(node.wait_ready)
        demo = json.loads((tmp_path / "var" / "demo.json").read_text())
        account = demo["users"][0]["sip"]
        auth = f"[authentication username={account['username']} password={account['password']}]"
        fields = tmp_path / "phone.csv"
        fields.write_text(f"SEQUENTIAL\n{account['username']};{account['domain']};{auth}\n")
        sipp = Sipp(
            "-sf", str(SCENARIOS / "pbx_register_digest.xml"), "-inf", str(fields),
            account["registrar"], "-auth_uri", account["domain"], "-m", "1",
            "-timeout", "30s",
            transport="t1",
        )  # fmt: skip
        await sipp.start()
        ok(await sipp.wait(within=40))  # registered, held, unregistered: all over TCP
    finally:
        if sipp is not None:
            await sipp.stop()
            sipp.cleanup()
        assert await asyncio.to_thread(node.stop) == 0
    log = node.log.read_text()
    assert "Traceback" not in log, log


async def test_sipp_registers_and_unregisters_over_tcp(node: RunningPbx, phones: Phones) -> None:
    acme = await node.enterprise("acme")
    alice = await node.user(acme, "张三", "8001")
    cred = await node.device(acme, alice)
    auth = f"[authentication username={cred.username} password={cred.password}]"
    sipp = phones.sipp_over_tcp(
        "pbx_register_digest",
        f"{cred.username};{acme.domain};{auth}",
        "-auth_uri", acme.domain, "-m", "1",
    )  # fmt: skip
    await sipp.start()
    await registered_over(node, acme, alice, TransportKind.TCP)
    result = await sipp.wait(within=40)
    ok(result)
    assert node.services.pbx.location.contacts(acme.id, alice) == []  # Expires: 0 over TCP too


async def test_sipp_over_tcp_calls_baresip_registered_over_tcp(
    node: RunningPbx, phones: Phones
) -> None:
    acme = await node.enterprise("acme")
    alice = await node.user(acme, "张三", "8001")
    bob = await node.user(acme, "李四", "8002")
    await phones.baresip_over(await node.device(acme, bob), "tcp")
    await registered_over(node, acme, bob, TransportKind.TCP)
    cred = await node.device(acme, alice)
    auth = f"[authentication username={cred.username} password={cred.password}]"
    caller = phones.sipp_over_tcp(
        "pbx_caller",
        f"{cred.username};8002;{acme.domain};{auth}",
        "-auth_uri", f"8002@{acme.domain}", "-m", "1",
        "-mi", HOST, "-mp", str(free_port()),
    )  # fmt: skip
    await caller.start()
    ok(await caller.wait(within=40))
    record = await node.wait_record(acme, within=15)
    assert (record.status, record.hangup_side) == ("answered", "caller")
    assert (record.caller_user_id, record.answered_by_user_id) == (alice, bob)


async def test_baresip_registers_over_tls_and_is_called_on_that_connection(
    node: RunningPbx, phones: Phones
) -> None:
    acme = await node.enterprise("acme")
    alice = await node.user(acme, "张三", "8001")
    bob = await node.user(acme, "李四", "8002")
    phone = await phones.baresip_over(await node.device(acme, bob), "tls")
    await registered_over(node, acme, bob, TransportKind.TLS)
    cred = await node.device(acme, alice)
    auth = f"[authentication username={cred.username} password={cred.password}]"
    caller = phones.sipp_over_tcp(
        "pbx_caller",
        f"{cred.username};8002;{acme.domain};{auth}",
        "-auth_uri", f"8002@{acme.domain}", "-m", "1",
        "-mi", HOST, "-mp", str(free_port()),
    )  # fmt: skip
    await caller.start()
    await phone.event("CALL_ESTABLISHED", within=WAIT)  # the INVITE came over TLS
    ok(await caller.wait(within=40))
    record = await node.wait_record(acme, within=15)
    assert (record.status, record.answered_by_user_id) == ("answered", bob)


# -- RFC 3261 §18.3 framing, byte by byte ---------------------------------------------------

SDP = (
    b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)


def request(
    method: str, tenant: PbxTenant, via: str, call_id: str, *, body: bytes = b"", length: int
) -> bytes:
    head = (
        f"{method} sip:8002@{tenant.domain} SIP/2.0\r\n"
        f"Via: {via}\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:8001@{tenant.domain}>;tag=f{call_id}\r\n"
        f"To: <sip:8002@{tenant.domain}>\r\n"
        f"Call-ID: {call_id}\r\n"
        f"CSeq: 1 {method}\r\n"
        f"Contact: <sip:8001@{HOST}:9>\r\n"
        + ("Content-Type: application/sdp\r\n" if body else "")
        + f"Content-Length: {length}\r\n\r\n"
    )
    return head.encode() + body


async def test_udp_invite_whose_content_length_exceeds_the_datagram_gets_400(
    node: RunningPbx,
) -> None:
    acme = await node.enterprise("acme")
    await node.user(acme, "李四", "8002")
    loop = asyncio.get_running_loop()
    answers: asyncio.Queue[bytes] = asyncio.Queue()

    class Phone(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
            answers.put_nowait(data)

    transport, _ = await loop.create_datagram_endpoint(Phone, local_addr=(HOST, 0))
    try:
        port = transport.get_extra_info("sockname")[1]
        via = f"SIP/2.0/UDP {HOST}:{port};branch=z9hG4bKclerr{uuid.uuid4().hex[:8]};rport"
        # the body is cut short: Content-Length promises 40 octets more than arrived
        invite = request("INVITE", acme, via, "clerr-1", body=SDP, length=len(SDP) + 40)
        transport.sendto(invite, (HOST, node.udp_port))
        answer = parse_message(await asyncio.wait_for(answers.get(), WAIT))
        assert getattr(answer, "status", None) == 400
        assert answer.call_id == "clerr-1"
        assert "Content-Length" in (answer.headers.get("Warning") or "")
        # nothing was started for it: the same INVITE, whole, is challenged as usual
        whole = request("INVITE", acme, via.replace("clerr", "whole"), "clerr-2", body=SDP,
                        length=len(SDP))  # fmt: skip
        transport.sendto(whole, (HOST, node.udp_port))
        while True:
            challenged = parse_message(await asyncio.wait_for(answers.get(), WAIT))
            if getattr(challenged, "status", 0) >= 200:
                break
        assert getattr(challenged, "status", None) == 407
        assert challenged.call_id == "clerr-2"
        assert await node.records(acme) == []
    finally:
        transport.close()


async def read_message(reader: asyncio.StreamReader) -> bytes:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return head + await asyncio.wait_for(reader.readexactly(length), WAIT)


async def test_tcp_messages_are_framed_by_their_content_length(node: RunningPbx) -> None:
    """An INVITE whose body arrives in pieces, then an OPTIONS in the same segment as its end:
    each is answered as itself on the same connection (in either order: the INVITE's challenge
    waits for a lookup, the OPTIONS does not)."""
    acme = await node.enterprise("acme")
    await node.user(acme, "李四", "8002")
    reader, writer = await asyncio.open_connection(HOST, node.tcp_port)
    try:
        port = writer.get_extra_info("sockname")[1]
        via = f"SIP/2.0/TCP {HOST}:{port};branch=z9hG4bK{uuid.uuid4().hex[:10]}"
        invite = request("INVITE", acme, via + "a", "framed-1", body=SDP, length=len(SDP))
        options = request("OPTIONS", acme, via + "b", "framed-2", length=0)
        stream = invite + options
        cut1 = len(invite) - len(SDP) // 2  # inside the INVITE's body
        cut2 = len(invite) + 30  # inside the OPTIONS' start line
        for piece in (stream[:cut1], stream[cut1:cut2], stream[cut2:]):
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(0.05)  # separate segments; correctness does not depend on it
        finals: list[tuple[str, int]] = []
        while len(finals) < 2:
            answer = parse_message(await read_message(reader), datagram=False)
            status = getattr(answer, "status", 0)
            if status >= 200:
                finals.append((answer.call_id, status))
        assert sorted(finals) == [("framed-1", 407), ("framed-2", 200)]
    finally:
        writer.close()
