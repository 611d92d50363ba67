"""Two answered legs talking to each other through the media engine.

The bridge connects the two endpoints (the engine relays audio both ways, transcoding PCMU/PCMA
and passing RFC 4733 digits with each side's payload type), reflects hold and unhold from one
side to the other with a re-INVITE, and waits for the end: a BYE from either side, a media
timeout, or the PBX ending the call (talk-time limit, shutdown). Whoever did not hang up gets the
BYE. It returns which side ended the call, for the call record.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random

from zongji.media import MediaError, MediaServer
from zongji.pbx.calls.legs import CallLeg
from zongji.pbx.calls.sdp import SdpRefused, endpoint_spec, make_offer, read_answer
from zongji.pbx.contracts import HangupSide
from zongji.sip import DialogTerminated, Direction

log = logging.getLogger(__name__)


class Bridge:
    def __init__(self, media: MediaServer, caller: CallLeg, callee: CallLeg) -> None:
        self.media = media
        self.caller = caller
        self.callee = callee
        self._system_end = asyncio.Event()
        self._system_reason = ""
        self._tasks: set[asyncio.Task[None]] = set()

    def end(self, reason: str) -> None:
        """The PBX ends the call (limit reached, media gone, shutdown)."""
        if not self._system_end.is_set():
            self._system_reason = reason
            self._system_end.set()

    @property
    def system_reason(self) -> str:
        return self._system_reason

    async def connect(self) -> None:
        """Relay media both ways: done before the caller gets its 200, so no first word is lost."""
        for leg in (self.caller, self.callee):
            leg.on_direction = self._reflect
            leg.on_media_timeout = lambda _leg: self.end("media timeout")
        await self.media.connect(self.caller.endpoint_id, self.callee.endpoint_id)

    async def run(self) -> HangupSide:
        """Until either side hangs up or the PBX ends the call; then the other side gets BYE."""
        ends = {
            asyncio.ensure_future(self.caller.hung_up.wait()): HangupSide.CALLER,
            asyncio.ensure_future(self.callee.hung_up.wait()): HangupSide.CALLEE,
            asyncio.ensure_future(self._system_end.wait()): HangupSide.SYSTEM,
        }
        try:
            done, _ = await asyncio.wait(ends, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for future in ends:
                future.cancel()
        side = HangupSide.SYSTEM
        for future, name in ends.items():
            if future in done:
                side = name
                if name is not HangupSide.SYSTEM:
                    break
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(MediaError):
            await self.media.disconnect(self.caller.endpoint_id)
        self.caller.bye_soon()
        self.callee.bye_soon()
        return side

    # --- hold ----------------------------------------------------------------------------

    def _reflect(self, leg: CallLeg, direction: Direction) -> None:
        """One side put the call on hold (or took it off): tell the other side the same way."""
        other = self.callee if leg is self.caller else self.caller
        task = asyncio.get_running_loop().create_task(self._reoffer(other, direction))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reoffer(self, leg: CallLeg, direction: Direction) -> None:
        dialog = leg.dialog
        if dialog is None:
            return
        for attempt in range(3):
            try:
                response = await dialog.reinvite(make_offer(leg.session, direction))
            except RuntimeError:  # their own re-INVITE is in progress: try again shortly
                await asyncio.sleep(0.2 + random.random() * 0.5)
                continue
            except (DialogTerminated, TimeoutError, OSError):
                return
            if response.status == 491 and attempt < 2:  # glare (RFC 3261 §14.1)
                await asyncio.sleep(
                    random.uniform(2.1, 4.0) if dialog.is_uac else random.uniform(0, 2.0)
                )
                continue
            if not response.success:
                log.info("re-INVITE for hold on %s got %s", leg.call_id, response.status)
                return
            try:
                negotiated = read_answer(leg.session, response.body)
                await self.media.update_endpoint(
                    leg.endpoint_id,
                    endpoint_spec(
                        negotiated,
                        media_timeout=None
                        if direction is not Direction.SENDRECV
                        else leg.media_timeout,
                    ),
                )
            except (SdpRefused, MediaError) as error:
                log.info("answer to hold re-INVITE on %s unusable: %s", leg.call_id, error)
            return
