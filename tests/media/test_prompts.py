"""The shipped prompts: one WAV per catalogue entry and language, 8 kHz mono 16-bit, speech."""

from __future__ import annotations

import wave

import numpy as np
import pytest

from zongji.media.prompts.catalog import LANGUAGES, PROMPTS
from zongji.media.prompts.store import PROMPT_DIR, PromptError, PromptStore

REQUIRED = {
    "welcome", "dial_extension", "invalid_number", "busy", "unreachable", "voicemail_greeting",
    "conference_enter_password", "conference_wrong_password", "conference_joined",
    "conference_participant_left", "conference_muted", "conference_unmuted", "conference_ended",
    "verification_code_is", "minutes_used_up", "call_not_permitted", "outside_working_hours",
    "transferring_receptionist", "no_new_messages", "call_ends_in_one_minute",
} | {f"digit_{d}" for d in range(10)}  # fmt: skip


def test_catalogue_has_what_the_switchboard_needs() -> None:
    assert set(PROMPTS) >= REQUIRED
    for zh, en in PROMPTS.values():
        assert zh.strip()
        assert en.strip()


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_prompt_is_shipped_as_8khz_mono_16bit(language: str) -> None:
    files = {p.stem for p in (PROMPT_DIR / language).glob("*.wav")}
    assert files == set(PROMPTS), "run scripts/make-prompts after changing the catalogue"
    for name in PROMPTS:
        with wave.open(str(PROMPT_DIR / language / f"{name}.wav")) as w:
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
            assert 0.2 < w.getnframes() / 8000 < 12


def test_prompts_are_speech_at_a_telephone_level() -> None:
    store = PromptStore()
    for language in LANGUAGES:
        for name in PROMPTS:
            pcm = store.prompt(name, language).astype(float)
            peak = np.abs(pcm).max()
            assert 16000 < peak <= 32767, (language, name)  # normalised to -3 dBFS
            # band-limited for the phone: little energy below 200 Hz
            spectrum = np.abs(np.fft.rfft(pcm)) ** 2
            freqs = np.fft.rfftfreq(len(pcm), 1 / 8000)
            assert spectrum[freqs < 200].sum() < 0.05 * spectrum.sum(), (language, name)


def test_store_caches_and_rejects_unknowns(tmp_path) -> None:
    store = PromptStore()
    assert store.prompt("welcome", "en") is store.prompt("welcome", "en")
    assert not store.prompt("welcome", "en").flags.writeable  # shared: nobody may scribble
    with pytest.raises(PromptError, match="unknown prompt"):
        store.prompt("nope", "en")
    empty = PromptStore(tmp_path)
    with pytest.raises(PromptError, match="No such file"):
        empty.prompt("welcome", "en")
