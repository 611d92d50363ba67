"""RFC 2198 redundant audio data (audio/red), as RFC 4733 uses it for telephone-events.

A sender that packs several key presses into one packet interval, or that protects events
against loss, wraps telephone-event payloads in RED: each packet carries the current (primary)
event block and copies of recent ones, each with its timestamp offset. A receiver that feeds the
blocks oldest first to its telephone-event receiver hears a press even when the packet that
started it was lost; the receiver's timestamp check ignores the copies of presses already heard.
"""

from __future__ import annotations

from dataclasses import dataclass

#: More blocks than this in one packet is not redundancy but garbage (the offset field allows
#: 16 383 timestamp units, about two seconds at 8 kHz).
MAX_BLOCKS = 16


@dataclass(frozen=True, slots=True)
class RedBlock:
    payload_type: int
    #: How much earlier than the packet's own timestamp this block's data was sampled.
    timestamp_offset: int
    data: bytes


def parse_red(payload: bytes) -> list[RedBlock] | None:
    """The blocks of a RED payload, oldest first and the primary last; None if malformed."""
    headers: list[tuple[int, int, int | None]] = []
    at = 0
    n = len(payload)
    while True:
        if at >= n:
            return None
        first = payload[at]
        if not first & 0x80:  # the final, one-byte header: the primary block
            headers.append((first & 0x7F, 0, None))
            at += 1
            break
        if at + 4 > n or len(headers) >= MAX_BLOCKS:
            return None
        word = int.from_bytes(payload[at : at + 4], "big")
        headers.append(((word >> 24) & 0x7F, (word >> 10) & 0x3FFF, word & 0x3FF))
        at += 4
    blocks = []
    for pt, offset, length in headers:
        size = n - at if length is None else length
        if at + size > n:
            return None
        blocks.append(RedBlock(pt, offset, payload[at : at + size]))
        at += size
    return blocks


def build_red(blocks: list[RedBlock]) -> bytes:
    """A RED payload from blocks given oldest first, the last being the primary."""
    if not blocks:
        raise ValueError("RED needs at least the primary block")
    head = b"".join(
        (0x80000000 | (b.payload_type << 24) | (b.timestamp_offset << 10) | len(b.data)).to_bytes(
            4, "big"
        )
        for b in blocks[:-1]
    )
    return head + bytes([blocks[-1].payload_type]) + b"".join(b.data for b in blocks)
