"""A finished call is freed by reference counting, not left to the cyclic garbage collector.

The node freezes its start-up heap and runs the collector rarely (`zongji.platform.heap`); that
only works if calls leave no reference cycles behind, and if nothing keeps a finished call's
objects alive for long (a transaction absorbing retransmissions for 64*T1 must not hold the call's
legs, a media event router must not hold its legs). These tests run real calls through the engine
with the collector disabled and short SIP timers, and check that the engine's objects of the call
(its `Call`, legs, dialogs, conversation, the INVITEs in and out) die once the call has ended and
its transactions' timers have run, without `gc.collect()`.
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.pbx.calls.rig import CallRig, Phone, running_rig
from zongji.sip.timers import TimerSettings
from zongji.sip.transaction.client import InviteClientTransaction
from zongji.sip.ua.outgoing import CallFailed

#: 64*T1 = 3.2 s: Timers L and M (absorbing INVITE and 2xx retransmissions) end that soon.
SHORT_TIMERS = TimerSettings(t1=0.05, t2=0.2, t4=0.1)


@pytest.fixture
async def rig(database_url: str, tmp_path: Path) -> AsyncIterator[CallRig]:
    async with running_rig(
        database_url, tmp_path, ring_timeout=5.0, timers=SHORT_TIMERS
    ) as running:
        yield running


@pytest.fixture
def collector_off() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def engine_objects(rig: CallRig) -> dict[str, weakref.ref[object]]:
    """Weak references to what the engine holds of its one live call."""
    assert rig.engine is not None
    assert rig.ua is not None
    (live,) = rig.engine.calls.values()
    held: dict[str, object] = {
        "Call": live.call,
        "LiveCall": live,
        "Conversation": live.conversation,
        "IncomingCall": live.incoming,
    }
    for n, leg in enumerate(live.legs):
        held[f"CallLeg {n}"] = leg
        if leg.dialog is not None:
            held[f"Dialog of leg {n}"] = leg.dialog
    outgoing = [
        t.user
        for t in rig.ua.transactions.client_transactions.values()
        if isinstance(t, InviteClientTransaction)
    ]
    assert outgoing, "the engine rings the callee"
    for n, call in enumerate(outgoing):
        held[f"OutgoingCall {n}"] = call
    return {name: weakref.ref(obj) for name, obj in held.items()}


async def still_alive(refs: dict[str, weakref.ref[object]], within: float = 15.0) -> list[str]:
    """Names of the objects still alive once they all died or `within` seconds passed (enough
    for every transaction timer of `SHORT_TIMERS`): reference counting frees them as the last
    timer holding on fires, or never without the collector if they are in a cycle."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        alive = [name for name, ref in refs.items() if ref() is not None]
        if not alive:
            return []
        await asyncio.sleep(0.1)
    return [name for name, ref in refs.items() if ref() is not None]


async def two_phones(rig: CallRig) -> tuple[Phone, Phone]:
    """Two colleagues' phones: 8001 calls, 8002 is called."""
    acme = await rig.enterprise("acme")
    caller = await rig.phone(acme, await rig.user(acme, "张三", "8001"))
    callee = await rig.phone(acme, await rig.user(acme, "李四", "8002"))
    return caller, callee


async def test_an_answered_call_is_freed_without_the_collector(
    rig: CallRig, collector_off: None
) -> None:
    a, b = await two_phones(rig)
    b.mode = "answer"
    call = await a.call("8002")
    dialog = await a.answered(call)
    ringing = await b.next_call()
    refs = engine_objects(rig)
    assert {"CallLeg 0", "CallLeg 1", "Dialog of leg 0", "Dialog of leg 1"} <= set(refs)
    await dialog.bye()
    assert ringing.dialog is not None
    await asyncio.wait_for(ringing.dialog.wait_terminated(), 5)
    await rig.idle()
    # At once, only what absorbs the callee's 2xx retransmissions (and ACKs each) is left, until
    # Timer M: the INVITE we sent, and its dialog, which no longer holds its leg.
    alive = {name for name, ref in refs.items() if ref() is not None}
    assert alive <= {"OutgoingCall 0", "Dialog of leg 1"}
    assert await still_alive(refs) == []


async def test_a_refused_call_is_freed_without_the_collector(
    rig: CallRig, collector_off: None
) -> None:
    a, b = await two_phones(rig)
    call = await a.call("8002")
    ringing = await b.next_call()
    refs = engine_objects(rig)
    ringing.incoming.reject(486)
    with pytest.raises(CallFailed):
        await call.answered()
    await rig.idle()
    # The engine's INVITE to the callee ended with 486: its transaction absorbs retransmitted
    # finals for 32 s (Timer D), without holding the call.
    assert await still_alive(refs) == []


async def test_a_call_the_caller_cancels_is_freed_without_the_collector(
    rig: CallRig, collector_off: None
) -> None:
    a, b = await two_phones(rig)
    call = await a.call("8002")
    ringing = await b.next_call()
    refs = engine_objects(rig)
    call.cancel()
    with pytest.raises(CallFailed):
        await call.answered()
    await asyncio.wait_for(ringing.cancelled.wait(), 5)
    await rig.idle()
    assert await still_alive(refs) == []
