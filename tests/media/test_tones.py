"""Chinese call-progress tones: 450 Hz, with the cadences callers know."""

from __future__ import annotations

import numpy as np
import pytest

from zongji.media.tones import TONES, ToneKind, dtmf_tone, render_tone, tone_cycle

from .conftest import spectrum_peaks


def on_off_runs(pcm: np.ndarray) -> list[tuple[bool, float]]:
    """(tone on?, seconds) for each run, judged per 10 ms."""
    blocks = pcm[: len(pcm) // 80 * 80].reshape(-1, 80).astype(float)
    on = np.sqrt((blocks**2).mean(axis=1)) > 500
    runs: list[tuple[bool, float]] = []
    for flag in on:
        if runs and runs[-1][0] == flag:
            runs[-1] = (flag, runs[-1][1] + 0.01)
        else:
            runs.append((bool(flag), 0.01))
    return runs


@pytest.mark.parametrize(
    ("kind", "on", "off"),
    [
        (ToneKind.RINGBACK, 1.0, 4.0),
        (ToneKind.BUSY, 0.35, 0.35),
        (ToneKind.CONGESTION, 0.7, 0.7),
        (ToneKind.CALL_WAITING, 0.4, 4.0),
    ],
)
def test_cadence(kind: ToneKind, on: float, off: float) -> None:
    runs = on_off_runs(render_tone(kind, 2 * (on + off)))
    assert [flag for flag, _ in runs[:4]] == [True, False, True, False]
    for flag, seconds in runs[:3]:
        assert seconds == pytest.approx(on if flag else off, abs=0.021)


@pytest.mark.parametrize("kind", [ToneKind.DIAL, ToneKind.RINGBACK, ToneKind.BUSY])
def test_frequency_is_450(kind: ToneKind) -> None:
    pcm = render_tone(kind, 4.0)
    peaks = spectrum_peaks(pcm, [450, 900, 1000])
    assert peaks[450] == pytest.approx(0, abs=0.1)
    assert peaks[900] < -40
    assert peaks[1000] < -40


def test_dial_tone_loops_seamlessly() -> None:
    cycle = tone_cycle(ToneKind.DIAL)
    looped = np.tile(cycle, 2).astype(float)
    # the sample after the seam continues the sine: no step bigger than the sine's own slope
    step = np.abs(np.diff(looped)).max()
    seam = abs(looped[len(cycle)] - looped[len(cycle) - 1])
    assert seam <= step + 1


def test_beep_is_one_short_1khz_burst() -> None:
    beep = render_tone(ToneKind.BEEP)
    assert len(beep) == pytest.approx(0.4 * 8000, abs=1)
    assert spectrum_peaks(beep, [1000])[1000] == pytest.approx(0, abs=0.1)
    assert TONES[ToneKind.BEEP].once


def test_dtmf_tone_holds_both_frequencies() -> None:
    peaks = spectrum_peaks(dtmf_tone("9", 0.5), [852, 1477, 697, 1209])
    assert peaks[852] > -2
    assert peaks[1477] > -2
    assert peaks[697] < -30
    assert peaks[1209] < -30
