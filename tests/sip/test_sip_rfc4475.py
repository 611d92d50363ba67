"""RFC 4475 torture messages: one test per message, asserting what the RFC says must happen.

Valid messages must parse to the right field values; invalid ones must be rejected (a request
answered with the status the RFC names, a response dropped); the transaction- and
application-layer messages must get the element behaviour §3.2 - §3.4 describe. Each test
feeds the message through the whole stack (parser, transport layer, transactions, user agent)
of an `Element` on a fake network, so the answer on the wire is what is checked.
"""

from __future__ import annotations

import pytest
from sip_fakes import PEER_ADDRESS, RFC4475_DIR, Element, FakeTransport, rfc4475

from zongji.sip.errors import SipParseError, VersionNotSupported
from zongji.sip.message import Request, Response
from zongji.sip.multipart import parse_multipart
from zongji.sip.network import HostPort
from zongji.sip.parser import parse_message
from zongji.sip.transaction.base import TransactionState
from zongji.sip.transaction.client import InviteClientTransaction
from zongji.sip.transport.base import Flow
from zongji.sip.uri import AbsoluteUri, SipUri, parse_uri
from zongji.sip.validation import validate_request


def parse_request(name: str) -> Request:
    message = parse_message(rfc4475(name))
    assert isinstance(message, Request)
    validate_request(message)
    return message


def reject_status(name: str) -> int:
    """The status the parser and validator assign to a malformed request."""
    with pytest.raises(SipParseError) as info:
        parse_request(name)
    assert info.value.request_headers is not None, "enough was parsed to answer"
    return info.value.status


def test_every_message_has_a_test() -> None:
    files = sorted(p.name for p in RFC4475_DIR.glob("*.dat"))
    assert len(files) == 49
    tested = {name.removeprefix("test_").replace("_", "") for name in globals()}
    missing = [f for f in files if f.removesuffix(".dat").replace("_", "") not in tested]
    assert not missing, f"no test for {missing}"


# --------------------------------------------------------------------- 3.1.1 valid messages


async def test_wsinv(element: Element) -> None:
    """3.1.1.1: LWS, folding and odd capitalisation everywhere; all values parse."""
    request = parse_request("wsinv.dat")
    assert request.method == "INVITE"
    assert request.uri == parse_uri("sip:vivekg@chair-dnrc.example.com;unknownparam")
    assert request.to_addr.uri == parse_uri("sip:vivekg@chair-dnrc.example.com")
    assert request.to_addr.tag == "1918181833n"
    assert request.from_addr.display_name == 'J Rosenberg \\"'
    assert request.from_addr.tag == "98asjd8"
    assert request.max_forwards == 68
    assert request.call_id == "wsinv.ndaksdj@192.0.2.1"
    assert (request.cseq.number, request.cseq.method) == (9, "INVITE")
    assert [(v.transport, v.host, v.branch) for v in request.via] == [
        ("UDP", "192.0.2.2", "390skdjuw"),
        ("TCP", "spindle.example.com", "z9hG4bK9ikj8"),
        ("UDP", "192.168.255.111", "z9hG4bK30239"),
    ]
    assert request.headers.get("Subject") == ""
    assert request.headers.get("NewFangledHeader") == "newfangled value continued newfangled value"
    assert request.headers.get("UnknownHeaderWithUnusualValue") == ";;,,;;,;"
    (route,) = request.route
    assert isinstance(route.uri, SipUri)
    assert route.uri.lr
    assert route.uri.params["unknownwith"] == "value"
    (contact,) = request.contacts
    assert contact.display_name == 'Quoted string ""'
    assert contact.params == {"newparam": "newvalue", "secondparam": None, "q": "0.33"}
    assert request.content_type is not None
    assert request.content_type.mime == "application/sdp"
    assert len(request.body) == 150
    # The element processes it (its To tag names no dialog of ours: 481), answering the
    # received address at the port of the sent-by (no rport): RFC 3261 §18.2.2.
    before = len(element.transport.sent)
    (response,) = await element.receive(rfc4475("wsinv.dat"))
    assert response.status == 481
    assert element.transport.sent[before].destination == HostPort("192.0.2.1", 5060)
    assert response.top_via.received == PEER_ADDRESS.host


