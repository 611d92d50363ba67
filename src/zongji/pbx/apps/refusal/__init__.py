"""The refusal announcement: a caller the outbound policy refused hears why, as early media (so
the caller is not billed), for at most `LIMIT` seconds or until they give up."""

from __future__ import annotations

import asyncio
from typing import ClassVar

from zongji.media import Prompt
from zongji.pbx.apps.application import AppContext, Application, AppOutcome
from zongji.pbx.contracts import CallStatus

LIMIT = 20.0


class RefusalAnnouncement(Application):
    name = "refusal_announcement"
    answers: ClassVar[bool] = False

    async def run(self, context: AppContext) -> AppOutcome:
        if context.prompt:
            played = asyncio.ensure_future(context.leg.play([Prompt(context.prompt)]))
            gone = asyncio.ensure_future(context.gone.wait())
            try:
                await asyncio.wait(
                    {played, gone}, timeout=LIMIT, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                played.cancel()
                gone.cancel()
        return AppOutcome(CallStatus.REFUSED, reason="403 refused by policy")
