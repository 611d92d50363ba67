"""Calls between extensions with real phones: SIPp and baresip register with their device
credentials (MD5 Digest) and call each other through the PBX, a B2BUA anchoring the media.

Every scenario checks the call record it leaves, read through the records service.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from tests.interop.pbx_harness import HOST, PbxTenant, RunningPbx, running_pbx
from tests.interop.peers import GOOD_SDP, Peers
from tests.interop.sipp import SippResult, ok

from zongji.pbx.records.search import CallFilters, CallRecordOut
from zongji.sip.auth.client import Credentials
from zongji.sip.network import HostPort, TransportKind
from zongji.sip.offer_answer import LocalMedia, SdpSession
from zongji.sip.sdp import parse_sdp
from zongji.sip.transport.base import Destination
from zongji.sip.ua.core import UserAgent
from zongji.sip.ua.requests import IncomingCall, IncomingRequest


@pytest.fixture
async def node(database_url: str, tmp_path: Path) -> AsyncIterator[RunningPbx]:
    async with running_pbx(database_url, tmp_path / "node", ring_timeout=3.0) as running:
        yield running


async def records(pbx: RunningPbx, tenant: PbxTenant) -> list[CallRecordOut]:
    page = await pbx.services.pbx.records.search.page(tenant.id, CallFilters(), limit=100)
    return list(page.items)


async def wait_record(
    pbx: RunningPbx,
    tenant: PbxTenant,
    match: Callable[[CallRecordOut], bool] = lambda r: True,
    within: float = 15.0,
) -> CallRecordOut:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        for record in await records(pbx, tenant):
            if record.ended_at is not None and match(record):
                return record
        assert loop.time() < deadline, f"no such call record: {await records(pbx, tenant)!r}"
        await asyncio.sleep(0.1)


async def registered(pbx: RunningPbx, tenant: PbxTenant, user: uuid.UUID, count: int = 1) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15
    while len(pbx.services.pbx.location.contacts(tenant.id, user)) < count:
        assert loop.time() < deadline, "the phone did not register"
        await asyncio.sleep(0.1)


def final_status(result: SippResult) -> int:
    """The final status SIPp's caller got, from its message log."""
    for status in (404, 480, 484, 486, 488, 503, 603):
        if f"SIP/2.0 {status} " in result.messages:
            return status
    raise AssertionError(result.explain())


async def test_sipp_calls_baresip_answers_sipp_hangs_up(node: RunningPbx, peers: Peers) -> None:
    acme = await node.enterprise("acme")
    alice = await node.user(acme, "张三", "8001")
    bob = await node.user(acme, "李四", "8002")
    await peers.baresip(await node.device(acme, bob))
    await registered(node, acme, bob)
    caller = peers.caller("pbx_caller", await node.device(acme, alice), "8002")
    await caller.start()
    ok(await caller.wait(30))
    record = await wait_record(node, acme)
    assert (record.status, record.direction, record.hangup_side) == (
        "answered",
        "internal",
        "caller",
    )
    assert (record.caller_user_id, record.callee_user_id) == (alice, bob)
    assert record.answered_by_user_id == bob


async def test_sipp_with_its_default_digest_uri_calls(node: RunningPbx, peers: Peers) -> None:
    """SIPp signs `uri="sip:<the PBX's address>"` unless told otherwise; the PBX verifies the
    response against that uri (as Kamailio and Asterisk do), so the call goes through."""
    acme = await node.enterprise("acme")
    alice = await node.user(acme, "张三", "8001")
    bob = await node.user(acme, "李四", "8002")
    await peers.baresip(await node.device(acme, bob))
    await registered(node, acme, bob)
    caller = peers.caller("pbx_caller", await node.device(acme, alice), "8002", auth_uri=False)
    await caller.start()
    result = await caller.wait(30)
    ok(result)
    assert f'uri="sip:{node.address}"' in result.messages
    record = await wait_record(node, acme)
    assert (record.status, record.caller_user_id, record.answered_by_user_id) == (
        "answered",
        alice,
        bob,
    )
    assert node.services.pbx.guard.blocks() == []


