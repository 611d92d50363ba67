"""What happens during a call: hold and unhold reflected to the other side, DTMF relayed,
voicemail when nobody answers, the PBX shutting down with calls up."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tests.pbx.calls.rig import CallRig, Phone, Tenant
from zongji.sip.dialog import Dialog
from zongji.sip.sdp import Direction, parse_sdp


async def _connected(rig: CallRig) -> tuple[Tenant, Phone, Phone, Dialog, Dialog]:
    acme = await rig.enterprise("acme")
    a = await rig.phone(acme, await rig.user(acme, "张三", "8001"))
    b = await rig.phone(acme, await rig.user(acme, "李四", "8002"))
    b.mode = "answer"
    call = await a.call("8002")
    dialog = await a.answered(call)
    ringing = await b.next_call()
    assert ringing.dialog is not None
    return acme, a, b, dialog, ringing.dialog


async def test_hold_and_unhold_are_reflected_to_the_other_side(rig: CallRig) -> None:
    acme, a, b, dialog, _ = await _connected(rig)

    response = await dialog.reinvite(a.offer(Direction.SENDONLY))
    assert response.status == 200
    answer = parse_sdp(response.body)
    assert answer.direction_for(answer.media[0]) is Direction.RECVONLY
    await _until(lambda: b.reinvites == ["sendonly"])

    response = await dialog.reinvite(a.offer(Direction.SENDRECV))
    assert response.status == 200
    await _until(lambda: b.reinvites == ["sendonly", "sendrecv"])

    # media still flows after the hold was lifted
    before = len(b.rtp_received)
    for _ in range(5):
        a.send_rtp(4)
        await asyncio.sleep(0.02)
    await b.wait_rtp(before + 10)
    await dialog.bye()
    record = await rig.wait_record(acme)
    assert record.status == "answered"


async def test_dtmf_passes_through(rig: CallRig) -> None:
    _, a, b, dialog, _ = await _connected(rig)
    before = len(b.rtp_received)
    a.send_dtmf(5)
    await b.wait_rtp(before + 1)
    events = [p for p in b.rtp_received[before:] if p[1] & 0x7F == 101]
    assert events, "no telephone-event reached the callee"
    assert {p[12] for p in events} == {5}
    await dialog.bye()


async def test_no_answer_goes_to_voicemail(rig: CallRig) -> None:
    acme = await rig.enterprise("acme")
    alice = await rig.user(acme, "张三", "8001")
    bob = await rig.user(acme, "李四", "8002", voicemail=True)
    a = await rig.phone(acme, alice)
    b = await rig.phone(acme, bob)
    call = await a.call("8002")
    ringing = await b.next_call()
    dialog = await asyncio.wait_for(a.answered(call), 10)  # the PBX answers for voicemail
    await asyncio.wait_for(ringing.cancelled.wait(), 5)
    await a.wait_rtp(10)  # the greeting
    await dialog.bye()
    record = await rig.wait_record(acme)
    assert (record.status, record.callee_user_id) == ("voicemail", bob)
    assert record.hangup_side == "caller"
    await rig.idle()


async def test_shutdown_hangs_up_live_calls(rig: CallRig) -> None:
    acme, _, _, dialog, other = await _connected(rig)
    assert rig.engine is not None
    await rig.engine.stop()
    await asyncio.wait_for(dialog.wait_terminated(), 5)
    await asyncio.wait_for(other.wait_terminated(), 5)
    record = await rig.wait_record(acme)
    assert (record.status, record.hangup_side) == ("answered", "system")


async def _until(condition: Callable[[], bool], within: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_a_call_whose_media_stops_is_ended(rig: CallRig) -> None:
    assert rig.engine is not None
    rig.engine.media_timeout = 1.0  # as `media_timeout` in the settings
    acme, _, _, dialog, other = await _connected(rig)
    # neither phone sends RTP: after a second the PBX gives up on the call
    await asyncio.wait_for(dialog.wait_terminated(), 10)
    await asyncio.wait_for(other.wait_terminated(), 5)
    record = await rig.wait_record(acme)
    assert (record.status, record.hangup_side, record.reason) == (
        "answered",
        "system",
        "media timeout",
    )
