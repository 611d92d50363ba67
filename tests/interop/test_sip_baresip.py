"""The stack against baresip, a SIP softphone written by others, driven over ctrl_tcp.

Both directions: baresip calls a UAS built on the stack that answers, and baresip answers a
call the stack places. Media is checked too: the SDP the stack negotiates must make baresip
send RTP to the address and port the stack offered. Both calls end cleanly with a BYE from
either side.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
from baresip import Baresip

from zongji.sip.dialog import Dialog
from zongji.sip.offer_answer import LocalMedia, SdpSession
from zongji.sip.sdp import parse_sdp
from zongji.sip.ua import IncomingCall, IncomingRequest, UserAgent

pytestmark = pytest.mark.interop


@pytest.fixture
async def baresip() -> AsyncIterator[Baresip]:
    phone = Baresip()
    await phone.start()
    yield phone
    await phone.stop()


@pytest.fixture
async def ua() -> AsyncIterator[UserAgent]:
    agent = UserAgent(local_user="zongji")
    await agent.listen("udp")
    yield agent
    await agent.close()


@pytest.fixture
def rtp() -> AsyncIterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    yield sock  # type: ignore[misc]
    sock.close()


async def rtp_packets(sock: socket.socket, wanted: int = 10) -> list[bytes]:
    """Wait for RTP from baresip (version 2, payload type PCMU or PCMA)."""
    loop = asyncio.get_running_loop()
    packets: list[bytes] = []
    async with asyncio.timeout(10):
        while len(packets) < wanted:
            packets.append(await loop.sock_recv(sock, 2048))
    return packets


async def test_baresip_calls_our_uas_and_hangs_up(
    baresip: Baresip, ua: UserAgent, rtp: socket.socket
) -> None:
    session = SdpSession(LocalMedia("127.0.0.1", rtp.getsockname()[1]))
    answered: asyncio.Future[Dialog] = asyncio.get_running_loop().create_future()

    def on_request(incoming: IncomingRequest) -> None:
        assert isinstance(incoming, IncomingCall)
        incoming.ring()
        answer, negotiated = session.answer(parse_sdp(incoming.offer))
        assert negotiated is not None
        answered.set_result(incoming.answer(answer.encode()))

    ua.on_request = on_request
    address = ua.transport.transports[0].local_address
    response = await baresip.command("dial", f"sip:service@{address.host}:{address.port}")
    assert response["ok"], baresip.log()
    established = await baresip.event("CALL_ESTABLISHED")
    assert established["direction"] == "outgoing"
    dialog = await asyncio.wait_for(answered, 10)
    await asyncio.wait_for(dialog.wait_confirmed(), 10)
    packets = await rtp_packets(rtp)
    assert all(p[0] >> 6 == 2 and p[1] & 0x7F in (0, 8) for p in packets)
    assert (await baresip.command("hangup"))["ok"]
    assert await asyncio.wait_for(dialog.wait_terminated(), 10) == "remote BYE"
    await baresip.event("CALL_CLOSED")
    assert ua.dialogs == {}


async def test_baresip_answers_our_call_and_we_hang_up(
    baresip: Baresip, ua: UserAgent, rtp: socket.socket
) -> None:
    session = SdpSession(LocalMedia("127.0.0.1", rtp.getsockname()[1]))
    call = await ua.invite(baresip.uri, body=session.offer().encode())
    dialog = await asyncio.wait_for(call.answered(), 10)
    assert call.final_response is not None
    negotiated = session.accept_answer(parse_sdp(call.final_response.body))
    assert negotiated is not None
    assert negotiated.codec.name in ("PCMU", "PCMA")
    established = await baresip.event("CALL_ESTABLISHED")
    assert established["direction"] == "incoming"
    packets = await rtp_packets(rtp)
    assert all(p[1] & 0x7F == negotiated.codec.payload_type for p in packets)
    response = await asyncio.wait_for(dialog.bye(), 10)
    assert response is not None
    assert response.status == 200
    closed = await baresip.event("CALL_CLOSED")
    assert closed["direction"] == "incoming"
    assert ua.dialogs == {}
