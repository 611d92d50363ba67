"""The stack against SIPp, a SIP test tool written by others.

- SIPp's built-in `uac` places 500 calls at 50 calls/s at a UAS built on the stack, over UDP and
  over TCP: every call must succeed on SIPp's side (INVITE, 100/180/200, ACK, BYE, 200) and the
  UAS must have seen each ACK and each BYE;
- SIPp's built-in `uas` answers calls placed by the stack's UAC;
- a SIPp XML scenario registers with MD5 Digest (SIPp's own implementation) at a registrar built
  on the stack.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sip_registrar import Registrar
from sipp import Sipp, require_sipp, wait_bound

from zongji.sip.dialog import Dialog
from zongji.sip.offer_answer import LocalMedia, SdpSession
from zongji.sip.sdp import parse_sdp
from zongji.sip.ua import IncomingCall, IncomingRequest, UserAgent

pytestmark = pytest.mark.interop
SCENARIOS = Path(__file__).parent / "scenarios"


class AnsweringUas:
    """Answers every INVITE with 180 then 200 + SDP answer; counts what the dialogs saw."""

    def __init__(self) -> None:
        self.invites = 0
        self.acked = 0
        self.hung_up = 0
        self.media = LocalMedia("127.0.0.1", 20000)

    def __call__(self, incoming: IncomingRequest) -> None:
        if not isinstance(incoming, IncomingCall):
            incoming.respond(200)
            return
        self.invites += 1
        incoming.ring()
        answer, _ = SdpSession(self.media).answer(parse_sdp(incoming.offer))
        dialog = incoming.answer(answer.encode())
        dialog.on_terminated = self._terminated

    def _terminated(self, dialog: Dialog) -> None:
        if dialog.ack is not None:
            self.acked += 1
        if dialog.termination_reason == "remote BYE":
            self.hung_up += 1


@pytest.fixture
async def ua() -> AsyncIterator[UserAgent]:
    require_sipp()
    agent = UserAgent()
    yield agent
    await agent.close()


@pytest.mark.parametrize(("kind", "sipp_transport"), [("udp", "u1"), ("tcp", "t1")])
async def test_sipp_uac_500_calls_at_50_per_second(
    ua: UserAgent, kind: str, sipp_transport: str
) -> None:
    transport = await ua.listen(kind)
    uas = AnsweringUas()
    ua.on_request = uas
    target = f"127.0.0.1:{transport.local_address.port}"
    sipp = Sipp(
        "-sn", "uac", target, "-m", "500", "-r", "50", "-timeout", "90s", transport=sipp_transport
    )
    try:
        await sipp.start()
        result = await sipp.wait(within=100)
    finally:
        await sipp.stop()
    assert result.successful == 500, result.explain()
    assert result.failed == 0, result.explain()
    assert uas.invites == 500
    assert uas.acked == 500
    assert uas.hung_up == 500
    assert ua.dialogs == {}
    sipp.cleanup()


async def test_sipp_uas_answers_our_calls(ua: UserAgent) -> None:
    await ua.listen("udp")
    calls = 20
    sipp = Sipp("-sn", "uas", "-m", str(calls), "-timeout", "60s")
    try:
        await sipp.start()
        await wait_bound(sipp.local_port)
        session = SdpSession(LocalMedia("127.0.0.1", 20002))

        async def one_call(n: int) -> int:
            call = await ua.invite(
                f"sip:service@127.0.0.1:{sipp.local_port}", body=session.offer().encode()
            )
            dialog = await asyncio.wait_for(call.answered(), 10)
            assert call.final_response is not None
            assert parse_sdp(call.final_response.body).media[0].port > 0  # SIPp's SDP answer
            await asyncio.sleep(0.05 * (n % 4))
            response = await asyncio.wait_for(dialog.bye(), 10)
            assert response is not None
            return response.status

        statuses = await asyncio.gather(*(one_call(n) for n in range(calls)))
        assert statuses == [200] * calls
        result = await sipp.wait(within=30)
    finally:
        await sipp.stop()
    assert result.successful == calls, result.explain()
    assert result.failed == 0, result.explain()
    sipp.cleanup()


async def test_sipp_registers_with_md5_digest(ua: UserAgent, tmp_path: Path) -> None:
    transport = await ua.listen("udp")
    registrar = Registrar("example.com", {"alice": "wonderland", "bob": "builder", "carol": "c"})
    ua.on_request = registrar.handle
    users = tmp_path / "users.csv"
    users.write_text(
        "SEQUENTIAL\n"
        "alice;[authentication username=alice password=wonderland]\n"
        "bob;[authentication username=bob password=builder]\n"
        "carol;[authentication username=carol password=wrong]\n"
    )
    sipp = Sipp(
        "-sf",
        str(SCENARIOS / "register_digest.xml"),
        "-inf",
        str(users),
        f"127.0.0.1:{transport.local_address.port}",
        "-m",
        "3",
        "-r",
        "10",
        "-timeout",
        "30s",
    )
    try:
        await sipp.start()
        result = await sipp.wait(within=40)
    finally:
        await sipp.stop()
    assert result.successful == 3, result.explain()
    assert result.failed == 0, result.explain()
    contact = f"127.0.0.1:{sipp.local_port}"
    assert ("alice@example.com", f"sip:alice@{contact}", 300) in registrar.accepted
    assert ("bob@example.com", f"sip:bob@{contact}", 300) in registrar.accepted
    assert ("alice@example.com", f"sip:alice@{contact}", 0) in registrar.accepted  # unregistered
    assert not any(aor.startswith("carol") for aor, _, _ in registrar.accepted)
    assert registrar.refused == 1  # carol's wrong password
    assert registrar.bindings["alice@example.com"] == []
    sipp.cleanup()
