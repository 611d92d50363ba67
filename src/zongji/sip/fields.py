"""Typed values of the header fields the stack reads, other than addresses.

Via (RFC 3261 §20.42, RFC 3581 rport), CSeq, media types (Content-Type, Accept), values with
parameters (Event, Subscription-State, Content-Disposition ...), option-tag lists (Require,
Supported ...), integers (Max-Forwards, Expires ...) and authentication challenges and
credentials (RFC 3261 §20.27 ff., RFC 7616). Each value is immutable and writes itself back
with `str()`; each parser raises `SipParseError` and nothing else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

from zongji.sip.errors import SipParseError
from zongji.sip.grammar import (
    _QUOTED_BODY,
    EMPTY_PARAMS,
    TOKEN_CHARS,
    TOKEN_RE,
    Params,
    expect_end,
    is_token,
    parse_params,
    quote,
    skip_lws,
    split_list,
    unquote_body,
)
from zongji.sip.ids import BRANCH_MAGIC_COOKIE
from zongji.sip.network import HostPort, TransportKind, format_host, strip_brackets

MAX_UINT32: Final = 2**32 - 1

# --------------------------------------------------------------------------- Via

_VIA_RE: Final = re.compile(
    f"[ \\t]*([{TOKEN_CHARS}]+)[ \\t]*/[ \\t]*([{TOKEN_CHARS}]+)[ \\t]*/[ \\t]*([{TOKEN_CHARS}]+)"
    r"[ \t]+(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._]+)(?:[ \t]*:[ \t]*([0-9]{1,5}))?"
)


@dataclass(frozen=True, slots=True)
class Via:
    """One Via value: `SIP/2.0/UDP host:port;branch=...;rport;received=...`."""

    transport: str
    host: str
    port: int | None = None
    params: Params = EMPTY_PARAMS
    protocol: str = "SIP/2.0"
    _text: str | None = field(default=None, init=False, compare=False, repr=False, hash=False)
    _sent_by: HostPort | None = field(
        default=None, init=False, compare=False, repr=False, hash=False
    )

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    @property
    def has_rfc3261_branch(self) -> bool:
        """True if the branch carries the magic cookie and something after it (RFC 3261 §17.2.3).

        A bare `z9hG4bK` (RFC 4475 §3.2.1) identifies nothing, so it counts as RFC 2543 style.
        """
        branch = self.params.get("branch")
        return (
            branch is not None
            and len(branch) > len(BRANCH_MAGIC_COOKIE)
            and branch.startswith(BRANCH_MAGIC_COOKIE)
        )

    @property
    def received(self) -> str | None:
        return self.params.get("received")

    @property
    def rport(self) -> int | None:
        """The rport value filled in by the server (RFC 3581), None if absent or a bare flag."""
        value = self.params.get("rport")
        if value is None or not value.isdigit():
            return None
        return int(value)

    @property
    def wants_rport(self) -> bool:
        return "rport" in self.params

    @property
    def maddr(self) -> str | None:
        return self.params.get("maddr")

    @property
    def transport_kind(self) -> TransportKind | None:
        return TransportKind.from_text(self.transport)

    @property
    def sent_by(self) -> HostPort:
        """sent-by with the transport's default port when none is written (RFC 3261 §18.2.2).

        Worked out once per Via: transaction matching, the response routing and the check of
        our own Via on responses all read it for every message."""
        sent_by = self._sent_by
        if sent_by is None:
            kind = self.transport_kind or TransportKind.UDP
            sent_by = HostPort(strip_brackets(self.host), self.port or kind.default_port)
            object.__setattr__(self, "_sent_by", sent_by)
        return sent_by

    def with_new_params(self, params: Params) -> Via:
        """This Via with `params` in place of its own: same transport, host and port, so the
        sent-by already worked out is the copy's too."""
        copy = Via(self.transport, self.host, self.port, params, self.protocol)
        object.__setattr__(copy, "_sent_by", self._sent_by)
        return copy

    def with_params(self, **params: str | None) -> Via:
        merged = self.params
        for name, value in params.items():
            merged = merged.with_param(name, value)
        return Via(self.transport, self.host, self.port, merged, self.protocol)

    def __str__(self) -> str:
        text = self._text
        if text is None:
            port = "" if self.port is None else f":{self.port}"
            text = (
                f"{self.protocol}/{self.transport} {format_host(self.host)}{port}"
                f"{self.params.to_text()}"
            )
            object.__setattr__(self, "_text", text)
        return text


