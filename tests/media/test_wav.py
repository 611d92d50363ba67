"""Reading any WAV as 8 kHz mono; corrupt files fail at load with a clear error."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from zongji.media.wav import WavError, load_wav, parse_wav, write_wav

from .conftest import spectrum_peaks


def sox(path: Path, *args: str) -> Path:
    subprocess.run(["sox", "-n", *args, str(path), "synth", "1", "sine", "1000"], check=True)
    return path


@pytest.mark.parametrize(
    "fmt",
    [
        ("-r", "44100", "-c", "2", "-b", "16"),
        ("-r", "48000", "-c", "1", "-b", "24"),
        ("-r", "16000", "-c", "1", "-b", "32"),
        ("-r", "22050", "-c", "1", "-e", "floating-point", "-b", "32"),
        ("-r", "8000", "-c", "1", "-e", "a-law"),
        ("-r", "8000", "-c", "1", "-e", "u-law"),
        ("-r", "11025", "-c", "1", "-b", "8", "-e", "unsigned-integer"),
    ],
    ids=["44k1-stereo-16", "48k-24", "16k-32", "22k-float", "alaw", "ulaw", "11k-u8"],
)
def test_any_format_becomes_8khz_mono(tmp_path: Path, fmt: tuple[str, ...]) -> None:
    pcm = load_wav(sox(tmp_path / "t.wav", *fmt))
    assert pcm.dtype == np.int16
    assert abs(len(pcm) - 8000) <= 2
    peaks = spectrum_peaks(pcm, [1000, 2000, 3000])
    assert peaks[1000] == pytest.approx(0, abs=0.5)
    # (G.711 quantisation of a sine that repeats every 8 samples leaves harmonics near -35 dB)
    assert peaks[2000] < -30
    assert peaks[3000] < -30
    # the level is kept: sox's own conversion of the same file is the reference
    ref = subprocess.run(
        [
            "sox",
            str(tmp_path / "t.wav"),
            "-t",
            "raw",
            "-r",
            "8000",
            "-c",
            "1",
            "-b",
            "16",
            "-e",
            "signed-integer",
            "-",
        ],
        check=True,
        capture_output=True,
    ).stdout
    ref_pcm = np.frombuffer(ref, dtype="<i2").astype(float)

    def rms(x: np.ndarray) -> float:
        return float(np.sqrt(np.mean(x[100:-100].astype(float) ** 2)))

    assert rms(pcm) == pytest.approx(rms(ref_pcm), rel=0.02)


def test_downsampling_removes_what_8khz_cannot_carry(tmp_path: Path) -> None:
    path = tmp_path / "hi.wav"
    subprocess.run(
        ["sox", "-n", "-r", "44100", "-b", "16", str(path), "synth", "1", "sine", "6000"],
        check=True,
    )
    pcm = load_wav(path)
    # a 6 kHz tone would alias to 2 kHz if not filtered out first
    assert np.sqrt(np.mean(pcm.astype(float) ** 2)) < 200


def test_write_then_read(tmp_path: Path) -> None:
    pcm = (np.arange(800) * 37 % 2000 - 1000).astype(np.int16)
    write_wav(tmp_path / "x.wav", pcm)
    assert np.array_equal(load_wav(tmp_path / "x.wav"), pcm)


def _header(fmt_tag: int = 1, channels: int = 1, rate: int = 8000, bits: int = 16) -> bytes:
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", fmt_tag, channels, rate, rate * block, block, bits)
    return b"fmt " + struct.pack("<I", len(fmt)) + fmt


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "no RIFF/WAVE header"),
        (b"ID3\x03" + bytes(100), "no RIFF/WAVE header"),
        (b"RIFF\x00\x00\x00\x00WAVE", "no fmt chunk"),
        (b"RIFF\x00\x00\x00\x00WAVE" + _header(), "no data chunk"),
        (
            b"RIFF\x00\x00\x00\x00WAVE" + _header(fmt_tag=0x55) + b"data\x00\x00\x00\x00",
            "unsupported encoding",
        ),
        (b"RIFF\x00\x00\x00\x00WAVE" + _header(bits=12) + b"data\x00\x00\x00\x00", "12-bit"),
        (b"RIFF\x00\x00\x00\x00WAVE" + _header(rate=1) + b"data\x00\x00\x00\x00", "sample rate"),
        (
            b"RIFF\x00\x00\x00\x00WAVE" + _header() + b"data\x40\x1f\x00\x00" + bytes(100),
            "truncated",
        ),
        (b"RIFF\x00\x00\x00\x00WAVE" + b"fmt \x04\x00\x00\x00abcd", "too short"),
    ],
)
def test_corrupt_files_fail_with_a_clear_reason(data: bytes, message: str) -> None:
    with pytest.raises(WavError, match=message):
        parse_wav(data)


def test_error_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "greeting.wav"
    bad.write_bytes(b"RIFF\x24\x00\x00\x00WAVEjunkjunkjunk")
    with pytest.raises(WavError, match=r"greeting\.wav"):
        load_wav(bad)
    with pytest.raises(WavError, match="cannot read"):
        load_wav(tmp_path / "missing.wav")
