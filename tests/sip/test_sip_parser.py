"""Whole messages: parsing, limits, the header container, building and encoding, multipart."""

from __future__ import annotations

import pytest

from zongji.sip.errors import MessageTooLarge, SipParseError
from zongji.sip.headers import Headers
from zongji.sip.message import Request, Response, response_for
from zongji.sip.multipart import BodyPart, encode_multipart, parse_multipart
from zongji.sip.parser import Limits, parse_message
from zongji.sip.transport.framing import Frame, FramingError, StreamFramer
from zongji.sip.uri import parse_uri

INVITE = (
    b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n"
    b"Max-Forwards: 70\r\n"
    b"To: Bob <sip:bob@biloxi.example.com>\r\n"
    b"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
    b"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Contact: <sip:alice@pc33.atlanta.example.com>\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: 4\r\n"
    b"\r\n"
    b"v=0\n"
)


def invite(**replace: bytes) -> bytes:
    data = INVITE
    for old, new in replace.items():
        data = data.replace(old.encode(), new)
    return data


def test_request_fields() -> None:
    message = parse_message(INVITE)
    assert isinstance(message, Request)
    assert message.method == "INVITE"
    assert message.uri == parse_uri("sip:bob@biloxi.example.com")
    assert message.cseq.number == 314159
    assert message.from_addr.tag == "1928301774"
    assert message.to_addr.display_name == "Bob"
    assert message.call_id == "a84b4c76e66710@pc33.atlanta.example.com"
    assert message.max_forwards == 70
    assert message.body == b"v=0\n"
    assert message.content_length == 4
    assert "content-length" not in message.headers  # the body is the truth


def test_encode_parse_round_trip() -> None:
    message = parse_message(INVITE)
    again = parse_message(message.encode())
    assert again == message
    assert message.encode() == INVITE  # canonical input is written back byte for byte


def test_compact_forms_and_case() -> None:
    data = (
        b"OPTIONS sip:a@b SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bKx\r\nf: <sip:c@d>;tag=1\r\n"
        b"t: <sip:a@b>\r\ni: cid\r\nCSEQ: 1 OPTIONS\r\nk: 100rel\r\nl: 0\r\n\r\n"
    )
    message = parse_message(data)
    assert message.call_id == "cid"
    assert message.supported == ["100rel"]
    assert message.headers.get("Call-ID") == message.headers.get("i") == "cid"
    assert "Via: SIP/2.0/UDP" in message.encode().decode()  # written in canonical form


def test_folding_is_unfolded() -> None:
    data = invite(**{"Max-Forwards: 70": b"Max-Forwards:\r\n \t 70", "Subject": b""})
    assert parse_message(data).max_forwards == 70
    data = INVITE.replace(b"CSeq: 314159 INVITE", b"CSeq: 314159\r\n   INVITE")
    assert parse_message(data).cseq.method == "INVITE"


def test_multi_value_headers_on_one_and_many_lines() -> None:
    data = INVITE.replace(
        b"Max-Forwards: 70\r\n",
        b"Max-Forwards: 70\r\nRecord-Route: <sip:p1;lr>, <sip:p2;lr>\r\n"
        b"Record-Route: <sip:p3;lr>\r\n",
    )
    message = parse_message(data)
    assert [str(r.uri) for r in message.record_route] == ["sip:p1;lr", "sip:p2;lr", "sip:p3;lr"]


def test_leading_crlf_ignored_and_datagram_without_blank_line() -> None:
    message = parse_message(b"\r\n\r\n" + INVITE)
    assert isinstance(message, Request)
    bare = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\n"
    assert parse_message(bare).body == b""
    with pytest.raises(SipParseError):
        parse_message(bare, datagram=False)


