"""Typed header values: addresses, Via, CSeq, media types, option tags, authentication."""

from __future__ import annotations

import pytest

from zongji.sip.address import NameAddress, parse_address, parse_address_list
from zongji.sip.errors import SipParseError
from zongji.sip.fields import (
    AuthChallenge,
    AuthCredentials,
    Via,
    parse_challenge,
    parse_credentials,
    parse_cseq,
    parse_media_type,
    parse_token_list,
    parse_uint,
    parse_value_with_params,
    parse_via_list,
)
from zongji.sip.grammar import Params, quote, split_list, unquote
from zongji.sip.network import HostPort
from zongji.sip.uri import SipUri, parse_uri


def test_name_addr_forms() -> None:
    a = parse_address('"Alice \\"A\\" Liddell" <sip:alice@example.com;lr>;tag=abc;q=0.5')
    assert a.display_name == 'Alice "A" Liddell'
    assert a.uri == parse_uri("sip:alice@example.com;lr")
    assert a.tag == "abc"
    assert a.params["q"] == "0.5"
    b = parse_address("Alice Liddell <sip:alice@example.com>")
    assert b.display_name == "Alice Liddell"
    c = parse_address("sip:alice@example.com;tag=1")
    assert c.display_name is None
    assert c.tag == "1"
    assert not c.sip_uri.params
    d = parse_address("<tel:+8613800000000>")
    assert str(d.uri) == "tel:+8613800000000"


def test_name_addr_written_back() -> None:
    address = NameAddress(parse_uri("sip:a@b"), "Zhang San", Params({"tag": "x"}))
    assert str(address) == "Zhang San <sip:a@b>;tag=x"
    quoted = NameAddress(parse_uri("sip:a@b"), "张三, 经理")
    assert str(quoted) == '"张三, 经理" <sip:a@b>'
    assert parse_address(str(quoted)) == quoted
    assert str(address.with_tag("y")) == "Zhang San <sip:a@b>;tag=y"


def test_address_list_with_commas_inside_quotes_and_uris() -> None:
    contacts = parse_address_list(
        '"Doe, John" <sip:j@a.com;x=1>;expires=60, <sip:k@b.com?Route=%3Csip:c%3E>, sip:l@c.com'
    )
    assert [c.display_name for c in contacts] == ["Doe, John", None, None]
    assert contacts[0].params["expires"] == "60"
    assert contacts[1].sip_uri.headers == (("Route", "<sip:c>"),)
    assert contacts[2].sip_uri.user == "l"


@pytest.mark.parametrize(
    "text",
    [
        '"unterminated <sip:a@b>',
        "< sip:a@b>",
        "<sip:a@b >",
        "Bell, Alexander <sip:a@b>",
        "sip:a@b?x=y",
        "<sip:a@b>;",
        "<sip:a@b> junk",
        "",
    ],
)
def test_bad_addresses(text: str) -> None:
    with pytest.raises(SipParseError):
        parse_address(text)


def test_via_with_everything() -> None:
    (via,) = parse_via_list(
        "SIP / 2.0 / tcp [2001:db8::1] : 5070 ; branch = z9hG4bKabc ;rport;received=2001:db8::2"
    )
    assert via.transport == "TCP"
    assert via.protocol == "SIP/2.0"
    assert via.host == "[2001:db8::1]"
    assert via.port == 5070
    assert via.branch == "z9hG4bKabc"
    assert via.has_rfc3261_branch
    assert via.wants_rport
    assert via.rport is None
    assert via.received == "2001:db8::2"
    assert via.sent_by == HostPort("2001:db8::1", 5070)


def test_via_list_and_rport_value() -> None:
    vias = parse_via_list("SIP/2.0/UDP a.com;branch=z9hG4bK1;rport=5062, SIP/2.0/TLS b.com")
    assert [v.host for v in vias] == ["a.com", "b.com"]
    assert vias[0].rport == 5062
    assert vias[1].sent_by == HostPort("b.com", 5061)
    assert vias[1].branch is None
    assert not vias[1].has_rfc3261_branch


