"""In-band DTMF: tones in the audio, detected once each, and never invented from speech."""

from __future__ import annotations

import numpy as np
import pytest

from zongji.media.dtmf_inband import InbandDtmfDetector
from zongji.media.g711 import Codec, decode, encode
from zongji.media.prompts.catalog import LANGUAGES, PROMPTS
from zongji.media.prompts.store import PromptStore
from zongji.media.tones import ToneKind, dtmf_tone, render_tone

KEYS = "0123456789*#ABCD"


def detect(pcm: np.ndarray, detector: InbandDtmfDetector | None = None) -> list[str]:
    det = detector or InbandDtmfDetector()
    pcm = np.concatenate((pcm, np.zeros((-len(pcm)) % 160, dtype=np.int16)))
    found: list[str] = []
    for i in range(0, len(pcm), 160):
        found += det.feed(pcm[i : i + 160])
    return found


def through_g711(pcm: np.ndarray, codec: Codec = Codec.PCMA) -> np.ndarray:
    return decode(codec, encode(codec, pcm))


def keyed(digits: str, on: float = 0.08, off: float = 0.08, level: float = -10.0) -> np.ndarray:
    gap = np.zeros(int(off * 8000), dtype=np.int16)
    parts = [gap]
    for d in digits:
        parts += [dtmf_tone(d, on, level), gap]
    return np.concatenate(parts)


def test_every_key_once() -> None:
    assert detect(through_g711(keyed(KEYS))) == list(KEYS)


def test_repeated_key_is_reported_per_press() -> None:
    assert detect(keyed("555")) == ["5", "5", "5"]


@pytest.mark.parametrize("snr_db", [20, 12])
def test_with_noise(snr_db: float) -> None:
    rng = np.random.default_rng(7)
    clean = keyed("159#", level=-12.0).astype(float)
    signal_power = np.mean(dtmf_tone("1", 0.1, -12.0).astype(float) ** 2)
    noise = rng.normal(0, np.sqrt(signal_power / 10 ** (snr_db / 10)), len(clean))
    noisy = np.clip(clean + noise, -32768, 32767).astype(np.int16)
    assert detect(through_g711(noisy, Codec.PCMU)) == list("159#")


def test_twist_within_limits_is_accepted() -> None:
    """Lines attenuate the high group: 6 dB of normal twist must still be a digit."""
    t = np.arange(800) / 8000
    tone = 3000 * np.sin(2 * np.pi * 770 * t) + 1500 * np.sin(2 * np.pi * 1336 * t)
    pcm = np.concatenate([np.zeros(400), tone, np.zeros(400)]).astype(np.int16)
    assert detect(pcm) == ["5"]


def test_quiet_and_short_tones_are_not_digits() -> None:
    assert detect(keyed("1", level=-45.0)) == []
    assert detect(keyed("1", on=0.015)) == []


def test_single_tones_are_not_digits() -> None:
    """Call-progress tones and a lone 697 Hz or 1209 Hz sine have one frequency, not two."""
    for kind in ToneKind:
        assert detect(render_tone(kind, 2.0)) == []
    t = np.arange(8000) / 8000
    for f in (697, 1209, 1000):
        assert detect((8000 * np.sin(2 * np.pi * f * t)).astype(np.int16)) == []


def test_white_noise_is_not_digits() -> None:
    rng = np.random.default_rng(3)
    noise = np.clip(rng.normal(0, 6000, 8000 * 10), -32768, 32767).astype(np.int16)
    assert detect(noise) == []


def test_no_false_digits_on_speech() -> None:
    """Every shipped prompt, both languages, through both G.711 laws: speech is not a keypad."""
    store = PromptStore()
    for language in LANGUAGES:
        for name in PROMPTS:
            speech = store.prompt(name, language)
            for codec in Codec:
                assert detect(through_g711(speech, codec)) == [], (language, name, codec)


def test_digits_over_speech_are_still_found() -> None:
    """A caller pressing a key while the prompt plays back through their handset."""
    speech = PromptStore().prompt("dial_extension", "en").astype(float) * 0.1
    keys = keyed("83", on=0.1, off=0.3, level=-8.0).astype(float)
    n = min(len(speech), len(keys))
    mixed = np.clip(speech[:n] + keys[:n], -32768, 32767).astype(np.int16)
    assert detect(mixed) == ["8", "3"]
