"""Calls between extensions through the engine: phones on our own SIP stack, real sockets,
media anchored by the media engine, records written by the records service."""

from __future__ import annotations

import asyncio

import pytest

from tests.pbx.calls.rig import CallRig
from zongji.sip.ua.outgoing import CallFailed


async def test_call_answered_and_hung_up_by_the_caller(rig: CallRig) -> None:
    acme = await rig.enterprise("acme")
    alice = await rig.user(acme, "张三", "8001")
    bob = await rig.user(acme, "李四", "8002")
    a = await rig.phone(acme, alice)
    b = await rig.phone(acme, bob)

    call = await a.call("8002")
    ringing = await b.next_call()
    ringing.answer()
    dialog = await a.answered(call)

    # media flows both ways through the PBX's endpoints, not phone to phone
    a.send_rtp(5)
    b.send_rtp(5)
    await b.wait_rtp(3)
    await a.wait_rtp(3)
    assert a.remote_rtp is not None
    assert a.remote_rtp[1] != b.session.local.port

    await dialog.bye()
    assert ringing.dialog is not None
    await asyncio.wait_for(ringing.dialog.wait_terminated(), 5)

    record = await rig.wait_record(acme)
    assert record.status == "answered"
    assert record.direction == "internal"
    assert (record.caller_number, record.caller_user_id) == ("8001", alice)
    assert (record.callee_number, record.callee_user_id) == ("8002", bob)
    assert record.answered_by_user_id == bob
    assert record.hangup_side == "caller"
    await rig.idle()


async def test_callee_hangs_up(rig: CallRig) -> None:
    acme = await rig.enterprise("acme")
    a = await rig.phone(acme, await rig.user(acme, "张三", "8001"))
    b = await rig.phone(acme, await rig.user(acme, "李四", "8002"))
    b.mode = "answer"
    call = await a.call("8002")
    dialog = await a.answered(call)
    ringing = await b.next_call()
    assert ringing.dialog is not None
    await ringing.dialog.bye()
    assert await asyncio.wait_for(dialog.wait_terminated(), 5) == "remote BYE"
    record = await rig.wait_record(acme)
    assert (record.status, record.hangup_side) == ("answered", "callee")
    await rig.idle()


@pytest.mark.parametrize("mode", ["busy", "decline"])
async def test_busy_or_declined_callee(rig: CallRig, mode: str) -> None:
    acme = await rig.enterprise("acme")
    a = await rig.phone(acme, await rig.user(acme, "张三", "8001"))
    b = await rig.phone(acme, await rig.user(acme, "李四", "8002"))
    b.mode = mode
    call = await a.call("8002")
    with pytest.raises(CallFailed) as failed:
        await call.answered()
    assert failed.value.response is not None
    assert failed.value.response.status == 486
    record = await rig.wait_record(acme)
    assert record.status == "busy"
    assert record.answered_at is None
    await rig.idle()


async def test_no_answer_within_the_ring_timeout(rig: CallRig) -> None:
    acme = await rig.enterprise("acme")
    a = await rig.phone(acme, await rig.user(acme, "张三", "8001"))
    b = await rig.phone(acme, await rig.user(acme, "李四", "8002"))
    call = await a.call("8002")
    ringing = await b.next_call()
    with pytest.raises(CallFailed) as failed:
        await asyncio.wait_for(call.answered(), 10)
    assert failed.value.response is not None
    assert failed.value.response.status == 480
    await asyncio.wait_for(ringing.cancelled.wait(), 5)  # the callee's phone stopped ringing
    record = await rig.wait_record(acme)
    assert record.status == "no_answer"
    await rig.idle()


async def test_caller_cancels_while_ringing(rig: CallRig) -> None:
    acme = await rig.enterprise("acme")
    a = await rig.phone(acme, await rig.user(acme, "张三", "8001"))
    b = await rig.phone(acme, await rig.user(acme, "李四", "8002"))
    call = await a.call("8002")
    ringing = await b.next_call()
    call.cancel()
    with pytest.raises(CallFailed):
        await call.answered()
    await asyncio.wait_for(ringing.cancelled.wait(), 5)
    record = await rig.wait_record(acme)
    assert (record.status, record.hangup_side) == ("cancelled", "caller")
    await rig.idle()


async def test_all_devices_ring_and_the_first_to_answer_wins(rig: CallRig) -> None:
    acme = await rig.enterprise("acme")
    a = await rig.phone(acme, await rig.user(acme, "张三", "8001"))
    bob = await rig.user(acme, "李四", "8002")
    desk = await rig.phone(acme, bob)
    soft = await rig.phone(acme, bob)
    call = await a.call("8002")
    on_desk = await desk.next_call()
    on_soft = await soft.next_call()
    on_soft.answer()
    dialog = await a.answered(call)
    await asyncio.wait_for(on_desk.cancelled.wait(), 5)  # the other device got CANCEL
    await dialog.bye()
    record = await rig.wait_record(acme)
    assert record.status == "answered"
    assert record.answered_by_user_id == bob
    await rig.idle()


async def test_user_without_registered_devices_is_unavailable(rig: CallRig) -> None:
    acme = await rig.enterprise("acme")
    a = await rig.phone(acme, await rig.user(acme, "张三", "8001"))
    await rig.user(acme, "李四", "8002")
    call = await a.call("8002")
    with pytest.raises(CallFailed) as failed:
        await call.answered()
    assert failed.value.response is not None
    assert failed.value.response.status == 480
    record = await rig.wait_record(acme)
    assert record.status == "no_answer"
    await rig.idle()
