"""G.711 µ-law (PCMU) and A-law (PCMA), by table lookup.

Decoding is a 256-entry table and encoding a 65 536-entry one (one byte per 16-bit sample value),
both computed once here from the companding rules of ITU-T G.711, so a frame or a whole
conference's worth of frames is converted by one numpy indexing operation. Transcoding between
the two laws needs no arithmetic at all: it is a 256-byte `bytes.translate` table, which the relay
applies per packet in C. `bench/bench_media_codec.py` compares this with `audioop`.
"""

from __future__ import annotations

import enum
from typing import Final

import numpy as np
import numpy.typing as npt

Pcm = npt.NDArray[np.int16]

SAMPLE_RATE: Final = 8000
#: One 20 ms frame at 8 kHz: the engine's unit of work on every clock tick.
FRAME_SAMPLES: Final = 160


class Codec(enum.Enum):
    """The two audio codecs every telephone speaks; value is the static RTP payload type."""

    PCMU = 0
    PCMA = 8

    @property
    def payload_type(self) -> int:
        return self.value

    @property
    def silence_byte(self) -> int:
        """The code for a zero sample (µ-law 0xFF, A-law 0xD5)."""
        return 0xFF if self is Codec.PCMU else 0xD5


#: Every 16-bit sample value, in the order of its unsigned bit pattern: encode tables are indexed
#: by `pcm.view(np.uint16)`, which costs nothing, rather than by `pcm + 32768`, which copies.
_ALL_SAMPLES: Final = (
    np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.int16).astype(np.int32)
)


def _ulaw_encode_all() -> npt.NDArray[np.uint8]:
    # G.711 µ-law works on 14-bit magnitudes with a bias of 33 and eight segments.
    pcm = _ALL_SAMPLES >> 2
    mask = np.where(pcm < 0, 0x7F, 0xFF)
    mag = np.minimum(np.abs(pcm), 8159) + 0x21
    seg = np.searchsorted(np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF]), mag)
    uval = np.where(seg >= 8, 0x7F, (np.minimum(seg, 7) << 4) | ((mag >> (seg + 1)) & 0x0F))
    return (uval ^ mask).astype(np.uint8)


def _ulaw_decode_all() -> Pcm:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    mag = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(u & 0x80, -mag, mag).astype(np.int16)


def _alaw_encode_all() -> npt.NDArray[np.uint8]:
    pcm = _ALL_SAMPLES >> 3
    mask = np.where(pcm >= 0, 0xD5, 0x55)
    mag = np.where(pcm >= 0, pcm, -pcm - 1)
    seg = np.searchsorted(np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF]), mag)
    shift = np.where(seg < 2, 1, seg)
    aval = np.where(seg >= 8, 0x7F, (np.minimum(seg, 7) << 4) | ((mag >> shift) & 0x0F))
    return (aval ^ mask).astype(np.uint8)


def _alaw_decode_all() -> Pcm:
    a = np.arange(256, dtype=np.int32) ^ 0x55
    seg = (a & 0x70) >> 4
    t = (a & 0x0F) << 4
    t = np.where(seg == 0, t + 8, (t + 0x108) << np.maximum(seg - 1, 0))
    return np.where(a & 0x80, t, -t).astype(np.int16)


_ENCODE: Final = {Codec.PCMU: _ulaw_encode_all(), Codec.PCMA: _alaw_encode_all()}
_DECODE: Final = {Codec.PCMU: _ulaw_decode_all(), Codec.PCMA: _alaw_decode_all()}


def decode(codec: Codec, payload: bytes | bytearray | memoryview) -> Pcm:
    """G.711 bytes to 16-bit linear samples (a new array)."""
    return _DECODE[codec][np.frombuffer(payload, dtype=np.uint8)]


def decode_table(codec: Codec) -> Pcm:
    """The 256-entry decode table, for callers that index many frames at once."""
    return _DECODE[codec]


def encode_array(codec: Codec, pcm: npt.NDArray[np.integer]) -> npt.NDArray[np.uint8]:
    """Encode samples of any shape (e.g. one row per conference member) in one lookup."""
    return _ENCODE[codec][pcm.astype(np.int16).view(np.uint16)]


def encode(codec: Codec, pcm: npt.NDArray[np.integer]) -> bytes:
    """16-bit linear samples to G.711 bytes."""
    return encode_array(codec, pcm).tobytes()


def _transcode_table(src: Codec, dst: Codec) -> bytes:
    return encode(dst, _DECODE[src])


_TRANSCODE: Final = {
    (Codec.PCMU, Codec.PCMA): _transcode_table(Codec.PCMU, Codec.PCMA),
    (Codec.PCMA, Codec.PCMU): _transcode_table(Codec.PCMA, Codec.PCMU),
}


def transcode_table(src: Codec, dst: Codec) -> bytes | None:
    """A `bytes.translate` table from one law to the other, or None when no change is needed."""
    return None if src is dst else _TRANSCODE[(src, dst)]


def silence(codec: Codec, samples: int = FRAME_SAMPLES) -> bytes:
    return bytes([codec.silence_byte]) * samples
