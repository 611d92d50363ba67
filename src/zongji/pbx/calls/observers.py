"""What watches a call's transitions (`call.py`): its record, and the outbound policy's bill.

Each is a `CallObserver`: the engine adds it to the call once, and every exit, whatever path the
call took, reaches it through the call's single `ENDED` transition.
"""

from __future__ import annotations

import contextlib
import logging

from zongji.pbx.calls.call import CallState, Transition
from zongji.pbx.calls.record import CallLog
from zongji.pbx.contracts import OutboundPolicy

log = logging.getLogger(__name__)


class RecordObserver:
    """Keeps the call record (`CallLog`): opened when the call is, answered, routed, closed."""

    def __init__(self, log_: CallLog) -> None:
        self.log = log_

    async def open(self) -> None:
        await self.log.open()

    async def observe(self, change: Transition) -> None:
        if change.new is CallState.IN_APPLICATION and change.dialogs:
            dialog = change.dialogs[0]
            if dialog is not None:
                await self.log.caller_answered(dialog)
        elif change.new is CallState.RINGING and change.callee is not None:
            await self.log.routed(change.callee)
        elif change.new is CallState.CONNECTED:
            await self.log.answered(change.answered_by, change.trunk_id, change.dialogs)
        elif change.new is CallState.ENDED:
            ending = change.ending
            assert ending is not None
            await self.log.close(ending.status, ending.side, reason=ending.reason, rule=ending.rule)


class BillingObserver:
    """A call the outbound policy authorised: its talk-time allowance at the answer, and its
    bill (with anything held for it released) at the end, answered or not."""

    def __init__(self, policy: OutboundPolicy) -> None:
        self.policy = policy

    async def observe(self, change: Transition) -> None:
        call = change.call
        if change.new is CallState.CONNECTED:
            try:
                call.allowed_seconds = await self.policy.answered(call.call_id)
            except Exception:
                log.exception("policy: answer of %s not counted", call.call_id)
        elif change.new is CallState.ENDED:
            with contextlib.suppress(Exception):
                await self.policy.ended(call.call_id, call.talk_seconds)
