"""The tick visits only endpoints with clock work, and still serves every endpoint that gets some.

A relayed call's endpoints (or a call with no RTP at all) have nothing to do on the 20 ms tick;
the engine keeps them off it. These tests pin both sides: an idle endpoint is not visited (and
sends nothing), and an endpoint that is given work later (a player, DTMF, in-band detection, a
conference) is served from the next tick on, then taken off again when the work ends. RTCP
reports, which every endpoint sends, come from their own schedule and stop with the endpoint.
"""

from __future__ import annotations

from zongji.media import EndpointSpec, Silence
from zongji.media.rtcp import Goodbye, ReceiverReport, parse_rtcp

from .conftest import new_phone, settle


async def test_an_idle_endpoint_is_off_the_clock_until_it_gets_work(manual, phones) -> None:
    media, clock = manual
    phone = await new_phone(phones)
    ep = await media.create_endpoint(EndpointSpec(remote=phone.addr))
    clock.advance(10)
    await settle()
    assert ep.id not in media._on_clock
    assert phone.packets() == []

    await media.play(ep.id, [Silence(60)])  # 3 frames
    assert ep.id in media._on_clock
    clock.advance(5)
    await settle()
    assert len(phone.packets()) == 3
    assert ep.id not in media._on_clock  # the player ended: off the clock again

    clock.advance(20)
    await media.send_dtmf(ep.id, "1", duration_ms=40)  # no telephone-event: tones in the audio
    assert ep.id in media._on_clock
    clock.advance(10)
    await settle()
    assert len(phone.packets()) > 3


async def test_listening_and_conference_endpoints_stay_on_the_clock(manual, phones) -> None:
    media, clock = manual
    phone = await new_phone(phones)
    inband = await media.create_endpoint(EndpointSpec(remote=phone.addr, inband_dtmf=True))
    plain = await media.create_endpoint(EndpointSpec(remote=phone.addr))
    conference = await media.create_conference()
    clock.advance(5)
    assert inband.id in media._on_clock
    assert plain.id not in media._on_clock

    await media.add_member(conference, plain.id)
    clock.advance(5)
    assert plain.id in media._on_clock
    await media.remove_member(conference, plain.id)
    clock.advance(1)
    assert plain.id not in media._on_clock

    await media.update_endpoint(plain.id, EndpointSpec(remote=phone.addr, inband_dtmf=True))
    clock.advance(1)
    assert plain.id in media._on_clock
    await media.destroy_endpoint(plain.id)
    assert plain.id not in media._on_clock


async def test_idle_endpoints_still_send_rtcp_until_they_end(manual, phones) -> None:
    media, clock = manual
    kept_phone, ended_phone = await new_phone(phones), await new_phone(phones)
    kept = await media.create_endpoint(EndpointSpec(remote=kept_phone.addr, rtcp_mux=True))
    ended = await media.create_endpoint(EndpointSpec(remote=ended_phone.addr, rtcp_mux=True))
    clock.advance(260)  # past the first report interval (125–250 ticks)
    await settle()
    for phone in (kept_phone, ended_phone):
        assert len(phone.rtcp) == 1
        assert isinstance(parse_rtcp(phone.rtcp[0])[0], ReceiverReport)

    await media.destroy_endpoint(ended.id)
    clock.advance(800)  # several more intervals (125–375 ticks each)
    await settle()
    assert len(ended_phone.rtcp) == 2  # the BYE, nothing after it
    assert isinstance(parse_rtcp(ended_phone.rtcp[1])[-1], Goodbye)
    assert len(kept_phone.rtcp) >= 3
    assert kept.id not in media._on_clock
