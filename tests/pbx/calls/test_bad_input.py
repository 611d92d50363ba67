"""What a device can't do: call without credentials, call into another enterprise, pose as
someone else, send SDP we can't use, dial nonsense, or get past the outbound policy. Each is
answered with the right SIP status and leaves the right call record (or none, when nobody was
authenticated)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.pbx.calls.rig import CallRig
from zongji.sip.message import Response
from zongji.sip.parser import parse_message
from zongji.sip.ua.outgoing import CallFailed


async def _status(answered: Awaitable[object]) -> int:
    """The final status of a call that must fail."""
    with pytest.raises(CallFailed) as failed:
        await answered
    response = failed.value.response
    assert response is not None
    return response.status


async def test_invite_without_credentials_is_challenged_and_goes_nowhere(rig: CallRig) -> None:
    acme = await rig.enterprise("acme")
    a = await rig.phone(acme, await rig.user(acme, "张三", "8001"))
    b = await rig.phone(acme, await rig.user(acme, "李四", "8002"))
    call = await a.call("8002", authenticate=False)
    assert await _status(call.answered()) in (401, 407)
    assert b.calls.empty()
    assert await rig.records(acme) == []
    await rig.idle()


async def test_wrong_password_never_rings_anyone(rig: CallRig) -> None:
    acme = await rig.enterprise("acme")
    a = await rig.phone(acme, await rig.user(acme, "张三", "8001"))
    b = await rig.phone(acme, await rig.user(acme, "李四", "8002"))
    a.credential = type(a.credential)(a.username, "not-the-password", acme.domain)
    call = await a.call("8002")
    assert await _status(call.answered()) in (401, 403, 407)
    await asyncio.sleep(0.2)
    assert b.calls.empty()
    assert await rig.records(acme) == []


async def test_unknown_domain_is_404(rig: CallRig) -> None:
    acme = await rig.enterprise("acme")
    a = await rig.phone(acme, await rig.user(acme, "张三", "8001"))
    call = await a.call("8002", domain="nowhere.example.com")
    assert await _status(call.answered()) == 404


async def test_unknown_extension_is_404_and_recorded_as_failed(rig: CallRig) -> None:
    acme = await rig.enterprise("acme")
    alice = await rig.user(acme, "张三", "8001")
    a = await rig.phone(acme, alice)
    call = await a.call("8099")
    assert await _status(call.answered()) == 404
    record = await rig.wait_record(acme)
    assert (record.status, record.caller_user_id, record.callee_number) == ("failed", alice, "8099")
    await rig.idle()


async def test_dial_string_that_is_no_number(rig: CallRig) -> None:
    acme = await rig.enterprise("acme")
    a = await rig.phone(acme, await rig.user(acme, "张三", "8001"))
    assert await _status((await a.call("80")).answered()) == 484  # shorter than an extension
    assert await _status((await a.call("abc")).answered()) == 404


async def test_spoofed_from_is_ignored(rig: CallRig) -> None:
    acme = await rig.enterprise("acme")
    alice = await rig.user(acme, "张三", "8001")
    boss = await rig.user(acme, "老板", "8000")
    bob = await rig.user(acme, "李四", "8002")
    a = await rig.phone(acme, alice)
    b = await rig.phone(acme, bob)
    call = await a.call("8002", from_=f'"老板" <sip:8000@{acme.domain}>')
    ringing = await b.next_call()
    # the callee sees the authenticated caller, not what the device claimed
    shown = ringing.incoming.request.from_addr
    assert shown.uri.user == "8001"  # type: ignore[union-attr]
    assert shown.display_name == "张三"
    ringing.answer()
    dialog = await a.answered(call)
    await dialog.bye()
    record = await rig.wait_record(acme)
    assert (record.caller_user_id, record.caller_number) == (alice, "8001")
    assert record.caller_user_id != boss


@pytest.mark.parametrize(
    "body",
    [
        b"this is not SDP",
        b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        b"m=audio 4000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n",  # no codec in common
        b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        b"m=video 4000 RTP/AVP 96\r\n",  # no audio at all
    ],
)
async def test_sdp_we_cannot_use_is_488(rig: CallRig, body: bytes) -> None:
    acme = await rig.enterprise("acme")
    a = await rig.phone(acme, await rig.user(acme, "张三", "8001"))
    b = await rig.phone(acme, await rig.user(acme, "李四", "8002"))
    call = await a.call("8002", body=body)
    assert await _status(call.answered()) == 488
    assert b.calls.empty()
    await rig.idle()


async def test_two_enterprises_with_the_same_extensions_never_cross(rig: CallRig) -> None:
    acme = await rig.enterprise("acme")
    beta = await rig.enterprise("beta")
    acme_bob = await rig.user(acme, "李四", "8002")
    beta_bob = await rig.user(beta, "王五", "8002")
    acme_alice = await rig.phone(acme, await rig.user(acme, "张三", "8001"))
    beta_alice = await rig.phone(beta, await rig.user(beta, "赵六", "8001"))
    acme_phone = await rig.phone(acme, acme_bob)
    beta_phone = await rig.phone(beta, beta_bob)
    acme_phone.mode = beta_phone.mode = "answer"

    call = await acme_alice.call("8002")
    dialog = await acme_alice.answered(call)
    await dialog.bye()
    assert beta_phone.calls.empty()
    assert (await acme_phone.next_call()).incoming is not None

    call = await beta_alice.call("8002")
    dialog = await beta_alice.answered(call)
    await dialog.bye()
    assert acme_phone.calls.empty()
    assert (await beta_phone.next_call()).incoming is not None

    assert (await rig.wait_record(acme)).answered_by_user_id == acme_bob
    assert (await rig.wait_record(beta)).answered_by_user_id == beta_bob
    assert len(await rig.records(acme)) == 1
    assert len(await rig.records(beta)) == 1

    # a device of one enterprise cannot call into the other by naming its domain
    call = await acme_alice.call("8002", domain=beta.domain)
    assert await _status(call.answered()) in (401, 403, 407)
    assert acme_phone.calls.empty()
    assert beta_phone.calls.empty()


async def test_refused_by_the_policy_hears_why_and_is_recorded(rig: CallRig) -> None:
    acme = await rig.enterprise("acme")
    alice = await rig.user(acme, "张三", "8001", outbound_restriction="internal")
    a = await rig.phone(acme, alice)
    early: list[int] = []
    c = a.credential
    from zongji.sip.auth.client import Credentials

    call = await a.ua.invite(
        f"sip:13912345678@{c.domain}",
        from_=f"sip:{c.username}@{c.domain}",
        body=a.offer(),
        destination=a.pbx,
        credentials=Credentials(c.username, c.password),
        on_provisional=lambda response, _dialog: early.append(response.status),
    )
    assert await _status(call.answered()) == 403
    assert 183 in early  # the refusal prompt came as early media
    record = await rig.wait_record(acme)
    assert (record.status, record.rule, record.direction) == ("refused", "restriction", "outbound")
    assert record.caller_user_id == alice
    await rig.idle()


async def test_invite_flood_from_one_source_does_not_disturb_a_call(rig: CallRig) -> None:
    acme = await rig.enterprise("acme")
    a = await rig.phone(acme, await rig.user(acme, "张三", "8001"))
    b = await rig.phone(acme, await rig.user(acme, "李四", "8002"))
    b.mode = "answer"
    call = await a.call("8002")
    dialog = await a.answered(call)
    flooder = await rig.phone(acme, await rig.user(acme, "王五", "8003"), register=False)
    floods = [await flooder.call("8002", authenticate=False) for _ in range(100)]
    # the call in progress still carries media both ways
    before = len(a.rtp_received)
    ringing = await b.next_call()
    assert ringing.dialog is not None
    for _ in range(5):
        b.send_rtp(5)
        await asyncio.sleep(0.02)
    await a.wait_rtp(before + 10)
    for flood in floods:
        assert await _status(flood.answered()) in (401, 403, 407)
    await dialog.bye()
    record = await rig.wait_record(acme)
    assert (record.status, record.hangup_side) == ("answered", "caller")


class _Datagrams(asyncio.DatagramProtocol):
    """A bare UDP socket that keeps every response the PBX sends it, with its arrival time."""

    def __init__(self) -> None:
        self.responses: list[tuple[float, Response]] = []

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        message = parse_message(data, datagram=True)
        assert isinstance(message, Response)
        self.responses.append((asyncio.get_running_loop().time(), message))

    def statuses(self) -> list[int]:
        return [r.status for _, r in self.responses if r.status >= 200]


def _invite(domain: str, port: int, branch: str, call_id: str) -> bytes:
    return (
        f"INVITE sip:8002@{domain} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch={branch};rport\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:8001@{domain}>;tag=probe\r\n"
        f"To: <sip:8002@{domain}>\r\n"
        f"Call-ID: {call_id}\r\n"
        "CSeq: 1 INVITE\r\n"
        f"Contact: <sip:8001@127.0.0.1:{port}>\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


async def test_an_unauthenticated_udp_invite_draws_exactly_one_challenge(rig: CallRig) -> None:
    """A challenge is sent once, statelessly: no amplification for a forged source. The old
    stateful 407 was resent by Timer G at 0.5 s and 1.5 s after the first (T1 = 500 ms,
    doubling), so a 2 s watch saw three; sent once, there is one however slow the machine."""
    acme = await rig.enterprise("acme")
    await rig.user(acme, "张三", "8001")
    await rig.user(acme, "李四", "8002")
    loop = asyncio.get_running_loop()
    transport, probe = await loop.create_datagram_endpoint(_Datagrams, local_addr=("127.0.0.1", 0))
    try:
        port = transport.get_extra_info("sockname")[1]
        branch, call_id = f"z9hG4bK{uuid.uuid4().hex}", f"{uuid.uuid4().hex}@probe"
        invite = _invite(acme.domain, port, branch, call_id)
        transport.sendto(invite, ("127.0.0.1", rig.port))
        await _until(lambda: probe.statuses(), within=5.0)
        first_at, challenge = next((at, r) for at, r in probe.responses if r.status >= 200)
        await asyncio.sleep(max(0.0, first_at + 2.0 - loop.time()))
        assert probe.statuses() == [407]
        assert rig.ua is not None
        assert not [
            t for t in rig.ua.transactions.server_transactions.values() if t.method == "INVITE"
        ]  # nothing kept for it

        # Its ACK is absorbed (nothing answers an ACK; no 481, no resent 407) ...
        to_tag = challenge.to_addr.tag
        ack = (
            invite.decode()
            .replace("INVITE sip:", "ACK sip:", 1)
            .replace("CSeq: 1 INVITE", "CSeq: 1 ACK")
            .replace(f"To: <sip:8002@{acme.domain}>", f"To: <sip:8002@{acme.domain}>;tag={to_tag}")
        )
        transport.sendto(ack.encode(), ("127.0.0.1", rig.port))
        await asyncio.sleep(1.0)
        assert probe.statuses() == [407]
        # ... and a caller that retransmits its INVITE (its 407 was lost) gets a new challenge.
        transport.sendto(invite, ("127.0.0.1", rig.port))
        await _until(lambda: len(probe.statuses()) == 2, within=5.0)
        again = [r for _, r in probe.responses if r.status >= 200][1]
        assert again.status == 407
        nonces = {c.params["nonce"] for r in (challenge, again) for c in r.proxy_authenticate}
        assert len(nonces) == 2
        # An INVITE for a domain we do not serve is refused once, statelessly, too.
        stranger = _invite("nowhere.example.com", port, f"z9hG4bK{uuid.uuid4().hex}", "x@probe")
        transport.sendto(stranger, ("127.0.0.1", rig.port))
        await _until(lambda: len(probe.statuses()) == 3, within=5.0)
        await asyncio.sleep(2.0)
        assert probe.statuses() == [407, 407, 404]
    finally:
        transport.close()
    assert await rig.records(acme) == []


async def _until(check: Callable[[], object], within: float) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("nothing came back in time")
        await asyncio.sleep(0.02)
