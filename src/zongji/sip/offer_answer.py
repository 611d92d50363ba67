"""The offer/answer model for audio (RFC 3264) with PCMU, PCMA and telephone-event (RFC 4733).

One `SdpSession` stands for one side of one call: it keeps the `o=` line stable across offers
and answers (only the version grows, RFC 3264 §8), builds offers, answers offers, and reads
answers. What it agrees on comes back as a `NegotiatedAudio`, which is what the media engine
needs: where to send, which payload types, which direction.

Policy: the first usable audio stream is accepted; every other stream (video, a second audio,
a transport we cannot do such as RTP/SAVP, or audio without a common codec) is declined with
port 0, as RFC 3264 §6 requires, keeping the m-line count and order of the offer.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Final

from zongji.sip.ids import random_bits
from zongji.sip.sdp import (
    Attribute,
    Connection,
    Direction,
    MediaDescription,
    Origin,
    RtpMap,
    SessionDescription,
)

RTP_PROFILES: Final = ("RTP/AVP", "RTP/AVPF")


@dataclass(frozen=True, slots=True)
class Codec:
    """An RTP payload format we can send and receive."""

    name: str
    clock_rate: int
    payload_type: int
    channels: int = 1
    fmtp: str | None = None

    def matches(self, rtpmap: RtpMap) -> bool:
        return (
            rtpmap.encoding.lower() == self.name.lower()
            and rtpmap.clock_rate == self.clock_rate
            and rtpmap.channels == self.channels
        )

    @property
    def is_telephone_event(self) -> bool:
        return self.name.lower() == "telephone-event"

    def rtpmap(self) -> RtpMap:
        return RtpMap(self.payload_type, self.name, self.clock_rate, self.channels)


PCMU: Final = Codec("PCMU", 8000, 0)
PCMA: Final = Codec("PCMA", 8000, 8)
TELEPHONE_EVENT: Final = Codec("telephone-event", 8000, 101, fmtp="0-16")
DEFAULT_AUDIO_CODECS: Final = (PCMU, PCMA, TELEPHONE_EVENT)


@dataclass(frozen=True, slots=True)
class LocalMedia:
    """What this side can do: where it receives RTP, which codecs, which direction."""

    address: str
    port: int
    codecs: tuple[Codec, ...] = DEFAULT_AUDIO_CODECS
    direction: Direction = Direction.SENDRECV
    ptime: int | None = 20

    @property
    def address_type(self) -> str:
        return "IP6" if ":" in self.address else "IP4"


@dataclass(frozen=True, slots=True)
class NegotiatedAudio:
    """The outcome of one offer/answer exchange for the audio stream."""

    remote_address: str | None
    remote_port: int
    codec: Codec
    codecs: tuple[Codec, ...]
    telephone_event: Codec | None
    direction: Direction
    ptime: int | None = None

    @property
    def on_hold(self) -> bool:
        """True when the peer does not want to receive (sendonly/inactive offer, or c=0.0.0.0)."""
        return not self.direction.sends


class OfferAnswerError(Exception):
    """An answer that does not fit the offer we sent (RFC 3264 §6: wrong m-line count ...)."""


class SdpSession:
    """One side of one call's SDP: a stable origin, offers, answers."""

    def __init__(self, local: LocalMedia, *, username: str = "zongji") -> None:
        self.local = local
        session_id = str((random_bits(64) >> 2) + 1)  # 1 .. 2**62
        self.origin = Origin(username, session_id, 1, local.address, "IN", local.address_type)
        self._last_body: bytes | None = None
        self._last_offer: SessionDescription | None = None

    # -- building

    def _finish(self, description: SessionDescription) -> SessionDescription:
        """Bump the origin version if this description differs from the last one sent."""
        body = description.encode()
        if self._last_body is not None and body != self._last_body:
            self.origin.session_version += 1
            description.origin = _copy_origin(self.origin)
            body = description.encode()
        self._last_body = body
        return description

    def _skeleton(self, local: LocalMedia) -> SessionDescription:
        return SessionDescription(
            origin=_copy_origin(self.origin),
            session_name="-",
            connection=Connection(local.address, "IN", local.address_type),
        )

    def _audio_line(
        self, local: LocalMedia, proto: str, codecs: list[Codec], direction: Direction
    ) -> MediaDescription:
        formats, attributes = _audio_template(tuple(codecs), local.ptime, direction)
        return MediaDescription("audio", local.port, proto, list(formats), attributes=[*attributes])

    def offer(self, local: LocalMedia | None = None) -> SessionDescription:
        """An offer with one audio stream (a new offer for re-INVITE or hold as well)."""
        if local is not None:
            self.local = local
        local = self.local
        description = self._skeleton(local)
        description.media.append(
            self._audio_line(local, "RTP/AVP", list(local.codecs), local.direction)
        )
        self._last_offer = description
        return self._finish(description)

    def answer(
        self, offer: SessionDescription, local: LocalMedia | None = None
    ) -> tuple[SessionDescription, NegotiatedAudio | None]:
        """Answer a remote offer; the negotiated audio is None if every stream was declined."""
        if local is not None:
            self.local = local
        local = self.local
        description = self._skeleton(local)
        negotiated: NegotiatedAudio | None = None
        for media in offer.media:
            accepted = None
            if negotiated is None:
                accepted = _match_audio(offer, media, local.codecs)
            if accepted is None:
                description.media.append(_declined(media))
                continue
            codecs, telephone_event = accepted
            connection = offer.connection_for(media)
            direction = offer.direction_for(media).reversed().intersect(local.direction)
            remote_address = None
            if connection is not None and not connection.is_null:
                remote_address = connection.address
            else:
                direction = direction.intersect(Direction.RECVONLY)
            agreed = codecs + ([telephone_event] if telephone_event else [])
            description.media.append(self._audio_line(local, media.proto, agreed, direction))
            negotiated = NegotiatedAudio(
                remote_address=remote_address,
                remote_port=media.port,
                codec=codecs[0],
                codecs=tuple(codecs),
                telephone_event=telephone_event,
                direction=direction,
                ptime=_ptime(media),
            )
        return self._finish(description), negotiated

    def accept_answer(self, answer: SessionDescription) -> NegotiatedAudio | None:
        """Read the answer to our last offer; None if the audio stream was declined."""
        offer = self._last_offer
        if offer is None:
            raise OfferAnswerError("no offer outstanding")
        if len(answer.media) != len(offer.media):
            raise OfferAnswerError("answer has a different number of m-lines than the offer")
        media = answer.media[0]
        if media.rejected or media.media != "audio":
            return None
        accepted = _match_audio(answer, media, self.local.codecs)
        if accepted is None:
            return None
        codecs, telephone_event = accepted
        connection = answer.connection_for(media)
        remote_address = None
        direction = answer.direction_for(media).reversed().intersect(self.local.direction)
        if connection is not None and not connection.is_null:
            remote_address = connection.address
        else:
            direction = direction.intersect(Direction.RECVONLY)
        return NegotiatedAudio(
            remote_address=remote_address,
            remote_port=media.port,
            codec=codecs[0],
            codecs=tuple(codecs),
            telephone_event=telephone_event,
            direction=direction,
            ptime=_ptime(media),
        )