async def test_intmeth(element: Element) -> None:
    """3.1.1.2: every character the grammar allows, in method, URI, tokens and Call-ID."""
    request = parse_request("intmeth.dat")
    assert request.method == "!interesting-Method0123456789_*+`.%indeed'~"
    assert request.cseq.method == request.method
    uri = request.uri
    assert isinstance(uri, SipUri)
    assert uri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert uri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
    assert uri.host == "example.com"
    assert request.to_addr.display_name == "BEL:\x07 NUL:\x00 DEL:\x7f"
    assert request.from_addr.display_name == "token1~` token2'+_ token3*%!.-"
    assert request.from_addr.params["fromparam''~+*_!.-%"] == '"работающий"'
    assert request.from_addr.tag == "_token~1'+`*%!-."
    assert request.call_id == "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    assert request.max_forwards == 255
    assert request.headers.get("extensionHeader-!.%*+_`'~") == "\ufeff大停電"
    (response,) = await element.receive(rfc4475("intmeth.dat"))
    assert response.status == 501  # a well-formed method this element does not implement


async def test_esc01(element: Element) -> None:
    """3.1.1.3: %-escapes are decoded before comparison."""
    request = parse_request("esc01.dat")
    assert isinstance(request.uri, SipUri)
    assert request.uri.user == "sips:user@example.com"
    assert request.to_addr.sip_uri.equivalent(parse_uri("sip:user@example.com"))
    assert request.from_addr.sip_uri.user == "I have spaces"
    (contact,) = request.contacts
    assert contact.sip_uri.user == "caller"
    assert contact.sip_uri.lr
    assert contact.sip_uri.params["name"] == "value%41"
    (response,) = await element.receive(rfc4475("esc01.dat"))
    assert response.status == 603
    assert element.seen[-1].method == "INVITE"


async def test_escnull(element: Element) -> None:
    """3.1.1.4: escaped NULs in URIs are legal."""
    request = parse_request("escnull.dat")
    assert request.to_addr.sip_uri.user == "null-\x00-null"
    assert [c.sip_uri.user for c in request.contacts] == ["\x00", "\x00\x00"]
    (response,) = await element.receive(rfc4475("escnull.dat"))
    assert response.status == 200
    assert [c.sip_uri.user for c in response.contacts] == ["\x00", "\x00\x00"]


async def test_esc02(element: Element) -> None:
    """3.1.1.5: % in a method or header name is a token character, not an escape."""
    request = parse_request("esc02.dat")
    assert request.method == "RE%47IST%45R"  # not REGISTER
    assert request.to_addr.display_name == "%Z%45"
    assert request.via[0].branch == "z9hG4bK209%fzsnel234"
    assert [str(c.uri) for c in request.contacts] == [
        "sip:alias1@host1.example.com",
        "sip:alias3@host3.example.com",
    ]
    assert request.headers.get("C%6Fntact") == "<sip:alias2@host2.example.com>"
    (response,) = await element.receive(rfc4475("esc02.dat"))
    assert response.status == 501


async def test_lwsdisp(element: Element) -> None:
    """3.1.1.6: no LWS between display name and <."""
    request = parse_request("lwsdisp.dat")
    assert request.from_addr.display_name == "caller"
    assert request.from_addr.tag == "323"
    (response,) = await element.receive(rfc4475("lwsdisp.dat"))
    assert response.status == 200


async def test_longreq(element: Element) -> None:
    """3.1.1.7: long values; 34 Via values under many spellings of the name."""
    request = parse_request("longreq.dat")
    assert len(request.via) == 34
    assert request.via[0].host == "sip33.example.com"
    assert request.via[-1].received == "192.0.2.5"
    assert request.to_addr.display_name is not None
    assert "extreme" in request.to_addr.display_name
    assert request.to_addr.sip_uri.port == 6000
    assert len(request.from_addr.tag or "") > 100
    assert len(request.body) == 150
    (response,) = await element.receive(rfc4475("longreq.dat"))
    assert response.status == 603
    assert len(response.via) == 34  # every Via goes back, in order


async def test_dblreq(element: Element) -> None:
    """3.1.1.8: octets after Content-Length in a datagram are discarded (the INVITE)."""
    request = parse_request("dblreq.dat")
    assert request.method == "REGISTER"
    assert request.body == b""
    responses_ = await element.receive(rfc4475("dblreq.dat"))
    assert [r.status for r in responses_] == [401]  # j.user must authenticate: one answer
    assert [r.method for r in element.seen] == ["REGISTER"]


