"""The parser's shortcuts read exactly what the full grammar reads, and never go stale.

Parsed values are cached per message (until a header changes) and by text across messages
(`message._cached_*`); the header index is built by the parser; plain parameter runs are split
without the regex. Each shortcut is checked against the slow path it replaces.
"""

from __future__ import annotations

import pytest

from zongji.sip.errors import SipParseError
from zongji.sip.grammar import _PARAM_RE, Params, parse_params
from zongji.sip.message import Request
from zongji.sip.parser import parse_message

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
