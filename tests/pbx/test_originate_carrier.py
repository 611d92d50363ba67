"""Originate to an outside number: the platform calls out through the demo trunk to the demo
carrier, which answers with its announcement; the answered leg is in the conversation and hears
it, and the carrier sees the PBX hang up."""

from __future__ import annotations

import asyncio

from tests.interop.pbx_harness import RunningPbx
from tests.pbx.test_demo import carrier_of, demo_json, demo_pbx, until
from zongji.pbx.calls.conversation import Conversation
from zongji.pbx.calls.originate import OriginateOutcome
from zongji.pbx.contracts import Party
from zongji.pbx.destinations import Destination, DestinationKind

__all__ = ["demo_pbx"]  # the fixture


async def test_originate_to_an_outside_number_through_the_demo_carrier(
    demo_pbx: RunningPbx,
) -> None:
    carrier = carrier_of(demo_pbx)
    await until(lambda: "zongji-demo" in carrier.registrations)
    domain = demo_json(demo_pbx)["users"][0]["sip"]["domain"]
    line = await demo_pbx.services.pbx.view.tenant_by_domain(domain)
    assert line is not None
    assert line.main_number is not None
    engine = demo_pbx.component.engine
    assert engine is not None

    conversation = Conversation(engine.media, name="dial-out")
    number = Destination(DestinationKind.EXTERNAL_NUMBER, line, number="+8613912345678")
    done = await engine.originate(number, conversation, caller=Party(line.main_number))
    assert done.outcome is OriginateOutcome.ANSWERED
    assert done.trunk_id is not None
    assert done.leg is not None
    assert conversation.participants == (done.leg,)
    [out] = carrier.calls
    assert out.number.endswith("13912345678")
    assert out.status == 200
    assert out.caller.endswith(line.main_number[-8:])  # the caller ID presented

    leg = done.leg

    async def heard() -> int:
        return (await engine.media.endpoint_stats(leg.endpoint_id)).packets_received

    deadline = asyncio.get_running_loop().time() + 5
    while await heard() < 10:  # the carrier's announcement reaches the originated leg
        assert asyncio.get_running_loop().time() < deadline, "no audio from the carrier"
        await asyncio.sleep(0.1)
    await leg.bye()
    await leg.close()
    await until(lambda: out.ended_by == "pbx")
