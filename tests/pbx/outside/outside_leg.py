"""A test-side `AnsweredLeg` over a real `LocalMediaServer` endpoint, and a caller's phone.

Until the engine's `calls/legs.py` is usable on its own, the IVR tests drive the flow through
this leg: the same media server, the same events, the same contract (`contracts.AnsweredLeg`),
with SIP left out. It keeps keys typed ahead (pressed while a prompt plays, including the one
that cut it short) for the next `collect`, as the IVR relies on.

The caller is a second endpoint on its own media server, pointed at the IVR's endpoint: it keys
digits with `send_dtmf`, as RFC 4733 telephone-events or, when it has no telephone-event payload
type, as key tones in the audio (in-band).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from zongji.media import LocalMediaServer
from zongji.media.api import (
    DtmfReceived,
    EndpointSpec,
    MediaServer,
    PlaybackEnd,
    PlaybackFinished,
    PlayItem,
    RecordingFinished,
)


@dataclass
class MediaLeg:
    """One answered leg: an endpoint on `media`, its events read by a pump task."""

    call_id: str
    endpoint_id: str
    media: MediaServer
    hung_up: asyncio.Event = field(default_factory=asyncio.Event)
    played: list[tuple[tuple[PlayItem, ...], PlaybackFinished]] = field(default_factory=list)
    _digits: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    _played_more: asyncio.Condition = field(default_factory=asyncio.Condition)
    _playbacks: dict[str, asyncio.Future[PlaybackFinished]] = field(default_factory=dict)

    async def pump(self, events: AsyncIterator[object]) -> None:
        async for event in events:
            if isinstance(event, DtmfReceived) and event.endpoint_id == self.endpoint_id:
                self._digits.put_nowait(event.digit)
            elif isinstance(event, PlaybackFinished) and event.target == self.endpoint_id:
                waiter = self._playbacks.pop(event.playback_id, None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(event)

    async def _until_hangup(self, awaitable: asyncio.Future[PlaybackFinished]) -> None:
        gone: asyncio.Future[Any] = asyncio.ensure_future(self.hung_up.wait())
        either: set[asyncio.Future[Any]] = {awaitable, gone}
        try:
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()

    async def play(self, items: Sequence[PlayItem], *, barge_in: str = "") -> PlaybackFinished:
        if self.hung_up.is_set():
            return PlaybackFinished(self.endpoint_id, "", PlaybackEnd.TARGET_GONE)
        waiter: asyncio.Future[PlaybackFinished] = asyncio.get_running_loop().create_future()
        playback_id = await self.media.play(self.endpoint_id, items, barge_in=barge_in)
        self._playbacks[playback_id] = waiter
        await self._until_hangup(waiter)
        if waiter.done():
            result = waiter.result()
        else:
            waiter.cancel()
            result = PlaybackFinished(self.endpoint_id, playback_id, PlaybackEnd.TARGET_GONE)
        async with self._played_more:
            self.played.append((tuple(items), result))
            self._played_more.notify_all()
        return result

    async def until_played(self, count: int) -> None:
        """Wait until `count` plays have finished (the test's view of what the caller heard)."""
        async with self._played_more:
            await self._played_more.wait_for(lambda: len(self.played) >= count)

    async def collect(
        self,
        max_digits: int,
        *,
        first_timeout: float,
        inter_digit_timeout: float,
        terminators: str = "#",
    ) -> str:
        keyed = ""
        timeout = first_timeout
        while len(keyed) < max_digits and not self.hung_up.is_set():
            getter = asyncio.ensure_future(self._digits.get())
            gone = asyncio.ensure_future(self.hung_up.wait())
            done, _ = await asyncio.wait(
                {getter, gone}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            gone.cancel()
            if getter not in done:
                getter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await getter
                break
            digit = getter.result()
            if digit in terminators:
                break
            keyed += digit
            timeout = inter_digit_timeout
        return keyed

    async def record(
        self, path: str, *, max_seconds: int, silence_seconds: int, stop_digits: str = "#"
    ) -> RecordingFinished:
        raise NotImplementedError("the IVR does not record")

    async def hangup(self) -> None:
        self.hung_up.set()


@dataclass
class Caller:
    """The outside caller's phone: an endpoint on its own media server."""

    media: LocalMediaServer
    endpoint_id: str

    async def key(self, digits: str, *, gap: float = 0.25) -> None:
        """Press keys one by one, as a person does (each press 100 ms, then a pause)."""
        for digit in digits:
            await self.media.send_dtmf(self.endpoint_id, digit, duration_ms=100)
            await asyncio.sleep(0.1 + gap)


@contextlib.asynccontextmanager
async def answered_call(*, inband: bool = False) -> AsyncIterator[tuple[MediaLeg, Caller]]:
    """An IVR leg and the caller's phone connected over real RTP on 127.0.0.1.

    With `inband` the caller offers no telephone-event and keys tones in the audio, and the
    IVR's endpoint listens for them (as the engine sets it up for such a caller)."""
    async with LocalMediaServer(port_min=0) as pbx, LocalMediaServer(port_min=0) as phone:
        pt = None if inband else 101
        ivr_ep = await pbx.create_endpoint(EndpointSpec(telephone_event_pt=pt, inband_dtmf=inband))
        caller_ep = await phone.create_endpoint(
            EndpointSpec(remote=ivr_ep.local, telephone_event_pt=pt)
        )
        await pbx.update_endpoint(
            ivr_ep.id,
            EndpointSpec(remote=caller_ep.local, telephone_event_pt=pt, inband_dtmf=inband),
        )
        leg = MediaLeg(call_id="ivr-test", endpoint_id=ivr_ep.id, media=pbx)
        pump = asyncio.create_task(leg.pump(pbx.events()))
        try:
            yield leg, Caller(phone, caller_ep.id)
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