def test_response_parsing() -> None:
    data = (
        b"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nFrom: <sip:a@b>;tag=1\r\n"
        b"To: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    )
    message = parse_message(data)
    assert isinstance(message, Response)
    assert (message.status, message.reason) == (180, "Ringing")
    assert message.provisional
    assert not message.success
    assert parse_message(message.encode()) == message


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\r\n",
        b"garbage",
        b"INVITE sip:a@b SIP/2.0\r\nNo colon here\r\n\r\n",
        b"INVITE sip:a@b SIP/2.0\r\nBad Name: x\r\n\r\n",
        b"INVITE sip:a@b SIP/2.0\r\nVia: x\nTo: y\r\n\r\n",  # bare LF
        b"INVITE sip:a@b SIP/2.0\r\nVia: x\rTo: y\r\n\r\n",  # bare CR
        b"INVITE sip:a@b HTTP/1.1\r\n\r\n",
        b"SIP/2.0 99 Too Small\r\n\r\n",
        b"SIP/2.0 700 Too Big\r\n\r\n",
        b"SIP/2.0 20 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\r\n",
        b"INVITE  sip:a@b SIP/2.0\r\n\r\n",
    ],
)
def test_malformed_messages(data: bytes) -> None:
    with pytest.raises(SipParseError):
        parse_message(data)


def test_content_length_rules() -> None:
    extra = INVITE + b"trailing junk"
    assert parse_message(extra).body == b"v=0\n"  # datagram: extra octets discarded
    with pytest.raises(SipParseError):
        parse_message(extra, datagram=False)  # stream frame: must match exactly
    with pytest.raises(SipParseError):
        parse_message(INVITE.replace(b"Content-Length: 4", b"Content-Length: 40"))
    with pytest.raises(SipParseError):
        parse_message(INVITE.replace(b"Content-Length: 4", b"Content-Length: four"))
    no_length = INVITE.replace(b"Content-Length: 4\r\n", b"")
    assert parse_message(no_length).body == b"v=0\n"  # UDP: the rest of the datagram


def test_limits_give_513_with_headers_to_answer() -> None:
    with pytest.raises(MessageTooLarge) as info:
        parse_message(INVITE, limits=Limits(max_message_size=len(INVITE) - 1))
    assert info.value.status == 513
    assert info.value.request_headers is not None
    assert info.value.request_headers.get("call-id") == "a84b4c76e66710@pc33.atlanta.example.com"
    many = INVITE.replace(b"Max-Forwards: 70\r\n", b"X-A: 1\r\n" * 300)
    with pytest.raises(MessageTooLarge):
        parse_message(many)
    long_line = INVITE.replace(b"Max-Forwards: 70", b"X-Long: " + b"a" * 9000)
    with pytest.raises(MessageTooLarge):
        parse_message(long_line)
    assert parse_message(INVITE, limits=Limits(max_message_size=len(INVITE))).method == "INVITE"


def test_parse_errors_carry_request_headers_only_for_requests() -> None:
    with pytest.raises(SipParseError) as info:
        parse_message(INVITE.replace(b"SIP/2.0\r\nVia", b"SIP/2.0 \r\nVia"))
    assert info.value.request_headers is not None
    with pytest.raises(SipParseError) as info:
        parse_message(b"SIP/2.0 999 x\r\nVia: SIP/2.0/UDP h\r\n\r\n")
    assert info.value.request_headers is None


def test_headers_container() -> None:
    headers = Headers([("Via", "a"), ("X-Custom", "1"), ("v", "b")])
    assert headers.get_all("via") == ["a", "b"]
    assert headers.count("VIA") == 2
    headers.add("Via", "top", first=True)
    assert headers.get("Via") == "top"
    headers.replace_first("via", "new-top")
    assert headers.get_all("Via") == ["new-top", "a", "b"]
    headers.set("Via", "only")
    assert headers.get_all("Via") == ["only"]
    assert headers.pop_first("x-custom") == "1"
    assert "X-Custom" not in headers
    assert headers.remove("via") == 1
    assert len(headers) == 0
    with pytest.raises(ValueError, match="Content-Length"):
        headers.add("Content-Length", 5)
    with pytest.raises(ValueError, match="CR or LF"):
        headers.add("Subject", "a\r\nInjected: yes")
    with pytest.raises(SipParseError):
        headers.add("Bad Name", "x")


def test_typed_views_follow_changes() -> None:
    message = parse_message(INVITE)
    assert message.to_addr.tag is None
    message.headers.set("To", "<sip:bob@biloxi.example.com>;tag=x")
    assert message.to_addr.tag == "x"


