"""What the caller hears while the callee rings.

The 180 is relayed (a phone makes its own ringback); an outside caller, or a caller the PBX has
answered already (the menu), hears a ringback tone from their own endpoint; a trunk's 183 with
SDP, the carrier's own early media (its ringback or announcement), is joined to the caller through
the call's conversation until the trunk answers or fails.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import Any

from zongji.media import MediaError, MediaServer, Tone, ToneKind
from zongji.pbx.calls.conversation import Conversation
from zongji.pbx.calls.flags import Flag, watch
from zongji.pbx.calls.fork import ForkTarget
from zongji.pbx.calls.legs import CallLeg
from zongji.pbx.calls.sdp import SdpRefused, endpoint_spec, read_answer
from zongji.sip import IncomingCall, Response


class Ringback:
    def __init__(
        self,
        media: MediaServer,
        incoming: IncomingCall,
        caller_leg: CallLeg,
        conversation: Conversation,
        gone: asyncio.Event,
        *,
        outside_caller: bool,
        early_leg: CallLeg | None = None,
    ) -> None:
        self.media = media
        self.incoming = incoming
        self.caller_leg = caller_leg
        self.conversation = conversation
        self.gone = gone
        self.outside_caller = outside_caller
        self.early_leg = early_leg
        self.rang = False
        self.silent = False
        self.responded = False
        self._gone_or_silent: asyncio.Event | None = None
        self._tasks: list[asyncio.Future[None]] = []
        self._watch: asyncio.Future[Any] | None = None

    @property
    def gone_or_silent(self) -> asyncio.Event:
        """Set when the caller gave up, or the trunk said nothing in time: stop ringing it.

        Made (with the watch that follows `gone`) on first use: only a trunk's ringing waits
        on it."""
        if self._gone_or_silent is None:
            flag = self._gone_or_silent = Flag()
            self._watch = watch(self.gone)

            def follow(watched: asyncio.Future[Any]) -> None:
                if not watched.cancelled():
                    flag.set()

            self._watch.add_done_callback(follow)
        return self._gone_or_silent

    def setup_timed_out(self) -> None:
        """A trunk gave no response at all in time: give up on it (failover)."""
        if not self.responded:
            self.silent = True
            self.gone_or_silent.set()

    def provisional(self, target: ForkTarget, response: Response, dialog: object) -> None:
        self.responded = True
        if response.status == 100:
            return
        if self.early_leg is not None and response.status == 183 and response.body:
            self._spawn(self._early_media(response.body))
            return
        if self.rang:
            return
        self.rang = True
        self._ringback()

    def _spawn(self, coro: Awaitable[None]) -> None:
        self._tasks.append(asyncio.ensure_future(coro))

    def _ringback(self) -> None:
        """Relay the ringing, or play a ringback tone. Relaying (a phone calling) is done here
        and now; only a tone, which waits on the media engine, takes a task."""
        incoming, leg = self.incoming, self.caller_leg
        if leg.answered:
            self._spawn(leg.start_playing([Tone(ToneKind.RINGBACK)], loop=True))
        elif incoming.answered:
            return
        elif self.outside_caller:
            progress(incoming, leg.answer_body)
            self._spawn(leg.start_playing([Tone(ToneKind.RINGBACK)], loop=True))
        else:
            incoming.ring(180)

    async def _early_media(self, body: bytes) -> None:
        leg = self.early_leg
        assert leg is not None
        try:
            negotiated = read_answer(leg.session, body)
            await self.media.update_endpoint(
                leg.endpoint_id, endpoint_spec(negotiated, media_timeout=None)
            )
            await self.conversation.add(leg)
        except (SdpRefused, MediaError):
            return
        if not self.incoming.answered and not self.rang:
            progress(self.incoming, self.caller_leg.answer_body)
        self.rang = True

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
        # A cancelled task keeps its CancelledError, whose traceback holds the task's frame and
        # so `self`: forgetting the tasks keeps that from being a cycle for the garbage collector.
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            if not task.done():
                task.cancel()
        if self.early_leg is not None:
            with contextlib.suppress(MediaError):
                await self.conversation.remove(self.early_leg)


def progress(incoming: IncomingCall, body: bytes) -> None:
    """183 with our SDP (early media), unless the call has its final answer already."""
    if not incoming.answered:
        incoming.progress(body)