def _parse_via_at(text: str, pos: int) -> tuple[Via, int]:
    match = _VIA_RE.match(text, pos)
    if match is None:
        raise SipParseError(f"malformed Via {text[pos:][:80]!r}")
    name, version, transport, host, port = match.groups()
    port_number = None
    if port is not None:
        port_number = int(port)
        if port_number > 65535:
            raise SipParseError("Via port out of range")
    params, end = parse_params(text, match.end())
    protocol = "SIP/2.0" if name == "SIP" and version == "2.0" else f"{name}/{version}"
    via = Via(transport.upper(), host, port_number, params, protocol)
    return via, skip_lws(text, end)


def parse_via_list(text: str) -> list[Via]:
    """Parse one Via header field value, which may hold several comma-separated Vias."""
    result: list[Via] = []
    pos = 0
    n = len(text)
    while True:
        start = pos
        via, pos = _parse_via_at(text, pos)
        if start == 0 and pos == n:
            object.__setattr__(via, "_text", text.strip(" \t"))
        result.append(via)
        if pos == n:
            return result
        if text[pos] != ",":
            raise SipParseError(f"unexpected {text[pos:][:40]!r} in Via")
        pos += 1


# --------------------------------------------------------------------------- CSeq

_CSEQ_RE: Final = re.compile(f"[ \\t]*([0-9]{{1,10}})[ \\t]+([{TOKEN_CHARS}]+)[ \\t]*")


@dataclass(frozen=True, slots=True)
class CSeq:
    number: int
    method: str

    def __str__(self) -> str:
        return f"{self.number} {self.method}"


def parse_cseq(text: str) -> CSeq:
    match = _CSEQ_RE.fullmatch(text)
    if match is None:
        raise SipParseError(f"malformed CSeq {text[:80]!r}")
    number = int(match.group(1))
    if number > MAX_UINT32:
        raise SipParseError("CSeq number larger than 2**32-1")
    return CSeq(number, match.group(2))


# --------------------------------------------------------------------------- integers


def parse_uint(text: str, *, limit: int = MAX_UINT32, what: str = "value") -> int:
    """A decimal field (Max-Forwards, Expires, Min-Expires ...) within [0, limit]."""
    value = text.strip(" \t")
    if not value.isdigit() or not value.isascii() or len(value) > 12:
        raise SipParseError(f"malformed {what} {text[:40]!r}")
    number = int(value)
    if number > limit:
        raise SipParseError(f"{what} {number} out of range")
    return number


# --------------------------------------------------------------------------- media types

_MEDIA_TYPE_RE: Final = re.compile(f"[ \\t]*([{TOKEN_CHARS}]+)[ \\t]*/[ \\t]*([{TOKEN_CHARS}]+)")


@dataclass(frozen=True, slots=True)
class MediaType:
    """`type/subtype;param=value` (Content-Type, and the ranges of Accept)."""

    type: str
    subtype: str
    params: Params = EMPTY_PARAMS

    @property
    def mime(self) -> str:
        """`type/subtype` in lower case, for comparisons."""
        return f"{self.type}/{self.subtype}".lower()

    def param(self, name: str) -> str | None:
        value = self.params.get(name)
        if value is not None and value.startswith('"') and value.endswith('"') and len(value) > 1:
            return unquote_body(value[1:-1])
        return value

    def __str__(self) -> str:
        return f"{self.type}/{self.subtype}{self.params.to_text()}"


def _parse_media_type_at(text: str, pos: int) -> tuple[MediaType, int]:
    match = _MEDIA_TYPE_RE.match(text, pos)
    if match is None:
        raise SipParseError(f"malformed media type {text[pos:][:80]!r}")
    params, end = parse_params(text, match.end())
    return MediaType(match.group(1), match.group(2), params), skip_lws(text, end)


def parse_media_type(text: str) -> MediaType:
    media_type, pos = _parse_media_type_at(text, 0)
    expect_end(text, pos, "media type")
    return media_type


def parse_media_type_list(text: str) -> list[MediaType]:
    """Accept: a possibly empty list of media ranges (`*/*` allowed)."""
    return [parse_media_type(part) for part in split_list(text)]


# --------------------------------------------------------------------------- token lists


@dataclass(frozen=True, slots=True)
class ValueWithParams:
    """A token followed by parameters: Event, Subscription-State, Content-Disposition ..."""

    value: str
    params: Params = EMPTY_PARAMS

    def __str__(self) -> str:
        return f"{self.value}{self.params.to_text()}"


_VALUE_WITH_PARAMS_RE: Final = re.compile(f"[ \\t]*([{TOKEN_CHARS}]+)")


