"""SIP requests and responses (RFC 3261 §7): start line, header fields, body.

A message holds its header fields raw (see `headers.Headers`) and offers typed accessors for
the fields the stack reads; each accessor parses on first use and raises `SipParseError` if
the field is malformed. `encode()` writes the message back; Content-Length always comes from
the body.
"""

from __future__ import annotations

import enum
import functools
from typing import Final

from zongji.sip.address import NameAddress, parse_address, parse_address_list
from zongji.sip.errors import SipParseError
from zongji.sip.fields import (
    AuthChallenge,
    AuthCredentials,
    CSeq,
    MediaType,
    ValueWithParams,
    Via,
    parse_challenge,
    parse_credentials,
    parse_cseq,
    parse_media_type,
    parse_media_type_list,
    parse_token_list,
    parse_uint,
    parse_value_with_params,
    parse_via_list,
)
from zongji.sip.grammar import WORD_RE
from zongji.sip.headers import Headers
from zongji.sip.uri import Uri

SIP_VERSION: Final = "SIP/2.0"


class Method(enum.StrEnum):
    """Methods the stack knows (RFC 3261, 3262, 3311, 3428, 3515, 3903, 6086, 6665)."""

    INVITE = "INVITE"
    ACK = "ACK"
    BYE = "BYE"
    CANCEL = "CANCEL"
    OPTIONS = "OPTIONS"
    REGISTER = "REGISTER"
    PRACK = "PRACK"
    SUBSCRIBE = "SUBSCRIBE"
    NOTIFY = "NOTIFY"
    PUBLISH = "PUBLISH"
    INFO = "INFO"
    REFER = "REFER"
    MESSAGE = "MESSAGE"
    UPDATE = "UPDATE"


KNOWN_METHODS: Final = frozenset(m.value for m in Method)

REASON_PHRASES: Final[dict[int, str]] = {
    100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 182: "Queued",
    183: "Session Progress", 199: "Early Dialog Terminated",
    200: "OK", 202: "Accepted", 204: "No Notification",
    300: "Multiple Choices", 301: "Moved Permanently", 302: "Moved Temporarily",
    305: "Use Proxy", 380: "Alternative Service",
    400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden",
    404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
    407: "Proxy Authentication Required", 408: "Request Timeout", 410: "Gone",
    412: "Conditional Request Failed", 413: "Request Entity Too Large",
    414: "Request-URI Too Long", 415: "Unsupported Media Type", 416: "Unsupported URI Scheme",
    420: "Bad Extension", 421: "Extension Required", 422: "Session Interval Too Small",
    423: "Interval Too Brief", 480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist", 482: "Loop Detected", 483: "Too Many Hops",
    484: "Address Incomplete", 485: "Ambiguous", 486: "Busy Here", 487: "Request Terminated",
    488: "Not Acceptable Here", 489: "Bad Event", 491: "Request Pending", 493: "Undecipherable",
    500: "Server Internal Error", 501: "Not Implemented", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Server Time-out", 505: "Version Not Supported",
    513: "Message Too Large", 580: "Precondition Failure",
    600: "Busy Everywhere", 603: "Decline", 604: "Does Not Exist Anywhere",
    606: "Not Acceptable",
}  # fmt: skip

# Methods whose 1xx/2xx responses (with a To tag) create a dialog (RFC 3261 §12.1, RFC 6665).
DIALOG_CREATING_METHODS: Final = frozenset({"INVITE", "SUBSCRIBE", "REFER", "NOTIFY"})


