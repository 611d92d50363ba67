"""Tone generation: Chinese call-progress tones (GB/T 3380, YD/T 1277), the beep, DTMF.

Call-progress tones in China are all 450 Hz and differ only in cadence. A tone is rendered once
as one whole cadence cycle — every cycle here holds a whole number of 450 Hz periods, so looping
it is seamless — and players loop that buffer instead of synthesising on every tick.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt

from .dtmf import DIGITS, digit_code
from .dtmf_inband import COLS, KEYPAD, ROWS
from .g711 import SAMPLE_RATE, Pcm


class ToneKind(enum.StrEnum):
    DIAL = "dial"  # 拨号音: continuous
    RINGBACK = "ringback"  # 回铃音: 1 s on, 4 s off
    BUSY = "busy"  # 忙音: 0.35 s on, 0.35 s off
    CONGESTION = "congestion"  # 拥塞音: 0.7 s on, 0.7 s off
    CALL_WAITING = "call_waiting"  # 呼叫等待音: 0.4 s on, 4 s off
    BEEP = "beep"  # the voicemail/recording beep: 1 kHz for 0.4 s, played once


@dataclass(frozen=True, slots=True)
class ToneSpec:
    frequencies: tuple[float, ...]
    #: Alternating on/off seconds; empty for a continuous tone.
    cadence: tuple[float, ...] = ()
    level_dbov: float = -13.0  # per frequency: about -10 dBm0 on a G.711 line
    #: Played once (a beep) rather than looped.
    once: bool = False


TONES: dict[ToneKind, ToneSpec] = {
    ToneKind.DIAL: ToneSpec((450.0,)),
    ToneKind.RINGBACK: ToneSpec((450.0,), (1.0, 4.0)),
    ToneKind.BUSY: ToneSpec((450.0,), (0.35, 0.35)),
    ToneKind.CONGESTION: ToneSpec((450.0,), (0.7, 0.7)),
    ToneKind.CALL_WAITING: ToneSpec((450.0,), (0.4, 4.0)),
    ToneKind.BEEP: ToneSpec((1000.0,), (0.4,), level_dbov=-10.0, once=True),
}


def sine(frequencies: tuple[float, ...], seconds: float, level_dbov: float) -> Pcm:
    """The sum of sines, each at `level_dbov` (peak relative to full scale), with 5 ms ramps
    so that switching a tone on and off does not click."""
    n = round(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    x = _sines(frequencies, t, level_dbov)
    ramp = min(n // 2, SAMPLE_RATE // 200)
    if ramp:
        env = np.ones(n)
        env[:ramp] = np.linspace(0.0, 1.0, ramp)
        env[-ramp:] = np.linspace(1.0, 0.0, ramp)
        x = x * env
    out: Pcm = np.clip(np.round(x), -32768, 32767).astype(np.int16)
    return out


def _sines(
    frequencies: tuple[float, ...], t: npt.NDArray[np.float64], level_dbov: float
) -> npt.NDArray[np.float64]:
    amp = 32767.0 * 10 ** (level_dbov / 20)
    phases = 2 * np.pi * np.outer(np.array(frequencies), t)
    x: npt.NDArray[np.float64] = amp * np.sin(phases).sum(axis=0)
    return x


@cache
def tone_cycle(kind: ToneKind) -> Pcm:
    """One full cycle of a tone: one second of a continuous tone, on+off of a cadenced one."""
    spec = TONES[kind]
    if not spec.cadence:
        n = SAMPLE_RATE
        t = np.arange(n) / SAMPLE_RATE
        x = _sines(spec.frequencies, t, spec.level_dbov)
        # no ramps: a continuous tone loops seamlessly
        cont: Pcm = np.round(x).astype(np.int16)
        return cont
    parts = []
    for i, seconds in enumerate(spec.cadence):
        if i % 2 == 0:
            parts.append(sine(spec.frequencies, seconds, spec.level_dbov))
        else:
            parts.append(np.zeros(round(seconds * SAMPLE_RATE), dtype=np.int16))
    cycle = np.concatenate(parts)
    cycle.flags.writeable = False
    return cycle


def render_tone(kind: ToneKind, seconds: float | None = None) -> Pcm:
    """A tone for `seconds` (looping its cadence), or one cycle when `seconds` is None."""
    cycle = tone_cycle(kind)
    if seconds is None:
        return cycle
    n = round(seconds * SAMPLE_RATE)
    reps = -(-n // len(cycle))
    return np.tile(cycle, reps)[:n]


def dtmf_tone(digit: str, seconds: float = 0.1, level_dbov: float = -10.0) -> Pcm:
    """The two-frequency tone of a DTMF key, for sending in-band and for tests."""
    key = DIGITS[digit_code(digit)]
    row = next(r for r, keys in enumerate(KEYPAD) if key in keys)
    return sine((ROWS[row], COLS[KEYPAD[row].index(key)]), seconds, level_dbov)
