"""SDP for the B2BUA: each leg negotiates with its own peer and gets its own media endpoint.

The PBX never passes one peer's SDP to the other. It answers the caller's offer with the address
of the caller's endpoint and offers the callee the address of the callee's endpoint; the media
engine relays between them. This module turns what `SdpSession` agreed into the `EndpointSpec`
the engine needs, and names the SDP faults that get a 488.
"""

from __future__ import annotations

from zongji.media import Codec, EndpointSpec
from zongji.sip import (
    Direction,
    LocalMedia,
    NegotiatedAudio,
    SdpSession,
    SessionDescription,
    SipParseError,
    parse_sdp,
)


class SdpRefused(Exception):
    """An offer or answer we cannot use: the INVITE gets 488 Not Acceptable Here."""


def read_sdp(body: bytes, content_type: str | None = None) -> SessionDescription:
    """Parse an SDP body; an empty body (delayed offer), another content type or bad syntax is
    refused: the PBX only takes offers in the INVITE."""
    if not body:
        raise SdpRefused("no SDP offer in the INVITE")
    if content_type is not None and content_type.split(";")[0].strip().lower() not in (
        "application/sdp",
        "",
    ):
        raise SdpRefused(f"body is {content_type}, not application/sdp")
    try:
        return parse_sdp(body)
    except (SipParseError, ValueError, IndexError) as error:
        raise SdpRefused(f"malformed SDP: {error}") from None


def media_codec(negotiated: NegotiatedAudio) -> Codec:
    """The engine's codec for what was agreed (SdpSession only agrees on PCMU or PCMA)."""
    return Codec.PCMA if negotiated.codec.name.upper() == "PCMA" else Codec.PCMU


def endpoint_spec(
    negotiated: NegotiatedAudio, *, media_timeout: float | None, inband_dtmf: bool = False
) -> EndpointSpec:
    """What one side's SDP says about where and how to send, as the media engine takes it.

    `inband_dtmf`: the leg talks to an application (IVR, voicemail) that needs the caller's
    keys; a peer without telephone-event then gets in-band detection. A bridged leg does not:
    its in-band tones reach the other side as audio, and detection (Goertzel on every frame)
    would cost CPU on every call for nothing."""
    remote = None
    if negotiated.remote_address and negotiated.remote_port:
        remote = (negotiated.remote_address, negotiated.remote_port)
    event = negotiated.telephone_event
    return EndpointSpec(
        codec=media_codec(negotiated),
        remote=remote,
        telephone_event_pt=event.payload_type if event is not None else None,
        inband_dtmf=inband_dtmf and event is None,
        media_timeout=media_timeout,
    )


def answer_offer(
    session: SdpSession, offer: SessionDescription, direction: Direction = Direction.SENDRECV
) -> tuple[bytes, NegotiatedAudio]:
    """Our answer to an offer on one leg; refused if no audio stream could be agreed."""
    local = LocalMedia(session.local.address, session.local.port, direction=direction)
    answer, negotiated = session.answer(offer, local)
    if negotiated is None:
        raise SdpRefused("no common audio codec (we take PCMU and PCMA)")
    return answer.encode(), negotiated


def make_offer(session: SdpSession, direction: Direction = Direction.SENDRECV) -> bytes:
    local = LocalMedia(session.local.address, session.local.port, direction=direction)
    return session.offer(local).encode()


def read_answer(session: SdpSession, body: bytes) -> NegotiatedAudio:
    """The negotiated audio of an answer to our offer; refused if unusable."""
    try:
        negotiated = session.accept_answer(read_sdp(body))
    except SdpRefused:
        raise
    except Exception as error:  # OfferAnswerError: an answer that does not fit the offer
        raise SdpRefused(str(error)) from None
    if negotiated is None:
        raise SdpRefused("the answer declined the audio stream")
    return negotiated
