"""The demo carrier on its own, against our SIP stack and media engine standing in for the PBX:
registration with Digest, OPTIONS, outbound calls answered with an announcement (and the
failure numbers), and inbound calls that key digits as RFC 4733 events."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from zongji.demo.caller import endpoint_spec
from zongji.demo.carrier import DemoCarrier
from zongji.media import LocalMediaServer
from zongji.media.api import DtmfReceived, EndpointSpec
from zongji.sip.auth.client import Credentials
from zongji.sip.offer_answer import LocalMedia, SdpSession
from zongji.sip.sdp import parse_sdp
from zongji.sip.ua.core import UserAgent
from zongji.sip.ua.outgoing import CallFailed
from zongji.sip.ua.requests import IncomingCall, IncomingRequest

CARRIER_HOST = "127.0.0.2"
PBX_HOST = "127.0.0.1"


@pytest.fixture
async def carrier() -> AsyncIterator[DemoCarrier]:
    async def secret(username: str) -> str | None:
        return "trunk-secret" if username == "zongji-demo" else None

    c = DemoCarrier(host=CARRIER_HOST, port=0, secret=secret, talk_seconds=1.5, ring_seconds=0.2)
    await c.start()
    try:
        yield c
    finally:
        await c.stop()


@pytest.fixture
async def pbx_side() -> AsyncIterator[tuple[UserAgent, LocalMediaServer, int]]:
    """A user agent and media engine standing where the PBX would."""
    ua = UserAgent(local_user="pbx")
    transport = await ua.listen("udp", PBX_HOST, 0)
    media = LocalMediaServer(host=PBX_HOST, port_min=40000, port_max=40999)
    await media.start()
    try:
        yield ua, media, transport.local_address.port
    finally:
        await ua.close()
        await media.close()


async def test_the_demo_trunk_registers_with_digest_and_a_wrong_password_is_refused(
    carrier: DemoCarrier, pbx_side: tuple[UserAgent, LocalMediaServer, int]
) -> None:
    ua, _media, _port = pbx_side
    registrar = f"sip:{carrier.address}"
    wrong = ua.registration(
        registrar, "sip:zongji-demo@carrier.demo", credentials=Credentials("zongji-demo", "x")
    )
    assert (await wrong.register()).status == 401
    assert carrier.registrations == {}
    right = ua.registration(
        registrar,
        "sip:zongji-demo@carrier.demo",
        credentials=Credentials("zongji-demo", "trunk-secret"),
        expires=600,
    )
    response = await right.register()
    assert response.status == 200
    assert right.granted == 600
    assert "zongji-demo" in carrier.registrations
    assert (await ua.options(f"sip:{carrier.address}")).status == 200


async def test_an_outbound_call_is_answered_with_an_announcement_then_hung_up(
    carrier: DemoCarrier, pbx_side: tuple[UserAgent, LocalMediaServer, int]
) -> None:
    ua, media, _port = pbx_side
    info = await media.create_endpoint(EndpointSpec())
    session = SdpSession(LocalMedia(PBX_HOST, info.local[1]))
    call = await ua.invite(
        f"sip:+8613912345678@{carrier.address}",
        from_="<sip:+862584000101@carrier.demo>",
        headers=[("P-Asserted-Identity", "<sip:+862584000101@carrier.demo;user=phone>")],
        body=session.offer().encode(),
    )
    dialog = await call.answered()
    assert call.final_response is not None
    negotiated = session.accept_answer(parse_sdp(call.final_response.body))
    assert negotiated is not None
    await media.update_endpoint(info.id, endpoint_spec(negotiated))
    reason = await asyncio.wait_for(dialog.wait_terminated(), 10)  # the carrier hangs up
    assert "BYE" in reason.upper()
    stats = await media.destroy_endpoint(info.id)
    assert stats.packets_received > 40  # about 1.5 s of the announcement
    [seen] = carrier.calls
    assert (seen.number, seen.caller, seen.status, seen.ended_by) == (
        "+8613912345678",
        "+862584000101",
        200,
        "carrier",
    )
    assert seen.asserted is not None
    assert "+862584000101" in seen.asserted


@pytest.mark.parametrize(("number", "status"), [("+8613900000486", 486), ("02584000404", 404)])
async def test_failure_numbers_are_busy_or_unknown(
    carrier: DemoCarrier,
    pbx_side: tuple[UserAgent, LocalMediaServer, int],
    number: str,
    status: int,
) -> None:
    ua, _media, _port = pbx_side
    call = await ua.invite(f"sip:{number}@{carrier.address}", body=b"")
    with pytest.raises(CallFailed) as failed:
        await call.answered()
    assert failed.value.response is not None
    assert failed.value.response.status == status


async def test_an_inbound_call_keys_digits_as_telephone_events(
    carrier: DemoCarrier, pbx_side: tuple[UserAgent, LocalMediaServer, int]
) -> None:
    ua, media, port = pbx_side
    digits: list[str] = []
    got_all = asyncio.Event()
    callers: list[str] = []

    async def pump() -> None:
        async for event in media.events():
            if isinstance(event, DtmfReceived):
                digits.append(event.digit)
                if len(digits) == 4:
                    got_all.set()

    async def answer(incoming: IncomingRequest) -> None:
        assert isinstance(incoming, IncomingCall)
        callers.append(str(incoming.request.from_addr.uri))
        info = await media.create_endpoint(EndpointSpec())
        session = SdpSession(LocalMedia(PBX_HOST, info.local[1]))
        answer_sdp, negotiated = session.answer(parse_sdp(incoming.offer))
        assert negotiated is not None
        await media.update_endpoint(info.id, endpoint_spec(negotiated))
        dialog = incoming.answer(answer_sdp.encode())
        await asyncio.wait_for(got_all.wait(), 10)
        await dialog.bye()  # the PBX hangs up once it has the extension

    ua.on_request = answer
    pumping = asyncio.ensure_future(pump())
    try:
        report = await carrier.call(
            f"{PBX_HOST}:{port}", "+862584000000", digits="8001", wait=0.5, hold=10
        )
    finally:
        pumping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pumping
    assert digits == list("8001")
    assert report.answered
    assert (report.status, report.digits_sent, report.ended_by) == (200, "8001", "pbx")
    assert callers == [f"sip:+8613912345678@{CARRIER_HOST}"]
    assert report.call_id


async def test_an_unanswered_inbound_call_reports_the_final_status(
    carrier: DemoCarrier, pbx_side: tuple[UserAgent, LocalMediaServer, int]
) -> None:
    ua, _media, port = pbx_side

    def refuse(incoming: IncomingRequest) -> None:
        assert isinstance(incoming, IncomingCall)
        incoming.reject(404, "Unknown Number")

    ua.on_request = refuse
    report = await carrier.call(f"{PBX_HOST}:{port}", "+862599999999")
    assert not report.answered
    assert (report.status, report.reason, report.ended_by) == (404, "Unknown Number", None)
