"""Originate: the platform calls out and puts the answered legs into a conversation — here two
users' phones called back to back and relayed to each other (what callback does), a user with
no device, and a destination nothing can originate to."""

from __future__ import annotations

import asyncio

import pytest

from tests.pbx.calls.rig import CallRig
from zongji.pbx.calls.conversation import Conversation, ConversationMode
from zongji.pbx.calls.originate import OriginateOutcome
from zongji.pbx.contracts import Party
from zongji.pbx.destinations import Destination, DestinationKind


async def test_two_originated_legs_talk_to_each_other(rig: CallRig) -> None:
    assert rig.engine is not None
    acme = await rig.enterprise("acme")
    alice = await rig.user(acme, "张三", "8001")
    bob = await rig.user(acme, "李四", "8002")
    a = await rig.phone(acme, alice)
    b = await rig.phone(acme, bob)
    a.mode = b.mode = "answer"
    view = rig.services.pbx.view
    line = await view.tenant(acme.id)
    alice_line = await view.subscriber(acme.id, alice)
    bob_line = await view.subscriber(acme.id, bob)
    assert line is not None
    assert alice_line is not None
    assert bob_line is not None

    conversation = Conversation(rig.engine.media, name="callback")
    caller = Party("8000", name="callback")
    first = await rig.engine.originate(
        Destination.to_user(line, alice_line), conversation, caller=caller
    )
    assert first.outcome is OriginateOutcome.ANSWERED
    assert first.answered_by == alice_line
    assert conversation.mode is ConversationMode.ALONE
    second = await rig.engine.originate(
        Destination.to_user(line, bob_line), conversation, caller=caller
    )
    assert second.outcome is OriginateOutcome.ANSWERED
    assert conversation.participants == (first.leg, second.leg)
    assert conversation.mode is ConversationMode.RELAY

    a.send_rtp(10)
    await b.wait_rtp(5)  # alice's audio reaches bob through the relay
    b.send_rtp(10)
    await a.wait_rtp(5)

    ringing_a, ringing_b = await a.next_call(), await b.next_call()
    assert ringing_a.dialog is not None
    assert ringing_b.dialog is not None
    await ringing_b.dialog.bye()  # bob hangs up: the conversation ends, alice gets BYE
    assert await asyncio.wait_for(conversation.wait_end(), 5) is second.leg
    await conversation.dissolve()
    await asyncio.wait_for(ringing_a.dialog.wait_terminated(), 5)
    for done in (first, second):
        assert done.leg is not None
        await done.leg.close()
    await rig.idle()


async def test_a_user_with_no_device_is_unavailable(rig: CallRig) -> None:
    assert rig.engine is not None
    acme = await rig.enterprise("acme")
    bob = await rig.user(acme, "李四", "8002")
    line = await rig.services.pbx.view.tenant(acme.id)
    bob_line = await rig.services.pbx.view.subscriber(acme.id, bob)
    assert line is not None
    assert bob_line is not None
    conversation = Conversation(rig.engine.media)
    done = await rig.engine.originate(
        Destination.to_user(line, bob_line), conversation, caller=Party("8000")
    )
    assert (done.outcome, done.leg) == (OriginateOutcome.UNAVAILABLE, None)
    assert conversation.participants == ()
    await rig.idle()


async def test_only_people_and_numbers_can_be_called_out_to(rig: CallRig) -> None:
    assert rig.engine is not None
    acme = await rig.enterprise("acme")
    line = await rig.services.pbx.view.tenant(acme.id)
    assert line is not None
    menu = Destination(DestinationKind.IVR_MENU, line, application="main_number_menu")
    with pytest.raises(ValueError, match="ivr_menu"):
        await rig.engine.originate(menu, Conversation(rig.engine.media), caller=Party("8000"))
