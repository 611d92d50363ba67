"""Loads prompts and uploaded WAVs once, converted to 8 kHz mono, and keeps them in memory.

A prompt is loaded on first use and then shared read-only by every player, so a thousand callers
hearing the welcome greeting cost one copy of it.
"""

from __future__ import annotations

from pathlib import Path

from ..g711 import Pcm
from ..wav import WavError, load_wav
from .catalog import LANGUAGES, PROMPTS

PROMPT_DIR = Path(__file__).parent


class PromptError(LookupError):
    """A prompt that is not in the catalogue, or whose file is missing or unusable."""


class PromptStore:
    def __init__(self, root: Path = PROMPT_DIR, *, max_files: int = 512) -> None:
        self.root = root
        self.max_files = max_files
        self._cache: dict[Path, tuple[float, Pcm]] = {}

    def path(self, name: str, language: str) -> Path:
        if name not in PROMPTS:
            raise PromptError(f"unknown prompt {name!r}")
        if language not in LANGUAGES:
            raise PromptError(f"no prompts in language {language!r}")
        return self.root / language / f"{name}.wav"

    def prompt(self, name: str, language: str) -> Pcm:
        """A catalogue prompt's audio; raises `PromptError` if it cannot be had."""
        return self.file(self.path(name, language))

    def file(self, path: str | Path) -> Pcm:
        """Any WAV file's audio, reloaded if the file changed since it was cached."""
        p = Path(path)
        try:
            mtime = p.stat().st_mtime
        except OSError as e:
            raise PromptError(f"{p}: {e.strerror or e}") from e
        cached = self._cache.get(p)
        if cached is not None and cached[0] == mtime:
            return cached[1]
        try:
            pcm = load_wav(p)
        except WavError as e:
            raise PromptError(str(e)) from e
        pcm.flags.writeable = False
        if len(self._cache) >= self.max_files:
            self._cache.pop(next(iter(self._cache)))
        self._cache[p] = (mtime, pcm)
        return pcm