def reason_phrase(status: int) -> str:
    return REASON_PHRASES.get(status) or REASON_PHRASES.get(status // 100 * 100, "Unknown")


# ------------------------------------------------------------------ field parsers (list -> typed)


# Parsed values by their text. The same From, To, Via, CSeq, Contact and Content-Type texts
# recur in every message of a transaction and a dialog (a call's INVITE, 100, 180, 200, ACK,
# BYE and 200 share most of them), and what these parsers return is immutable, so one parse
# serves them all. Lists are cached as tuples and copied out, since a message's lists are its
# own. Bounded: peers choose the texts. A malformed text raises every time (nothing cached).
_PARSED_TEXT_CACHE_SIZE: Final = 4096


@functools.lru_cache(maxsize=_PARSED_TEXT_CACHE_SIZE)
def _cached_address(text: str) -> NameAddress:
    return parse_address(text)


@functools.lru_cache(maxsize=_PARSED_TEXT_CACHE_SIZE)
def _cached_vias(text: str) -> tuple[Via, ...]:
    return tuple(parse_via_list(text))


@functools.lru_cache(maxsize=_PARSED_TEXT_CACHE_SIZE)
def _cached_cseq(text: str) -> CSeq:
    return parse_cseq(text)


@functools.lru_cache(maxsize=_PARSED_TEXT_CACHE_SIZE)
def _cached_address_list(text: str) -> tuple[NameAddress, ...]:
    return tuple(parse_address_list(text))


@functools.lru_cache(maxsize=256)
def _cached_media_type(text: str) -> MediaType:
    return parse_media_type(text)


def _one(values: list[str], name: str) -> str:
    if len(values) != 1:
        raise SipParseError(f"{'missing' if not values else 'more than one'} {name} header")
    return values[0]


def _via_list(values: list[str]) -> list[Via]:
    if len(values) == 1:
        return list(_cached_vias(values[0]))
    return [via for value in values for via in _cached_vias(value)]


def _from(values: list[str]) -> NameAddress:
    return _cached_address(_one(values, "From"))


def _to(values: list[str]) -> NameAddress:
    return _cached_address(_one(values, "To"))


def _call_id(values: list[str]) -> str:
    value = _one(values, "Call-ID")
    # callid = word [ "@" word ]
    word, at, host = value.partition("@")
    if WORD_RE.fullmatch(word) is None or (at and WORD_RE.fullmatch(host) is None):
        raise SipParseError(f"malformed Call-ID {value[:80]!r}")
    return value


def _cseq(values: list[str]) -> CSeq:
    return _cached_cseq(_one(values, "CSeq"))


def _address_list(values: list[str]) -> list[NameAddress]:
    return [address for value in values for address in _cached_address_list(value)]


def _contacts(values: list[str]) -> list[NameAddress]:
    if len(values) == 1 and values[0].strip(" \t") == "*":
        return []
    for value in values:
        if value.strip(" \t") == "*":
            raise SipParseError("Contact: * mixed with other contacts")
    return _address_list(values)


def _contact_is_star(values: list[str]) -> bool:
    return len(values) == 1 and values[0].strip(" \t") == "*"


def _max_forwards(values: list[str]) -> int | None:
    if not values:
        return None
    return parse_uint(_one(values, "Max-Forwards"), limit=255, what="Max-Forwards")


def _expires(values: list[str]) -> int | None:
    return parse_uint(_one(values, "Expires"), what="Expires") if values else None


def _min_expires(values: list[str]) -> int | None:
    return parse_uint(_one(values, "Min-Expires"), what="Min-Expires") if values else None


def _content_type(values: list[str]) -> MediaType | None:
    if not values:
        return None
    return _cached_media_type(_one(values, "Content-Type"))


def _token_list(values: list[str]) -> list[str]:
    return [token for value in values for token in parse_token_list(value)]


def _media_type_list(values: list[str]) -> list[MediaType]:
    return [media for value in values for media in parse_media_type_list(value)]


def _optional_value_with_params(values: list[str]) -> ValueWithParams | None:
    if not values:
        return None
    return parse_value_with_params(values[0])


def _challenges(values: list[str]) -> list[AuthChallenge]:
    return [parse_challenge(value) for value in values]


def _credentials(values: list[str]) -> list[AuthCredentials]:
    return [parse_credentials(value) for value in values]


def _optional_address(values: list[str]) -> NameAddress | None:
    if not values:
        return None
    return parse_address(values[0])


# ------------------------------------------------------------------ messages


class Message:
    """What requests and responses share: header fields, body, typed accessors."""

    __slots__ = ("body", "headers")

    def __init__(self, headers: Headers | None = None, body: bytes = b"") -> None:
        self.headers = headers if headers is not None else Headers()
        self.body = body

    # -- the fields every message has (RFC 3261 §8.1.1)

    # The six fields below are read many times for every message the stack handles: their
    # accessors look in the cache first themselves, saving a call per read.

    @property
    def via(self) -> list[Via]:
        cache = self.headers._cache
        if cache is not None and "via" in cache:
            return cache["via"]  # type: ignore[return-value]
        return self.headers.parsed("via", _via_list)

    @property
    def top_via(self) -> Via:
        vias = self.via
        if not vias:
            raise SipParseError("no Via header")
        return vias[0]

    @property
    def from_addr(self) -> NameAddress:
        cache = self.headers._cache
        if cache is not None and "from" in cache:
            return cache["from"]  # type: ignore[return-value]
        return self.headers.parsed("from", _from)

    @property
    def to_addr(self) -> NameAddress:
        cache = self.headers._cache
        if cache is not None and "to" in cache:
            return cache["to"]  # type: ignore[return-value]
        return self.headers.parsed("to", _to)

    @property
    def call_id(self) -> str:
        cache = self.headers._cache
        if cache is not None and "call-id" in cache:
            return cache["call-id"]  # type: ignore[return-value]
        return self.headers.parsed("call-id", _call_id)

    @property
    def cseq(self) -> CSeq:
        cache = self.headers._cache
        if cache is not None and "cseq" in cache:
            return cache["cseq"]  # type: ignore[return-value]
        return self.headers.parsed("cseq", _cseq)

    @property
    def max_forwards(self) -> int | None:
        return self.headers.parsed("max-forwards", _max_forwards)

    # -- routing and dialogs

    @property
    def contacts(self) -> list[NameAddress]:
        """Contact values; empty for `Contact: *` (see `contact_is_star`)."""
        return self.headers.parsed("contact", _contacts)

    @property
    def contact_is_star(self) -> bool:
        return _contact_is_star(self.headers.get_all("contact"))

    @property
    def route(self) -> list[NameAddress]:
        return self.headers.parsed("route", _address_list)

    @property
    def record_route(self) -> list[NameAddress]:
        return self.headers.parsed("record-route", _address_list)

    @property
    def path(self) -> list[NameAddress]:
        return self.headers.parsed("path", _address_list)

    @property
    def refer_to(self) -> NameAddress | None:
        return self.headers.parsed("refer-to", _optional_address)

    # -- body description

    @property
    def content_type(self) -> MediaType | None:
        return self.headers.parsed("content-type", _content_type)

    @property
    def content_length(self) -> int:
        return len(self.body)

    @property
    def accept(self) -> list[MediaType]:
        return self.headers.parsed("accept", _media_type_list)

    # -- extensions and capabilities

    @property
    def require(self) -> list[str]:
        return self.headers.parsed("require", _token_list)

    @property
    def proxy_require(self) -> list[str]:
        return self.headers.parsed("proxy-require", _token_list)

    @property
    def supported(self) -> list[str]:
        return self.headers.parsed("supported", _token_list)

    @property
    def unsupported(self) -> list[str]:
        return self.headers.parsed("unsupported", _token_list)

    @property
    def allow(self) -> list[str]:
        return self.headers.parsed("allow", _token_list)

    # -- timers and events

    @property
    def expires(self) -> int | None:
        return self.headers.parsed("expires", _expires)

    @property
    def min_expires(self) -> int | None:
        return self.headers.parsed("min-expires", _min_expires)

    @property
    def event(self) -> ValueWithParams | None:
        return self.headers.parsed("event", _optional_value_with_params)

    @property
    def subscription_state(self) -> ValueWithParams | None:
        return self.headers.parsed("subscription-state", _optional_value_with_params)

    # -- authentication

    @property
    def www_authenticate(self) -> list[AuthChallenge]:
        return self.headers.parsed("www-authenticate", _challenges)

    @property
    def proxy_authenticate(self) -> list[AuthChallenge]:
        return self.headers.parsed("proxy-authenticate", _challenges)

    @property
    def authorization(self) -> list[AuthCredentials]:
        return self.headers.parsed("authorization", _credentials)

    @property
    def proxy_authorization(self) -> list[AuthCredentials]:
        return self.headers.parsed("proxy-authorization", _credentials)

    # -- body

    def set_body(self, body: bytes, content_type: str | MediaType | None = None) -> None:
        """Set the body and its Content-Type (removed for an empty body)."""
        self.body = body
        if body and content_type is not None:
            self.headers.set("Content-Type", content_type)
        elif not body:
            self.headers.remove("Content-Type")

    # -- writing

    def start_line(self) -> str:
        raise NotImplementedError

    def encode(self) -> bytes:
        """The message on the wire (CRLF line ends, Content-Length from the body)."""
        out = [self.start_line(), "\r\n"]
        self.headers.write(out)
        out.append(f"Content-Length: {len(self.body)}\r\n\r\n")
        head = "".join(out).encode("utf-8", "surrogateescape")
        return head + self.body if self.body else head

    def __str__(self) -> str:
        return self.encode().decode("utf-8", "replace")


class Request(Message):
    """A SIP request: method, Request-URI, header fields, body."""

    __slots__ = ("method", "uri")

    def __init__(
        self, method: str, uri: Uri, headers: Headers | None = None, body: bytes = b""
    ) -> None:
        super().__init__(headers, body)
        self.method = method
        self.uri = uri

    def start_line(self) -> str:
        return f"{self.method} {self.uri} {SIP_VERSION}"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Request):
            return NotImplemented
        return (
            self.method == other.method
            and self.uri == other.uri
            and self.headers == other.headers
            and self.body == other.body
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.uri}>"

    def create_response(
        self, status: int, reason: str | None = None, *, to_tag: str | None = None
    ) -> Response:
        """A response to this request (RFC 3261 §8.2.6): Via, From, To, Call-ID, CSeq copied.

        `to_tag` is added to To unless To already carries a tag. Record-Route is copied into
        the responses that create a dialog (RFC 3261 §12.1.1).
        """
        response = response_for(self.headers, status, reason)
        if to_tag is not None and status > 100 and self.to_addr.tag is None:
            to_value = self.headers.get("to") or ""
            response.headers.replace_first("To", f"{to_value};tag={to_tag}")
        if 100 < status < 300 and self.method in DIALOG_CREATING_METHODS:
            response.headers.copy_from(self.headers, _RECORD_ROUTE)
        return response


