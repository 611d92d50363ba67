"""A test-side `AnsweredLeg` over a real `LocalMediaServer` endpoint, and the caller's phone.

The call engine's `CallLeg` hands voicemail exactly this: an answered endpoint it can play to and
record, with `hung_up` set when the caller goes. Here SIP is left out: the caller is an endpoint
on a second media server sending real RTP to the voicemail endpoint on 127.0.0.1 — speaking by
playing a WAV, keying `#` as an RFC 4733 event, and hanging up as the engine would make it look
(`hung_up` set, the endpoint destroyed, which saves a recording in progress).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zongji.media import LocalMediaServer
from zongji.media.api import (
    Codec,
    EndpointSpec,
    File,
    MediaError,
    MediaEvent,
    MediaServer,
    PlaybackEnd,
    PlaybackFinished,
    PlayItem,
    RecordingEnd,
    RecordingFinished,
)
from zongji.media.g711 import Pcm
from zongji.media.wav import write_wav


@dataclass
class MediaLeg:
    call_id: str
    endpoint_id: str
    media: MediaServer
    hung_up: asyncio.Event = field(default_factory=asyncio.Event)
    played: list[tuple[tuple[PlayItem, ...], PlaybackFinished]] = field(default_factory=list)
    recording: asyncio.Event = field(default_factory=asyncio.Event)
    recording_started_at: float = 0.0
    hung_up_by_app: bool = False
    _waits: dict[str, asyncio.Future[MediaEvent]] = field(default_factory=dict)
    _early: dict[str, MediaEvent] = field(default_factory=dict)

    async def pump(self) -> None:
        async for event in self.media.events():
            key = (
                event.playback_id
                if isinstance(event, PlaybackFinished)
                else event.recording_id
                if isinstance(event, RecordingFinished)
                else None
            )
            if key is None:
                continue
            waiter = self._waits.pop(key, None)
            if waiter is None:
                self._early[key] = event
            elif not waiter.done():
                waiter.set_result(event)

    async def _wait(self, key: str, *, after_hangup: float = 0.0) -> MediaEvent | None:
        if key in self._early:
            return self._early.pop(key)
        waiter: asyncio.Future[MediaEvent] = asyncio.get_running_loop().create_future()
        self._waits[key] = waiter
        gone = asyncio.ensure_future(self.hung_up.wait())
        try:
            either: set[asyncio.Future[Any]] = {waiter, gone}
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
            if not waiter.done() and after_hangup:
                await asyncio.wait({waiter}, timeout=after_hangup)
        finally:
            gone.cancel()
            self._waits.pop(key, None)
        return waiter.result() if waiter.done() else None

    async def play(self, items: Sequence[PlayItem], *, barge_in: str = "") -> PlaybackFinished:
        if self.hung_up.is_set():
            return PlaybackFinished(self.endpoint_id, "", PlaybackEnd.TARGET_GONE)
        playback_id = await self.media.play(self.endpoint_id, items, barge_in=barge_in)
        event = await self._wait(playback_id)
        result = (
            event
            if isinstance(event, PlaybackFinished)
            else PlaybackFinished(self.endpoint_id, playback_id, PlaybackEnd.TARGET_GONE)
        )
        self.played.append((tuple(items), result))
        return result

    async def collect(
        self,
        max_digits: int,
        *,
        first_timeout: float,
        inter_digit_timeout: float,
        terminators: str = "#",
    ) -> str:
        raise NotImplementedError("voicemail collects no digits")

    async def record(
        self, path: str, *, max_seconds: int, silence_seconds: int, stop_digits: str = "#"
    ) -> RecordingFinished:
        gone = RecordingFinished(self.endpoint_id, "", path, 0.0, RecordingEnd.ENDPOINT_GONE)
        if self.hung_up.is_set():
            return gone
        recording_id = await self.media.record(
            self.endpoint_id,
            path,
            max_seconds=float(max_seconds),
            silence_seconds=float(silence_seconds),
            stop_digits=stop_digits,
        )
        self.recording_started_at = asyncio.get_running_loop().time()
        self.recording.set()
        event = await self._wait(recording_id, after_hangup=2.0)
        return event if isinstance(event, RecordingFinished) else gone

    async def hangup(self) -> None:
        self.hung_up_by_app = True
        await self.caller_hangs_up()

    async def caller_hangs_up(self) -> None:
        """What the engine does on BYE: mark the leg, destroy its endpoint (saving a
        recording in progress)."""
        if self.hung_up.is_set():
            return
        self.hung_up.set()
        with contextlib.suppress(MediaError):
            await self.media.destroy_endpoint(self.endpoint_id)


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
) -> AsyncIterator[tuple[MediaLeg, Phone]]:
    """A voicemail leg and the caller's phone, connected over real RTP on 127.0.0.1."""
    async with LocalMediaServer(port_min=0) as pbx, LocalMediaServer(port_min=0) as phone:
        vm_ep = await pbx.create_endpoint(EndpointSpec(codec=codec))
        caller_ep = await phone.create_endpoint(EndpointSpec(codec=codec, remote=vm_ep.local))
        await pbx.update_endpoint(vm_ep.id, EndpointSpec(codec=codec, remote=caller_ep.local))
        leg = MediaLeg(call_id=f"vm-test-{vm_ep.id}", endpoint_id=vm_ep.id, media=pbx)
        pump = asyncio.create_task(leg.pump())
        try:
            yield leg, Phone(phone, caller_ep.id, work)
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
