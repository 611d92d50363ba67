"""Playback of a list of audio segments, one 20 ms frame per clock tick.

The segments (prompts, tones, silence) are already 8 kHz PCM when a `Player` is built — loading
and conversion happen in `PromptStore`, before playback starts, so a bad file fails the `play`
request instead of going quiet in the middle of a call. Segments are shared read-only arrays;
the player only walks an index through them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .g711 import FRAME_SAMPLES, Pcm


class Player:
    def __init__(
        self,
        segments: Sequence[Pcm],
        *,
        loop: bool = False,
        barge_in: frozenset[str] = frozenset(),
    ) -> None:
        self._segments = [s for s in segments if len(s)]
        self.loop = loop and bool(self._segments)
        #: Digits that stop playback (an IVR menu stops talking when the caller presses a key).
        self.barge_in = barge_in
        self._index = 0
        self._offset = 0
        self.frames_played = 0

    @property
    def done(self) -> bool:
        return self._index >= len(self._segments)

    def stop(self) -> None:
        self._index = len(self._segments)

    def next_frame(self) -> Pcm | None:
        """The next 160 samples (the last frame padded with silence), or None when finished."""
        if self.done:
            return None
        seg = self._segments[self._index]
        end = self._offset + FRAME_SAMPLES
        if end <= len(seg):
            frame = seg[self._offset : end]
            self._offset = end
            if end == len(seg):
                self._advance()
        else:
            parts = [seg[self._offset :]]
            have = len(parts[0])
            self._advance()
            while have < FRAME_SAMPLES and not self.done:
                seg = self._segments[self._index]
                take = min(FRAME_SAMPLES - have, len(seg))
                parts.append(seg[:take])
                have += take
                self._offset = take
                if take == len(seg):
                    self._advance()
            if have < FRAME_SAMPLES:
                parts.append(np.zeros(FRAME_SAMPLES - have, dtype=np.int16))
            frame = np.concatenate(parts)
        self.frames_played += 1
        return frame

    def _advance(self) -> None:
        self._index += 1
        self._offset = 0
        if self.loop and self._index >= len(self._segments):
            self._index = 0
