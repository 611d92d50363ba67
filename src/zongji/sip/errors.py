"""Exceptions of the SIP library.

Bad input from the network raises `SipParseError` and nothing else, whatever the bytes: the
receiving code turns it into a `400`/`505`/`513` response when it has enough of a request to
answer, and drops the message otherwise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from zongji.sip.headers import Headers


class SipError(Exception):
    """Base class of every exception the library raises on purpose."""


class SipParseError(SipError):
    """Input that does not follow the SIP grammar, or breaks a limit.

    `status` is the response a server should send to a request that fails this way (400 unless
    a subclass says otherwise). `request_headers` is set when the failing message is a request
    whose header section could still be split into fields: that is enough to build a response
    (Via, From, To, Call-ID and CSeq are copied from it), so the receiver can answer instead of
    dropping the message.
    """

    status: int = 400
    reason: str = "Bad Request"

    def __init__(
        self,
        detail: str,
        *,
        request_headers: Headers | None = None,
        status: int | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.request_headers = request_headers
        if status is not None:
            self.status = status
        if reason is not None:
            self.reason = reason


class MessageTooLarge(SipParseError):
    """Message, header count or line length over the configured limits (RFC 3261 §21.5.14)."""

    status = 513
    reason = "Message Too Large"


class VersionNotSupported(SipParseError):
    """A SIP version other than 2.0 (RFC 3261 §21.5.13, RFC 4475 §3.1.2.16)."""

    status = 505
    reason = "Version Not Supported"


class TransportError(SipError):
    """A message could not be sent: no route, connection refused or reset, TLS failure."""


class TransactionTimeout(SipError):
    """A client transaction got no final response in time (Timer B or F)."""
