"""Addresses in header fields: name-addr and addr-spec (RFC 3261 §20.10, §25.1).

From, To, Contact, Route, Record-Route, Reply-To, Refer-To, P-Asserted-Identity ... all carry
`[display-name] <URI> ;params` or a bare URI followed by parameters. The bare form cannot hold
a URI with `,`, `;` or `?`, so parameters after a bare URI belong to the header, not the URI
(RFC 3261 §20.10; RFC 4475 §3.3.12 and §3.1.2.13).
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
    Params,
    parse_params,
    quote,
    skip_lws,
    unquote_body,
)
from zongji.sip.uri import SipUri, Uri, parse_uri

# [display-name] LAQUOT addr-spec RAQUOT. No LWS is allowed just inside the brackets
# (RFC 4475 §3.1.2.14), and the URI itself holds no whitespace.
_NAME_ADDR_RE: Final = re.compile(
    f'[ \\t]*(?:"({_QUOTED_BODY})"[ \\t]*|([{TOKEN_CHARS}]+(?:[ \\t]+[{TOKEN_CHARS}]+)*)[ \\t]*)?'
    r"<([^<>\s]+)>"
)
# addr-spec without brackets: stops at `;` (header parameters) and `,` (next list element).
_ADDR_SPEC_RE: Final = re.compile(r'[ \t]*([^\s;,<>"]+)')
_TOKEN_DISPLAY_RE: Final = re.compile(f"[{TOKEN_CHARS}]+(?: [{TOKEN_CHARS}]+)*")


@dataclass(frozen=True, slots=True)
class NameAddress:
    """`"Display" <uri>;param=value`: the value of From, To, Contact, Route and friends."""

    uri: Uri
    display_name: str | None = None
    params: Params = EMPTY_PARAMS
    _text: str | None = field(default=None, init=False, compare=False, repr=False, hash=False)

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    @property
    def sip_uri(self) -> SipUri:
        """The URI, which the caller needs to be SIP or SIPS (raises otherwise)."""
        if not isinstance(self.uri, SipUri):
            raise SipParseError(f"not a SIP URI: {self.uri}")
        return self.uri

    def with_tag(self, tag: str) -> NameAddress:
        # built directly: `dataclasses.replace` costs several times more, on every dialog
        return NameAddress(self.uri, self.display_name, self.params.with_param("tag", tag))

    def with_params(self, **params: str | None) -> NameAddress:
        merged = self.params
        for name, value in params.items():
            merged = merged.with_param(name, value)
        return NameAddress(self.uri, self.display_name, merged)

    def __str__(self) -> str:
        text = self._text
        if text is None:
            if self.display_name is None:
                text = f"<{self.uri}>{self.params.to_text()}"
            elif _TOKEN_DISPLAY_RE.fullmatch(self.display_name):
                text = f"{self.display_name} <{self.uri}>{self.params.to_text()}"
            else:
                text = f"{quote(self.display_name)} <{self.uri}>{self.params.to_text()}"
            object.__setattr__(self, "_text", text)
        return text


def _parse_one(text: str, pos: int) -> tuple[NameAddress, int]:
    start = pos
    match = _NAME_ADDR_RE.match(text, pos)
    if match is not None:
        quoted, tokens, uri_text = match.groups()
        if quoted is not None:
            display: str | None = unquote_body(quoted)
        elif tokens is not None:
            display = " ".join(tokens.split())
        else:
            display = None
        uri = parse_uri(uri_text)
    else:
        match = _ADDR_SPEC_RE.match(text, pos)
        if match is None:
            raise SipParseError(f"expected an address in {text[:80]!r}")
        spec = match.group(1)
        if "?" in spec:
            # A URI with headers must be enclosed in <> (RFC 4475 §3.1.2.13).
            raise SipParseError(f"URI with '?' must be enclosed in <>: {spec[:80]!r}")
        uri = parse_uri(spec)
        display = None
    pos = match.end()
    params, pos = parse_params(text, pos)
    address = NameAddress(uri, display, params)
    end = skip_lws(text, pos)
    if start == 0 and end == len(text):
        object.__setattr__(address, "_text", text.strip(" \t"))
    return address, end


def parse_address(text: str) -> NameAddress:
    """Parse a single-valued address header (From, To, Refer-To ...)."""
    address, pos = _parse_one(text, 0)
    if pos != len(text):
        raise SipParseError(f"unexpected {text[pos:][:40]!r} after address")
    return address


def parse_address_list(text: str) -> list[NameAddress]:
    """Parse a comma-separated list of addresses (Contact, Route, Record-Route ...)."""
    result: list[NameAddress] = []
    pos = 0
    n = len(text)
    while True:
        address, pos = _parse_one(text, pos)
        result.append(address)
        if pos == n:
            return result
        if text[pos] != ",":
            raise SipParseError(f"unexpected {text[pos:][:40]!r} in address list")
        pos += 1
