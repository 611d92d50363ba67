"""N-party conference mixing, one 20 ms frame per tick, in numpy.

Every member's frame becomes a row of an N × 160 matrix. Muted members' rows are zeroed (they
cannot be heard); the sum of all rows, plus any announcement playing to the whole conference, is
what a listener hears — minus their own row, so nobody hears their own echo. Summation is in
32-bit integers and clipped to 16 bits only at the end, so loud talkers saturate instead of
wrapping around into noise. Deaf members get a silent row.

Speaking detection runs on the same matrix: a member is speaking after two frames above
`speaking_dbov` and stops after `hangover_frames` below it (a word's pauses do not flicker the
indicator). The active speaker is the loudest speaking member, changed only after another has
been loudest for `switch_frames` ticks, so the indicator follows the conversation, not syllables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .g711 import FRAME_SAMPLES, Pcm

MAX_MEMBERS = 100
_FULL_SCALE_POWER = 32767.0**2 / 2


@dataclass(frozen=True, slots=True)
class SpeakingChange:
    member: str
    speaking: bool


@dataclass(slots=True)
class MixResult:
    #: One row of 160 samples per member, in `ConferenceMixer.members` order.
    out: npt.NDArray[np.int16]
    #: Which members are speaking now (for CSRC lists and the UI).
    speaking: npt.NDArray[np.bool_]
    changes: list[SpeakingChange]
    #: Set when the active speaker changed this tick (None inside means nobody speaks now).
    active_changed: bool
    active: str | None


class ConferenceFull(Exception):
    pass


class ConferenceMixer:
    def __init__(
        self,
        *,
        max_members: int = MAX_MEMBERS,
        speaking_dbov: float = -40.0,
        hangover_frames: int = 25,
        switch_frames: int = 10,
    ) -> None:
        self.max_members = max_members
        self._threshold = _FULL_SCALE_POWER * 10 ** (speaking_dbov / 10)
        self._hangover = hangover_frames
        self._switch = switch_frames
        self.members: list[str] = []
        self._muted = np.zeros(0, dtype=np.bool_)
        self._deaf = np.zeros(0, dtype=np.bool_)
        self._speaking = np.zeros(0, dtype=np.bool_)
        self._above = np.zeros(0, dtype=np.int32)
        self._below = np.zeros(0, dtype=np.int32)
        self._level = np.zeros(0, dtype=np.float64)
        self.active: str | None = None
        self._challenger: str | None = None
        self._challenge_run = 0

    def __len__(self) -> int:
        return len(self.members)

    def add(self, member: str, *, muted: bool = False, deaf: bool = False) -> None:
        if member in self.members:
            self.set_flags(member, muted=muted, deaf=deaf)
            return
        if len(self.members) >= self.max_members:
            raise ConferenceFull(f"a conference holds at most {self.max_members} members")
        self.members.append(member)
        self._muted = np.append(self._muted, muted)
        self._deaf = np.append(self._deaf, deaf)
        self._speaking = np.append(self._speaking, False)
        self._above = np.append(self._above, 0)
        self._below = np.append(self._below, 0)
        self._level = np.append(self._level, 0.0)

    def remove(self, member: str) -> None:
        i = self.members.index(member)
        del self.members[i]
        for name in ("_muted", "_deaf", "_speaking", "_above", "_below", "_level"):
            setattr(self, name, np.delete(getattr(self, name), i))
        if self.active == member:
            self.active = None

    def set_flags(
        self, member: str, *, muted: bool | None = None, deaf: bool | None = None
    ) -> None:
        i = self.members.index(member)
        if muted is not None:
            self._muted[i] = muted
        if deaf is not None:
            self._deaf[i] = deaf

    def flags(self, member: str) -> tuple[bool, bool]:
        i = self.members.index(member)
        return bool(self._muted[i]), bool(self._deaf[i])

    def mix(self, frames: Sequence[Pcm | None], announcement: Pcm | None = None) -> MixResult:
        """Mix one tick. `frames[i]` is member i's input (None: nothing arrived)."""
        n = len(self.members)
        x = np.zeros((n, FRAME_SAMPLES), dtype=np.int32)
        for i, f in enumerate(frames):
            if f is not None:
                x[i] = f
        x[self._muted] = 0
        total = x.sum(axis=0)
        if announcement is not None:
            total += announcement
        # (np.minimum/np.maximum rather than np.clip: the same result without np.clip's
        # per-call Python overhead, which dominates at conference sizes of 3 to 8)
        out = np.minimum(np.maximum(total - x, -32768), 32767).astype(np.int16)
        out[self._deaf] = 0
        changes = self._detect_speaking(x)
        active_changed = self._update_active()
        return MixResult(out, self._speaking.copy(), changes, active_changed, self.active)

    def _detect_speaking(self, x: npt.NDArray[np.int32]) -> list[SpeakingChange]:
        xf = x.astype(np.float64)
        power = np.einsum("ij,ij->i", xf, xf) * (1.0 / FRAME_SAMPLES)
        self._level = 0.7 * self._level + 0.3 * power
        loud = power > self._threshold
        self._above = (self._above + 1) * loud
        self._below = (self._below + 1) * ~loud
        starts = ~self._speaking & (self._above >= 2)
        stops = self._speaking & (self._below >= self._hangover)
        if not (starts.any() or stops.any()):
            return []
        self._speaking = (self._speaking | starts) & ~stops
        return [SpeakingChange(self.members[i], True) for i in np.flatnonzero(starts)] + [
            SpeakingChange(self.members[i], False) for i in np.flatnonzero(stops)
        ]

    def _update_active(self) -> bool:
        if not self._speaking.any():
            self._challenger, self._challenge_run = None, 0
            if self.active is not None:
                self.active = None
                return True
            return False
        levels = np.where(self._speaking, self._level, -1.0)
        loudest = self.members[int(np.argmax(levels))]
        current_speaking = (
            self.active is not None and self._speaking[self.members.index(self.active)]
        )
        if loudest == self.active:
            self._challenger, self._challenge_run = None, 0
            return False
        if not current_speaking:
            self.active = loudest
            self._challenger, self._challenge_run = None, 0
            return True
        if loudest == self._challenger:
            self._challenge_run += 1
        else:
            self._challenger, self._challenge_run = loudest, 1
        if self._challenge_run >= self._switch:
            self.active = loudest
            self._challenger, self._challenge_run = None, 0
            return True
        return False
