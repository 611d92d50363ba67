"""Building call reports as the call engine would send them."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from zongji.pbx.contracts import CallDirection, CallEnd, CallStart, CallStatus, HangupSide, Party
from zongji.pbx.records.service import CallRecordService


def start(
    tenant_id: uuid.UUID,
    call_id: str,
    at: datetime,
    *,
    direction: CallDirection = CallDirection.INTERNAL,
    caller: Party | None = None,
    callee: Party | None = None,
    outside_number: str | None = None,
) -> CallStart:
    return CallStart(
        call_id=call_id,
        tenant_id=tenant_id,
        direction=direction,
        caller=caller or Party("8001", None, "张三"),
        callee=callee or Party("8002", None, "李四"),
        started_at=at,
        outside_number=outside_number,
    )


async def whole_call(
    records: CallRecordService,
    call: CallStart,
    *,
    ring: float = 5,
    talk: float | None = 30,
    status: CallStatus | None = None,
    side: HangupSide | None = HangupSide.CALLER,
    answered_by: Party | None = None,
) -> None:
    """Opened, answered after `ring` seconds (unless `talk` is None), closed `talk` later."""
    await records.opened(call)
    end_at = call.started_at + timedelta(seconds=ring)
    if talk is not None:
        answered_at = call.started_at + timedelta(seconds=ring)
        await records.answered(call.call_id, answered_at, answered_by or call.callee)
        end_at = answered_at + timedelta(seconds=talk)
    final = status or (CallStatus.ANSWERED if talk is not None else CallStatus.NO_ANSWER)
    await records.closed(call.call_id, CallEnd(final, end_at, side))
