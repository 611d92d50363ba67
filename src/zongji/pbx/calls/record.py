"""One call's record, as the engine keeps it: opened once, answered at most once, closed once.

The records service (`CallRecords`) is durable; this wrapper makes sure the engine's many exits
(refusal, busy, cancel, BYE, shutdown) each close the record exactly once with the right status
and hang-up side, using the engine's clock, and measures the talk time the policy bills. A failure
of the records service is logged and does not drop the call in progress.

The service takes each report at once and writes it behind the call, with other calls' reports
(`records/writer.py`). What the call waits for here is what recovery after a crash needs: the
answer (with the dialogs a restarted node must end with a BYE) and the dialog of a caller the node
answered itself are durable before the call goes on, and the close before the engine frees the
call's endpoints. Opening and routing are not waited for: a call that is only ringing has no
dialog to end, and its row is written within the writer's window anyway (with the answer, if
that comes in the same window, or as the final row of a call refused at once).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

from zongji.pbx.contracts import (
    CallDirection,
    CallEnd,
    CallRecords,
    CallStart,
    CallStatus,
    HangupSide,
    Party,
)
from zongji.platform.clock import Clock
from zongji.sip import Dialog, DialogSnapshot

log = logging.getLogger(__name__)


class CallLog:
    def __init__(self, records: CallRecords, clock: Clock, start: CallStart) -> None:
        self.records = records
        self.clock = clock
        self.start = start
        self.answered_at: float | None = None
        self.ended: CallEnd | None = None
        self._opened = False

    @property
    def call_id(self) -> str:
        return self.start.call_id

    @classmethod
    def new(
        cls,
        records: CallRecords,
        clock: Clock,
        *,
        call_id: str,
        tenant_id: uuid.UUID,
        direction: CallDirection,
        caller: Party,
        callee: Party,
        trunk_id: uuid.UUID | None = None,
        outside_number: str | None = None,
    ) -> CallLog:
        start = CallStart(
            call_id=call_id,
            tenant_id=tenant_id,
            direction=direction,
            caller=caller,
            callee=callee,
            started_at=clock.now(),
            trunk_id=trunk_id,
            outside_number=outside_number,
        )
        return cls(records, clock, start)

    async def open(self) -> None:
        """Report the start; not waited for (see the module's docstring)."""
        try:
            self.records.opened(self.start)
            self._opened = True
        except Exception:
            log.exception("call record for %s could not be opened", self.call_id)

    async def answered(
        self,
        by: Party | None = None,
        trunk_id: uuid.UUID | None = None,
        dialogs: Sequence[Dialog | None] = (),
    ) -> None:
        """The call was answered; `dialogs` (its legs' dialogs) are kept with the record."""
        if self.answered_at is not None:
            return
        self.answered_at = self.clock.monotonic()
        try:
            await self.records.answered(
                self.call_id, self.clock.now(), by, trunk_id, _snapshots(dialogs)
            )
        except Exception:
            log.exception("call record for %s: answer not written", self.call_id)

    async def caller_answered(self, dialog: Dialog) -> None:
        """The node answered the caller itself (IVR, voicemail): keep its dialog with the record,
        so a node that dies now can still hang the caller up when it starts again."""
        try:
            await self.records.dialogs(self.call_id, _snapshots([dialog]))
        except Exception:
            log.exception("call record for %s: dialog not written", self.call_id)

    async def routed(self, callee: Party) -> None:
        """The callee became known after the record was opened (the main number's IVR); not
        waited for."""
        try:
            self.records.routed(self.call_id, callee)
        except Exception:
            log.exception("call record for %s: callee not written", self.call_id)

    @property
    def talk_seconds(self) -> int:
        if self.answered_at is None:
            return 0
        end = self.clock.monotonic()
        return max(0, round(end - self.answered_at))

    async def close(
        self,
        status: CallStatus,
        side: HangupSide | None,
        *,
        reason: str | None = None,
        rule: str | None = None,
    ) -> None:
        if self.ended is not None:
            return
        self.ended = CallEnd(status, self.clock.now(), side, reason=reason, rule=rule)
        try:
            await self.records.closed(self.call_id, self.ended)
        except Exception:
            log.exception("call record for %s could not be closed", self.call_id)


def _snapshots(dialogs: Sequence[Dialog | None]) -> list[DialogSnapshot]:
    return [
        snapshot
        for dialog in dialogs
        if dialog is not None and (snapshot := dialog.snapshot()) is not None
    ]
