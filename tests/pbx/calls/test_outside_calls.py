"""Calls that cross the carrier trunk: out from a device (caller ID, failover to the next trunk),
in to a direct line, in to the main number through the IVR, and in to a number nobody has."""

from __future__ import annotations

import asyncio

import pytest

from tests.pbx.calls.rig import HOST, CallRig
from zongji.sip.ua.outgoing import CallFailed

MAIN = "+862588880000"
DIRECT = "+862566660001"


async def test_outbound_call_leaves_with_the_enterprise_number(rig: CallRig) -> None:
    acme = await rig.enterprise("acme", main_number="025-8888 0000")
    alice = await rig.user(acme, "张三", "8001", outbound_restriction="domestic")
    a = await rig.phone(acme, alice)
    carrier = await rig.carrier("answer")
    trunk = await rig.trunk("carrier", carrier.sip_port)

    call = await a.call("13912345678")
    dialog = await a.answered(call)
    arrived = await carrier.next_call()
    request = arrived.incoming.request
    assert request.uri.user == "+8613912345678"  # type: ignore[union-attr]
    assert request.from_addr.uri.user == MAIN  # type: ignore[union-attr]
    assert MAIN in (request.headers.get("P-Asserted-Identity") or "")

    # media both ways through the PBX
    for _ in range(4):
        a.send_rtp(3)
        carrier.send_rtp(3)
        await asyncio.sleep(0.02)
    await carrier.wait_rtp(5)
    await a.wait_rtp(5)

    await dialog.bye()
    record = await rig.wait_record(acme)
    assert (record.direction, record.status, record.trunk_id) == ("outbound", "answered", trunk)
    assert (record.caller_user_id, record.callee_number) == (alice, "+8613912345678")
    assert record.outside_number == MAIN
    await rig.idle()


async def test_a_dead_trunk_is_skipped_for_the_next(rig: CallRig) -> None:
    acme = await rig.enterprise("acme", main_number="025-8888 0000")
    a = await rig.phone(acme, await rig.user(acme, "张三", "8001", outbound_restriction="domestic"))
    dead = await rig.carrier("answer")
    await dead.stop()  # nothing listens there any more
    carrier = await rig.carrier("answer")
    first = await rig.trunk("dead", dead.sip_port, priority=1)
    second = await rig.trunk("alive", carrier.sip_port, priority=2)

    call = await a.call("13912345678")
    dialog = await asyncio.wait_for(a.answered(call), 10)
    await dialog.bye()
    record = await rig.wait_record(acme)
    assert (record.status, record.trunk_id) == ("answered", second)
    assert rig.services.pbx.trunk_runtime.health(first).state != "up"


async def test_busy_number_outside(rig: CallRig) -> None:
    acme = await rig.enterprise("acme", main_number="025-8888 0000")
    a = await rig.phone(acme, await rig.user(acme, "张三", "8001", outbound_restriction="domestic"))
    carrier = await rig.carrier("busy")
    await rig.trunk("carrier", carrier.sip_port)
    call = await a.call("13912345678")
    with pytest.raises(CallFailed) as failed:
        await call.answered()
    assert failed.value.response is not None
    assert failed.value.response.status == 486
    record = await rig.wait_record(acme)
    assert record.status == "busy"


async def test_inbound_call_to_a_direct_line_rings_its_user(rig: CallRig) -> None:
    acme = await rig.enterprise("acme", main_number="025-8888 0000")
    await rig.numbers(acme, DIRECT)
    bob = await rig.user(acme, "李四", "8002", direct_line=DIRECT)
    b = await rig.phone(acme, bob)
    carrier = await rig.carrier()
    trunk = await rig.trunk("carrier", carrier.sip_port)

    call = await carrier.call(
        DIRECT, domain=HOST, authenticate=False, from_="sip:13912345678@carrier.example.com"
    )
    ringing = await b.next_call()
    ringing.answer()
    dialog = await carrier.answered(call)
    await dialog.bye()
    record = await rig.wait_record(acme)
    assert (record.direction, record.status, record.hangup_side) == (
        "inbound",
        "answered",
        "caller",
    )
    assert (record.caller_number, record.callee_user_id) == ("+8613912345678", bob)
    assert (record.trunk_id, record.outside_number) == (trunk, DIRECT)
    await rig.idle()


async def test_inbound_call_to_the_main_number_dials_an_extension(rig: CallRig) -> None:
    acme = await rig.enterprise("acme", main_number="025-8888 0000")
    bob = await rig.user(acme, "李四", "8002")
    b = await rig.phone(acme, bob)
    b.mode = "answer"
    carrier = await rig.carrier()
    await rig.trunk("carrier", carrier.sip_port)

    call = await carrier.call(
        MAIN, domain=HOST, authenticate=False, from_="sip:13912345678@carrier.example.com"
    )
    dialog = await carrier.answered(call)  # the IVR answers
    await carrier.wait_rtp(5)  # the greeting
    await carrier.key("8002")
    ringing = await b.next_call(within=15)
    assert ringing.dialog is not None
    await asyncio.sleep(0.3)
    await dialog.bye()
    record = await rig.wait_record(acme)
    assert (record.direction, record.status) == ("inbound", "answered")
    assert record.answered_by_user_id == bob
    assert (record.callee_number, record.callee_user_id) == ("8002", bob)  # the IVR's choice
    assert record.outside_number == MAIN


async def test_inbound_call_to_an_unknown_number_is_404(rig: CallRig) -> None:
    carrier = await rig.carrier()
    await rig.trunk("carrier", carrier.sip_port)
    call = await carrier.call("+862599990000", domain=HOST, authenticate=False)
    with pytest.raises(CallFailed) as failed:
        await call.answered()
    assert failed.value.response is not None
    assert failed.value.response.status == 404


async def test_outside_caller_hanging_up_while_the_extension_rings_stops_the_ringing(
    rig: CallRig,
) -> None:
    acme = await rig.enterprise("acme", main_number="025-8888 0000")
    b = await rig.phone(acme, await rig.user(acme, "李四", "8002"))
    carrier = await rig.carrier()
    await rig.trunk("carrier", carrier.sip_port)
    call = await carrier.call(MAIN, domain=HOST, authenticate=False)
    dialog = await carrier.answered(call)
    await carrier.wait_rtp(5)
    await carrier.key("8002")
    ringing = await b.next_call(within=15)
    await dialog.bye()
    await asyncio.wait_for(ringing.cancelled.wait(), 5)
    record = await rig.wait_record(acme)
    assert (record.status, record.hangup_side) == ("cancelled", "caller")
    await rig.idle()
