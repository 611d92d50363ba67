"""Feature codes a device can dial: `*97` records the user's own voicemail greeting by phone."""

from __future__ import annotations

import asyncio

from tests.pbx.calls.rig import CallRig, Phone
from zongji.pbx.contracts import GREETING_FEATURE_CODE


async def _speak(phone: Phone, seconds: float) -> None:
    """A loud square wave, paced as a phone sends it (20 ms of PCMU per packet)."""
    transport, remote = phone._rtp_transport, phone.remote_rtp
    assert transport is not None
    assert remote is not None
    payload = bytes([0x00, 0x80] * 80)
    for n in range(int(seconds * 50)):
        header = bytes([0x80, 0x00]) + (n & 0xFFFF).to_bytes(2, "big")
        header += (n * 160).to_bytes(4, "big") + (0x5151).to_bytes(4, "big")
        transport.sendto(header + payload, remote)
        await asyncio.sleep(0.02)


async def test_star97_records_the_callers_greeting(rig: CallRig) -> None:
    acme = await rig.enterprise("acme")
    alice = await rig.user(acme, "张三", "8001", voicemail=True)
    a = await rig.phone(acme, alice)
    mailbox = rig.services.pbx.voicemail.mailbox
    assert (await mailbox.settings(acme.id, alice)).greeting is None

    call = await a.call(GREETING_FEATURE_CODE)
    dialog = await asyncio.wait_for(a.answered(call), 10)
    await a.wait_rtp(5)  # the beep
    await _speak(a, 2.0)
    await a.key("#")  # ends the recording; the greeting is played back, then the PBX hangs up
    await asyncio.wait_for(dialog.wait_terminated(), 30)

    box = await mailbox.settings(acme.id, alice)
    assert box.greeting is not None
    assert box.greeting_seconds is not None
    assert 1.5 <= box.greeting_seconds <= 3.0
    record = await rig.wait_record(acme)
    assert (record.callee_number, record.status) == (GREETING_FEATURE_CODE, "answered")
    await rig.idle()
