"""The parser's shortcuts read exactly what the full grammar reads, and never go stale.

Parsed values are cached per message (until a header changes) and by text across messages
(`message._cached_*`); the header index is built by the parser; plain parameter runs are split
without the regex. Each shortcut is checked against the slow path it replaces.
"""

from __future__ import annotations

import re

import pytest

from zongji.sip.errors import SipParseError
from zongji.sip.fields import parse_credentials, parse_via_list
from zongji.sip.grammar import _PARAM_RE, _QUOTED_BODY, Params, parse_params
from zongji.sip.message import Request
from zongji.sip.network import HostPort, TransportKind
from zongji.sip.parser import parse_message
from zongji.sip.transport.base import Flow
from zongji.sip.transport.layer import TransportLayer

INVITE = (
    b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n"
    b"Max-Forwards: 70\r\n"
    b"To: Bob <sip:bob@biloxi.example.com>\r\n"
    b"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
    b"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Contact: <sip:alice@pc33.atlanta.example.com>\r\n"
    b"Content-Length: 0\r\n"
    b"\r\n"
)


def _params_by_regex(text: str, pos: int) -> tuple[list[tuple[str, str | None]], int]:
    """The regex-only reading `parse_params` had before its fast path."""
    items: dict[str, str | None] = {}
    match = _PARAM_RE.match(text, pos)
    while match is not None:
        items.setdefault(match.group(1).lower(), match.group(2))
        pos = match.end()
        match = _PARAM_RE.match(text, pos)
    return list(items.items()), pos


@pytest.mark.parametrize(
    "text",
    [
        ";branch=z9hG4bK776asdhds;rport",
        ";tag=1928301774",
        ";BRANCH=x;branch=y",  # the first of a repeated name wins
        ";lr",
        ";a=1;;b=2",  # empty piece: the regex stops before it
        ";a=;b",  # empty value
        ";a=b=c",  # second '='
        ";a=1 ;b=2",  # LWS: regex path
        ";a=1,<sip:x>",  # list delimiter: regex path
        ';a="q v";b',  # quoted value: regex path
        ";n@me=1",  # not a token name
        ";a=\u00e9",  # non-ASCII value
        ";a=1\x7f",  # control character
        "",
        "x;a=1",  # not a parameter run at all
    ],
)
def test_params_fast_path_reads_what_the_regex_reads(text: str) -> None:
    params, end = parse_params(text, 0)
    assert (list(params.items()), end) == _params_by_regex(text, 0)


def test_parser_index_matches_a_rebuilt_one() -> None:
    message = parse_message(INVITE)
    headers = message.headers
    built = headers._index
    assert built is not None
    headers._index = None
    for key in ("via", "to", "from", "call-id", "cseq", "contact", "max-forwards", "x"):
        assert headers.get_all(key) == built.get(key, [])


def test_changed_header_is_parsed_again_not_served_from_a_cache() -> None:
    first = parse_message(INVITE)
    assert isinstance(first, Request)
    assert first.from_addr.tag == "1928301774"
    assert first.via[0].branch == "z9hG4bK776asdhds"
    first.headers.set("From", "Alice <sip:alice@atlanta.example.com>;tag=other")
    first.headers.replace_first("Via", "SIP/2.0/TCP h.example.com;branch=z9hG4bKnew")
    first.headers.set("CSeq", "314160 INVITE")
    assert first.from_addr.tag == "other"
    assert first.via[0].branch == "z9hG4bKnew"
    assert first.via[0].transport == "TCP"
    assert first.cseq.number == 314160
    # A second message with the original texts still reads the original values.
    second = parse_message(INVITE)
    assert second.from_addr.tag == "1928301774"
    assert second.via[0].branch == "z9hG4bK776asdhds"
    assert second.cseq.number == 314159


def test_cached_lists_are_each_messages_own() -> None:
    first = parse_message(INVITE)
    second = parse_message(INVITE)
    first.via.append(first.via[0])
    first.contacts.clear()
    assert len(second.via) == 1
    assert len(second.contacts) == 1
    assert second.via == parse_message(INVITE).via


def test_malformed_text_raises_every_time() -> None:
    bad = INVITE.replace(b"CSeq: 314159 INVITE", b"CSeq: x INVITE")
    for _ in range(2):
        with pytest.raises(SipParseError):
            _ = parse_message(bad).cseq


