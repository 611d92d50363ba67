"""atheris fuzz target: SIP messages, stream framing, typed header fields, SDP, multipart.

Whatever the bytes, the library may raise only its own parse errors. Half of the inputs are
spliced into real messages (the RFC 4475 torture set in tests/data/rfc4475) so the
fuzzer reaches the typed-field parsers quickly instead of stopping at the start line.

Run: `.venv/bin/python tests/fuzz/fuzz_sip_parser.py -max_total_time=60` (`make fuzz` does).
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from zongji.sip.errors import SipParseError
    from zongji.sip.message import Message, Request
    from zongji.sip.multipart import parse_multipart
    from zongji.sip.parser import Limits, parse_message
    from zongji.sip.sdp import parse_sdp
    from zongji.sip.transport.framing import StreamFramer
    from zongji.sip.validation import validate_request, validate_response

TORTURE = Path(__file__).resolve().parents[1] / "data" / "rfc4475"
SEEDS = [p.read_bytes() for p in sorted(TORTURE.glob("*.dat"))]
assert len(SEEDS) == 49, f"the RFC 4475 messages are missing from {TORTURE}"
SEEDS.append(
    b"INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1;rport\r\n"
    b"From: A <sip:a@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: c@h\r\n"
    b"CSeq: 1 INVITE\r\nContact: <sip:a@10.0.0.1>\r\nContent-Type: application/sdp\r\n"
    b'Authorization: Digest username="a", realm="r", nonce="n", uri="sip:b", response="x"\r\n'
    b"Content-Length: 59\r\n\r\n"
    b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 h\r\nt=0 0\r\nm=audio 1 RTP/AVP 0\r\n"
)
ACCESSORS = (
    "via", "from_addr", "to_addr", "call_id", "cseq", "max_forwards", "contacts",
    "contact_is_star", "route", "record_route", "path", "refer_to", "content_type", "accept",
    "require", "proxy_require", "supported", "unsupported", "allow", "expires", "min_expires",
    "event", "subscription_state", "www_authenticate", "proxy_authenticate", "authorization",
    "proxy_authorization",
)  # fmt: skip
LIMITS = Limits(max_message_size=8192, max_header_section=4096, max_headers=64)


def exercise(message: Message) -> None:
    for name in ACCESSORS:
        with contextlib.suppress(SipParseError):
            getattr(message, name)
    try:
        if isinstance(message, Request):
            validate_request(message)
        else:
            validate_response(message)
    except SipParseError:
        pass
    content_type = None
    with contextlib.suppress(SipParseError):
        content_type = message.content_type
    if content_type is not None and content_type.type.lower() == "multipart":
        with contextlib.suppress(SipParseError):
            parse_multipart(message.body, content_type)
    if message.body:
        with contextlib.suppress(SipParseError):
            parse_sdp(message.body)
    message.encode()


def test_one_input(data: bytes) -> None:
    if data and data[0] & 1 and SEEDS:
        seed = SEEDS[data[0] % len(SEEDS)]
        cut = int.from_bytes(data[1:3] or b"\0", "big") % len(seed)
        data = seed[:cut] + data[3:] + seed[cut + len(data[3:]) // 2 :]
    for datagram in (True, False):
        with contextlib.suppress(SipParseError):
            exercise(parse_message(data, datagram=datagram, limits=LIMITS))
    framer = StreamFramer(LIMITS)
    try:
        for start in range(0, len(data), 97):
            for _, payload in framer.feed(data[start : start + 97]):
                with contextlib.suppress(SipParseError):
                    exercise(parse_message(payload, datagram=False, limits=LIMITS))
    except SipParseError:
        pass


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