def test_via_written_back() -> None:
    via = Via("UDP", "10.0.0.1", 5060, Params({"branch": "z9hG4bKx", "rport": None}))
    assert str(via) == "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKx;rport"
    assert parse_via_list(str(via)) == [via]
    stamped = via.with_params(received="1.2.3.4", rport="9")
    assert str(stamped) == "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKx;rport=9;received=1.2.3.4"


@pytest.mark.parametrize(
    "text",
    [
        "SIP/2.0 host",
        "SIP/2.0/UDP",
        "SIP/2.0/UDP host;;",
        "SIP/2.0/UDP host,",
        "SIP/2.0/UDP h:70000",
    ],
)
def test_bad_vias(text: str) -> None:
    with pytest.raises(SipParseError):
        parse_via_list(text)


def test_cseq() -> None:
    cseq = parse_cseq(" 4294967295  INVITE ")
    assert (cseq.number, cseq.method) == (4294967295, "INVITE")
    for bad in ("4294967296 INVITE", "1", "x INVITE", "-1 BYE", "1 BYE junk"):
        with pytest.raises(SipParseError):
            parse_cseq(bad)


def test_integers() -> None:
    assert parse_uint(" 0068 ") == 68
    with pytest.raises(SipParseError):
        parse_uint("256", limit=255)
    for bad in ("", "-1", "1.5", "١٢"):  # the last is Arabic-Indic digits: isdigit() but not ASCII
        with pytest.raises(SipParseError):
            parse_uint(bad)


def test_media_types() -> None:
    media = parse_media_type('Multipart/Mixed ; boundary="a b" ;x=1')
    assert media.mime == "multipart/mixed"
    assert media.param("boundary") == "a b"
    assert str(parse_media_type("application/sdp")) == "application/sdp"
    with pytest.raises(SipParseError):
        parse_media_type("application")


def test_token_lists_and_values_with_params() -> None:
    assert parse_token_list("100rel , timer,replaces") == ["100rel", "timer", "replaces"]
    with pytest.raises(SipParseError):
        parse_token_list("a b")
    event = parse_value_with_params("presence;id=7")
    assert (event.value, event.params["id"]) == ("presence", "7")
    assert split_list('a, "b, c", <d,e>') == ["a", '"b, c"', "<d,e>"]


def test_digest_challenge_and_credentials() -> None:
    challenge = parse_challenge(
        'Digest realm="example.com", nonce="abc, def", qop="auth,auth-int", '
        "algorithm=SHA-256, stale=TRUE"
    )
    assert challenge.scheme == "Digest"
    assert challenge.params == {
        "realm": "example.com",
        "nonce": "abc, def",
        "qop": "auth,auth-int",
        "algorithm": "SHA-256",
        "stale": "TRUE",
    }
    text = str(challenge)
    assert 'qop="auth,auth-int"' in text
    assert "algorithm=SHA-256" in text
    assert parse_challenge(text) == challenge
    credentials = AuthCredentials(
        "Digest", {"username": "bob", "qop": "auth", "nc": "00000001", "uri": "sip:a"}
    )
    assert str(credentials) == 'Digest username="bob", qop=auth, nc=00000001, uri="sip:a"'
    assert parse_credentials(str(credentials)) == credentials


def test_other_authentication_schemes() -> None:
    assert parse_credentials("Bearer abc.DEF-123==").token68 == "abc.DEF-123=="
    assert str(AuthChallenge("Bearer", {"realm": "x"})) == 'Bearer realm="x"'
    with pytest.raises(SipParseError):
        parse_credentials('Digest realm="x",')


def test_quoting() -> None:
    assert quote('a "b" \\ c') == '"a \\"b\\" \\\\ c"'
    assert unquote(quote("x\x00y\x7f")) == "x\x00y\x7f"
    assert unquote("token") == "token"
    assert quote("line\r\nbreak") == '"line  break"'


def test_sip_uri_of_non_sip_address_raises() -> None:
    with pytest.raises(SipParseError):
        _ = parse_address("<tel:+1>").sip_uri
    assert isinstance(parse_address("<sip:a@b>").sip_uri, SipUri)