def test_params_values_are_immutable_so_sharing_them_is_safe() -> None:
    params = parse_message(INVITE).from_addr.params
    assert isinstance(params, Params)
    with pytest.raises(TypeError):
        params["tag"] = "x"  # type: ignore[index]


def test_replace_first_keeps_the_index_true() -> None:
    message = parse_message(
        INVITE.replace(b"Max-Forwards: 70\r\n", b"Via: SIP/2.0/UDP b;branch=z9hG4bK2\r\n")
    )
    headers = message.headers
    assert len(message.via) == 2
    headers.replace_first("Via", "SIP/2.0/UDP a;branch=z9hG4bK1")
    assert headers.get_all("via") == [
        "SIP/2.0/UDP a;branch=z9hG4bK1",
        "SIP/2.0/UDP b;branch=z9hG4bK2",
    ]
    assert [v.branch for v in message.via] == ["z9hG4bK1", "z9hG4bK2"]
    headers.replace_first("Subject", "new")  # absent: appended
    assert headers.get("subject") == "new"
    assert headers.get("via") == "SIP/2.0/UDP a;branch=z9hG4bK1"


_QUOTED_BODY_PER_CHARACTER = r'(?:[^"\\\r\n]|\\[\x00-\x09\x0b\x0c\x0e-\x7f])*'


@pytest.mark.parametrize(
    "text",
    [
        '""',
        '"plain nonce AAAAAGWx2Ab1c2QzZS1hYmNk"',
        '"a\\"b\\\\c"',
        '"ends in a pair \\\\"',
        '"unterminated',
        '"bad pair \\\r"',
        '"line\r\nbreak"',
        '"utf-8 \u00e9\u4e2d"',
        '"\\',
        '"a\\"',
    ],
)
def test_quoted_string_runs_read_what_the_per_character_grammar_reads(text: str) -> None:
    runs = re.compile(f'"({_QUOTED_BODY})"')
    per_character = re.compile(f'"({_QUOTED_BODY_PER_CHARACTER})"')
    a, b = runs.match(text), per_character.match(text)
    assert (a and (a.span(), a.groups())) == (b and (b.span(), b.groups()))


def test_digest_credentials_with_quoted_pairs_and_long_values() -> None:
    nonce = "AAAAAGWx2Ab1c2QzZS1hYmNkZWYtMTIzNDU2Nzg5MGFiY2RlZg" * 4
    credentials = parse_credentials(
        f'Digest username="a\\"b",realm="r",nonce="{nonce}",uri="sip:x@y",'
        'response="0d9c1aa9e2a0c5b5f1b9e8e7d6c5b4a3",nc=00000001,qop=auth'
    )
    assert credentials.params["username"] == 'a"b'
    assert credentials.params["nonce"] == nonce
    assert credentials.params["qop"] == "auth"
    with pytest.raises(SipParseError):
        parse_credentials('Digest username="unterminated,realm="r"')


def test_headers_has_agrees_with_in_for_every_spelling() -> None:
    headers = parse_message(INVITE).headers
    for key in ("via", "contact", "call-id", "route", "record-route", "content-type"):
        assert headers.has(key) == (key in headers)
    assert headers.has("contact")
    assert "m" in headers
    assert not headers.has("route")


def test_stamped_via_keeps_the_sent_by_a_fresh_parse_gives() -> None:
    class _Silent:  # only its kind is read while stamping
        kind = TransportKind.UDP

    for via_text in (
        "SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds;rport",
        "SIP/2.0/TLS [2001:db8::1]:5071;branch=z9hG4bK1",
        "SIP/2.0/TCP 192.0.2.1;branch=z9hG4bK2, SIP/2.0/UDP 192.0.2.2;branch=z9hG4bK3",
    ):
        request = parse_message(
            INVITE.replace(
                b"SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds", via_text.encode()
            )
        )
        assert isinstance(request, Request)
        flow = Flow(_Silent(), HostPort("198.51.100.7", 40000))  # type: ignore[arg-type]
        TransportLayer._stamp_received(request, flow)
        stamped = request.top_via
        fresh = parse_via_list(request.headers.get("via") or "")[0]
        assert stamped.received == "198.51.100.7"
        assert stamped.sent_by == fresh.sent_by