async def test_baresip_calls_baresip_and_the_callee_hangs_up(
    node: RunningPbx, peers: Peers
) -> None:
    acme = await node.enterprise("acme")
    alice = await node.user(acme, "张三", "8001")
    bob = await node.user(acme, "李四", "8002")
    a = await peers.baresip(await node.device(acme, alice), answer=False)
    b = await peers.baresip(await node.device(acme, bob))
    await registered(node, acme, alice)
    await registered(node, acme, bob)
    assert (await a.command("dial", f"sip:8002@{acme.domain}"))["ok"]
    await a.event("CALL_ESTABLISHED", within=15)
    await b.event("CALL_ESTABLISHED", within=15)
    await asyncio.sleep(1.0)
    assert (await b.command("hangup"))["ok"]
    await a.event("CALL_CLOSED", within=10)
    record = await wait_record(node, acme)
    assert (record.status, record.hangup_side) == ("answered", "callee")
    assert (record.caller_user_id, record.answered_by_user_id) == (alice, bob)


async def test_busy_callee(node: RunningPbx, peers: Peers) -> None:
    acme = await node.enterprise("acme")
    alice = await node.user(acme, "张三", "8001")
    bob = await node.user(acme, "李四", "8002")
    await node.services.pbx.voicemail.mailbox.set_enabled(acme.id, bob, False)
    callee = await peers.registered_sipp(await node.device(acme, bob), "pbx_callee_busy")
    caller = peers.caller("pbx_caller_fails", await node.device(acme, alice), "8002")
    await caller.start()
    result = await caller.wait(30)
    assert final_status(result) == 486
    ok(await callee.wait(10))
    record = await wait_record(node, acme)
    assert record.status == "busy"


async def test_no_answer_cancels_the_ringing_phone(node: RunningPbx, peers: Peers) -> None:
    acme = await node.enterprise("acme")
    alice = await node.user(acme, "张三", "8001")
    bob = await node.user(acme, "李四", "8002")
    await node.services.pbx.voicemail.mailbox.set_enabled(acme.id, bob, False)
    callee = await peers.registered_sipp(await node.device(acme, bob), "pbx_callee_ring")
    caller = peers.caller("pbx_caller_fails", await node.device(acme, alice), "8002")
    await caller.start()
    assert final_status(await caller.wait(30)) == 480
    ok(await callee.wait(10))  # the ringing phone got CANCEL
    record = await wait_record(node, acme)
    assert record.status == "no_answer"


async def test_caller_cancels_while_ringing(node: RunningPbx, peers: Peers) -> None:
    acme = await node.enterprise("acme")
    alice = await node.user(acme, "张三", "8001")
    bob = await node.user(acme, "李四", "8002")
    callee = await peers.registered_sipp(await node.device(acme, bob), "pbx_callee_ring")
    caller = peers.caller("pbx_caller_cancel", await node.device(acme, alice), "8002")
    await caller.start()
    ok(await caller.wait(30))
    ok(await callee.wait(10))
    record = await wait_record(node, acme)
    assert (record.status, record.hangup_side) == ("cancelled", "caller")


async def test_two_devices_ring_the_first_answer_wins_the_other_is_cancelled(
    node: RunningPbx, peers: Peers
) -> None:
    acme = await node.enterprise("acme")
    alice = await node.user(acme, "张三", "8001")
    bob = await node.user(acme, "李四", "8002")
    desk = await peers.registered_sipp(
        await node.device(acme, bob, "desk_phone"), "pbx_callee_ring"
    )
    await peers.baresip(await node.device(acme, bob))
    await registered(node, acme, bob, count=2)
    caller = peers.caller("pbx_caller", await node.device(acme, alice), "8002")
    await caller.start()
    ok(await caller.wait(30))
    ok(await desk.wait(10))  # the desk phone rang and was cancelled when baresip answered
    record = await wait_record(node, acme)
    assert (record.status, record.answered_by_user_id) == ("answered", bob)