async def test_semiuri(element: Element) -> None:
    """3.1.1.9: a ; in the user part belongs to the user, not to URI parameters."""
    request = parse_request("semiuri.dat")
    uri = request.uri
    assert isinstance(uri, SipUri)
    assert uri.user == "user;par=u@example.net"
    assert uri.host == "example.com"
    assert not uri.params
    assert [m.mime for m in request.accept] == [
        "application/sdp", "application/pkcs7-mime", "multipart/mixed",
        "multipart/signed", "message/sip", "message/sipfrag",
    ]  # fmt: skip
    (response,) = await element.receive(rfc4475("semiuri.dat"))
    assert response.status == 200


async def test_transports(element: Element) -> None:
    """3.1.1.10: unknown transports in Via are fine."""
    request = parse_request("transports.dat")
    assert [v.transport for v in request.via] == ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]
    assert request.call_id == "transports.kijh4akdnaqjkwendsasfdj"
    (response,) = await element.receive(rfc4475("transports.dat"))
    assert response.status == 200
    assert [v.transport for v in response.via] == ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]


async def test_mpart01(element: Element) -> None:
    """3.1.1.11: a multipart MIME body with a binary part."""
    request = parse_request("mpart01.dat")
    assert request.content_type is not None
    parts = parse_multipart(request.body, request.content_type)
    assert [str(p.content_type) for p in parts] == ["text/plain", "application/octet-stream"]
    assert parts[0].body == b"Hello"
    assert parts[1].body.startswith(b"0\x82")
    assert len(parts[1].body) == 342
    (response,) = await element.receive(rfc4475("mpart01.dat"))
    assert response.status == 200


def test_unreason() -> None:
    """3.1.1.12: a reason phrase with any UTF-8 and escapes-that-are-not is just text."""
    response = parse_message(rfc4475("unreason.dat"))
    assert isinstance(response, Response)
    assert response.status == 200
    assert response.reason.startswith("= 2**3 * 5**2 но сто девяносто девять")
    assert len(response.body) == 154


def test_noreason() -> None:
    """3.1.1.13: an empty reason phrase."""
    response = parse_message(rfc4475("noreason.dat"))
    assert isinstance(response, Response)
    assert (response.status, response.reason) == (100, "")
    assert response.to_addr.tag == "902jndnke3"


# --------------------------------------------------------------------- 3.1.2 invalid messages


async def answered_with(element: Element, name: str, status: int) -> Response:
    (response,) = await element.receive(rfc4475(name))
    assert response.status == status
    assert element.seen == [], "a malformed request must not reach the application"
    return response


async def test_badinv01(element: Element) -> None:
    """3.1.2.1: empty parameters and separators in Via and Contact: 400."""
    assert reject_status("badinv01.dat") == 400
    response = await answered_with(element, "badinv01.dat", 400)
    # The Via is what is broken, so the answer goes back to the source.
    assert element.transport.sent[-1].destination == PEER_ADDRESS
    assert response.to_addr.tag  # a To tag on a final response (RFC 3261 §8.2.6.2)


async def test_clerr(element: Element) -> None:
    """3.1.2.2: Content-Length larger than the datagram: 400 (over UDP)."""
    assert reject_status("clerr.dat") == 400
    await answered_with(element, "clerr.dat", 400)


async def test_ncl(element: Element) -> None:
    """3.1.2.3: negative Content-Length: 400."""
    assert reject_status("ncl.dat") == 400
    await answered_with(element, "ncl.dat", 400)


async def test_scalar02(element: Element) -> None:
    """3.1.2.4: CSeq beyond 2**32-1 (and Max-Forwards 300, huge Expires): 400."""
    assert reject_status("scalar02.dat") == 400
    await answered_with(element, "scalar02.dat", 400)


async def test_scalarlg(element: Element) -> None:
    """3.1.2.5: a response with overlarge CSeq: discarded."""
    message = parse_message(rfc4475("scalarlg.dat"))
    with pytest.raises(SipParseError):
        _ = message.cseq
    assert await element.receive(rfc4475("scalarlg.dat")) == []
    assert element.ua.transport.stats.malformed_dropped == 1


async def test_quotbal(element: Element) -> None:
    """3.1.2.6: unterminated quoted string in a display name: 400."""
    assert reject_status("quotbal.dat") == 400
    await answered_with(element, "quotbal.dat", 400)