def _match_audio(
    description: SessionDescription, media: MediaDescription, supported: tuple[Codec, ...]
) -> tuple[list[Codec], Codec | None] | None:
    """The codecs of `media` we support, in its order and with its payload types."""
    if media.media != "audio" or media.rejected or media.proto not in RTP_PROFILES:
        return None
    rtpmaps = media.rtpmaps()
    codecs: list[Codec] = []
    telephone_event: Codec | None = None
    for fmt in media.formats:
        if not fmt.isdigit() or int(fmt) not in rtpmaps:
            continue
        rtpmap = rtpmaps[int(fmt)]
        for codec in supported:
            if codec.matches(rtpmap):
                # Static payload types usually agree already: the codec itself is the answer.
                agreed = (
                    codec
                    if codec.payload_type == rtpmap.payload_type
                    else _with_payload_type(codec, rtpmap.payload_type)
                )
                if codec.is_telephone_event:
                    if telephone_event is None:
                        theirs = media.fmtp(rtpmap.payload_type)
                        telephone_event = dataclasses.replace(agreed, fmtp=theirs or codec.fmtp)
                elif agreed not in codecs:
                    codecs.append(agreed)
                break
    if not codecs:
        return None
    return codecs, telephone_event


@functools.lru_cache(maxsize=256)
def _audio_template(
    codecs: tuple[Codec, ...], ptime: int | None, direction: Direction
) -> tuple[tuple[str, ...], tuple[Attribute, ...]]:
    """The formats and attributes of an audio m-line for these codecs, ptime and direction.

    Cached: every call offers the same codecs, and most answers agree on the same few sets, so
    the lines are built once. The `Attribute`s are shared between descriptions; nothing changes
    an attribute in place (`set_direction` replaces the list), and callers get their own lists.
    """
    attributes: list[Attribute] = []
    for codec in codecs:
        attributes.append(Attribute("rtpmap", str(codec.rtpmap())))
        if codec.fmtp:
            attributes.append(Attribute("fmtp", f"{codec.payload_type} {codec.fmtp}"))
    if ptime:
        attributes.append(Attribute("ptime", str(ptime)))
    attributes.append(Attribute(direction.value))
    return tuple(str(c.payload_type) for c in codecs), tuple(attributes)


def _copy_origin(origin: Origin) -> Origin:
    """A copy of `origin` (built directly: cheaper than `dataclasses.replace`)."""
    return Origin(
        origin.username,
        origin.session_id,
        origin.session_version,
        origin.address,
        origin.network_type,
        origin.address_type,
    )


def _with_payload_type(codec: Codec, payload_type: int) -> Codec:
    """`codec` under the peer's payload type (built directly: cheaper than `replace`)."""
    return Codec(codec.name, codec.clock_rate, payload_type, codec.channels, codec.fmtp)


def _declined(media: MediaDescription) -> MediaDescription:
    """The answer to a stream we do not take: same media and proto, port 0 (RFC 3264 §6)."""
    return MediaDescription(media.media, 0, media.proto, list(media.formats[:1]) or ["0"])


def _ptime(media: MediaDescription) -> int | None:
    value = media.attribute("ptime")
    if value and value.isdigit():
        return int(value)
    return None