async def test_hold_and_unhold_reach_the_other_phone(node: RunningPbx, peers: Peers) -> None:
    acme = await node.enterprise("acme")
    alice = await node.user(acme, "张三", "8001")
    bob = await node.user(acme, "李四", "8002")
    callee = await peers.registered_sipp(await node.device(acme, bob), "pbx_callee")
    caller = peers.caller("pbx_caller_hold", await node.device(acme, alice), "8002")
    await caller.start()
    ok(await caller.wait(30))
    result = await callee.wait(10)
    ok(result)
    # the callee saw the hold and the resume as re-INVITEs from the PBX
    assert "a=sendonly" in result.messages
    record = await wait_record(node, acme)
    assert (record.status, record.hangup_side) == ("answered", "caller")


async def test_two_enterprises_with_the_same_extension_never_cross(
    node: RunningPbx, peers: Peers
) -> None:
    acme = await node.enterprise("acme")
    beta = await node.enterprise("beta")
    acme_alice = await node.user(acme, "张三", "8001")
    acme_bob = await node.user(acme, "李四", "8002")
    beta_bob = await node.user(beta, "王五", "8002")
    await peers.baresip(await node.device(acme, acme_bob))
    beta_phone = await peers.baresip(await node.device(beta, beta_bob))
    await registered(node, acme, acme_bob)
    await registered(node, beta, beta_bob)
    caller = peers.caller("pbx_caller", await node.device(acme, acme_alice), "8002")
    await caller.start()
    ok(await caller.wait(30))
    record = await wait_record(node, acme)
    assert record.answered_by_user_id == acme_bob
    assert await records(node, beta) == []
    assert beta_phone.events.empty() or all(
        e.get("type") not in ("CALL_INCOMING", "CALL_ESTABLISHED")
        for e in list(beta_phone.events._queue)  # type: ignore[attr-defined]
    )


async def test_bad_requests_get_the_right_answers(node: RunningPbx, peers: Peers) -> None:
    acme = await node.enterprise("acme")
    alice = await node.user(acme, "张三", "8001")
    bob = await node.user(acme, "李四", "8002")
    cred = await node.device(acme, alice)
    await peers.baresip(await node.device(acme, bob))
    await registered(node, acme, bob)

    # unknown extension: 404, recorded as failed
    caller = peers.caller("pbx_caller_fails", cred, "8099")
    await caller.start()
    assert final_status(await caller.wait(30)) == 404
    record = await wait_record(node, acme)
    assert (record.status, record.callee_number, record.caller_user_id) == ("failed", "8099", alice)

    # SDP without a codec we take: 488, and the callee's phone never rang
    rows = (
        f"{cred.username};8002;{cred.domain};"
        f"[authentication username={cred.username} password={cred.password}];"
        "18;18 G729/8000"
    )
    bad = peers.sipp("pbx_caller_fails", rows, node.address, "-auth_uri", f"8002@{cred.domain}")
    await bad.start()
    assert final_status(await bad.wait(30)) == 488
    assert len(await records(node, acme)) == 1


async def test_spoofed_from_is_ignored(node: RunningPbx, peers: Peers) -> None:
    acme = await node.enterprise("acme")
    alice = await node.user(acme, "张三", "8001")
    boss = await node.user(acme, "老板", "8000")
    bob = await node.user(acme, "李四", "8002")
    await peers.baresip(await node.device(acme, bob))
    await registered(node, acme, bob)
    cred = await node.device(acme, alice)
    # the scenario's From user is field0; claim to be the boss's extension instead
    auth = f"[authentication username={cred.username} password={cred.password}]"
    rows = f"8000;8002;{cred.domain};{auth};{GOOD_SDP}"
    caller = peers.sipp(
        "pbx_caller", rows, node.address, "-auth_uri", f"8002@{cred.domain}", "-au", cred.username
    )
    await caller.start()
    ok(await caller.wait(30))
    record = await wait_record(node, acme)
    assert (record.caller_user_id, record.caller_number) == (alice, "8001")
    assert record.caller_user_id != boss