async def test_ltgtruri(element: Element) -> None:
    """3.1.2.7: Request-URI enclosed in <>: 400."""
    assert reject_status("ltgtruri.dat") == 400
    await answered_with(element, "ltgtruri.dat", 400)


async def test_lwsruri(element: Element) -> None:
    """3.1.2.8: LWS inside the Request-URI: 400."""
    assert reject_status("lwsruri.dat") == 400
    await answered_with(element, "lwsruri.dat", 400)


async def test_lwsstart(element: Element) -> None:
    """3.1.2.9: several SP between Request-Line elements: 400."""
    assert reject_status("lwsstart.dat") == 400
    await answered_with(element, "lwsstart.dat", 400)


async def test_trws(element: Element) -> None:
    """3.1.2.10: SP at the end of the Request-Line: 400."""
    assert reject_status("trws.dat") == 400
    await answered_with(element, "trws.dat", 400)


async def test_escruri(element: Element) -> None:
    """3.1.2.11: escaped headers in the Request-URI: 400 (headers are not allowed there)."""
    message = parse_message(rfc4475("escruri.dat"))
    assert isinstance(message, Request)
    assert isinstance(message.uri, SipUri)
    assert message.uri.headers == (("Route", "<sip:example.com>"),)
    assert reject_status("escruri.dat") == 400
    await answered_with(element, "escruri.dat", 400)


async def test_baddate(element: Element) -> None:
    """3.1.2.12: a non-GMT Date. We never use Date, so we accept the request and keep it."""
    request = parse_request("baddate.dat")
    assert request.headers.get("Date") == "Fri, 01 Jan 2010 16:00:00 EST"
    (response,) = await element.receive(rfc4475("baddate.dat"))
    assert response.status == 603  # processed by the application
    assert element.seen[0].headers.get("Date") == "Fri, 01 Jan 2010 16:00:00 EST"


async def test_regbadct(element: Element) -> None:
    """3.1.2.13: a URI with headers not in <> in Contact: 400."""
    assert reject_status("regbadct.dat") == 400
    await answered_with(element, "regbadct.dat", 400)


async def test_badaspec(element: Element) -> None:
    """3.1.2.14: LWS inside <> around the addr-spec: 400."""
    assert reject_status("badaspec.dat") == 400
    await answered_with(element, "badaspec.dat", 400)


async def test_baddn(element: Element) -> None:
    """3.1.2.15: non-token characters in an unquoted display name: 400."""
    assert reject_status("baddn.dat") == 400
    await answered_with(element, "baddn.dat", 400)


async def test_badvers(element: Element) -> None:
    """3.1.2.16: SIP/7.0: 505 Version Not Supported."""
    with pytest.raises(VersionNotSupported):
        parse_message(rfc4475("badvers.dat"))
    await answered_with(element, "badvers.dat", 505)


async def test_mismatch01(element: Element) -> None:
    """3.1.2.17: method and CSeq method differ: 400."""
    assert reject_status("mismatch01.dat") == 400
    await answered_with(element, "mismatch01.dat", 400)


async def test_mismatch02(element: Element) -> None:
    """3.1.2.18: unknown method and a CSeq method that differs: 501 (the RFC's preference)."""
    assert reject_status("mismatch02.dat") == 501
    await answered_with(element, "mismatch02.dat", 501)


async def test_bigcode(element: Element) -> None:
    """3.1.2.19: status code 4294967301: the response is dropped."""
    with pytest.raises(SipParseError) as info:
        parse_message(rfc4475("bigcode.dat"))
    assert info.value.request_headers is None
    assert await element.receive(rfc4475("bigcode.dat")) == []
    assert element.ua.transport.stats.malformed_dropped == 1


# --------------------------------------------------------------------- 3.2 transaction layer


async def test_badbranch(element: Element) -> None:
    """3.2.1: a bare magic cookie identifies nothing: matched the RFC 2543 way."""
    request = parse_request("badbranch.dat")
    assert request.top_via.branch == "z9hG4bK"
    assert not request.top_via.has_rfc3261_branch
    (first,) = await element.receive(rfc4475("badbranch.dat"))
    assert first.status == 200
    (again,) = await element.receive(rfc4475("badbranch.dat"))  # a retransmission
    assert again == first
    assert len(element.seen) == 1, "the retransmission was absorbed by the transaction"


