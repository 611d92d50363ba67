"""Recording what one party says, to a WAV file, on the clock.

A voicemail box needs three ways for a recording to end besides hang-up: a maximum length, the
caller falling silent for a while (they finished and forgot to hang up), and a key press ("press
# when done"). Audio is kept in memory while recording — 16 KB per second, so the maximum length
bounds it — and written to disk in a worker thread when the recording ends, so the event loop
never waits on the disk. Trailing silence that ended a recording is trimmed from the file.
"""

from __future__ import annotations

import enum
import math
from pathlib import Path

import numpy as np

from .g711 import FRAME_SAMPLES, SAMPLE_RATE, Pcm
from .wav import write_wav


class RecordingEnd(enum.StrEnum):
    MAX_LENGTH = "max_length"
    SILENCE = "silence"
    DIGIT = "digit"
    STOPPED = "stopped"
    ENDPOINT_GONE = "endpoint_gone"


def level_dbov(frame: Pcm) -> float:
    """RMS level of a frame relative to a full-scale sine's RMS (dBov)."""
    power = float(np.mean(frame.astype(np.float64) ** 2))
    return 10.0 * math.log10(max(power, 1e-9) / (32767.0**2 / 2))


class Recorder:
    def __init__(
        self,
        path: str | Path,
        *,
        max_seconds: float = 120.0,
        silence_seconds: float | None = 5.0,
        silence_dbov: float = -45.0,
        stop_digits: frozenset[str] = frozenset(),
    ) -> None:
        self.path = Path(path)
        self.max_frames = max(1, round(max_seconds * SAMPLE_RATE / FRAME_SAMPLES))
        self.silence_frames = (
            None if silence_seconds is None else max(1, round(silence_seconds * 50))
        )
        self.silence_dbov = silence_dbov
        self.stop_digits = stop_digits
        self._chunks: list[bytes] = []
        self._silent_run = 0
        self._heard_voice = False

    @property
    def frames(self) -> int:
        return len(self._chunks)

    def feed(self, frame: Pcm | None) -> RecordingEnd | None:
        """Append one tick's audio (None: nothing arrived, recorded as silence)."""
        if frame is None:
            self._chunks.append(bytes(2 * FRAME_SAMPLES))
            silent = True
        else:
            self._chunks.append(frame.astype("<i2").tobytes())
            silent = level_dbov(frame) < self.silence_dbov
        if silent:
            self._silent_run += 1
        else:
            self._silent_run = 0
            self._heard_voice = True
        if self.silence_frames is not None and self._silent_run >= self.silence_frames:
            return RecordingEnd.SILENCE
        if len(self._chunks) >= self.max_frames:
            return RecordingEnd.MAX_LENGTH
        return None

    def audio(self, end: RecordingEnd) -> bytes:
        """The recording's samples, without the silence that ended it (keeping 0.2 s)."""
        chunks = self._chunks
        if end is RecordingEnd.SILENCE:
            chunks = chunks[: max(0, len(chunks) - self._silent_run + 10)]
        return b"".join(chunks)

    def write(self, end: RecordingEnd) -> float:
        """Write the WAV file (blocking: run it in a thread); return its length in seconds."""
        data = self.audio(end)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_wav(self.path, data)
        return len(data) / 2 / SAMPLE_RATE
