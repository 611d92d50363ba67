"""G.711 µ-law and A-law by table lookup."""

from __future__ import annotations

import warnings

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


@pytest.mark.parametrize("codec", list(Codec))
def test_matches_audioop_for_every_sample_and_code(codec: Codec) -> None:
    """audioop (stdlib up to 3.12) is the reference C implementation of the same algorithm."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        audioop = pytest.importorskip("audioop")
    lin2, to_lin = (
        (audioop.lin2ulaw, audioop.ulaw2lin)
        if codec is Codec.PCMU
        else (audioop.lin2alaw, audioop.alaw2lin)
    )
    assert encode(codec, ALL) == lin2(ALL.tobytes(), 2)
    codes = bytes(range(256))
    assert decode(codec, codes).tobytes() == to_lin(codes, 2)


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