# --------------------------------------------------------------------- 3.3 application layer


async def test_insuf(element: Element) -> None:
    """3.3.1: no Call-ID, From or To: the element does not break, and answers 400."""
    assert reject_status("insuf.dat") == 400
    response = await answered_with(element, "insuf.dat", 400)
    assert response.cseq.number == 193942


async def test_unkscm(element: Element) -> None:
    """3.3.2: unknown Request-URI scheme: well-formed, answered 416 (To is not used)."""
    request = parse_request("unkscm.dat")
    assert request.uri == AbsoluteUri("nobodyKnowsThisScheme", "totallyopaquecontent")
    await answered_with(element, "unkscm.dat", 416)


async def test_novelsc(element: Element) -> None:
    """3.3.3: a registered but atypical scheme we never accept: 416."""
    request = parse_request("novelsc.dat")
    assert request.uri == AbsoluteUri("soap.beep", "//192.0.2.103:3002")
    await answered_with(element, "novelsc.dat", 416)


async def test_unksm2(element: Element) -> None:
    """3.3.4: unknown schemes in To, From, Contact parse; a registrar answers 400."""
    request = parse_request("unksm2.dat")
    assert request.to_addr.uri == AbsoluteUri("isbn", "2983792873")
    assert request.from_addr.uri == AbsoluteUri("http", "//www.example.com")
    assert request.contacts[0].uri == AbsoluteUri("name", "John_Smith")
    (response,) = await element.receive(rfc4475("unksm2.dat"))
    assert response.status == 400


async def test_bext01(element: Element) -> None:
    """3.3.5: unknown Require tags: 420 listing them in Unsupported (a UAS ignores
    Proxy-Require)."""
    request = parse_request("bext01.dat")
    assert request.require == ["nothingSupportsThis", "nothingSupportsThisEither"]
    response = await answered_with(element, "bext01.dat", 420)
    assert response.unsupported == ["nothingSupportsThis", "nothingSupportsThisEither"]


async def test_invut(element: Element) -> None:
    """3.3.6: INVITE with a body type we do not understand: 415 with Accept."""
    request = parse_request("invut.dat")
    assert request.content_type is not None
    assert request.content_type.mime == "application/unknownformat"
    response = await answered_with(element, "invut.dat", 415)
    assert [m.mime for m in response.accept] == ["application/sdp"]


async def test_regaut01(element: Element) -> None:
    """3.3.7: an unknown authorization scheme: the registrar challenges with Digest."""
    request = parse_request("regaut01.dat")
    (credentials,) = request.authorization
    assert credentials.scheme == "NoOneKnowsThisScheme"
    assert credentials.params == {"opaque-data": "here"}
    (response,) = await element.receive(rfc4475("regaut01.dat"))
    assert response.status == 401
    assert {c.scheme for c in response.www_authenticate} == {"Digest"}


async def test_multi01(element: Element) -> None:
    """3.3.8: several values in single-value fields (Call-ID, To, From, CSeq ...): 400."""
    assert reject_status("multi01.dat") == 400
    await answered_with(element, "multi01.dat", 400)


async def test_mcl01(element: Element) -> None:
    """3.3.9: two different Content-Length values: 400."""
    assert reject_status("mcl01.dat") == 400
    await answered_with(element, "mcl01.dat", 400)


async def test_bcast(element: Element) -> None:
    """3.3.10: a 200 with a second Via pointing at a broadcast address: discarded.

    Even addressed to us and matching a transaction of ours, a UA drops a response with
    more than one Via (RFC 3261 §8.1.3.3), so nothing can ever go to 255.255.255.255.
    """
    data = rfc4475("bcast.dat")
    response = parse_message(data)
    assert isinstance(response, Response)
    assert response.via[1].host == "255.255.255.255"

    def invite_transaction() -> tuple[InviteClientTransaction, _Recorder, FakeTransport]:
        ours = FakeTransport(element.network, HostPort("192.0.2.198", 5060))
        element.ua.add_transport(ours)
        invite = element.ua.create_request("INVITE", "sip:user@example.edu")
        invite.headers.add("Via", "SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923", first=True)
        recorder = _Recorder()
        transaction = element.ua.transactions.start_client(
            invite, Flow(ours, PEER_ADDRESS), recorder, branch="z9hG4bK1324923"
        )
        assert isinstance(transaction, InviteClientTransaction)
        return transaction, recorder, ours

    transaction, recorder, ours = invite_transaction()
    ours.deliver(data, PEER_ADDRESS)
    assert transaction.state is TransactionState.CALLING, "the response was not accepted"
    assert recorder.responses == []
    # Control: the same response with only our Via is accepted.
    transaction.state = TransactionState.TERMINATED
    single_via = data.replace(b"Via: SIP/2.0/UDP 255.255.255.255;branch=z9hG4bK1saber23\r\n", b"")
    transaction, recorder, ours = invite_transaction()
    ours.deliver(single_via, PEER_ADDRESS)
    assert transaction.state is TransactionState.ACCEPTED
    assert [r.status for r in recorder.responses] == [200]


