"""WAV files in and out: any PCM/float/G.711 WAV in, 8 kHz mono 16-bit out.

Prompts come from many places (our script, an enterprise's uploaded greeting recorded at 44.1 kHz
stereo), but everything the engine plays is 8 kHz mono. Loading converts once, when a prompt is
first used, and fails with a `WavError` naming the file and what is wrong with it, so a corrupt
upload is caught at load rather than heard as noise on a call.

The RIFF reader is our own rather than the stdlib `wave`, which rejects float and
WAVE_FORMAT_EXTENSIBLE files on Python 3.11 and does not read G.711 WAVs at all.
"""

from __future__ import annotations

import struct
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt

from .g711 import SAMPLE_RATE, Codec, Pcm, decode

_PCM, _FLOAT, _ALAW, _MULAW, _EXTENSIBLE = 1, 3, 6, 7, 0xFFFE
#: Longest file we accept: ten minutes at 48 kHz stereo 32-bit. A prompt is seconds long.
MAX_WAV_BYTES = 10 * 60 * 48000 * 2 * 4


class WavError(ValueError):
    """A file that cannot be used as audio, with the reason in the message."""


def load_wav(path: str | Path) -> Pcm:
    """Read a WAV file and return it as 8 kHz mono 16-bit samples."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise WavError(f"{p}: cannot read: {e.strerror or e}") from e
    try:
        return parse_wav(data)
    except WavError as e:
        raise WavError(f"{p}: {e}") from None


def parse_wav(data: bytes) -> Pcm:
    """Parse WAV bytes; raise `WavError` with a precise reason if they are not usable audio."""
    if len(data) > MAX_WAV_BYTES:
        raise WavError(f"file of {len(data)} bytes is larger than the {MAX_WAV_BYTES} allowed")
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise WavError("not a WAV file (no RIFF/WAVE header)")
    fmt: tuple[int, int, int, int] | None = None
    samples: bytes | None = None
    at = 12
    while at + 8 <= len(data):
        cid, size = struct.unpack_from("<4sI", data, at)
        body = data[at + 8 : at + 8 + size]
        if cid == b"fmt ":
            fmt = _parse_fmt(body)
        elif cid == b"data":
            if len(body) < size:
                raise WavError(f"data chunk truncated: {len(body)} of {size} bytes present")
            samples = body
            if fmt is not None:
                break
        at += 8 + size + (size & 1)
    if fmt is None:
        raise WavError("no fmt chunk")
    if samples is None:
        raise WavError("no data chunk")
    tag, channels, rate, bits = fmt
    mono = _to_float_mono(samples, tag, channels, bits)
    return _to_int16(resample(mono, rate, SAMPLE_RATE))


def _parse_fmt(body: bytes) -> tuple[int, int, int, int]:
    if len(body) < 16:
        raise WavError(f"fmt chunk of {len(body)} bytes is too short")
    tag, channels, rate, _, block, bits = struct.unpack_from("<HHIIHH", body)
    if tag == _EXTENSIBLE:
        if len(body) < 26:
            raise WavError("WAVE_FORMAT_EXTENSIBLE fmt chunk is too short")
        tag = struct.unpack_from("<H", body, 24)[0]
    if tag not in (_PCM, _FLOAT, _ALAW, _MULAW):
        raise WavError(f"unsupported encoding (format tag {tag:#x})")
    if not 1 <= channels <= 8:
        raise WavError(f"{channels} channels is not supported")
    if not 4000 <= rate <= 192000:
        raise WavError(f"sample rate {rate} Hz is not supported")
    valid_bits = {_PCM: (8, 16, 24, 32), _FLOAT: (32, 64), _ALAW: (8,), _MULAW: (8,)}[tag]
    if bits not in valid_bits:
        raise WavError(f"{bits}-bit samples are not valid for format tag {tag:#x}")
    if block != channels * bits // 8:
        raise WavError(f"block align {block} does not match {channels} x {bits} bits")
    return tag, channels, rate, bits


def _to_float_mono(raw: bytes, tag: int, channels: int, bits: int) -> npt.NDArray[np.float64]:
    width = bits // 8
    usable = len(raw) - len(raw) % (width * channels)
    raw = raw[:usable]
    x: npt.NDArray[np.float64]
    if tag == _FLOAT:
        x = np.frombuffer(raw, dtype="<f4" if bits == 32 else "<f8").astype(np.float64) * 32768.0
        if not np.all(np.isfinite(x)):
            raise WavError("float samples contain NaN or infinity")
    elif tag in (_ALAW, _MULAW):
        x = decode(Codec.PCMA if tag == _ALAW else Codec.PCMU, raw).astype(np.float64)
    elif bits == 8:
        x = (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128.0) * 256.0
    elif bits == 16:
        x = np.frombuffer(raw, dtype="<i2").astype(np.float64)
    elif bits == 24:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        x = (np.where(v & 0x800000, v - 0x1000000, v) / 256.0).astype(np.float64)
    else:
        x = np.frombuffer(raw, dtype="<i4").astype(np.float64) / 65536.0
    if channels > 1:
        x = x.reshape(-1, channels).mean(axis=1)
    return x


def resample(x: npt.NDArray[np.float64], src: int, dst: int) -> npt.NDArray[np.float64]:
    """Band-limited resampling by a Kaiser-windowed sinc (a few dB of quality is not at stake:
    this runs once per prompt, so it favours a clean, obviously correct method over speed)."""
    if src == dst or len(x) == 0:
        return x
    ratio = dst / src
    cutoff = 0.5 * min(1.0, ratio) * 0.92  # cycles per input sample, just under Nyquist
    half = int(np.ceil(16 / min(1.0, ratio)))
    n_out = int(len(x) * ratio)
    out = np.empty(n_out, dtype=np.float64)
    padded = np.concatenate([np.zeros(half), x, np.zeros(half + 1)])
    window_taps = np.arange(-half + 1, half + 1)
    for start in range(0, n_out, 4096):
        k = np.arange(start, min(n_out, start + 4096))
        t = k / ratio
        base = np.floor(t).astype(np.int64)
        idx = base[:, None] + window_taps[None, :]
        dist = t[:, None] - idx
        edge = np.clip(1.0 - (dist / (half + 1)) ** 2, 0.0, 1.0)
        h = 2 * cutoff * np.sinc(2 * cutoff * dist) * np.i0(8.0 * np.sqrt(edge)) / np.i0(8.0)
        out[start : start + len(k)] = np.sum(padded[idx + half] * h, axis=1)
    return out


def _to_int16(x: npt.NDArray[np.float64]) -> Pcm:
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def write_wav(path: str | Path, pcm: Pcm | bytes, rate: int = SAMPLE_RATE) -> None:
    """Write 16-bit mono PCM (samples or their little-endian bytes) as a WAV file."""
    frames = pcm if isinstance(pcm, bytes) else pcm.astype("<i2").tobytes()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
