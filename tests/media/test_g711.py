"""G.711 µ-law and A-law by table lookup, checked against ITU-T G.711's own definition.

The reference values are computed in this file from the standard's definition (ITU-T G.711
(11/88), tables 1 and 2: each segment's end decision values and step; the decoder output is the
middle of each interval; the character's sign bit and bit inversion), not from
`zongji.media.g711` nor from another codec (the stdlib's `audioop` is gone from Python 3.13), so
these tests never skip and fail wherever our tables differ from the standard's.
"""

from __future__ import annotations

import bisect
import functools

import numpy as np
import pytest

from zongji.media.g711 import Codec, decode, encode, encode_array, silence, transcode_table

ALL = np.arange(-32768, 32768, dtype=np.int16)


def test_known_code_points() -> None:
    """Values from G.711's tables (and every implementation since)."""
    assert list(decode(Codec.PCMU, bytes([0xFF, 0x7F, 0x00, 0x80]))) == [0, 0, -32124, 32124]
    assert list(decode(Codec.PCMA, bytes([0xD5, 0x55, 0x2A, 0xAA]))) == [8, -8, -32256, 32256]
    assert encode(Codec.PCMU, np.array([0], dtype=np.int16)) == b"\xff"
    assert encode(Codec.PCMA, np.array([0], dtype=np.int16)) == b"\xd5"
    assert silence(Codec.PCMU, 3) == b"\xff\xff\xff"


# ITU-T G.711 (11/88), tables 1 (A-law) and 2 (µ-law), written here from the standard's
# segment structure and independently of `zongji.media.g711`'s bit arithmetic. Each law has
# eight segments of sixteen equal quantisation intervals per sign; a segment is given by the
# decision values at its ends and its step (the interval width). Amplitudes are in the
# standard's units: the 13-bit A-law scale (up to 4096) and the 14-bit µ-law scale (up to 8159,
# plus the interval below 1 that holds zero, which is why µ-law's first end is -1).
_LAWS: dict[Codec, tuple[tuple[int, ...], tuple[int, ...]]] = {
    Codec.PCMA: ((0, 32, 64, 128, 256, 512, 1024, 2048, 4096), (2, 2, 4, 8, 16, 32, 64, 128)),
    Codec.PCMU: ((-1, 31, 95, 223, 479, 991, 2015, 4063, 8159), (2, 4, 8, 16, 32, 64, 128, 256)),
}
#: Bits below the standard's scale in a 16-bit sample: A-law's 13 bits, µ-law's 14.
_SHIFT = {Codec.PCMA: 3, Codec.PCMU: 2}


