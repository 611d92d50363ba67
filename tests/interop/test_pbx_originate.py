"""Originate to a SIPp phone: the platform calls a registered desk phone (SIPp, answering with
its own SDP), puts the answered leg into a conversation, and hangs up; SIPp's scenario checks
every message of the dialog (INVITE, 180/200, ACK, BYE)."""

from __future__ import annotations

from tests.interop.pbx_harness import RunningPbx
from tests.interop.peers import Peers
from tests.interop.sipp import ok
from tests.interop.test_pbx_calls import node, registered

from zongji.pbx.calls.conversation import Conversation
from zongji.pbx.calls.originate import OriginateOutcome
from zongji.pbx.contracts import Party
from zongji.pbx.destinations import Destination

__all__ = ["node"]  # the fixture (`peers` comes from the conftest)


async def test_originate_to_a_sipp_phone(node: RunningPbx, peers: Peers) -> None:
    acme = await node.enterprise("acme")
    bob = await node.user(acme, "李四", "8002")
    phone = await peers.registered_sipp(await node.device(acme, bob), "pbx_callee")
    await registered(node, acme, bob)
    line = await node.services.pbx.view.tenant(acme.id)
    bob_line = await node.services.pbx.view.subscriber(acme.id, bob)
    assert line is not None
    assert bob_line is not None
    engine = node.component.engine
    assert engine is not None

    conversation = Conversation(engine.media, name="callback")
    done = await engine.originate(
        Destination.to_user(line, bob_line), conversation, caller=Party("8000", name="回拨")
    )
    assert done.outcome is OriginateOutcome.ANSWERED
    assert done.answered_by == bob_line
    assert done.leg is not None
    assert conversation.participants == (done.leg,)
    await done.leg.bye()
    await done.leg.close()
    ok(await phone.wait(30))  # SIPp saw the whole dialog, ending with our BYE
