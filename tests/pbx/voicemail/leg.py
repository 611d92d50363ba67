"""The engine's own `CallLeg` on a real `LocalMediaServer` endpoint, and the caller's phone.

`CallLeg` (`pbx/calls/legs.py`) is what the call engine hands voicemail; here it is built without
SIP (no dialog: its `hangup` just ends the leg), watched by a small subclass so a test can see
what the caller heard and when recording began. The caller is an endpoint on a second media
server sending real RTP to the voicemail endpoint on 127.0.0.1 — speaking by playing a WAV,
keying `#` as an RFC 4733 event, and hanging up as the engine makes it look (`close()`: `hung_up`
set, the endpoint destroyed, which saves a recording in progress).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zongji.media import LocalMediaServer
from zongji.media.api import (
    Codec,
    EndpointSpec,
    File,
    PlaybackFinished,
    PlayItem,
    RecordingFinished,
)
from zongji.media.g711 import Pcm
from zongji.media.wav import write_wav
from zongji.pbx.calls.events import MediaEventRouter
from zongji.pbx.calls.legs import CallLeg
from zongji.sip.offer_answer import LocalMedia, SdpSession


class ObservedLeg(CallLeg):
    """The engine's leg, noting what was played, when recording started, who hung up."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.played: list[tuple[tuple[PlayItem, ...], PlaybackFinished]] = []
        self.recording = asyncio.Event()
        self.hung_up_by_app = False

    async def play(self, items: Sequence[PlayItem], *, barge_in: str = "") -> PlaybackFinished:
        result = await super().play(items, barge_in=barge_in)
        self.played.append((tuple(items), result))
        return result

    async def record(
        self, path: str, *, max_seconds: int, silence_seconds: int, stop_digits: str = "#"
    ) -> RecordingFinished:
        # set once the engine has the request (the caller should not speak before that)
        asyncio.get_running_loop().call_soon(self.recording.set)
        return await super().record(
            path, max_seconds=max_seconds, silence_seconds=silence_seconds, stop_digits=stop_digits
        )

    async def hangup(self) -> None:
        self.hung_up_by_app = True
        await self.close()

    async def caller_hangs_up(self) -> None:
        """What the engine does on the caller's BYE."""
        await self.close()


@dataclass
class Phone:
    """The caller: an endpoint on its own media server, sending to the voicemail endpoint."""

    media: LocalMediaServer
    endpoint_id: str
    work: Path

    async def say(self, pcm: Pcm) -> None:
        """Speak `pcm` (played by the phone's engine in real time) and wait until it is said."""
        path = self.work / f"say-{id(pcm)}-{len(pcm)}.wav"
        write_wav(path, pcm)
        await self.media.play(self.endpoint_id, [File(str(path))])
        await asyncio.sleep(len(pcm) / 8000)

    async def key(self, digit: str) -> None:
        await self.media.send_dtmf(self.endpoint_id, digit, duration_ms=120)


def sine(freq: float, seconds: float, amplitude: float = 8000.0) -> Pcm:
    t = np.arange(int(seconds * 8000)) / 8000
    return np.round(amplitude * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def level_at(pcm: Pcm, freq: float) -> float:
    """How much of the signal's energy is within 20 Hz of `freq` (0 … 1)."""
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64))) ** 2
    bins = np.fft.rfftfreq(len(pcm), 1 / 8000)
    near = np.abs(bins - freq) < 20
    return float(spectrum[near].sum() / max(spectrum.sum(), 1e-9))


@contextlib.asynccontextmanager
async def answered_call(
    work: Path, codec: Codec = Codec.PCMA
) -> AsyncIterator[tuple[ObservedLeg, Phone]]:
    """A voicemail leg and the caller's phone, connected over real RTP on 127.0.0.1."""
    async with LocalMediaServer(port_min=0) as pbx, LocalMediaServer(port_min=0) as phone:
        router = MediaEventRouter(pbx)
        router.start()
        vm_ep = await pbx.create_endpoint(EndpointSpec(codec=codec))
        caller_ep = await phone.create_endpoint(EndpointSpec(codec=codec, remote=vm_ep.local))
        info = await pbx.update_endpoint(
            vm_ep.id, EndpointSpec(codec=codec, remote=caller_ep.local)
        )
        session = SdpSession(LocalMedia(*vm_ep.local))
        leg = ObservedLeg(f"vm-test-{vm_ep.id}", pbx, router, info, session, media_timeout=None)
        try:
            yield leg, Phone(phone, caller_ep.id, work)
        finally:
            await leg.close()
            await router.stop()
