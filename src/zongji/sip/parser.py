"""Bytes to `Request`/`Response` (RFC 3261 §7, §18.3), bounded by `Limits`.

The parser does the work every message needs and no more: it frames the message, checks the
start line, splits and unfolds the header fields and checks their names, and settles the body
from Content-Length. Header values are parsed later, on access (`message.Message`).

Anything malformed raises `SipParseError`. When the input is a request whose header fields
could be split, the error carries them (`request_headers`), so the caller can answer 400, 505
or 513 instead of dropping the message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from zongji.sip.errors import MessageTooLarge, SipParseError, VersionNotSupported
from zongji.sip.grammar import TOKEN_RE
from zongji.sip.headers import _NAME_CACHE, Headers, resolve_name
from zongji.sip.message import SIP_VERSION, Request, Response
from zongji.sip.uri import parse_uri


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on what the parser accepts; beyond them a request gets 513 (RFC 3261 §21.5.14).

    The defaults allow any message a UDP datagram can carry, and far more header fields and
    longer lines than any real peer sends.
    """

    max_message_size: int = 65535
    max_header_section: int = 32768
    max_headers: int = 256
    max_line_length: int = 8192


DEFAULT_LIMITS: Final = Limits()

_CRLF: Final = b"\r\n"
_HEADER_END: Final = b"\r\n\r\n"
_FOLD_RE: Final = re.compile(r"[ \t]*\r\n[ \t]+")
_SIP_VERSION_RE: Final = re.compile(r"SIP/[0-9]+\.[0-9]+", re.IGNORECASE)
_STATUS_CODE_RE: Final = re.compile(r"[1-6][0-9][0-9]")


def skip_leading_crlf(data: bytes) -> int:
    """Offset of the start line: CRLFs before it are ignored (RFC 3261 §7.5)."""
    start = 0
    while data.startswith(_CRLF, start):
        start += 2
    return start


def parse_message(
    data: bytes, *, datagram: bool = True, limits: Limits = DEFAULT_LIMITS
) -> Request | Response:
    """Parse one message.

    `datagram=True`: `data` is a whole UDP datagram; the body is what Content-Length says
    (extra octets are discarded, RFC 3261 §18.3) or, without Content-Length, the rest of the
    datagram. A datagram may end right after the last header line.
    `datagram=False`: `data` is one message cut from a stream by the framer; Content-Length
    must be present and match.
    """
    start = skip_leading_crlf(data)
    end = data.find(_HEADER_END, start)
    if end < 0:
        if not datagram or not data.endswith(_CRLF):
            raise SipParseError("no end of header section")
        end = len(data) - 2
        body_start = len(data)
    else:
        body_start = end + 4
    if end - start > limits.max_header_section:
        raise MessageTooLarge("header section too large")
    if end <= start:
        raise SipParseError("empty message")

    text = data[start:end].decode("utf-8", "surrogateescape")
    lines = _split_lines(text, limits)
    start_line = lines[0]
    is_request = not start_line[:4].upper().startswith("SIP/")
    fields: list[tuple[str, str, str]] = []
    # The lookup index (key -> values) is built here, in the pass that splits the fields,
    # since the stack reads several fields of every message it receives (validation).
    index: dict[str, list[str]] = {}
    content_lengths: list[str] = []
    try:
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon:
                raise SipParseError(f"header line without colon: {line[:40]!r}")
            # The names peers write recur: look the name up as written before trimming it.
            resolved = _NAME_CACHE.get(name)
            key, written = resolved if resolved is not None else resolve_name(name.rstrip(" \t"))
            if key == "content-length":
                content_lengths.append(value)
            else:
                value = value.strip(" \t")
                fields.append((key, written, value))
                values = index.get(key)
                if values is None:
                    index[key] = [value]
                else:
                    values.append(value)
    except SipParseError as error:
        # The fields read so far may still be enough to answer (Via, From, ... come first).
        if is_request:
            error.request_headers = Headers.from_parsed(fields)
        raise
    headers = Headers.from_parsed(fields, index)

    try:
        body = _body(data, body_start, content_lengths, datagram)
        if body_start + len(body) - start > limits.max_message_size:
            raise MessageTooLarge("message too large")
        if is_request:
            return _request(start_line, headers, body)
        return _response(start_line, headers, body)
    except SipParseError as error:
        if is_request:
            error.request_headers = headers
        raise


