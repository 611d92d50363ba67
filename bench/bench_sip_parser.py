"""Parse and serialise a typical INVITE and a 200 OK: messages per second on one core.

Three figures per message:
- parse: `parse_message` alone (start line, header split, body; values stay raw);
- parse + read: also every field a UAS reads (Via, From, To, Call-ID, CSeq, Contact,
  Max-Forwards, Record-Route, Content-Type) and the RFC 3261 checks, which is what the stack
  does with each message it receives;
- parse + read, new texts: the same, with a different branch, tags and Call-ID each time, as
  the first message of a new call is (the parsed values of recurring texts are cached, so the
  plain "parse + read" figure is what the later messages of a dialog cost);
- serialise: `encode()` of the parsed message.
The anchor, from the same run: the standard library's e-mail header parser
(`email.parser.BytesHeaderParser` with the compat32 policy) on the same bytes. It only splits
RFC 5322 header fields, so it is a floor for "split the headers", not a SIP parser.

    python bench/bench_sip_parser.py [--smoke]
"""

from __future__ import annotations

import argparse
import email.parser
import email.policy
import itertools
import os
import sys
import time
from collections.abc import Callable

from zongji.sip.message import Request, Response
from zongji.sip.parser import parse_message
from zongji.sip.validation import validate_request, validate_response

INVITE = (
    b"INVITE sip:8001@pbx.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b"To: <sip:8001@pbx.example.com>\r\n"
    b'From: "Zhang San" <sip:8002@pbx.example.com>;tag=1928301774\r\n'
    b"Call-ID: a84b4c76e66710@192.0.2.10\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Contact: <sip:8002@192.0.2.10:5060;transport=udp>\r\n"
    b"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER, NOTIFY\r\n"
    b"Supported: replaces, timer\r\n"
    b"User-Agent: Yealink SIP-T46U 108.86.0.45\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: 253\r\n"
    b"\r\n"
    b"v=0\r\n"
    b"o=- 20023 20023 IN IP4 192.0.2.10\r\n"
    b"s=SDP data\r\n"
    b"c=IN IP4 192.0.2.10\r\n"
    b"t=0 0\r\n"
    b"m=audio 11800 RTP/AVP 0 8 18 9 101\r\n"
    b"a=rtpmap:0 PCMU/8000\r\n"
    b"a=rtpmap:8 PCMA/8000\r\n"
    b"a=rtpmap:18 G729/8000\r\n"
    b"a=rtpmap:9 G722/8000\r\n"
    b"a=rtpmap:101 telephone-event/8000\r\n"
    b"a=fmtp:101 0-15\r\n"
    b"a=ptime:20\r\n"
    b"a=sendrecv\r\n"
)
OK = (
    b"SIP/2.0 200 OK\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport=5060;"
    b"received=192.0.2.10\r\n"
    b"Record-Route: <sip:192.0.2.1;lr>\r\n"
    b"To: <sip:8001@pbx.example.com>;tag=a6c85cf\r\n"
    b'From: "Zhang San" <sip:8002@pbx.example.com>;tag=1928301774\r\n'
    b"Call-ID: a84b4c76e66710@192.0.2.10\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Contact: <sip:8001@192.0.2.20:5060>\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: 0\r\n"
    b"\r\n"
)


def read_fields(message: Request | Response) -> None:
    _ = (message.via, message.from_addr, message.to_addr, message.call_id, message.cseq)
    _ = (message.contacts, message.max_forwards, message.record_route, message.content_type)
    if isinstance(message, Request):
        validate_request(message)
    else:
        validate_response(message)


def with_new_texts(data: bytes, count: int) -> list[bytes]:
    """`count` copies of `data`, each with its own branch, tags and Call-ID."""
    return [
        data.replace(b"776asdhds", b"%09d" % i)
        .replace(b"1928301774", b"%010d" % i)
        .replace(b"a6c85cf", b"t%06d" % i)
        .replace(b"a84b4c76e66710", b"c%013d" % i)
        for i in range(count)
    ]


def rate(work: Callable[[], object], seconds: float) -> float:
    """Operations per second, best of three timed runs."""
    best = 0.0
    for _ in range(3):
        count = 0
        start = time.perf_counter()
        deadline = start + seconds / 3
        while True:
            for _ in range(200):
                work()
            count += 200
            now = time.perf_counter()
            if now >= deadline:
                break
        best = max(best, count / (now - start))
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="a short run (CI)")
    args = parser.parse_args()
    seconds = 0.3 if args.smoke else 3.0
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})  # one core
    with open("/proc/cpuinfo") as cpuinfo:
        model = next(
            (x.split(":", 1)[1].strip() for x in cpuinfo if x.startswith("model name")), "?"
        )
    print(f"# {model}; Python {sys.version.split()[0]}; load average {os.getloadavg()[0]:.2f}")
    anchor = email.parser.BytesHeaderParser(policy=email.policy.compat32)
    print(
        f"{'message':8} {'parse':>12} {'parse+read':>12} {'p+r new':>12} {'serialise':>12}"
        f" {'round trip':>12}"
        f" | {'anchor: email header parse':>27}"
    )
    for name, data in (("INVITE", INVITE), ("200 OK", OK)):
        message = parse_message(data)
        read_fields(message)
        assert parse_message(message.encode()) == message
        head = data.split(b"\r\n", 1)[1]
        parse = rate(lambda d=data: parse_message(d), seconds)
        parse_read = rate(lambda d=data: read_fields(parse_message(d)), seconds)
        fresh = itertools.cycle(with_new_texts(data, 20000))
        parse_read_new = rate(lambda f=fresh: read_fields(parse_message(next(f))), seconds)
        serialise = rate(message.encode, seconds)
        round_trip = rate(lambda d=data: parse_message(d).encode(), seconds)
        email_rate = rate(lambda h=head: anchor.parsebytes(h), seconds)
        print(f"{name:8} {parse:10,.0f}/s {parse_read:10,.0f}/s {parse_read_new:10,.0f}/s "
              f"{serialise:10,.0f}/s "
              f"{round_trip:10,.0f}/s | {email_rate:25,.0f}/s  (ratio parse/anchor "
              f"{parse / email_rate:.1f}x)", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
