"""The engine's `CallLeg` over a real `LocalMediaServer` endpoint, and an outside caller's phone.

The IVR tests drive the flow through the call engine's own leg (`calls/legs.py`: the
`AnsweredLeg` the engine hands the IVR), with its media-event router, on real RTP; only SIP is
left out (the caller hanging up is what the leg's dialog ending does: `hung_up` is set). The leg
keeps keys typed ahead (pressed while a prompt plays, including the one that cut it short) for
the next `collect`, as the IVR relies on. `PlayLog` remembers what the caller heard.

The caller is a second endpoint on its own media server, pointed at the leg's endpoint: it keys
digits with `send_dtmf`, as RFC 4733 telephone-events or, when it has no telephone-event payload
type, as key tones in the audio (in-band).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from zongji.media import LocalMediaServer
from zongji.media.api import EndpointSpec, PlaybackFinished, PlayItem
from zongji.pbx.calls.events import MediaEventRouter
from zongji.pbx.calls.legs import CallLeg
from zongji.sip.offer_answer import LocalMedia, SdpSession


class PlayLog(CallLeg):
    """The engine's leg, remembering every play and how it ended."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.played: list[tuple[tuple[PlayItem, ...], PlaybackFinished]] = []
        self._played_more = asyncio.Condition()

    async def play(self, items: Sequence[PlayItem], *, barge_in: str = "") -> PlaybackFinished:
        result = await super().play(items, barge_in=barge_in)
        async with self._played_more:
            self.played.append((tuple(items), result))
            self._played_more.notify_all()
        return result

    async def until_played(self, count: int) -> None:
        """Wait until `count` plays have finished (the test's view of what the caller heard)."""
        async with self._played_more:
            await self._played_more.wait_for(lambda: len(self.played) >= count)

    def caller_hangs_up(self) -> None:
        """What the leg's dialog does when the caller's BYE arrives."""
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
async def answered_call(*, inband: bool = False) -> AsyncIterator[tuple[PlayLog, Caller]]:
    """An answered leg and the caller's phone connected over real RTP on 127.0.0.1.

    With `inband` the caller offers no telephone-event and keys tones in the audio, and the
    leg's endpoint listens for them (as the engine sets it up for such a caller)."""
    async with LocalMediaServer(port_min=0) as pbx, LocalMediaServer(port_min=0) as phone:
        pt = None if inband else 101
        info = await pbx.create_endpoint(EndpointSpec(telephone_event_pt=pt, inband_dtmf=inband))
        caller_ep = await phone.create_endpoint(
            EndpointSpec(remote=info.local, telephone_event_pt=pt)
        )
        info = await pbx.update_endpoint(
            info.id,
            EndpointSpec(remote=caller_ep.local, telephone_event_pt=pt, inband_dtmf=inband),
        )
        router = MediaEventRouter(pbx)
        router.start()
        session = SdpSession(LocalMedia(info.local[0], info.local[1]))
        leg = PlayLog("ivr-test", pbx, router, info, session, media_timeout=None)
        try:
            yield leg, Caller(phone, caller_ep.id)
        finally:
            await leg.close()
            await router.stop()