@functools.cache
def _intervals(codec: Codec) -> tuple[list[int], list[int]]:
    """The 128 intervals of one sign, in code order (segment × 16 + step number): each one's
    lower decision value, and its decoder output value, which is the interval's midpoint."""
    ends, steps = _LAWS[codec]
    lows = [ends[seg] + n * steps[seg] for seg in range(8) for n in range(16)]
    outputs = [ends[seg] + n * steps[seg] + steps[seg] // 2 for seg in range(8) for n in range(16)]
    for seg in range(8):  # the sixteen steps of a segment end exactly at the next one's start
        assert ends[seg] + 16 * steps[seg] == ends[seg + 1]
    return lows, outputs


def _character(codec: Codec, negative: bool, number: int) -> int:
    """The 8-bit character sent for interval `number` (0-127) of one sign: the sign bit is 1
    for positive values; µ-law sends the other seven bits inverted, A-law its even bits."""
    plain = (0 if negative else 0x80) | number
    return plain ^ 0x7F if codec is Codec.PCMU else plain ^ 0x55


def _reference_decode(codec: Codec) -> list[int]:
    """The 256 decoder output values as 16-bit samples (the standard's scale shifted up)."""
    _, outputs = _intervals(codec)
    table = [0] * 256
    for number, out in enumerate(outputs):
        for negative in (False, True):
            value = out << _SHIFT[codec]
            table[_character(codec, negative, number)] = -value if negative else value
    return table


def _reference_encode(codec: Codec, sample: int) -> int:
    """The character for one 16-bit sample: its top 13 (A-law) or 14 (µ-law) bits are the
    standard's amplitude, which falls in the interval whose lower decision value is the highest
    one not above its magnitude (on a decision value: the interval above), or the outermost.

    How a negative two's-complement value becomes a magnitude is the one convention the standard
    leaves to the implementation; ours is the one of the common C codec (Sun's g711.c, Python's
    audioop): A-law takes the one's complement (-x - 1: -1 has magnitude 0, so the negative
    intervals mirror the positive ones), µ-law the plain magnitude |x|."""
    x = sample >> _SHIFT[codec]
    negative = x < 0
    one_s_complement = codec is Codec.PCMA
    magnitude = -x - 1 if negative and one_s_complement else abs(x)
    lows, _ = _intervals(codec)
    number = bisect.bisect_right(lows, magnitude) - 1
    return _character(codec, negative, number)


@pytest.mark.parametrize("codec", list(Codec))
def test_decode_is_the_standards_table(codec: Codec) -> None:
    """All 256 characters decode to G.711's output values (tables 1 and 2, scaled to 16 bits)."""
    assert decode(codec, bytes(range(256))).tolist() == _reference_decode(codec)


def test_the_reference_tables_hold_the_standards_printed_values() -> None:
    """A few output values as the standard prints them, so a slip in `_LAWS` shows here too."""
    a_law = [v >> 3 for v in _reference_decode(Codec.PCMA)]
    mu_law = [v >> 2 for v in _reference_decode(Codec.PCMU)]
    # A-law: segment 1 and 2 step by 2 from 1, segment 3 starts at 66, the largest is 4032.
    assert sorted({abs(v) for v in a_law})[:18] == [*range(1, 32, 2), 33, 35]
    assert sorted({abs(v) for v in a_law})[32:34] == [66, 70]
    assert max(a_law) == 4032
    # µ-law: 0, then steps of 2 to 30, segment 2 from 33 by 4, the largest 8031.
    assert sorted({abs(v) for v in mu_law})[:18] == [*range(0, 32, 2), 33, 37]
    assert max(mu_law) == 8031


@pytest.mark.parametrize("codec", list(Codec))
def test_encode_places_every_sample_in_the_standards_interval(codec: Codec) -> None:
    """Every one of the 65 536 sample values is coded as the G.711 interval it falls in."""
    expected = bytes(_reference_encode(codec, int(s)) for s in ALL)
    ours = encode(codec, ALL)
    wrong = [int(ALL[i]) for i in range(len(ALL)) if ours[i] != expected[i]]
    assert wrong == []


@pytest.mark.parametrize("codec", list(Codec))
def test_round_trip_error_is_within_the_quantisation_step(codec: Codec) -> None:
    back = decode(codec, encode(codec, ALL)).astype(np.int32)
    err = np.abs(back - ALL)
    # companding: the step grows with the magnitude, about 1/16 of it at most (+ A-law's 8 near 0)
    assert np.all(err <= np.abs(ALL.astype(np.int32)) // 16 + 16)
    # decoding then encoding again changes nothing (µ-law has two codes for zero: 0x7F → 0xFF)
    codes = bytes(range(256))
    again = encode(codec, decode(codec, codes))
    changed = [c for c in codes if again[c] != c]
    assert changed == ([0x7F] if codec is Codec.PCMU else [])


def test_transcoding_tables_equal_decode_then_encode() -> None:
    codes = bytes(range(256))
    for src, dst in ((Codec.PCMU, Codec.PCMA), (Codec.PCMA, Codec.PCMU)):
        table = transcode_table(src, dst)
        assert table is not None
        assert codes.translate(table) == encode(dst, decode(src, codes))
    assert transcode_table(Codec.PCMA, Codec.PCMA) is None


def test_encode_array_handles_a_matrix() -> None:
    m = np.stack([ALL[:160], ALL[-160:]])
    out = encode_array(Codec.PCMU, m)
    assert out.shape == (2, 160)
    assert out[1].tobytes() == encode(Codec.PCMU, ALL[-160:])
