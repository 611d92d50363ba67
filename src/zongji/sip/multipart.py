"""Multipart bodies (RFC 2046 §5.1, as used by SIP: RFC 3261 §7.4, RFC 5621).

A SIP body may be `multipart/mixed` (SDP plus ISUP, a MESSAGE with text and a signature ...).
Each part is a small MIME entity: header fields, blank line, content.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from zongji.sip.errors import SipParseError
from zongji.sip.fields import MediaType, parse_media_type
from zongji.sip.grammar import Params
from zongji.sip.headers import Headers, resolve_name


@dataclass(slots=True)
class BodyPart:
    """One part of a multipart body."""

    body: bytes
    headers: Headers = field(default_factory=Headers)

    @property
    def content_type(self) -> MediaType | None:
        value = self.headers.get("content-type")
        return parse_media_type(value) if value is not None else None


def parse_multipart(body: bytes, content_type: MediaType) -> list[BodyPart]:
    """Split a multipart body into its parts; raises `SipParseError` if it is malformed."""
    boundary_text = content_type.param("boundary")
    if not boundary_text or len(boundary_text) > 70:
        raise SipParseError("multipart body without a usable boundary")
    boundary = boundary_text.encode("utf-8", "surrogateescape")
    delimiter = b"--" + boundary
    # The first delimiter may open the body; later ones follow a CRLF.
    if body.startswith(delimiter):
        pos = 0
    else:
        pos = body.find(b"\r\n" + delimiter)
        if pos < 0:
            raise SipParseError("multipart body without its first boundary")
        pos += 2
    parts: list[BodyPart] = []
    while True:
        pos += len(delimiter)
        if body.startswith(b"--", pos):
            return parts  # close-delimiter; the epilogue is ignored
        line_end = body.find(b"\r\n", pos)
        if line_end < 0 or body[pos:line_end].strip(b" \t"):
            raise SipParseError("garbage after a multipart boundary")
        start = line_end + 2
        end = body.find(b"\r\n" + delimiter, start - 2)
        if end < 0:
            raise SipParseError("multipart body without its closing boundary")
        parts.append(_parse_part(body[start:end] if end >= start else b""))
        pos = end + 2


def _parse_part(entity: bytes) -> BodyPart:
    if entity.startswith(b"\r\n"):
        return BodyPart(entity[2:])
    head_end = entity.find(b"\r\n\r\n")
    if head_end < 0:
        raise SipParseError("multipart part without a header section end")
    fields: list[tuple[str, str, str]] = []
    text = entity[:head_end].decode("utf-8", "surrogateescape")
    for line in text.replace("\r\n ", " ").replace("\r\n\t", " ").split("\r\n"):
        name, colon, value = line.partition(":")
        if not colon:
            raise SipParseError("malformed header line in a multipart part")
        key, written = resolve_name(name.rstrip(" \t"))
        fields.append((key, written, value.strip(" \t")))
    return BodyPart(entity[head_end + 4 :], Headers.from_parsed(fields))


def encode_multipart(
    parts: list[BodyPart], subtype: str = "mixed", boundary: str | None = None
) -> tuple[bytes, MediaType]:
    """Build a multipart body; returns it with the Content-Type to send it under."""
    boundary = boundary or secrets.token_hex(12)
    delimiter = f"--{boundary}".encode()
    chunks: list[bytes] = []
    for part in parts:
        if delimiter in part.body:
            raise ValueError("a body part contains the boundary")
        lines: list[str] = []
        part.headers.write(lines)
        chunks.append(delimiter + b"\r\n" + "".join(lines).encode() + b"\r\n" + part.body)
    body = b"\r\n".join(chunks) + b"\r\n" + delimiter + b"--\r\n"
    return body, MediaType("multipart", subtype, Params({"boundary": boundary}))
