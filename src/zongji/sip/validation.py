"""Checks a message must pass before the transaction layer sees it (RFC 3261 §8.2, §17).

The parser leaves header values unparsed; these checks parse the fields every transaction and
dialog needs (Via, From, To, Call-ID, CSeq, Max-Forwards, Contact, Route, Record-Route) and
apply the RFC 4475 rules on top of the grammar: one value in single-value fields, CSeq method
matching the request method, no headers in a Request-URI. A failure raises `SipParseError`
carrying the request's header fields, so the caller can answer it.
"""

from __future__ import annotations

from zongji.sip.errors import SipParseError
from zongji.sip.message import KNOWN_METHODS, Request, Response
from zongji.sip.uri import SipUri


def validate_request(request: Request) -> None:
    """Raise `SipParseError` (status 400, or 501 for an unknown method) if `request` is unusable."""
    try:
        if not request.via:
            raise SipParseError("no Via header")
        _ = (request.from_addr, request.to_addr, request.call_id)
        cseq = request.cseq
        if cseq.method != request.method:
            if request.method not in KNOWN_METHODS:
                # RFC 4475 §3.1.2.18: 501 is the future-proof answer for an unknown method.
                raise SipParseError(
                    "CSeq method does not match", status=501, reason="Not Implemented"
                )
            raise SipParseError("CSeq method does not match the Request-Line")
        _ = request.max_forwards
        headers = request.headers
        if headers.has("contact"):
            _ = request.contacts
        if headers.has("route"):
            _ = request.route
        if headers.has("record-route"):
            _ = request.record_route
        if request.body and headers.has("content-type"):
            _ = request.content_type
        uri = request.uri
        if isinstance(uri, SipUri) and uri.headers:
            # Headers are not allowed in a Request-URI (RFC 3261 §19.1.1 table 1,
            # RFC 4475 §3.1.2.11).
            raise SipParseError("Request-URI carries headers")
    except SipParseError as error:
        error.request_headers = request.headers
        raise


def validate_response(response: Response) -> None:
    """Raise `SipParseError` if `response` lacks what response processing needs (it is dropped)."""
    if not response.via:
        raise SipParseError("no Via header")
    _ = (response.from_addr, response.to_addr, response.call_id, response.cseq)
