"""In-band DTMF detection, for peers that send key presses as tones in the audio.

Each 20 ms frame is analysed twice, in 160-sample windows at a hop of 80 samples, by Goertzel's
single-frequency DFT at the eight DTMF frequencies and at their second harmonics. Goertzel's
recurrence is how one computes a single DFT bin in scalar code; with numpy the same numbers come
from one small matrix product (16 × 160), which is what `_energies` does.

A window holds a digit only if every test that separates a keypad from a voice passes:
- both tones are loud enough (`min_level_dbov`);
- twist: the high group is at most 4 dB above the low one, or 8 dB below it;
- each tone is well above the other three of its group (a chord of voice harmonics is not);
- the two tones carry nearly all of the window's energy (speech is broadband);
- neither tone has a strong second harmonic (voiced speech does; a sine does not).
A digit is reported when two consecutive windows agree (≥ 30 ms of tone), and again only after
two windows without it, so one press is one digit.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .g711 import FRAME_SAMPLES, SAMPLE_RATE, Pcm

ROWS = (697.0, 770.0, 852.0, 941.0)
COLS = (1209.0, 1336.0, 1477.0, 1633.0)
KEYPAD = ("123A", "456B", "789C", "*0#D")

_WINDOW = FRAME_SAMPLES
_HOP = FRAME_SAMPLES // 2
_FREQS = np.array(ROWS + COLS + tuple(2 * f for f in ROWS + COLS))
_N = np.arange(_WINDOW)
_BASIS = np.concatenate(
    (
        np.cos(2 * np.pi * np.outer(_FREQS, _N) / SAMPLE_RATE),
        np.sin(2 * np.pi * np.outer(_FREQS, _N) / SAMPLE_RATE),
    )
)
_FULL_SCALE_POWER = 32768.0**2 / 2  # a full-scale sine


def _energies(windows: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Power of each window at each of the 16 frequencies, as a sine's mean power (A²/2)."""
    proj = windows @ _BASIS.T
    k = len(_FREQS)
    power: npt.NDArray[np.float64] = (proj[:, :k] ** 2 + proj[:, k:] ** 2) * (2.0 / _WINDOW**2)
    return power


class InbandDtmfDetector:
    def __init__(
        self,
        *,
        min_level_dbov: float = -33.0,
        max_normal_twist_db: float = 8.0,
        max_reverse_twist_db: float = 4.0,
        min_group_ratio_db: float = 8.0,
        min_energy_ratio: float = 0.75,
        max_harmonic_db: float = -12.0,
    ) -> None:
        self._min_power = _FULL_SCALE_POWER * 10 ** (min_level_dbov / 10)
        self._normal_twist = 10 ** (max_normal_twist_db / 10)
        self._reverse_twist = 10 ** (max_reverse_twist_db / 10)
        self._group_ratio = 10 ** (min_group_ratio_db / 10)
        self._energy_ratio = min_energy_ratio
        self._harmonic = 10 ** (max_harmonic_db / 10)
        self._tail = np.zeros(_HOP, dtype=np.float64)
        self._candidate: str | None = None
        self._hits = 0
        self._reported: str | None = None
        self._misses = 0

    def feed(self, frame: Pcm | None) -> list[str]:
        """Analyse one 20 ms frame (None is silence); return digits newly pressed."""
        x = np.zeros(_WINDOW) if frame is None else frame.astype(np.float64)
        both = np.concatenate((self._tail, x))
        self._tail = x[-_HOP:]
        windows = np.stack((both[:_WINDOW], both[_HOP : _HOP + _WINDOW]))
        power = _energies(windows)
        total = (windows**2).mean(axis=1)
        found = []
        for i in range(len(windows)):
            digit = self._classify(power[i], float(total[i]))
            new = self._track(digit)
            if new is not None:
                found.append(new)
        return found

    def _classify(self, p: npt.NDArray[np.float64], total: float) -> str | None:
        rows, cols = p[0:4], p[4:8]
        r, c = int(np.argmax(rows)), int(np.argmax(cols))
        pr, pc = rows[r], cols[c]
        if pr < self._min_power or pc < self._min_power:
            return None
        if pc > pr * self._reverse_twist or pr > pc * self._normal_twist:
            return None
        if np.any(np.delete(rows, r) * self._group_ratio > pr):
            return None
        if np.any(np.delete(cols, c) * self._group_ratio > pc):
            return None
        if pr + pc < self._energy_ratio * total:
            return None
        if p[8 + r] > pr * self._harmonic or p[12 + c] > pc * self._harmonic:
            return None
        return KEYPAD[r][c]

    def _track(self, digit: str | None) -> str | None:
        if digit is not None and digit == self._candidate:
            self._hits += 1
        else:
            self._candidate, self._hits = digit, 1 if digit else 0
        if digit is not None and digit == self._reported:
            self._misses = 0
            return None
        if self._reported is not None:
            self._misses += 1
            if self._misses >= 2:
                self._reported = None
        if digit is not None and self._hits >= 2 and self._reported is None:
            self._reported = digit
            self._misses = 0
            return digit
        return None