async def test_zeromf(element: Element) -> None:
    """3.3.11: Max-Forwards 0 stops proxies, not endpoints: answered normally."""
    request = parse_request("zeromf.dat")
    assert request.max_forwards == 0
    (response,) = await element.receive(rfc4475("zeromf.dat"))
    assert response.status == 200


async def test_cparam01(element: Element) -> None:
    """3.3.12: `unknownparam` after a bare URI is a Contact parameter, not a URI parameter."""
    request = parse_request("cparam01.dat")
    (contact,) = request.contacts
    assert "unknownparam" in contact.params
    assert "unknownparam" not in contact.sip_uri.params
    (response,) = await element.receive(rfc4475("cparam01.dat"))
    assert response.status == 200
    assert "unknownparam" not in response.contacts[0].sip_uri.params


async def test_cparam02(element: Element) -> None:
    """3.3.13: inside <> it is a URI parameter."""
    request = parse_request("cparam02.dat")
    (contact,) = request.contacts
    assert "unknownparam" in contact.sip_uri.params
    assert "unknownparam" not in contact.params
    (response,) = await element.receive(rfc4475("cparam02.dat"))
    assert response.status == 200
    assert "unknownparam" in response.contacts[0].sip_uri.params


async def test_regescrt(element: Element) -> None:
    """3.3.14: a Contact URI with an escaped header is a valid REGISTER."""
    request = parse_request("regescrt.dat")
    (contact,) = request.contacts
    assert contact.sip_uri.headers == (("Route", "<sip:sip.example.com>"),)
    (response,) = await element.receive(rfc4475("regescrt.dat"))
    assert response.status == 200


async def test_sdp01(element: Element) -> None:
    """3.3.15: an INVITE whose Accept excludes SDP: 406 Not Acceptable."""
    request = parse_request("sdp01.dat")
    assert [m.mime for m in request.accept] == ["text/nobodyknowsthis"]
    await answered_with(element, "sdp01.dat", 406)


# --------------------------------------------------------------------- 3.4 backward compatibility


async def test_inv2543(element: Element) -> None:
    """3.4.1: RFC 2543 syntax (no branch, no From tag, no Content-Length) is accepted; its
    retransmission and its ACK are matched the RFC 2543 way (RFC 3261 §17.2.3)."""
    request = parse_request("inv2543.dat")
    assert request.top_via.branch is None
    assert request.from_addr.tag is None
    assert request.max_forwards is None
    assert len(request.body) > 0
    (final,) = await element.receive(rfc4475("inv2543.dat"))
    assert final.status == 603
    assert await element.receive(rfc4475("inv2543.dat")) == [final]  # retransmission
    assert len(element.seen) == 1
    (transaction,) = element.ua.transactions.server_transactions.values()
    assert transaction.state is TransactionState.COMPLETED
    ack = rfc4475("inv2543.dat").split(b"\r\n\r\n")[0].replace(b"INVITE", b"ACK")
    ack = ack.replace(
        b"To: sip:+16505552222@ss1.example.net;user=phone",
        f"To: {final.headers.get('to')}".encode(),
    )
    assert await element.receive(ack + b"\r\n\r\n") == []
    assert transaction.state is TransactionState.CONFIRMED


# --------------------------------------------------------------------- helpers


class _Recorder:
    """A client transaction user that remembers the responses it was given."""

    def __init__(self) -> None:
        self.responses: list[Response] = []

    def response_received(self, transaction: object, response: Response) -> None:
        self.responses.append(response)

    def timed_out(self, transaction: object) -> None:
        pass

    def transport_failed(self, transaction: object, error: Exception) -> None:
        pass