def _split_lines(text: str, limits: Limits) -> list[str]:
    crlf = text.count("\r\n")
    if text.count("\n") != crlf or text.count("\r") != crlf:
        raise SipParseError("bare CR or LF in header section")
    if crlf and ("\r\n " in text or "\r\n\t" in text):
        text = _FOLD_RE.sub(" ", text)
    lines = text.split("\r\n")
    if len(lines) > limits.max_headers + 1:
        raise MessageTooLarge("too many header fields")
    if len(text) > limits.max_line_length and max(map(len, lines)) > limits.max_line_length:
        raise MessageTooLarge("header line too long")
    if not lines[0]:
        raise SipParseError("empty start line")
    return lines


def _body(data: bytes, body_start: int, content_lengths: list[str], datagram: bool) -> bytes:
    if not content_lengths:
        if not datagram:
            raise SipParseError("no Content-Length on a stream transport")
        return data[body_start:]
    if len(content_lengths) > 1:
        raise SipParseError("more than one Content-Length")
    text = content_lengths[0].strip(" \t")
    if not text.isdigit() or not text.isascii() or len(text) > 10:
        raise SipParseError(f"malformed Content-Length {text[:20]!r}")
    length = int(text)
    available = len(data) - body_start
    if length > available:
        raise SipParseError("Content-Length larger than the message")
    if length == available:
        return data[body_start:] if length else b""
    if not datagram:
        raise SipParseError("Content-Length smaller than the framed message")
    return data[body_start : body_start + length]


def _request(start_line: str, headers: Headers, body: bytes) -> Request:
    # Request-Line = Method SP Request-URI SP SIP-Version: exactly one SP between the
    # elements and none at the end (RFC 4475 §3.1.2.8 - §3.1.2.10).
    parts = start_line.split(" ")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise SipParseError(f"malformed Request-Line {start_line[:80]!r}")
    method, uri_text, version = parts
    if TOKEN_RE.fullmatch(method) is None:
        raise SipParseError(f"malformed method {method[:40]!r}")
    if version.upper() != SIP_VERSION:
        if _SIP_VERSION_RE.fullmatch(version):
            raise VersionNotSupported(f"unsupported version {version}")
        raise SipParseError(f"malformed SIP-Version {version[:20]!r}")
    return Request(method, parse_uri(uri_text), headers, body)


def _response(start_line: str, headers: Headers, body: bytes) -> Response:
    parts = start_line.split(" ", 2)
    if len(parts) < 2 or parts[0].upper() != SIP_VERSION:
        raise SipParseError(f"malformed Status-Line {start_line[:80]!r}")
    if _STATUS_CODE_RE.fullmatch(parts[1]) is None:
        raise SipParseError(f"bad status code {parts[1][:20]!r}")
    reason = parts[2] if len(parts) == 3 else ""
    if "\x00" in reason:
        raise SipParseError("NUL in reason phrase")
    return Response(int(parts[1]), reason, headers, body)


def parse_request_headers(section: bytes) -> Headers:
    """The header fields of a request's header section alone, for answering it with an error.

    Used when a stream framer gives up on a message (too large, bad Content-Length) before
    the message itself can be parsed.
    """
    text = section.decode("utf-8", "surrogateescape")
    lines = _split_lines(text, DEFAULT_LIMITS)
    if lines[0][:4].upper() == "SIP/":
        raise SipParseError("a response, not a request")
    fields: list[tuple[str, str, str]] = []
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon:
            break
        key, written = resolve_name(name.rstrip(" \t"))
        if key != "content-length":
            fields.append((key, written, value.strip(" \t")))
    return Headers.from_parsed(fields)
