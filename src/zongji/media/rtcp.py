"""RTCP (RFC 3550 §6): sender and receiver reports, SDES CNAME and BYE, parsed and built.

The engine sends a compound report (SR or RR, then SDES with a CNAME, as §6.1 requires) every few
seconds per endpoint and reads the peer's reports for what they say about our stream: loss,
jitter and round-trip time. Parsing follows the validity checks of RFC 3550 A.2, bounded by the
datagram: a compound that lies about any length is rejected as a whole.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass, field

SR, RR, SDES, BYE, APP = 200, 201, 202, 203, 204
SDES_CNAME = 1
_NTP_EPOCH_OFFSET = 2208988800  # seconds from 1900-01-01 to 1970-01-01


class RtcpError(ValueError):
    """A datagram that is not a valid RTCP compound packet."""


@dataclass(slots=True)
class ReportBlock:
    ssrc: int
    fraction_lost: int  # 1/256 units
    cumulative_lost: int  # signed 24-bit
    highest_seq: int  # extended
    jitter: int  # timestamp units
    lsr: int  # middle 32 bits of the NTP time of the last SR received
    dlsr: int  # delay since that SR, 1/65536 s


@dataclass(slots=True)
class SenderReport:
    ssrc: int
    ntp_timestamp: int
    rtp_timestamp: int
    packet_count: int
    octet_count: int
    reports: list[ReportBlock] = field(default_factory=list)


@dataclass(slots=True)
class ReceiverReport:
    ssrc: int
    reports: list[ReportBlock] = field(default_factory=list)


@dataclass(slots=True)
class SourceDescription:
    #: (ssrc, {item type: value}) per chunk; item 1 is the CNAME.
    chunks: list[tuple[int, dict[int, bytes]]] = field(default_factory=list)


@dataclass(slots=True)
class Goodbye:
    ssrcs: list[int] = field(default_factory=list)
    reason: bytes = b""


RtcpPacket = SenderReport | ReceiverReport | SourceDescription | Goodbye


def ntp_now(now: float | None = None) -> int:
    """Wall-clock time as a 64-bit NTP timestamp."""
    t = time.time() if now is None else now
    return int((t + _NTP_EPOCH_OFFSET) * (1 << 32)) & 0xFFFFFFFFFFFFFFFF


def ntp_middle(ntp: int) -> int:
    """The middle 32 bits of an NTP timestamp, the unit of LSR and round-trip arithmetic."""
    return (ntp >> 16) & 0xFFFFFFFF


def round_trip_seconds(block: ReportBlock, now_ntp: int) -> float | None:
    """RFC 3550 §6.4.1: A - LSR - DLSR, or None if the peer has not yet seen an SR of ours."""
    if block.lsr == 0:
        return None
    rtt = (ntp_middle(now_ntp) - block.lsr - block.dlsr) & 0xFFFFFFFF
    if rtt >= 0x80000000:
        return None
    return rtt / 65536.0


def _parse_blocks(data: bytes, at: int, count: int, end: int) -> list[ReportBlock]:
    if at + 24 * count > end:
        raise RtcpError("report blocks run past the packet")
    blocks = []
    for i in range(count):
        ssrc, lost_word, hseq, jitter, lsr, dlsr = struct.unpack_from("!IIIIII", data, at + 24 * i)
        cumulative = lost_word & 0xFFFFFF
        if cumulative & 0x800000:
            cumulative -= 0x1000000
        blocks.append(ReportBlock(ssrc, lost_word >> 24, cumulative, hseq, jitter, lsr, dlsr))
    return blocks


def parse_rtcp(data: bytes | bytearray | memoryview) -> list[RtcpPacket]:
    """Parse a compound RTCP packet. Unknown packet types (APP, feedback) are skipped."""
    buf = bytes(data)
    n = len(buf)
    if n < 8:
        raise RtcpError(f"{n} bytes is shorter than an RTCP header")
    if n % 4:
        raise RtcpError("length is not a multiple of 4")
    if buf[1] not in (SR, RR):
        raise RtcpError("a compound packet must start with SR or RR")
    packets: list[RtcpPacket] = []
    at = 0
    while at < n:
        if at + 4 > n:
            raise RtcpError("truncated header")
        b0, pt, words = struct.unpack_from("!BBH", buf, at)
        if b0 >> 6 != 2:
            raise RtcpError(f"version {b0 >> 6}")
        end = at + 4 + 4 * words
        if end > n:
            raise RtcpError("packet length runs past the datagram")
        if b0 & 0x20 and end != n:
            raise RtcpError("padding is allowed only on the last packet")
        count = b0 & 0x1F
        body_end = end - (buf[end - 1] if b0 & 0x20 else 0)
        if pt == SR:
            if at + 28 > body_end:
                raise RtcpError("sender report too short")
            ssrc, ntp, rtp_ts, pc, oc = struct.unpack_from("!IQIII", buf, at + 4)
            blocks = _parse_blocks(buf, at + 28, count, body_end)
            packets.append(SenderReport(ssrc, ntp, rtp_ts, pc, oc, blocks))
        elif pt == RR:
            if at + 8 > body_end:
                raise RtcpError("receiver report too short")
            (ssrc,) = struct.unpack_from("!I", buf, at + 4)
            packets.append(ReceiverReport(ssrc, _parse_blocks(buf, at + 8, count, body_end)))
        elif pt == SDES:
            packets.append(_parse_sdes(buf, at + 4, count, body_end))
        elif pt == BYE:
            if at + 4 + 4 * count > body_end:
                raise RtcpError("BYE source list runs past the packet")
            ssrcs = list(struct.unpack_from(f"!{count}I", buf, at + 4))
            reason = b""
            r = at + 4 + 4 * count
            if r < body_end:
                reason = buf[r + 1 : r + 1 + buf[r]]
            packets.append(Goodbye(ssrcs, reason))
        at = end
    return packets


def _parse_sdes(buf: bytes, at: int, count: int, end: int) -> SourceDescription:
    sdes = SourceDescription()
    for _ in range(count):
        if at + 4 > end:
            raise RtcpError("SDES chunk runs past the packet")
        (ssrc,) = struct.unpack_from("!I", buf, at)
        at += 4
        items: dict[int, bytes] = {}
        while True:
            if at >= end:
                raise RtcpError("SDES items run past the packet")
            kind = buf[at]
            if kind == 0:
                at = (at + 4) & ~3  # the null item, then padding to the next 32-bit boundary
                break
            if at + 2 > end or at + 2 + buf[at + 1] > end:
                raise RtcpError("SDES item runs past the packet")
            items[kind] = buf[at + 2 : at + 2 + buf[at + 1]]
            at += 2 + buf[at + 1]
        sdes.chunks.append((ssrc, items))
    return sdes


def _header(count: int, pt: int, body_len: int) -> bytes:
    return struct.pack("!BBH", 0x80 | count, pt, body_len // 4)


def _blocks(blocks: list[ReportBlock]) -> bytes:
    return b"".join(
        struct.pack(
            "!IIIIII",
            b.ssrc,
            (min(255, b.fraction_lost) << 24)
            | (max(-0x800000, min(0x7FFFFF, b.cumulative_lost)) & 0xFFFFFF),
            b.highest_seq & 0xFFFFFFFF,
            b.jitter & 0xFFFFFFFF,
            b.lsr,
            b.dlsr,
        )
        for b in blocks[:31]
    )


def build_rtcp(packet: RtcpPacket) -> bytes:
    """Serialise one RTCP packet (concatenate several for a compound)."""
    if isinstance(packet, SenderReport):
        body = (
            struct.pack(
                "!IQII",
                packet.ssrc,
                packet.ntp_timestamp,
                packet.rtp_timestamp & 0xFFFFFFFF,
                packet.packet_count & 0xFFFFFFFF,
            )
            + struct.pack("!I", packet.octet_count & 0xFFFFFFFF)
            + _blocks(packet.reports)
        )
        return _header(len(packet.reports[:31]), SR, len(body)) + body
    if isinstance(packet, ReceiverReport):
        body = struct.pack("!I", packet.ssrc) + _blocks(packet.reports)
        return _header(len(packet.reports[:31]), RR, len(body)) + body
    if isinstance(packet, SourceDescription):
        chunks = []
        for ssrc, items in packet.chunks[:31]:
            c = struct.pack("!I", ssrc) + b"".join(
                bytes([k, len(v[:255])]) + v[:255] for k, v in items.items()
            )
            c += b"\x00" * (4 - len(c) % 4)  # null item and padding to a 32-bit boundary
            chunks.append(c)
        body = b"".join(chunks)
        return _header(len(chunks), SDES, len(body)) + body
    body = struct.pack(f"!{len(packet.ssrcs[:31])}I", *packet.ssrcs[:31])
    if packet.reason:
        r = bytes([len(packet.reason[:255])]) + packet.reason[:255]
        body += r + b"\x00" * (-len(r) % 4)
    return _header(len(packet.ssrcs[:31]), BYE, len(body)) + body


def build_compound(packets: list[RtcpPacket]) -> bytes:
    return b"".join(build_rtcp(p) for p in packets)


_GOODBYE = struct.Struct("!BBHIBBHI")


def build_goodbye(ssrc: int) -> bytes:
    """An empty receiver report and a BYE for `ssrc`: what an ending endpoint sends (the same
    bytes as `build_compound([ReceiverReport(ssrc), Goodbye([ssrc])])`, packed in one go, since
    every call's endpoints send one)."""
    return _GOODBYE.pack(0x80, RR, 1, ssrc, 0x81, BYE, 1, ssrc)
