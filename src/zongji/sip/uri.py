"""URIs: `sip:`/`sips:` (RFC 3261 §19.1), `tel:` (RFC 3966), and any other scheme kept opaque.

URI objects are immutable. That lets `parse_uri` keep a small cache (the same Request-URI and
Contact come back in every request of a call) and lets a URI remember the exact text it was
parsed from, so that forwarding it costs nothing and writes back what the peer sent.
Components are stored unescaped; `str()` escapes what the grammar requires.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Final

from zongji.sip.errors import SipParseError
from zongji.sip.grammar import EMPTY_PARAMS, Params, escape, make_escaper, unescape
from zongji.sip.network import HostPort, TransportKind, format_host, strip_brackets

_UNRESERVED: Final = r"A-Za-z0-9\-_.!~*'()"
_USER_CHARS: Final = _UNRESERVED + r"&=+$,;?/"
_PASSWORD_CHARS: Final = _UNRESERVED + r"&=+$,"
_PARAM_CHARS: Final = _UNRESERVED + r"\[\]/:&+$"
_HEADER_CHARS: Final = _UNRESERVED + r"\[\]/?:+$"

_SIP_URI_RE: Final = re.compile(
    r"(sips?):"
    f"(?:([{_USER_CHARS}%]+)(?::([{_PASSWORD_CHARS}%]*))?@)?"
    r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._]+)"
    r"(?::([0-9]{1,5}))?"
    f"((?:;[{_PARAM_CHARS}%=]*)*)"
    f"(?:\\?([{_HEADER_CHARS}%=&]*))?",
    re.IGNORECASE,
)
_TEL_URI_RE: Final = re.compile(
    f"tel:([0-9A-Fa-f*#+\\-.()]+)((?:;[{_PARAM_CHARS}%=]*)*)", re.IGNORECASE
)
_ABSOLUTE_URI_RE: Final = re.compile(r"([A-Za-z][A-Za-z0-9+\-.]*):([^\s<>\"]+)")

_USER_UNSAFE: Final = make_escaper(_USER_CHARS)
_PASSWORD_UNSAFE: Final = make_escaper(_PASSWORD_CHARS)
_PARAM_UNSAFE: Final = make_escaper(_PARAM_CHARS)
_HEADER_UNSAFE: Final = make_escaper(_HEADER_CHARS)

# Parameters that must be present on both sides to match (RFC 3261 §19.1.4).
_MUST_MATCH_PARAMS: Final = ("transport", "user", "ttl", "method", "maddr")


def _set_text(obj: object, text: str) -> None:
    object.__setattr__(obj, "_text", text)


@dataclass(frozen=True, slots=True)
class SipUri:
    """A `sip:` or `sips:` URI."""

    host: str
    user: str | None = None
    password: str | None = None
    port: int | None = None
    params: Params = EMPTY_PARAMS
    headers: tuple[tuple[str, str], ...] = ()
    scheme: str = "sip"
    _text: str | None = field(default=None, init=False, compare=False, repr=False, hash=False)

    @property
    def secure(self) -> bool:
        return self.scheme == "sips"

    @property
    def transport(self) -> TransportKind | None:
        """The transport named by `;transport=`, if any and known."""
        value = self.params.get("transport")
        return TransportKind.from_text(value) if value else None

    @property
    def lr(self) -> bool:
        """Loose-routing flag (RFC 3261 §16.4, §19.1.1)."""
        return "lr" in self.params

    @property
    def maddr(self) -> str | None:
        return self.params.get("maddr")

    def host_port(self) -> HostPort:
        """Where to send without DNS SRV: maddr or host, with the scheme/transport default port."""
        kind = self.transport or (TransportKind.TLS if self.secure else TransportKind.UDP)
        host = self.maddr or self.host
        return HostPort(strip_brackets(host), self.port or kind.default_port)

    def with_params(self, **params: str | None) -> SipUri:
        """A copy with the given parameters set (`None` value = flag parameter)."""
        merged = self.params
        for name, value in params.items():
            merged = merged.with_param(name, value)
        return self._with(merged, self.headers)

    def without_params(self, *names: str) -> SipUri:
        return self._with(self.params.without(*names), self.headers)

    def without_headers(self) -> SipUri:
        return self._with(self.params, ())

    def _with(self, params: Params, headers: tuple[tuple[str, str], ...]) -> SipUri:
        """A copy with other params and headers (built directly: `dataclasses.replace` costs
        several times more, and requests copy URIs all the time)."""
        return SipUri(self.host, self.user, self.password, self.port, params, headers, self.scheme)

    def equivalent(self, other: object) -> bool:
        """URI equality by the rules of RFC 3261 §19.1.4 (not field-by-field equality)."""
        if not isinstance(other, SipUri):
            return False
        if (
            self.scheme != other.scheme
            or self.user != other.user
            or self.password != other.password
            or self.host.lower() != other.host.lower()
            or self.port != other.port
        ):
            return False
        for name in _MUST_MATCH_PARAMS:
            if (name in self.params) != (name in other.params):
                return False
        for name, value in self.params.items():
            if name in other.params:
                theirs = other.params[name]
                if (value or "").lower() != (theirs or "").lower():
                    return False
        mine = {n.lower(): v for n, v in self.headers}
        theirs_h = {n.lower(): v for n, v in other.headers}
        return mine == theirs_h

    def __str__(self) -> str:
        text = self._text
        if text is None:
            text = self._build()
            _set_text(self, text)
        return text

    def _build(self) -> str:
        parts = [self.scheme, ":"]
        if self.user is not None:
            parts.append(escape(self.user, _USER_UNSAFE))
            if self.password is not None:
                parts.append(":")
                parts.append(escape(self.password, _PASSWORD_UNSAFE))
            parts.append("@")
        parts.append(format_host(self.host))
        if self.port is not None:
            parts.append(f":{self.port}")
        parts.append(_params_text(self.params))
        if self.headers:
            parts.append("?")
            parts.append(
                "&".join(
                    f"{escape(n, _HEADER_UNSAFE)}={escape(v, _HEADER_UNSAFE)}"
                    for n, v in self.headers
                )
            )
        return "".join(parts)


@dataclass(frozen=True, slots=True)
class TelUri:
    """A `tel:` URI (RFC 3966): a telephone number and its parameters."""

    number: str
    params: Params = EMPTY_PARAMS
    _text: str | None = field(default=None, init=False, compare=False, repr=False, hash=False)

    @property
    def is_global(self) -> bool:
        return self.number.startswith("+")

    def __str__(self) -> str:
        text = self._text
        if text is None:
            text = f"tel:{self.number}{_params_text(self.params)}"
            _set_text(self, text)
        return text


@dataclass(frozen=True, slots=True)
class AbsoluteUri:
    """A URI of a scheme the stack does not interpret (RFC 3261 §19, absoluteURI): kept as is."""

    scheme: str
    opaque: str

    def __str__(self) -> str:
        return f"{self.scheme}:{self.opaque}"


Uri = SipUri | TelUri | AbsoluteUri


def _params_text(params: Params) -> str:
    if not params:
        return ""
    return "".join(
        f";{escape(k, _PARAM_UNSAFE)}"
        if v is None
        else f";{escape(k, _PARAM_UNSAFE)}={escape(v, _PARAM_UNSAFE)}"
        for k, v in params.items()
    )


def _parse_uri_params(text: str) -> Params:
    """`;a=b;c` (as matched by the URI patterns) to unescaped Params."""
    if not text:
        return EMPTY_PARAMS
    items: dict[str, str | None] = {}
    for piece in text[1:].split(";"):
        name, eq, value = piece.partition("=")
        if not name:
            raise SipParseError(f"empty URI parameter in {text!r}")
        if eq and not value:
            raise SipParseError(f"URI parameter {name!r} without a value")
        key = unescape(name).lower()
        if key not in items:
            items[key] = unescape(value) if eq else None
    return Params.adopt(items)


def _parse_uri_headers(text: str) -> tuple[tuple[str, str], ...]:
    headers: list[tuple[str, str]] = []
    for piece in text.split("&"):
        name, eq, value = piece.partition("=")
        if not name or not eq:
            raise SipParseError(f"bad URI header {piece!r}")
        headers.append((unescape(name), unescape(value)))
    return tuple(headers)


@functools.lru_cache(maxsize=2048)
def parse_uri(text: str) -> Uri:
    """Parse a URI. Cached: URIs are immutable and the same few recur in every request."""
    head = text[:5].lower()
    if head.startswith("sip"):
        match = _SIP_URI_RE.fullmatch(text)
        if match is not None:
            return _sip_uri_from_match(match, text)
        if head in ("sip:", "sips:") or head.startswith("sip:"):
            raise SipParseError(f"malformed SIP URI {text[:80]!r}")
    elif head.startswith("tel:"):
        match = _TEL_URI_RE.fullmatch(text)
        if match is None:
            raise SipParseError(f"malformed tel URI {text[:80]!r}")
        uri = TelUri(match.group(1), _parse_uri_params(match.group(2)))
        _set_text(uri, text)
        return uri
    match = _ABSOLUTE_URI_RE.fullmatch(text)
    if match is None:
        raise SipParseError(f"not a URI: {text[:80]!r}")
    return AbsoluteUri(match.group(1), match.group(2))


def _sip_uri_from_match(match: re.Match[str], text: str) -> SipUri:
    scheme, user, password, host, port, params, headers = match.groups()
    port_number = None
    if port is not None:
        port_number = int(port)
        if port_number > 65535:
            raise SipParseError(f"port out of range in {text[:80]!r}")
    uri = SipUri(
        host=host,
        user=unescape(user) if user is not None else None,
        password=unescape(password) if password is not None else None,
        port=port_number,
        params=_parse_uri_params(params),
        headers=_parse_uri_headers(headers) if headers else (),
        scheme=scheme.lower(),
    )
    _set_text(uri, text)
    return uri


def parse_sip_uri(text: str) -> SipUri:
    """Parse a URI that must be `sip:` or `sips:`."""
    uri = parse_uri(text)
    if not isinstance(uri, SipUri):
        raise SipParseError(f"not a SIP URI: {text[:80]!r}")
    return uri