async def test_unauthenticated_invite_is_challenged_and_an_invite_flood_spares_a_live_call(
    node: RunningPbx, peers: Peers
) -> None:
    acme = await node.enterprise("acme")
    alice = await node.user(acme, "张三", "8001")
    bob = await node.user(acme, "李四", "8002")
    a = await peers.baresip(await node.device(acme, alice), answer=False)
    b = await peers.baresip(await node.device(acme, bob))
    await registered(node, acme, alice)
    await registered(node, acme, bob)
    assert (await a.command("dial", f"sip:8002@{acme.domain}"))["ok"]
    await a.event("CALL_ESTABLISHED", within=15)

    # one INVITE without credentials: challenged, never rung
    probe = peers.sipp("pbx_invite_noauth", f"8001;8002;{acme.domain}", node.address)
    await probe.start()
    result = await probe.wait(20)
    ok(result)
    assert "SIP/2.0 407 " in result.messages

    # 300 of them from one source, 100 a second
    flood = peers.sipp(
        "pbx_invite_noauth", f"8001;8002;{acme.domain}", node.address,
        "-r", "100", "-m", "300", "-l", "300",
    )  # fmt: skip
    await flood.start()
    flooded = await flood.wait(60)
    assert flooded.successful == 300, flooded.explain()
    assert node.component.engine is not None
    # nothing from the flood became a call, and the live call is still up
    assert len(node.component.engine.calls) == 1
    assert b.events.empty() or all(
        e.get("type") != "CALL_CLOSED"
        for e in list(b.events._queue)  # type: ignore[attr-defined]
    )
    assert (await a.command("hangup"))["ok"]
    record = await wait_record(node, acme)
    assert (record.status, record.hangup_side) == ("answered", "caller")
    assert len(await records(node, acme)) == 1


class _Ear(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.packets: list[bytes] = []

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.packets.append(data)


async def test_sipp_keys_reach_the_callee_as_rfc4733_events(node: RunningPbx, peers: Peers) -> None:
    """SIPp keys 1 (the shipped RFC 4733 capture) after the answer; the callee, a softphone on
    our own stack with a real RTP socket, receives the telephone-events through the PBX."""
    acme = await node.enterprise("acme")
    alice = await node.user(acme, "张三", "8001")
    bob = await node.user(acme, "李四", "8002")
    cred = await node.device(acme, bob)
    loop = asyncio.get_running_loop()
    ear = _Ear()
    rtp, _ = await loop.create_datagram_endpoint(lambda: ear, local_addr=(HOST, 0))
    session = SdpSession(LocalMedia(HOST, rtp.get_extra_info("sockname")[1]))
    ua = UserAgent(local_user=cred.username)
    await ua.listen("udp", HOST, 0)

    def on_request(incoming: IncomingRequest) -> None:
        if isinstance(incoming, IncomingCall):
            answer, _ = session.answer(parse_sdp(incoming.offer))
            incoming.answer(answer.encode())
        else:
            incoming.respond(200)

    ua.on_request = on_request
    try:
        registration = ua.registration(
            f"sip:{cred.domain}",
            f"sip:{cred.username}@{cred.domain}",
            credentials=Credentials(cred.username, cred.password),
            destination=Destination(TransportKind.UDP, HostPort(HOST, node.udp_port)),
        )
        assert (await registration.register()).status == 200
        caller = peers.caller("pbx_caller", await node.device(acme, alice), "8002")
        await caller.start()
        ok(await caller.wait(30))
        events = [p for p in ear.packets if len(p) >= 16 and p[1] & 0x7F == 101]
        assert events, f"{len(ear.packets)} RTP packets, none a telephone-event"
        assert {p[12] for p in events} == {1}  # the key SIPp pressed
        record = await wait_record(node, acme)
        assert (record.status, record.answered_by_user_id) == ("answered", bob)
    finally:
        rtp.close()
        await ua.close()
