"""The talk-time limit of a call a quota allows only so long (ADM-18, SEC-6).

When an authorised call is answered, the outbound policy says how many seconds it may last
(`OutboundPolicy.answered`). A minute before the end the caller hears "this call will end in one
minute" (a beep if that prompt were missing from the catalogue); at the limit the PBX hangs up
(`HangupSide.SYSTEM`). Timers run on the event loop, not per packet.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from zongji.media import PROMPTS, PlayItem, Prompt, Tone, ToneKind
from zongji.pbx.calls.legs import CallLeg

log = logging.getLogger(__name__)

WARNING_PROMPT = "call_ends_in_one_minute"
WARNING_BEFORE = 60.0


def warning_items() -> list[PlayItem]:
    if WARNING_PROMPT in PROMPTS:
        return [Prompt(WARNING_PROMPT)]
    return [Tone(ToneKind.BEEP)]


class TalkLimit:
    """Warns `leg` a minute before `seconds` are up, then calls `on_limit`."""

    def __init__(
        self,
        leg: CallLeg,
        seconds: float,
        on_limit: Callable[[], None],
        *,
        warn_before: float = WARNING_BEFORE,
    ) -> None:
        self.leg = leg
        self.seconds = max(0.0, seconds)
        self.on_limit = on_limit
        self.warn_before = warn_before
        self.warned = False
        self.reached = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        warn_at = self.seconds - self.warn_before
        if warn_at > 0:
            await asyncio.sleep(warn_at)
            self.warned = True
            with contextlib.suppress(Exception):
                await self.leg.start_playing(warning_items())
            await asyncio.sleep(self.warn_before)
        else:
            await asyncio.sleep(self.seconds)
        self.reached = True
        log.info("call %s reached its talk-time limit of %ss", self.leg.call_id, self.seconds)
        self.on_limit()