def test_create_response() -> None:
    request = parse_message(
        INVITE.replace(b"Max-Forwards: 70\r\n", b"Record-Route: <sip:p;lr>\r\n")
    )
    assert isinstance(request, Request)
    ringing = request.create_response(180, to_tag="t1")
    assert ringing.to_addr.tag == "t1"
    assert ringing.reason == "Ringing"
    assert [str(r.uri) for r in ringing.record_route] == ["sip:p;lr"]
    assert ringing.call_id == request.call_id
    assert ringing.cseq == request.cseq
    assert ringing.via == request.via
    trying = request.create_response(100, to_tag="t1")
    assert trying.to_addr.tag is None  # no tag on 100 (RFC 3261 §8.2.6.2)
    assert "record-route" not in request.create_response(486, to_tag="t").headers
    bare = response_for(request.headers, 400, "Nope")
    assert bare.encode().startswith(b"SIP/2.0 400 Nope\r\nVia: SIP/2.0/UDP pc33")


def test_set_body_updates_content_type() -> None:
    request = Request("MESSAGE", parse_uri("sip:a@b"))
    request.set_body(b"hi", "text/plain")
    assert request.content_type is not None
    assert request.content_type.mime == "text/plain"
    assert b"Content-Length: 2\r\n\r\nhi" in request.encode()
    request.set_body(b"")
    assert "content-type" not in request.headers


def test_multipart_round_trip_and_errors() -> None:
    parts = [
        BodyPart(b"v=0\r\n", Headers([("Content-Type", "application/sdp")])),
        BodyPart(b"\x00\x01binary", Headers([("Content-Type", "application/octet-stream")])),
    ]
    body, media = encode_multipart(parts, boundary="zz")
    again = parse_multipart(body, media)
    assert [p.body for p in again] == [p.body for p in parts]
    assert [str(p.content_type) for p in again] == ["application/sdp", "application/octet-stream"]
    with pytest.raises(SipParseError):
        parse_multipart(b"no boundary here", media)
    with pytest.raises(SipParseError):
        parse_multipart(b"--zz\r\nContent-Type: a/b\r\n\r\nunterminated", media)


# --------------------------------------------------------------------- stream framing


def test_framer_splits_and_joins_segments() -> None:
    framer = StreamFramer()
    stream = INVITE + INVITE
    frames = []
    for i in range(0, len(stream), 7):  # 7-byte segments
        frames += framer.feed(stream[i : i + 7])
    assert frames == [(Frame.MESSAGE, INVITE), (Frame.MESSAGE, INVITE)]
    assert framer.pending == 0


def test_framer_keepalives() -> None:
    framer = StreamFramer()
    assert framer.feed(b"\r\n\r\n") == [(Frame.PING, b"")]
    assert framer.feed(b"\r\n") == [(Frame.PONG, b"")]
    assert framer.feed(b"\r\n" + INVITE) == [(Frame.PONG, b""), (Frame.MESSAGE, INVITE)]


def test_framer_refuses_what_cannot_be_framed() -> None:
    with pytest.raises(FramingError) as info:
        StreamFramer().feed(INVITE.replace(b"Content-Length: 4\r\n", b""))
    assert info.value.request_headers is not None  # can still be answered (400)
    with pytest.raises(FramingError):
        StreamFramer().feed(INVITE.replace(b"Content-Length: 4", b"Content-Length: -4"))
    with pytest.raises(FramingError):
        StreamFramer().feed(INVITE.replace(b"Content-Length: 4", b"Content-Length: 4\r\nl: 5"))
    with pytest.raises(FramingError) as info:
        StreamFramer(Limits(max_message_size=1000)).feed(
            INVITE.replace(b"Content-Length: 4", b"Content-Length: 5000")
        )
    assert info.value.status == 513
    assert info.value.request_headers is not None
    framer = StreamFramer(Limits(max_header_section=100))
    with pytest.raises(FramingError):
        framer.feed(b"INVITE sip:a@b SIP/2.0\r\n" + b"X: y\r\n" * 30)