def parse_value_with_params(text: str) -> ValueWithParams:
    match = _VALUE_WITH_PARAMS_RE.match(text)
    if match is None:
        raise SipParseError(f"malformed value {text[:80]!r}")
    params, pos = parse_params(text, match.end())
    expect_end(text, pos, "header value")
    return ValueWithParams(match.group(1), params)


def parse_token_list(text: str) -> list[str]:
    """Allow, Supported, Require, Proxy-Require, Unsupported, Allow-Events ..."""
    tokens = split_list(text)
    for token in tokens:
        if not is_token(token):
            raise SipParseError(f"not a token: {token[:40]!r}")
    return tokens


# --------------------------------------------------------------------------- authentication

_AUTH_SCHEME_RE: Final = re.compile(f"[ \\t]*([{TOKEN_CHARS}]+)(?:[ \\t]+|$)")
_AUTH_PARAM_RE: Final = re.compile(
    f'[ \\t]*([{TOKEN_CHARS}]+)[ \\t]*=[ \\t]*(?:"({_QUOTED_BODY})"|([^\\s,"]+))[ \\t]*'
)
_TOKEN68_RE: Final = re.compile(r"[ \t]*([A-Za-z0-9\-._~+/]+=*)[ \t]*")

# Parameters written without quotes. Everything else is quoted (RFC 7616 §3.3, §3.4;
# RFC 3261 §25.1): in a challenge `qop` is a quoted list, in credentials a bare token.
_UNQUOTED_CHALLENGE_PARAMS: Final = frozenset({"algorithm", "stale"})
_UNQUOTED_CREDENTIAL_PARAMS: Final = frozenset({"algorithm", "nc", "qop", "userhash"})


def _parse_auth(text: str) -> tuple[str, dict[str, str], str | None]:
    match = _AUTH_SCHEME_RE.match(text)
    if match is None:
        raise SipParseError(f"malformed authentication header {text[:80]!r}")
    scheme = match.group(1)
    pos = match.end()
    n = len(text)
    params: dict[str, str] = {}
    if pos >= n:
        return scheme, params, None
    token68 = _TOKEN68_RE.fullmatch(text, pos)
    if token68 is not None:  # `=` only at its end, so no auth-param list looks like one
        return scheme, params, token68.group(1)
    param = _AUTH_PARAM_RE.match(text, pos)
    if param is None:
        raise SipParseError(f"malformed authentication parameters {text[pos:][:80]!r}")
    while True:
        name = param.group(1).lower()
        quoted = param.group(2)
        params.setdefault(name, unquote_body(quoted) if quoted is not None else param.group(3))
        pos = param.end()
        if pos == n:
            return scheme, params, None
        if text[pos] != ",":
            raise SipParseError(f"unexpected {text[pos:][:40]!r} in authentication header")
        param = _AUTH_PARAM_RE.match(text, pos + 1)
        if param is None:
            raise SipParseError(f"malformed authentication parameter {text[pos:][:80]!r}")


def _auth_text(
    scheme: str, params: dict[str, str], token68: str | None, bare: frozenset[str]
) -> str:
    if token68 is not None:
        return f"{scheme} {token68}"
    rendered = ", ".join(
        f"{name}={value}" if name in bare and is_token(value) else f"{name}={quote(value)}"
        for name, value in params.items()
    )
    return f"{scheme} {rendered}" if rendered else scheme


@dataclass(frozen=True, slots=True)
class AuthChallenge:
    """WWW-Authenticate / Proxy-Authenticate: a scheme and its parameters (values unquoted)."""

    scheme: str
    params: dict[str, str] = field(default_factory=dict)
    token68: str | None = None

    def __str__(self) -> str:
        return _auth_text(self.scheme, self.params, self.token68, _UNQUOTED_CHALLENGE_PARAMS)


@dataclass(frozen=True, slots=True)
class AuthCredentials:
    """Authorization / Proxy-Authorization: a scheme and its parameters (values unquoted)."""

    scheme: str
    params: dict[str, str] = field(default_factory=dict)
    token68: str | None = None

    def __str__(self) -> str:
        return _auth_text(self.scheme, self.params, self.token68, _UNQUOTED_CREDENTIAL_PARAMS)


def parse_challenge(text: str) -> AuthChallenge:
    scheme, params, token68 = _parse_auth(text)
    return AuthChallenge(scheme, params, token68)


def parse_credentials(text: str) -> AuthCredentials:
    scheme, params, token68 = _parse_auth(text)
    return AuthCredentials(scheme, params, token68)


def is_method(text: str) -> bool:
    return TOKEN_RE.fullmatch(text) is not None
