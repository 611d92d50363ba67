"""SMS text as SMPP carries it: UCS-2 (data_coding 8), split into concatenated segments.

Chinese text needs UCS-2, so every message is sent that way (one encoding, no guessing what a
carrier's "default alphabet" is). One SMS holds 140 octets: 70 UCS-2 characters; a longer text
goes as segments of 67 characters, each led by a 6-octet user data header (3GPP TS 23.040
§9.2.3.24.1: IEI 0x00, 8-bit reference, total, sequence), with esm_class UDHI (0x40) set.
Characters outside the BMP take two UTF-16 code units and are never split between segments.
"""

from __future__ import annotations

from dataclasses import dataclass

DATA_CODING_UCS2 = 0x08
ESM_CLASS_UDHI = 0x40
SINGLE_OCTETS = 140
SEGMENT_OCTETS = 134  # 140 less the 6-octet concatenation header
MAX_SEGMENTS = 255


@dataclass(frozen=True)
class Segment:
    short_message: bytes  # the UDH (if any) followed by UTF-16BE text
    esm_class: int


class MessageTooLong(ValueError):
    pass


def _units(text: str) -> list[bytes]:
    """The text in UTF-16BE, one entry per character (2 octets, or 4 for a surrogate pair)."""
    return [ch.encode("utf-16-be") for ch in text]


def segments(text: str, reference: int) -> list[Segment]:
    """`text` as one or more submit_sm payloads; `reference` (0–255) ties the segments together."""
    units = _units(text)
    whole = b"".join(units)
    if len(whole) <= SINGLE_OCTETS:
        return [Segment(whole, 0)]
    chunks: list[bytes] = []
    current = b""
    for unit in units:
        if len(current) + len(unit) > SEGMENT_OCTETS:
            chunks.append(current)
            current = b""
        current += unit
    chunks.append(current)
    if len(chunks) > MAX_SEGMENTS:
        raise MessageTooLong(f"{len(chunks)} segments; at most {MAX_SEGMENTS}")
    total = len(chunks)
    return [
        Segment(bytes([0x05, 0x00, 0x03, reference & 0xFF, total, seq]) + chunk, ESM_CLASS_UDHI)
        for seq, chunk in enumerate(chunks, start=1)
    ]


def decode(short_message: bytes, esm_class: int) -> tuple[str, tuple[int, int, int] | None]:
    """The text of one payload and its (reference, total, sequence), if it is a segment."""
    if esm_class & ESM_CLASS_UDHI and short_message:
        header_length = short_message[0]
        header = short_message[1 : 1 + header_length]
        body = short_message[1 + header_length :]
        part = (header[2], header[3], header[4]) if header[:2] == b"\x00\x03" else None
        return body.decode("utf-16-be"), part
    return short_message.decode("utf-16-be"), None
