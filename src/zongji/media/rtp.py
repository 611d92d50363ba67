"""RTP packet format (RFC 3550 §5.1): parse, build, and the arithmetic of wrapping counters.

Parsing is strict and bounded: a packet either yields an `RtpPacket` or raises `RtpError` with a
`DropReason`, so the receive path can count every discarded packet by cause without guessing.
The relay's hot path does not build `RtpPacket` objects at all (see `endpoint.py`); this module is
the reference used everywhere else and by the tests.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field

RTP_VERSION = 2
HEADER_SIZE = 12
#: Anything larger cannot have come through a 1500-byte Ethernet MTU in one piece; a voice packet
#: is far smaller (160 bytes of G.711 for 20 ms), so bigger datagrams are junk or an attack.
MAX_PACKET_SIZE = 1500
MAX_CSRC = 15

FIXED_HEADER = struct.Struct("!BBHII")
#: seq, timestamp, ssrc: the part of the header the relay rewrites in place.
SEQ_TS_SSRC = struct.Struct("!HII")


class DropReason(enum.StrEnum):
    """Why a datagram received on an RTP port was discarded; each is a counter in the stats."""

    TRUNCATED = "truncated"
    OVERSIZED = "oversized"
    BAD_VERSION = "bad_version"
    UNKNOWN_SOURCE = "unknown_source"
    WRONG_SSRC = "wrong_ssrc"
    UNKNOWN_PAYLOAD_TYPE = "unknown_payload_type"
    BAD_RTCP = "bad_rtcp"
    OUT_OF_SEQUENCE = "out_of_sequence"
    LATE = "late"
    DUPLICATE = "duplicate"


class RtpError(ValueError):
    """A datagram that is not a well-formed RTP packet."""

    def __init__(self, reason: DropReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason


@dataclass(slots=True)
class RtpPacket:
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes
    marker: bool = False
    csrcs: tuple[int, ...] = ()
    #: (profile-defined id, extension data) when the X bit is set (RFC 3550 §5.3.1).
    extension: tuple[int, bytes] | None = None
    padding: int = 0

    def build(self) -> bytes:
        return build_rtp(
            self.payload_type,
            self.sequence,
            self.timestamp,
            self.ssrc,
            self.payload,
            marker=self.marker,
            csrcs=self.csrcs,
            extension=self.extension,
            padding=self.padding,
        )


@dataclass(slots=True)
class HeaderLayout:
    """Where the payload lies inside a datagram, found without copying it."""

    payload_start: int
    payload_end: int
    csrc_count: int
    has_extension: bool = False
    padding: int = 0
    csrcs: tuple[int, ...] = field(default_factory=tuple)


def header_layout(data: bytes | bytearray | memoryview) -> HeaderLayout:
    """Validate the variable part of an RTP header and locate the payload.

    Raises `RtpError` for every way a header can lie about its own length: a CSRC list, header
    extension or padding count that runs past the end of the datagram.
    """
    n = len(data)
    if n < HEADER_SIZE:
        raise RtpError(DropReason.TRUNCATED, f"{n} bytes is shorter than the RTP header")
    if n > MAX_PACKET_SIZE:
        raise RtpError(DropReason.OVERSIZED, f"{n} bytes exceeds {MAX_PACKET_SIZE}")
    b0 = data[0]
    if b0 >> 6 != RTP_VERSION:
        raise RtpError(DropReason.BAD_VERSION, f"version {b0 >> 6}")
    cc = b0 & 0x0F
    start = HEADER_SIZE + 4 * cc
    if start > n:
        raise RtpError(DropReason.TRUNCATED, f"CSRC list of {cc} runs past the end")
    csrcs = struct.unpack_from(f"!{cc}I", data, HEADER_SIZE) if cc else ()
    has_ext = bool(b0 & 0x10)
    if has_ext:
        if start + 4 > n:
            raise RtpError(DropReason.TRUNCATED, "header extension header runs past the end")
        words = (data[start + 2] << 8) | data[start + 3]
        start += 4 + 4 * words
        if start > n:
            raise RtpError(DropReason.TRUNCATED, "header extension runs past the end")
    end = n
    pad = 0
    if b0 & 0x20:
        pad = data[n - 1]
        if pad == 0 or start + pad > n:
            raise RtpError(DropReason.TRUNCATED, f"padding count {pad} is impossible")
        end = n - pad
    return HeaderLayout(start, end, cc, has_ext, pad, tuple(csrcs))


def parse_rtp(data: bytes | bytearray | memoryview) -> RtpPacket:
    """Parse one RTP packet; raise `RtpError` if it is not one."""
    layout = header_layout(data)
    _, b1, seq, ts, ssrc = FIXED_HEADER.unpack_from(data, 0)
    extension = None
    if layout.has_extension:
        at = HEADER_SIZE + 4 * layout.csrc_count
        profile, words = struct.unpack_from("!HH", data, at)
        extension = (profile, bytes(data[at + 4 : at + 4 + 4 * words]))
    return RtpPacket(
        payload_type=b1 & 0x7F,
        sequence=seq,
        timestamp=ts,
        ssrc=ssrc,
        payload=bytes(data[layout.payload_start : layout.payload_end]),
        marker=bool(b1 & 0x80),
        csrcs=layout.csrcs,
        extension=extension,
        padding=layout.padding,
    )


def build_rtp(
    payload_type: int,
    sequence: int,
    timestamp: int,
    ssrc: int,
    payload: bytes,
    *,
    marker: bool = False,
    csrcs: tuple[int, ...] | list[int] = (),
    extension: tuple[int, bytes] | None = None,
    padding: int = 0,
) -> bytes:
    """Serialise an RTP packet. CSRC lists longer than 15 are cut (the field has four bits)."""
    if not 0 <= payload_type <= 127:
        raise ValueError(f"payload type {payload_type} out of range")
    csrcs = tuple(csrcs)[:MAX_CSRC]
    b0 = (RTP_VERSION << 6) | len(csrcs)
    if extension is not None:
        b0 |= 0x10
    if padding:
        b0 |= 0x20
    b1 = payload_type | (0x80 if marker else 0)
    parts = [
        FIXED_HEADER.pack(b0, b1, sequence & 0xFFFF, timestamp & 0xFFFFFFFF, ssrc & 0xFFFFFFFF)
    ]
    if csrcs:
        parts.append(struct.pack(f"!{len(csrcs)}I", *csrcs))
    if extension is not None:
        profile, data = extension
        if len(data) % 4:
            raise ValueError("header extension length must be a multiple of 4 bytes")
        parts.append(struct.pack("!HH", profile, len(data) // 4))
        parts.append(data)
    parts.append(payload)
    if padding:
        if not 1 <= padding <= 255:
            raise ValueError("padding must be 1..255 bytes")
        parts.append(bytes(padding - 1) + bytes([padding]))
    return b"".join(parts)


def is_rtcp(data: bytes | bytearray | memoryview) -> bool:
    """RFC 5761 §4: on a muxed port, packet types 192–223 in byte 1 are RTCP, never RTP.

    (With the marker bit those are RTP payload types 64–95, which RFC 5761 forbids for that reason.)
    """
    return len(data) >= 2 and 192 <= data[1] <= 223


def seq_delta(a: int, b: int) -> int:
    """Signed distance from sequence number b to a, modulo 2**16 (positive if a is newer)."""
    d = (a - b) & 0xFFFF
    return d - 0x10000 if d >= 0x8000 else d


def ts_delta(a: int, b: int) -> int:
    """Signed distance from timestamp b to a, modulo 2**32."""
    d = (a - b) & 0xFFFFFFFF
    return d - 0x100000000 if d >= 0x80000000 else d
