"""SDP parsing and building, and audio offer/answer (RFC 3264, RFC 4733)."""

from __future__ import annotations

import pytest

from zongji.sip.offer_answer import (
    PCMA,
    PCMU,
    TELEPHONE_EVENT,
    LocalMedia,
    OfferAnswerError,
    SdpSession,
)
from zongji.sip.sdp import Direction, SdpParseError, parse_sdp

OFFER = (
    b"v=0\r\n"
    b"o=alice 2890844526 2890844526 IN IP4 host.atlanta.example.com\r\n"
    b"s=-\r\n"
    b"c=IN IP4 192.0.2.10\r\n"
    b"t=0 0\r\n"
    b"m=audio 49170 RTP/AVP 8 0 18 96\r\n"
    b"a=rtpmap:96 telephone-event/8000\r\n"
    b"a=fmtp:96 0-15\r\n"
    b"a=ptime:20\r\n"
    b"m=video 51372 RTP/AVP 31\r\n"
    b"a=rtpmap:31 H261/90000\r\n"
)


def local(port: int = 30000, direction: Direction = Direction.SENDRECV) -> LocalMedia:
    return LocalMedia("192.0.2.20", port, direction=direction)


def test_parse_and_encode() -> None:
    session = parse_sdp(OFFER)
    assert session.origin.username == "alice"
    assert session.origin.session_version == 2890844526
    assert session.connection is not None
    assert session.connection.address == "192.0.2.10"
    audio, video = session.media
    assert (audio.media, audio.port, audio.proto) == ("audio", 49170, "RTP/AVP")
    assert audio.formats == ["8", "0", "18", "96"]
    rtpmaps = audio.rtpmaps()
    assert rtpmaps[96].encoding == "telephone-event"
    assert rtpmaps[0].encoding == "PCMU"
    assert audio.fmtp(96) == "0-15"
    assert session.direction_for(audio) is Direction.SENDRECV
    assert parse_sdp(session.encode()) == session
    assert video.media == "video"


def test_lenient_line_ends_and_strict_structure() -> None:
    assert parse_sdp(OFFER.replace(b"\r\n", b"\n")).media[0].port == 49170
    for bad in (
        b"",
        b"o=x 1 1 IN IP4 a\r\n",
        b"v=0\r\ns=-\r\n",
        b"v=0\r\no=bad\r\n",
        b"v=0\r\no=a 1 1 IN IP4 h\r\nm=audio x RTP/AVP 0\r\n",
        b"v=0\r\nnonsense\r\n",
        b"v=0\r\no=a 1 1 IN IP4 h\r\nc=IN IP4\r\n",
        b"\xff\xfe",
    ):
        with pytest.raises(SdpParseError):
            parse_sdp(bad)


def test_answer_picks_common_codecs_and_declines_video() -> None:
    answerer = SdpSession(local())
    answer, negotiated = answerer.answer(parse_sdp(OFFER))
    assert negotiated is not None
    assert negotiated.codec == PCMA  # the offerer's first choice we support
    assert [c.name for c in negotiated.codecs] == ["PCMA", "PCMU"]
    assert negotiated.telephone_event is not None
    assert negotiated.telephone_event.payload_type == 96  # the offerer's number
    assert (negotiated.remote_address, negotiated.remote_port) == ("192.0.2.10", 49170)
    assert negotiated.ptime == 20
    audio, video = answer.media
    assert audio.port == 30000
    assert audio.formats == ["8", "0", "96"]
    assert answer.connection is not None
    assert answer.connection.address == "192.0.2.20"
    assert video.port == 0
    assert video.media == "video"


def test_audio_without_a_common_codec_or_with_srtp_is_declined() -> None:
    g729_only = OFFER.replace(b"RTP/AVP 8 0 18 96", b"RTP/AVP 18")
    answer, negotiated = SdpSession(local()).answer(parse_sdp(g729_only))
    assert negotiated is None
    assert [m.port for m in answer.media] == [0, 0]
    srtp = OFFER.replace(b"RTP/AVP 8 0 18 96", b"RTP/SAVP 0")
    assert SdpSession(local()).answer(parse_sdp(srtp))[1] is None


@pytest.mark.parametrize(
    ("offered", "answered"),
    [
        (Direction.SENDONLY, Direction.RECVONLY),
        (Direction.RECVONLY, Direction.SENDONLY),
        (Direction.INACTIVE, Direction.INACTIVE),
        (Direction.SENDRECV, Direction.SENDRECV),
    ],
)
def test_hold_directions(offered: Direction, answered: Direction) -> None:
    offerer = SdpSession(local(40000, offered))
    offer = offerer.offer()
    assert offer.media[0].direction is offered
    answer, negotiated = SdpSession(local()).answer(parse_sdp(offer.encode()))
    assert negotiated is not None
    assert negotiated.direction is answered
    assert answer.media[0].direction is answered
    back = offerer.accept_answer(parse_sdp(answer.encode()))
    assert back is not None
    assert back.direction is offered


def test_rfc2543_hold_with_null_connection() -> None:
    held = OFFER.replace(b"c=IN IP4 192.0.2.10", b"c=IN IP4 0.0.0.0")
    _, negotiated = SdpSession(local()).answer(parse_sdp(held))
    assert negotiated is not None
    assert negotiated.remote_address is None
    assert negotiated.on_hold
    assert negotiated.direction is Direction.RECVONLY


def test_origin_version_grows_only_when_the_description_changes() -> None:
    session = SdpSession(local())
    first = session.offer()
    again = session.offer()
    assert first.origin.session_id == again.origin.session_id
    assert again.origin.session_version == first.origin.session_version  # nothing changed
    held = session.offer(local(direction=Direction.SENDONLY))
    assert held.origin.session_version == first.origin.session_version + 1


def test_offer_contents_and_answer_check() -> None:
    offerer = SdpSession(local(40000))
    offer = offerer.offer()
    (audio,) = offer.media
    assert audio.formats == ["0", "8", "101"]
    assert audio.fmtp(101) == TELEPHONE_EVENT.fmtp
    assert offer.encode().endswith(b"a=sendrecv\r\n")
    answer, _ = SdpSession(local(30000)).answer(parse_sdp(offer.encode()))
    negotiated = offerer.accept_answer(parse_sdp(answer.encode()))
    assert negotiated is not None
    assert negotiated.codec == PCMU
    assert negotiated.remote_port == 30000
    with pytest.raises(OfferAnswerError):
        offerer.accept_answer(parse_sdp(OFFER))  # two m-lines for our one
    with pytest.raises(OfferAnswerError):
        SdpSession(local()).accept_answer(parse_sdp(OFFER))  # no offer made


def test_answer_keeps_static_codec_and_renumbers_a_dynamic_one() -> None:
    offer = (
        b"v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
        b"m=audio 4000 RTP/AVP 97 0\r\na=rtpmap:97 PCMA/8000\r\n"
    )
    for _ in range(2):  # the second time the rtpmap values come from the parse cache
        negotiated = SdpSession(local()).answer(parse_sdp(offer))[1]
        assert negotiated is not None
        assert [(c.name, c.payload_type) for c in negotiated.codecs] == [("PCMA", 97), ("PCMU", 0)]
        assert negotiated.codecs[1] == PCMU
