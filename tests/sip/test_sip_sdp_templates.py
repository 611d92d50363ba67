"""The cached audio m-line templates build exactly what building each line afresh builds.

`SdpSession` takes the formats and attributes of an audio line from a cache keyed by codecs,
ptime and direction. The reference here is the line built attribute by attribute (what the
session did before the cache); every offer and answer variant must encode to the same bytes,
the first time (cache cold) and again (cache warm), and sharing the cached attributes must not
let one description's changes reach another's.
"""

from __future__ import annotations

import itertools

import pytest

from zongji.sip.offer_answer import (
    PCMA,
    PCMU,
    TELEPHONE_EVENT,
    Codec,
    LocalMedia,
    SdpSession,
    _audio_template,
)
from zongji.sip.sdp import Attribute, Direction, MediaDescription, parse_sdp


def reference_line(
    port: int, proto: str, codecs: list[Codec], ptime: int | None, direction: Direction
) -> MediaDescription:
    media = MediaDescription("audio", port, proto, [str(c.payload_type) for c in codecs])
    for codec in codecs:
        media.attributes.append(Attribute("rtpmap", str(codec.rtpmap())))
        if codec.fmtp:
            media.attributes.append(Attribute("fmtp", f"{codec.payload_type} {codec.fmtp}"))
    if ptime:
        media.attributes.append(Attribute("ptime", str(ptime)))
    media.set_direction(direction)
    return media


def encoded(media: MediaDescription) -> list[str]:
    out: list[str] = []
    media.write(out)
    return out


DYNAMIC_PCMA = Codec("PCMA", 8000, 97)
EVENT_96 = Codec("telephone-event", 8000, 96, fmtp="0-15")
EVENT_NO_FMTP = Codec("telephone-event", 8000, 101)
CODEC_SETS = [
    [PCMU],
    [PCMA, PCMU],
    [PCMU, PCMA, TELEPHONE_EVENT],
    [DYNAMIC_PCMA, PCMU, EVENT_96],
    [PCMA, EVENT_NO_FMTP],
]


@pytest.mark.parametrize(
    ("codecs", "ptime", "direction", "proto"),
    list(itertools.product(CODEC_SETS, [None, 20, 30], list(Direction), ["RTP/AVP", "RTP/AVPF"])),
)
def test_offer_lines_match_the_reference(
    codecs: list[Codec], ptime: int | None, direction: Direction, proto: str
) -> None:
    local = LocalMedia("192.0.2.20", 30000, tuple(codecs), direction, ptime)
    for _ in range(2):  # cold, then warm
        line = SdpSession(local)._audio_line(local, proto, codecs, direction)
        assert encoded(line) == encoded(reference_line(30000, proto, codecs, ptime, direction))


OFFERS = [
    # static types, telephone-event with fmtp, a video stream to decline
    b"m=audio 49170 RTP/AVP 8 0 18 96\r\na=rtpmap:96 telephone-event/8000\r\na=fmtp:96 0-15\r\n"
    b"a=ptime:20\r\nm=video 51372 RTP/AVP 31\r\na=rtpmap:31 H261/90000\r\n",
    # a dynamic PCMA, sendonly (hold), no telephone-event
    b"m=audio 4000 RTP/AVP 97 0\r\na=rtpmap:97 PCMA/8000\r\na=sendonly\r\n",
    # telephone-event without fmtp, AVPF, recvonly
    b"m=audio 4002 RTP/AVPF 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=recvonly\r\n",
    # SRTP first (declined), then plain audio, inactive
    b"m=audio 4004 RTP/SAVP 0\r\nm=audio 4006 RTP/AVP 8\r\na=inactive\r\n",
]


@pytest.mark.parametrize("media", OFFERS)
def test_answers_match_the_reference(media: bytes) -> None:
    offer = parse_sdp(
        b"v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n" + media
    )
    for _ in range(2):
        answer, negotiated = SdpSession(LocalMedia("192.0.2.20", 30000)).answer(offer)
        assert negotiated is not None
        (line,) = [m for m in answer.media if m.port != 0]
        agreed = list(negotiated.codecs) + (
            [negotiated.telephone_event] if negotiated.telephone_event else []
        )
        reference = reference_line(30000, line.proto, agreed, 20, negotiated.direction)
        assert encoded(line) == encoded(reference)


def test_a_description_changing_its_attributes_does_not_change_the_next_one() -> None:
    local = LocalMedia("192.0.2.20", 30000)
    first = SdpSession(local).offer()
    first.media[0].set_direction(Direction.INACTIVE)
    first.media[0].attributes.append(Attribute("x-mine", "1"))
    second = SdpSession(local).offer()
    assert second.media[0].direction is Direction.SENDRECV
    assert second.media[0].attribute("x-mine") is None
    cached = _audio_template(local.codecs, local.ptime, local.direction)[1]
    assert [str(a) for a in cached][-1] == "sendrecv"
