"""URIs: parsing, escaping, writing, and RFC 3261 §19.1.4 comparison."""

from __future__ import annotations

import pytest

from zongji.sip.errors import SipParseError
from zongji.sip.network import HostPort, TransportKind
from zongji.sip.uri import AbsoluteUri, SipUri, TelUri, parse_sip_uri, parse_uri


def test_full_sip_uri() -> None:
    uri = parse_uri(
        "sips:alice:secret@[2001:db8::10]:5061;transport=tcp;lr;maddr=239.1.1.1?Subject=hi&X=y"
    )
    assert isinstance(uri, SipUri)
    assert uri.scheme == "sips"
    assert uri.secure
    assert (uri.user, uri.password) == ("alice", "secret")
    assert uri.host == "[2001:db8::10]"
    assert uri.port == 5061
    assert uri.params == {"transport": "tcp", "lr": None, "maddr": "239.1.1.1"}
    assert uri.transport is TransportKind.TCP
    assert uri.lr
    assert uri.maddr == "239.1.1.1"
    assert uri.headers == (("Subject", "hi"), ("X", "y"))
    assert uri.host_port() == HostPort("239.1.1.1", 5061)


def test_defaults_and_host_port() -> None:
    assert parse_sip_uri("sip:example.com").host_port() == HostPort("example.com", 5060)
    assert parse_sip_uri("sips:example.com").host_port() == HostPort("example.com", 5061)
    assert parse_sip_uri("sip:h;transport=tls").host_port() == HostPort("h", 5061)
    assert parse_sip_uri("sip:[::1]:7").host_port() == HostPort("::1", 7)


def test_scheme_is_case_insensitive_and_written_lower() -> None:
    uri = parse_sip_uri("SIP:Bob@Example.COM")
    assert uri.scheme == "sip"
    assert uri.user == "Bob"
    assert uri.host == "Example.COM"


def test_escapes_decoded_and_rewritten() -> None:
    uri = parse_sip_uri("sip:%61lice%20smith@example.com;na%6De=v%25")
    assert uri.user == "alice smith"
    assert uri.params["name"] == "v%"
    rebuilt = SipUri("example.com", "alice smith", params=uri.params)
    assert str(rebuilt) == "sip:alice%20smith@example.com;name=v%25"
    assert parse_uri(str(rebuilt)) == uri


def test_parsed_text_is_kept_verbatim() -> None:
    text = "sip:%61lice@example.com;TRANSPORT=UDP"
    assert str(parse_uri(text)) == text


def test_utf8_and_raw_octets_survive_escaping() -> None:
    uri = SipUri("example.com", "张三\udcff")  # a lone surrogate stands for a non-UTF-8 octet
    text = str(uri)
    assert text == "sip:%E5%BC%A0%E4%B8%89%FF@example.com"
    assert parse_uri(text) == uri


def test_tel_and_absolute_uris() -> None:
    tel = parse_uri("tel:+86-10-1234-5678;phone-context=example.com")
    assert tel == TelUri("+86-10-1234-5678", tel.params)
    assert isinstance(tel, TelUri)
    assert tel.is_global
    assert tel.params["phone-context"] == "example.com"
    assert str(tel) == "tel:+86-10-1234-5678;phone-context=example.com"
    assert parse_uri("urn:uuid:f81d4fae") == AbsoluteUri("urn", "uuid:f81d4fae")
    assert str(parse_uri("mailto:a@b.c")) == "mailto:a@b.c"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "sip:",
        "sip:user@",
        "sip:user@host:99999",
        "sip:us er@host",
        "sip:user@ho st",
        "sip:user@host;",
        "sip:user@host;a=",
        "sip:user@host?x",
        "sip:a%zzb@host",
        "<sip:user@host>",
        "tel:",
        "nocolon",
        "1abc:x",
    ],
)
def test_malformed_uris_are_rejected(text: str) -> None:
    with pytest.raises(SipParseError):
        parse_uri(text)


def test_parse_sip_uri_refuses_other_schemes() -> None:
    with pytest.raises(SipParseError):
        parse_sip_uri("tel:+123")


def test_with_and_without_params() -> None:
    uri = parse_sip_uri("sip:a@b;x=1")
    assert str(uri.with_params(lr=None, transport="tcp")) == "sip:a@b;x=1;lr;transport=tcp"
    assert str(uri.without_params("x")) == "sip:a@b"
    assert str(parse_sip_uri("sip:a@b?h=1").without_headers()) == "sip:a@b"


# RFC 3261 §19.1.4: pairs that are equivalent, and pairs that are not.
EQUIVALENT = [
    ("sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp"),
    ("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"),
    ("sip:carol@chicago.com", "sip:carol@chicago.com;security=on"),
    ("sip:carol@chicago.com;newparam=5", "sip:carol@chicago.com;security=on"),
    (
        "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
        "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com",
    ),
    (
        "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
        "sip:alice@atlanta.com?priority=urgent&subject=project%20x",
    ),
]
NOT_EQUIVALENT = [
    ("SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP"),
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"),
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"),
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp"),
    ("sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting"),
    ("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"),
    ("sip:carol@chicago.com;security=on", "sip:carol@chicago.com;security=off"),
    ("sip:alice@atlanta.com", "sips:alice@atlanta.com"),
]


@pytest.mark.parametrize(("a", "b"), EQUIVALENT)
def test_equivalent_uris(a: str, b: str) -> None:
    assert parse_sip_uri(a).equivalent(parse_sip_uri(b))
    assert parse_sip_uri(b).equivalent(parse_sip_uri(a))


@pytest.mark.parametrize(("a", "b"), NOT_EQUIVALENT)
def test_not_equivalent_uris(a: str, b: str) -> None:
    assert not parse_sip_uri(a).equivalent(parse_sip_uri(b))
    assert not parse_sip_uri(b).equivalent(parse_sip_uri(a))


def test_uris_are_hashable_values() -> None:
    a = parse_sip_uri("sip:a@b;x=1")
    b = SipUri("b", "a", params=a.params)
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b}) == 1
