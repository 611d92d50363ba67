"""How requests and responses find their transaction (RFC 3261 §17.1.3, §17.2.3).

RFC 3261 peers mark their branch with the magic cookie `z9hG4bK`, and the branch plus the
sent-by and the method identify the transaction. Older (RFC 2543) peers do not; their
requests are matched on Request-URI, tags, Call-ID, CSeq and top Via instead, and an ACK
matches the INVITE whose response carried the ACK's To tag.
"""

from __future__ import annotations

from typing import Final

from zongji.sip.message import Request, Response

ServerKey = tuple[str, ...]
ClientKey = tuple[str, str]

_ACK: Final = "ACK"
_INVITE: Final = "INVITE"


def server_key(request: Request) -> ServerKey:
    """The key of the server transaction a request belongs to (ACK maps to its INVITE)."""
    via = request.top_via
    method = _INVITE if request.method == _ACK else request.method
    if via.has_rfc3261_branch:
        sent_by = via.sent_by
        return ("3261", via.branch or "", sent_by.host.lower(), str(sent_by.port), method)
    return rfc2543_key(request, request.to_addr.tag if request.method != _ACK else None)


def rfc2543_key(request: Request, to_tag: str | None) -> ServerKey:
    """RFC 3261 §17.2.3 fallback: Request-URI, To tag, From tag, Call-ID, CSeq, top Via."""
    method = _INVITE if request.method == _ACK else request.method
    return (
        "2543",
        str(request.uri),
        to_tag or "",
        request.from_addr.tag or "",
        request.call_id,
        str(request.cseq.number),
        str(request.top_via),
        method,
    )


def client_key(branch: str, method: str) -> ClientKey:
    return (branch, method)


def response_key(response: Response) -> ClientKey:
    """The client transaction a response belongs to: top Via branch and CSeq method."""
    return (response.top_via.branch or "", response.cseq.method)
