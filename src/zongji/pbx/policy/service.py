"""The outbound policy (`OutboundPolicy`): every call a device places is authorised here first.

The checks, in order (the first that fails names the rule):

1. emergency numbers (110, 119, 120, 122) always go through, with no limit and no billing;
2. a suspended or cancelled enterprise can't call at all, internal calls included;
3. internal calls (extensions) go through;
4. outside calls need the user inside their validity period,
5. a restriction level that includes the number's class (and, for international calls, the
   operator's switch),
6. for "workdays only" users, a working day and working hours,
7. for users with a quota, minutes left.

Everything it needs per call arrives with the call (the enterprise and the user from the
in-memory view); the database is asked only for the day's calendar entry ("workdays only" users,
cached a minute per enterprise and day, `calendar.py`) and the month's minutes (users with a
quota, a read without a lock). So `authorise` never writes, and internal and emergency calls touch
the database at no point. What a call needs at answer and end is kept in a ticket on this node,
where the engine handling the call also runs. At answer, only a quota user's call writes (its
reservation, `quota.py`); at the end, a quota user's call is billed in the locked transaction that
releases its reservation, and any other answered outside call is billed behind the call, many
calls per transaction (`billing.py`).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from zongji.audit.service import AuditLog
from zongji.directory.enterprises import EnterpriseService
from zongji.directory.models import OutboundTime
from zongji.directory.users import DirectoryUsers
from zongji.pbx.contracts import Dialled, NumberClass, PolicyDecision, Subscriber, TenantLine
from zongji.pbx.events import MinutesUsedUp
from zongji.pbx.policy.billing import UnlimitedBilling
from zongji.pbx.policy.calendar import HolidayCalendar
from zongji.pbx.policy.classify import area_of, classify
from zongji.pbx.policy.hours import local_now, may_call_out
from zongji.pbx.policy.levels import level_of, refusal
from zongji.pbx.policy.overview import UserPolicy, policy_of
from zongji.pbx.policy.quota import MinuteQuota, billable_minutes
from zongji.pbx.policy.rules import PROMPTS, Rule
from zongji.pbx.policy.validity import within_validity
from zongji.platform.clock import Clock
from zongji.platform.db import Database
from zongji.platform.events import EventBus

log = logging.getLogger(__name__)

SETTLE_ATTEMPTS = 3
SETTLE_BACKOFF = 0.2  # seconds, times 5 per further attempt
OUTSIDE = frozenset({NumberClass.LOCAL, NumberClass.DOMESTIC, NumberClass.INTERNATIONAL})
"""The classes whose calls are billed and may be limited."""
TICKETS_MAX = 100_000
TICKET_MAX_AGE = 24 * 3600.0


@dataclass(frozen=True)
class MonthUsage:
    month: str  # "2026-12"
    billed_minutes: int  # outside minutes billed, per started minute of each call
    billed_calls: int  # answered outside calls billed


def month_of(moment: datetime) -> str:
    """The calendar month of a local time, as the usage table keys it: "2026-01"."""
    return f"{moment.year:04d}-{moment.month:02d}"


@dataclass
class Ticket:
    """An authorised outside call, between authorise and ended."""

    tenant_id: uuid.UUID
    user_id: uuid.UUID
    timezone: str
    quota: int | None
    created: float  # monotonic
    left: int | None = None  # minutes left at authorise (quota users): the fallback at answer
    month: str | None = field(default=None)  # set at answer: the month that pays for the call
    limit: int | None = None  # minutes the call was given at answer (quota users)


class PolicyService:
    """`OutboundPolicy` for one node."""

    def __init__(
        self,
        db: Database,
        bus: EventBus,
        clock: Clock,
        audit: AuditLog,
        enterprises: EnterpriseService,
        users: DirectoryUsers,
    ) -> None:
        self._clock = clock
        self._bus = bus
        self._enterprises = enterprises
        self._users = users
        self.calendar = HolidayCalendar(db, bus, clock, audit)
        self.quota = MinuteQuota(db, clock)
        self.billing = UnlimitedBilling(db, clock)
        self._tickets: dict[str, Ticket] = {}

    # -- OutboundPolicy ------------------------------------------------------------------------

    async def authorise(
        self, call_id: str, tenant: TenantLine, caller: Subscriber, dialled: Dialled
    ) -> PolicyDecision:
        decision = await self.check(tenant, caller, dialled)
        if decision.allowed and decision.number_class in OUTSIDE:
            self._keep(
                call_id,
                Ticket(
                    tenant.tenant_id,
                    caller.user_id,
                    tenant.timezone,
                    caller.monthly_minutes,
                    self._clock.monotonic(),
                    left=None if decision.max_seconds is None else decision.max_seconds // 60,
                ),
            )
        return decision

    async def check(
        self, tenant: TenantLine, caller: Subscriber, dialled: Dialled
    ) -> PolicyDecision:
        """The decision `authorise` would make now, without authorising a call (for clients
        that ask before dialling)."""
        number_class = classify(dialled, area_of(tenant.area_code, tenant.city))
        if number_class is NumberClass.EMERGENCY:
            return PolicyDecision(True, number_class)
        if not tenant.active:
            return _refuse(number_class, Rule.ENTERPRISE_SUSPENDED)
        # A user out of service calls nobody, colleagues included (ADM-21, OPS-3).
        if caller.suspended:
            return _refuse(number_class, Rule.USER_SUSPENDED)
        moment = local_now(self._clock.now(), tenant.timezone)
        if not within_validity(moment.date(), caller.valid_from, caller.valid_until):
            return _refuse(number_class, Rule.VALIDITY)
        if number_class is NumberClass.INTERNAL:
            return PolicyDecision(True, number_class)
        level_rule = refusal(level_of(caller.outbound_restriction), number_class, tenant.features)
        if level_rule is not None:
            return _refuse(number_class, Rule(level_rule))
        if caller.outbound_time == OutboundTime.WORKDAYS.value:
            override = await self.calendar.kind_of(tenant.tenant_id, moment.date())
            if not may_call_out(
                caller.outbound_time, moment, caller.work_start, caller.work_end, override
            ):
                return _refuse(number_class, Rule.OUTBOUND_TIME)
        max_seconds: int | None = None
        if caller.monthly_minutes is not None:
            await self.billing.written()  # minutes talked before the quota was set count
            standing = await self.quota.standing(tenant.tenant_id, caller.user_id, month_of(moment))
            left = standing.left(caller.monthly_minutes) or 0
            if left <= 0:
                return _refuse(number_class, Rule.QUOTA_EXHAUSTED)
            max_seconds = left * 60
        return PolicyDecision(True, number_class, max_seconds=max_seconds)

    async def answered(self, call_id: str) -> int | None:
        ticket = self._tickets.get(call_id)
        if ticket is None:
            return None  # internal or emergency: no limit
        ticket.month = month_of(local_now(self._clock.now(), ticket.timezone))
        if ticket.quota is None:
            return None
        try:
            await self.billing.written()
            minutes = await self.quota.reserve(
                ticket.tenant_id, ticket.user_id, ticket.month, call_id, ticket.quota
            )
        except Exception:
            # The database failed between authorise and answer. The call is already answered:
            # give it what was left at authorise (billing caps it again at the end), rather than
            # cut off the caller or let the call run without a limit.
            log.exception(
                "call %s: no reservation; limited to the minutes left at authorise", call_id
            )
            ticket.limit = ticket.left or 0
            return ticket.limit * 60
        ticket.limit = minutes
        return minutes * 60

    async def ended(self, call_id: str, talk_seconds: int) -> None:
        ticket = self._tickets.pop(call_id, None)
        if ticket is None or (ticket.month is None and talk_seconds <= 0):
            return
        month = ticket.month or month_of(local_now(self._clock.now(), ticket.timezone))
        if ticket.quota is None:
            # no reservation to release, no cap: added to the month behind the call
            minutes = billable_minutes(talk_seconds)
            if minutes > 0:
                await self.billing.bill(ticket.tenant_id, ticket.user_id, month, minutes)
            return
        await self.billing.written()
        for attempt in range(SETTLE_ATTEMPTS):
            try:
                settled = await self.quota.settle(
                    ticket.tenant_id,
                    ticket.user_id,
                    month,
                    call_id,
                    talk_seconds,
                    ticket.quota,
                    ticket.limit,
                )
                break
            except Exception:
                if attempt + 1 == SETTLE_ATTEMPTS:
                    # its reservation (if any) expires on its own; the minutes are in this line
                    log.exception(
                        "call %s: not billed (user %s, %s, %d s talked)",
                        call_id,
                        ticket.user_id,
                        month,
                        talk_seconds,
                    )
                    return
                await asyncio.sleep(SETTLE_BACKOFF * 5**attempt)
        log.debug("call %s billed %d minute(s) of %s", call_id, settled.minutes, month)
        if ticket.quota is not None and settled.minutes and settled.total >= ticket.quota:
            await self._bus.publish(
                [
                    MinutesUsedUp(
                        tenant_id=ticket.tenant_id,
                        user_id=ticket.user_id,
                        month=month,
                        monthly_minutes=ticket.quota,
                        billed_minutes=settled.total,
                    )
                ]
            )

    # -- what the admin and the user see ------------------------------------------------------

    async def user_policy(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> UserPolicy:
        """A user's policy and where it stands now (read fresh from the directory, so a raised
        quota shows as unfrozen at once)."""
        ent = await self._enterprises.get(tenant_id)
        user = await self._users.get(tenant_id, user_id)
        moment = local_now(self._clock.now(), ent.timezone)
        await self.billing.written()
        standing = await self.quota.standing(tenant_id, user_id, month_of(moment))
        override = await self.calendar.kind_of(tenant_id, moment.date())
        return policy_of(ent, user, moment, standing, override)

    async def month_usage(self, tenant_id: uuid.UUID, timezone: str) -> MonthUsage:
        """The enterprise's outside minutes billed this month (its time zone's month): what
        quotas count, every user together."""
        month = month_of(local_now(self._clock.now(), timezone))
        await self.billing.written()
        minutes, calls = await self.quota.month_total(tenant_id, month)
        return MonthUsage(month=month, billed_minutes=minutes, billed_calls=calls)

    async def user_policies(
        self,
        tenant_id: uuid.UUID,
        *,
        limit: int = 100,
        cursor: str | None = None,
        frozen: bool | None = None,
    ) -> tuple[list[UserPolicy], str | None]:
        """A page of users (directory order) with their month; `frozen` filters the page, so a
        filtered page may hold fewer than `limit` users while `next_cursor` goes on."""
        ent = await self._enterprises.get(tenant_id)
        page = await self._users.page(tenant_id, limit=limit, cursor=cursor)
        moment = local_now(self._clock.now(), ent.timezone)
        await self.billing.written()
        standings = await self.quota.standings(
            tenant_id, [u.id for u in page.items], month_of(moment)
        )
        override = await self.calendar.kind_of(tenant_id, moment.date())
        found = [policy_of(ent, u, moment, standings[u.id], override) for u in page.items]
        if frozen is not None:
            found = [p for p in found if p.frozen is frozen]
        return found, page.next_cursor

    # -- bookkeeping ---------------------------------------------------------------------------

    def live_calls(self) -> int:
        """Authorised outside calls not yet ended on this node."""
        return len(self._tickets)

    def _keep(self, call_id: str, ticket: Ticket) -> None:
        """Remember the call until it ends; an engine that lost a call (it should never) can't
        make the table grow without bound."""
        if len(self._tickets) >= TICKETS_MAX:
            oldest = ticket.created - TICKET_MAX_AGE
            for stale in [k for k, t in self._tickets.items() if t.created < oldest]:
                del self._tickets[stale]
        self._tickets[call_id] = ticket


def _refuse(number_class: NumberClass, rule: Rule) -> PolicyDecision:
    return PolicyDecision(False, number_class, rule=rule.value, prompt=PROMPTS[rule])
