"""A caller "from outside" for the demo: places one call to the PBX as the carrier would, with
real RTP, keys digits as RFC 4733 telephone-events, and reports what happened.

The demo carrier uses it to place inbound calls, and `zongji demo call` uses it from a throwaway
user agent bound to the carrier's address, so that the PBX takes the call for the demo trunk's
(trunks are recognised by the address their calls come from). It knows nothing of tenants or
the database: SIP and media only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from zongji.media import Codec, EndpointSpec, MediaError, MediaServer, Silence
from zongji.sip import (
    CallFailed,
    Dialog,
    IncomingCall,
    IncomingRequest,
    LocalMedia,
    NegotiatedAudio,
    SdpSession,
    SipError,
    UserAgent,
    parse_sdp,
)

log = logging.getLogger(__name__)

Say = Callable[[str], None]


@dataclass
class CallReport:
    """What the caller saw of one call."""

    number: str
    caller: str
    call_id: str = ""
    status: int | None = None  # the final response to the INVITE
    reason: str = ""
    answered: bool = False
    digits_sent: str = ""
    ended_by: str | None = None  # "pbx" (it hung up), "caller" (we did), None: never answered
    talk_seconds: float = 0.0
    heard: list[str] = field(default_factory=list)  # provisional responses, in order


def endpoint_spec(negotiated: NegotiatedAudio) -> EndpointSpec:
    """Where and how to send, as the answer said."""
    remote = None
    if negotiated.remote_address and negotiated.remote_port:
        remote = (negotiated.remote_address, negotiated.remote_port)
    event = negotiated.telephone_event
    return EndpointSpec(
        codec=Codec.PCMA if negotiated.codec.name.upper() == "PCMA" else Codec.PCMU,
        remote=remote,
        telephone_event_pt=event.payload_type if event is not None else None,
        inband_dtmf=event is None,
    )


async def answer_in_dialog(
    incoming: IncomingRequest, session: SdpSession, media: MediaServer, endpoint_id: str
) -> None:
    """A re-INVITE (hold, a moved stream) gets an answer from the same endpoint; anything else
    in the dialog (INFO, UPDATE without SDP, NOTIFY) a plain 200."""
    if isinstance(incoming, IncomingCall) and incoming.offer:
        try:
            answer, negotiated = session.answer(parse_sdp(incoming.offer))
        except (SipError, ValueError):
            incoming.reject(488)
            return
        if negotiated is None:
            incoming.reject(488)
            return
        with contextlib.suppress(MediaError):
            await media.update_endpoint(endpoint_id, endpoint_spec(negotiated))
        incoming.answer(answer.encode())
        return
    incoming.respond(200)


async def place_call(
    ua: UserAgent,
    media: MediaServer,
    *,
    local_host: str,
    pbx: str,
    number: str,
    caller: str,
    digits: str = "",
    wait: float = 3.0,
    hold: float = 30.0,
    ring_timeout: float = 60.0,
    say: Say = lambda text: None,
) -> CallReport:
    """Call `number` at `pbx` ("host:port") from `caller`; once answered, wait `wait` seconds
    (the greeting starts), key `digits`, then stay on the line until the PBX hangs up or `hold`
    seconds have passed, and hang up. Audio is sent throughout (silence), as a phone would."""
    report = CallReport(number=number, caller=caller)
    info = await media.create_endpoint(EndpointSpec(codec=Codec.PCMU, telephone_event_pt=101))
    loop = asyncio.get_running_loop()
    try:
        session = SdpSession(LocalMedia(local_host, info.local[1]), username="carrier")

        def provisional(response: object, _dialog: Dialog | None) -> None:
            status = getattr(response, "status", 0)
            text = f"{status} {getattr(response, 'reason', '')}".strip()
            report.heard.append(text)
            if status > 100:
                say(f"← {text}")

        say(f"→ INVITE sip:{number}@{pbx} from {caller}")
        call = await ua.invite(
            f"sip:{number}@{pbx}",
            from_=f"<sip:{caller}@{local_host}>",
            body=session.offer().encode(),
            on_provisional=provisional,
        )
        report.call_id = call.request.call_id
        try:
            dialog = await asyncio.wait_for(call.answered(), ring_timeout)
        except CallFailed as failed:
            response = failed.response
            report.status = response.status if response is not None else None
            report.reason = response.reason if response is not None else str(failed)
            say(f"← {report.status or ''} {report.reason}: not answered")
            return report
        except TimeoutError:
            call.cancel()
            report.reason = f"no answer within {ring_timeout:.0f} s; cancelled"
            say(f"× {report.reason}")
            return report
        except SipError as error:
            report.reason = str(error)
            say(f"× {error}")
            return report
        response = call.final_response
        assert response is not None
        report.status, report.reason, report.answered = response.status, response.reason, True
        answered_at = loop.time()
        say(f"← {response.status} {response.reason}: answered")
        negotiated = session.accept_answer(parse_sdp(response.body)) if response.body else None
        if negotiated is not None:
            await media.update_endpoint(info.id, endpoint_spec(negotiated))
        await media.play(info.id, [Silence(1000)], loop=True)  # keep RTP flowing, as phones do

        async def in_dialog(incoming: IncomingRequest) -> None:
            await answer_in_dialog(incoming, session, media, info.id)

        dialog.on_request = in_dialog
        ended = asyncio.ensure_future(dialog.wait_terminated())
        try:
            await asyncio.wait({ended}, timeout=wait)
            if digits and not ended.done():
                await media.send_dtmf(info.id, digits, duration_ms=160)
                report.digits_sent = digits
                say(f"→ keys {digits} (RFC 4733)")
            await asyncio.wait({ended}, timeout=hold)
            if ended.done():
                report.ended_by = "pbx"
                say(f"← BYE: the PBX hung up ({ended.result()})")
            else:
                report.ended_by = "caller"
                say(f"→ BYE after {hold:.0f} s on the line")
                with contextlib.suppress(SipError, TimeoutError):
                    await asyncio.wait_for(dialog.bye(), 10)
        finally:
            ended.cancel()
        report.talk_seconds = round(loop.time() - answered_at, 1)
        return report
    finally:
        with contextlib.suppress(MediaError):
            await media.destroy_endpoint(info.id)


async def drain_events(media: MediaServer) -> None:
    """Read (and drop) the media engine's events: its queue is unbounded and must be read."""
    async for _event in media.events():
        pass
