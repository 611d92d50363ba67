"""A week of call history for the demo enterprise, so the console's call records, charts and
dashboard show something the first time an admin opens them.

The calls are reported to the call records exactly as the call engine reports a call (opened,
answered, closed: the `CallRecords` contract), and the answered outside calls are billed to
their callers' months through the outbound policy's billing, as a real call's end is: nothing
here writes a table. They are made per local day of the enterprise, for the last `DAYS` days up
to now, and only for a day that has no call records yet, so a restart adds the days since the
last start and never doubles a day (nor mixes made-up calls into a day of real ones).

Each day's calls come from a generator seeded with the date: the same day always gets the same
calls (more on weekdays, most in office hours; internal, inbound and outbound; answered,
missed, busy, refused). Users with a quota place none of them, so no demo quota starts used.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from zongji.directory.user_schemas import UserOut
from zongji.pbx.contracts import (
    CallDirection,
    CallEnd,
    CallStart,
    CallStatus,
    HangupSide,
    Party,
)
from zongji.pbx.records.search import CallFilters
from zongji.pbx.records.stats import local_day_start, zone_of
from zongji.services import Services

log = logging.getLogger(__name__)

DAYS = 7
#: Relative weight of each local hour of a day (0–23): office hours, a lunch dip, a quiet night.
HOUR_WEIGHTS = (0, 0, 0, 0, 0, 0, 0, 1, 3, 9, 10, 8, 4, 5, 9, 10, 9, 7, 3, 2, 1, 1, 0, 0)
#: Not `zongji demo call`'s own number (+8613912345678): it finds its call's record by caller.
OUTSIDE_CALLERS = (
    ("+8613952001234", "客户王先生"),
    ("+8613700002222", None),
    ("+8602584009988", "物业前台"),
    ("+8618652001234", "供应商李经理"),
    ("+8613601590001", None),
    ("+8602168881234", "上海分公司"),
)
OUTSIDE_CALLEES = ("+8613952005678", "+8602588886666", "+8613800138000", "+8602087654321")


@dataclass(frozen=True)
class DemoCall:
    start: CallStart
    ring_seconds: int
    talk_seconds: int | None  # None: not answered
    status: CallStatus
    side: HangupSide | None


def _party(user: UserOut) -> Party:
    return Party(user.extension or "", user.id, user.name)


def day_of_calls(
    day: date,
    start: datetime,
    tenant_id: uuid.UUID,
    users: Sequence[UserOut],
    main_number: str | None,
) -> list[DemoCall]:
    """The calls of one day (`start`: the day's first instant), always the same for a date."""
    rng = random.Random(f"zongji-demo-calls-{day.isoformat()}")
    staff = [u for u in users if u.extension]
    callers_out = [
        u for u in staff if u.monthly_minutes is None and u.outbound_restriction.value != "internal"
    ]
    if len(staff) < 2:
        return []
    count = rng.randint(24, 40) if day.weekday() < 5 else rng.randint(3, 8)
    calls: list[DemoCall] = []
    for n in range(count):
        hour = rng.choices(range(24), weights=HOUR_WEIGHTS)[0]
        at = start + timedelta(hours=hour, seconds=rng.randrange(3600))
        kind = rng.random()
        callee_user = rng.choice(staff)
        trunk_line = callee_user.direct_line or main_number
        if kind < 0.45:
            caller_user = rng.choice([u for u in staff if u.id != callee_user.id])
            direction = CallDirection.INTERNAL
            caller, callee, line = _party(caller_user), _party(callee_user), None
        elif kind < 0.75 or not callers_out:
            number, name = rng.choice(OUTSIDE_CALLERS)
            direction = CallDirection.INBOUND
            caller, callee, line = Party(number, None, name), _party(callee_user), trunk_line
        else:
            caller_user = rng.choice(callers_out)
            direction = CallDirection.OUTBOUND
            caller = _party(caller_user)
            callee = Party(rng.choice(OUTSIDE_CALLEES))
            line = caller_user.direct_line or main_number
        outcome = rng.random()
        ring = rng.randint(2, 20)
        if outcome < 0.68:
            status, talk = CallStatus.ANSWERED, rng.randint(15, 600)
            side = rng.choice((HangupSide.CALLER, HangupSide.CALLEE))
        elif outcome < 0.80:
            status, talk, side = CallStatus.NO_ANSWER, None, HangupSide.SYSTEM
            if direction is not CallDirection.OUTBOUND and outcome < 0.76:
                status = CallStatus.VOICEMAIL
        elif outcome < 0.88:
            status, talk, side = CallStatus.CANCELLED, None, HangupSide.CALLER
        elif outcome < 0.95:
            status, talk, side, ring = CallStatus.BUSY, None, HangupSide.CALLEE, 1
        else:
            status, talk, side, ring = CallStatus.FAILED, None, HangupSide.SYSTEM, 1
            if direction is CallDirection.OUTBOUND:
                status = CallStatus.REFUSED
        calls.append(
            DemoCall(
                CallStart(
                    call_id=f"demo-{day.isoformat()}-{n:03d}",
                    tenant_id=tenant_id,
                    direction=direction,
                    caller=caller,
                    callee=callee,
                    started_at=at,
                    outside_number=line,
                ),
                ring,
                talk,
                status,
                side,
            )
        )
    return sorted(calls, key=lambda c: c.start.started_at)


async def ensure_demo_history(
    services: Services, tenant_id: uuid.UUID, users: Sequence[UserOut]
) -> int:
    """Report the demo calls of every recent day that has no records yet; how many."""
    enterprise = await services.directory.enterprises.get(tenant_id)
    zone = zone_of(enterprise.timezone)
    records = services.pbx.records
    billing = services.pbx.policy.billing
    now = services.clock.now()
    today = now.astimezone(zone).date()
    written: list[Awaitable[None]] = []
    made = 0
    began = time.perf_counter()
    for back in range(DAYS - 1, -1, -1):
        day = today - timedelta(days=back)
        start = local_day_start(day, zone)
        end = local_day_start(day + timedelta(days=1), zone)
        taken = await records.search.page(tenant_id, CallFilters(since=start, until=end), limit=1)
        if taken.items:
            continue
        for call in day_of_calls(day, start, tenant_id, users, enterprise.main_number):
            answered_at = call.start.started_at + timedelta(seconds=call.ring_seconds)
            ended_at = answered_at + timedelta(seconds=call.talk_seconds or 0)
            if ended_at > now:
                continue  # today's calls up to now only
            written.append(records.opened(call.start))
            if call.talk_seconds is not None:
                written.append(records.answered(call.start.call_id, answered_at, call.start.callee))
            written.append(
                records.closed(call.start.call_id, CallEnd(call.status, ended_at, call.side))
            )
            caller = call.start.caller.user_id
            if call.start.direction is CallDirection.OUTBOUND and call.talk_seconds and caller:
                month = f"{answered_at.astimezone(zone):%Y-%m}"
                minutes = -(-call.talk_seconds // 60)  # per started minute, as calls are billed
                written.append(billing.bill(tenant_id, caller, month, minutes))
            made += 1
    await asyncio.gather(*written)
    if made:
        log.info(
            "demo call history reported",
            extra={"calls": made, "ms": round((time.perf_counter() - began) * 1000)},
        )
    return made
