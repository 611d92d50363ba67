"""The copy-with-a-change methods of addresses, URIs and Vias (built directly rather than with
`dataclasses.replace`, for speed) give exactly what `dataclasses.replace` gives."""

from __future__ import annotations

import dataclasses

from zongji.sip.address import parse_address
from zongji.sip.fields import parse_via_list
from zongji.sip.uri import SipUri, parse_uri


def test_name_address_copies() -> None:
    address = parse_address('"Alice" <sip:alice@example.com;transport=tcp>;x=1')
    tagged = address.with_tag("abc")
    assert tagged == dataclasses.replace(address, params=address.params.with_param("tag", "abc"))
    assert str(tagged) == "Alice <sip:alice@example.com;transport=tcp>;x=1;tag=abc"
    assert type(tagged) is type(address)
    more = address.with_params(y="2", z=None)
    assert str(more) == "Alice <sip:alice@example.com;transport=tcp>;x=1;y=2;z"


def test_sip_uri_copies() -> None:
    uri = parse_uri("sips:bob:pw@[2001:db8::1]:5061;maddr=x;lr?subject=hi")
    assert isinstance(uri, SipUri)
    assert uri.with_params(ob=None) == dataclasses.replace(uri, params=uri.params.with_param("ob"))
    assert uri.without_params("lr") == dataclasses.replace(uri, params=uri.params.without("lr"))
    assert uri.without_headers() == dataclasses.replace(uri, headers=())
    assert str(uri.without_headers()) == "sips:bob:pw@[2001:db8::1]:5061;maddr=x;lr"


def test_via_copies() -> None:
    (via,) = parse_via_list("SIP/2.0/TCP host.example.com:5070;branch=z9hG4bKabc;rport")
    copy = via.with_params(received="192.0.2.1", rport="5070")
    merged = via.params.with_param("received", "192.0.2.1").with_param("rport", "5070")
    assert copy == dataclasses.replace(via, params=merged)
    assert (
        str(copy)
        == "SIP/2.0/TCP host.example.com:5070;branch=z9hG4bKabc;rport=5070;received=192.0.2.1"
    )
