"""Cutting a byte stream into SIP messages by Content-Length (RFC 3261 §18.3), and CRLF keep-alives.

On TCP and TLS a message ends where its Content-Length says. Between messages a peer may send
CRLFCRLF, a keep-alive ping that must be answered with a single CRLF pong (RFC 5626 §4.4.1);
a client sees the pong. The framer never buffers more than one maximal message: a peer that
sends an endless header section or announces a huge body is refused before it costs memory.
"""

from __future__ import annotations

import enum
import re
from typing import Final

from zongji.sip.errors import MessageTooLarge, SipParseError
from zongji.sip.headers import Headers
from zongji.sip.parser import DEFAULT_LIMITS, Limits, parse_request_headers


class Frame(enum.Enum):
    MESSAGE = "message"
    PING = "ping"  # CRLFCRLF from a client: answer with CRLF
    PONG = "pong"  # CRLF answering our ping


_CONTENT_LENGTH_RE: Final = re.compile(
    rb"\r\n(?:content-length|l)[ \t]*:[ \t]*([^\r\n]*)", re.IGNORECASE
)
_HEADER_END: Final = b"\r\n\r\n"


class FramingError(SipParseError):
    """The stream cannot be resynchronised: the connection must be closed (after an answer)."""


class StreamFramer:
    """Accumulates stream bytes and yields complete frames."""

    __slots__ = ("_buffer", "_limits")

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self._buffer = bytearray()
        self._limits = limits

    @property
    def pending(self) -> int:
        """Bytes of an incomplete message held (0 between messages)."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[tuple[Frame, bytes]]:
        """Add bytes; return the frames they complete. Raises `FramingError` (then close)."""
        buffer = self._buffer
        buffer += data
        frames: list[tuple[Frame, bytes]] = []
        while buffer:
            if buffer[0] == 0x0D:  # CR: keep-alive traffic before a start line
                if buffer.startswith(b"\r\n\r\n"):
                    frames.append((Frame.PING, b""))
                    del buffer[:4]
                    continue
                if len(buffer) == 2 and buffer == b"\r\n":
                    frames.append((Frame.PONG, b""))
                    del buffer[:2]
                    continue
                if buffer.startswith(b"\r\n") and len(buffer) > 2 and buffer[2] != 0x0D:
                    frames.append((Frame.PONG, b""))
                    del buffer[:2]
                    continue
                if len(buffer) < 4:
                    break  # wait: it may become a ping
            end = buffer.find(_HEADER_END)
            if end < 0:
                if len(buffer) > self._limits.max_header_section:
                    raise FramingError("header section too large")
                break
            if end > self._limits.max_header_section:
                raise FramingError("header section too large")
            length = self._content_length(buffer, end)
            total = end + 4 + length
            if total > self._limits.max_message_size:
                raise FramingError(
                    "message too large",
                    request_headers=_headers_or_none(bytes(buffer[:end])),
                    status=MessageTooLarge.status,
                    reason=MessageTooLarge.reason,
                )
            if len(buffer) < total:
                break
            frames.append((Frame.MESSAGE, bytes(buffer[:total])))
            del buffer[:total]
        return frames

    def _content_length(self, buffer: bytearray, end: int) -> int:
        section = bytes(buffer[:end])
        values = _CONTENT_LENGTH_RE.findall(section)
        if not values:
            raise FramingError(
                "no Content-Length on a stream transport",
                request_headers=_headers_or_none(section),
            )
        texts = {v.strip(b" \t") for v in values}
        if len(texts) != 1 or len(values) != 1:
            raise FramingError(
                "more than one Content-Length", request_headers=_headers_or_none(section)
            )
        text = texts.pop()
        if not text.isdigit() or len(text) > 10:
            raise FramingError(
                "malformed Content-Length", request_headers=_headers_or_none(section)
            )
        return int(text)


def _headers_or_none(section: bytes) -> Headers | None:
    """Header fields to answer with, if the section is a request's; None otherwise."""
    try:
        return parse_request_headers(section)
    except SipParseError:
        return None
