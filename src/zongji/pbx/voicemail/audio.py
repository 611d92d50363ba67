"""Voicemail audio: what is stored is always an 8 kHz mono 16-bit WAV.

Greetings arrive as any WAV a user has (44.1 kHz stereo from a phone's recorder, float, A-law …);
they are converted once, on upload, with the media engine's reader, so every file a box holds
plays on a call and downloads as the same simple format. Bad files are refused with a stable
problem code rather than stored and heard as noise later.
"""

from __future__ import annotations

import io
import wave

from zongji.media import SAMPLE_RATE, Pcm, WavError, parse_wav
from zongji.platform.errors import Problem

GREETING_MAX_SECONDS = 60.0
GREETING_MIN_SECONDS = 0.5
GREETING_MAX_BYTES = (
    20 * 1024 * 1024
)  # a minute at 48 kHz stereo 32-bit float is 23 MB; 20 is ample
"""Uploads larger than this are refused before they are parsed."""


def wav_bytes(pcm: Pcm) -> bytes:
    """8 kHz mono 16-bit samples as a WAV file's bytes."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(pcm.astype("<i2").tobytes())
    return out.getvalue()


def seconds_of(pcm: Pcm) -> float:
    return len(pcm) / SAMPLE_RATE


def greeting_too_large() -> Problem:
    return Problem(
        413,
        "greeting_too_large",
        f"The greeting file is larger than {GREETING_MAX_BYTES // (1024 * 1024)} MB.",
        f"问候语文件不能超过 {GREETING_MAX_BYTES // (1024 * 1024)} MB。",
    )


def convert_greeting(data: bytes) -> tuple[bytes, float]:
    """Validate an uploaded greeting and convert it: (WAV bytes at 8 kHz mono, seconds)."""
    if len(data) > GREETING_MAX_BYTES:
        raise greeting_too_large()
    try:
        pcm = parse_wav(data)
    except WavError as e:
        raise Problem(
            415,
            "greeting_not_wav",
            f"The greeting must be a WAV audio file ({e}).",
            "问候语须为 WAV 音频文件。",
            extra={"reason": str(e)},
        ) from None
    seconds = seconds_of(pcm)
    if seconds > GREETING_MAX_SECONDS:
        raise Problem(
            422,
            "greeting_too_long",
            f"The greeting is {seconds:.1f} s long; at most {GREETING_MAX_SECONDS:.0f} s allowed.",
            f"问候语时长 {seconds:.1f} 秒，不能超过 {GREETING_MAX_SECONDS:.0f} 秒。",
            extra={"seconds": round(seconds, 2), "max_seconds": GREETING_MAX_SECONDS},
        )
    if seconds < GREETING_MIN_SECONDS:
        raise Problem(
            422,
            "greeting_too_short",
            "The greeting holds no audio (shorter than half a second).",
            "问候语过短（不足半秒）。",
            extra={"seconds": round(seconds, 2)},
        )
    return wav_bytes(pcm), seconds