class Response(Message):
    """A SIP response: status code, reason phrase, header fields, body."""

    __slots__ = ("reason", "status")

    def __init__(
        self,
        status: int,
        reason: str | None = None,
        headers: Headers | None = None,
        body: bytes = b"",
    ) -> None:
        super().__init__(headers, body)
        self.status = status
        self.reason = reason_phrase(status) if reason is None else reason

    def start_line(self) -> str:
        return f"{SIP_VERSION} {self.status} {self.reason}"

    @property
    def provisional(self) -> bool:
        return self.status < 200

    @property
    def success(self) -> bool:
        return 200 <= self.status < 300

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Response):
            return NotImplemented
        return (
            self.status == other.status
            and self.reason == other.reason
            and self.headers == other.headers
            and self.body == other.body
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.reason}>"


_RESPONSE_COPIED_HEADERS: Final = frozenset({"via", "from", "to", "call-id", "cseq"})
_RECORD_ROUTE: Final = frozenset({"record-route"})


def response_for(request_headers: Headers, status: int, reason: str | None = None) -> Response:
    """A response built from a request's header fields only.

    This is how a server answers a request it could not fully parse (a 400 or 513): it needs
    no Request-URI and copies the fields verbatim without parsing them.
    """
    headers = Headers()
    headers.copy_from(request_headers, _RESPONSE_COPIED_HEADERS)
    return Response(status, reason, headers)
