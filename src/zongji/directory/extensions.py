"""Extension numbers (ADM-5, CALL-3): each enterprise's length and allowed ranges, what may never be
an extension, the next free one, and listings of all, used and free extensions.

What is refused, and why:
- anything but 3–6 digits (feature codes such as `*72` or `#8` are the PBX's, never a person's);
- a leading 0: it is the prefix for an outside line and the national trunk prefix;
- China's emergency numbers (110, 119, 120, 122: `platform.phone.EMERGENCY_NUMBERS`, the list the
  dial plan routes), the emergency numbers people know from elsewhere (112, which Chinese mobile
  networks also answer, 911 and 999), the other special-service numbers (three digits starting
  with 1: 114, 121 …), five-digit carrier and public-service numbers (100xx such as 10086, 12xxx
  such as 12345) and enterprise hotlines (95xxx, 96xxx). Someone dialling one of those from a
  desk phone must reach the service, not a colleague; the PBX can only guarantee that if no
  extension shadows it.

Each reason has its own message: `0801` is refused for its leading 0, not called an emergency
number.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, Field, field_validator, model_validator
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from zongji.audit.service import Target
from zongji.directory.events import ExtensionPlanChanged
from zongji.directory.journal import Journal
from zongji.directory.models import ExtensionPlan, User
from zongji.directory.schemas import Input
from zongji.platform.actor import Actor
from zongji.platform.clock import Clock
from zongji.platform.db import Database, TenantScope
from zongji.platform.errors import FieldError, Problem, conflict
from zongji.platform.events import EventBus
from zongji.platform.phone import EMERGENCY_NUMBERS, clean_digits
from zongji.platform.uow import UnitOfWork

MIN_LENGTH, MAX_LENGTH = 3, 6
EMERGENCY_ELSEWHERE = frozenset({"112", "911", "999"})


@dataclass(frozen=True)
class Plan:
    length: int
    ranges: tuple[tuple[str, str], ...]

    def allows(self, extension: str) -> bool:
        return len(extension) == self.length and any(
            lo <= extension <= hi for lo, hi in self.ranges
        )

    @property
    def capacity(self) -> int:
        return sum(int(hi) - int(lo) + 1 for lo, hi in self.ranges)


DEFAULT_PLAN = Plan(4, (("8000", "8999"),))


def reserved_reason(extension: str) -> str | None:
    """Why a number may never be an extension, or None."""
    if extension in EMERGENCY_NUMBERS:
        return "emergency"
    if extension in EMERGENCY_ELSEWHERE:
        return "emergency_elsewhere"
    if extension.startswith("0"):
        return "outside_line_prefix"
    if len(extension) == 3 and extension.startswith("1"):
        return "special_service"
    if len(extension) == 5 and extension.startswith(("100", "12", "95", "96")):
        return "service_number"
    return None


def _reserved_message(reason: str, ext: str) -> tuple[str, str]:
    """What to tell the admin about a reserved `ext`, in English and Chinese."""
    if reason == "emergency":
        return (
            f"{ext} is an emergency number and cannot be an extension.",
            f"{ext} 是紧急号码，不能作为分机号。",
        )
    if reason == "emergency_elsewhere":
        return (
            f"{ext} is an emergency number people dial from habit (112, 911, 999) and cannot be "
            "an extension.",
            f"{ext} 是人们习惯拨打的紧急号码（112、911、999），不能作为分机号。",
        )
    if reason == "outside_line_prefix":
        return (
            f"{ext} starts with 0, the prefix for outside lines; extensions cannot start with 0.",
            f"{ext} 以 0 开头；0 用于拨打外线，分机号不能以 0 开头。",
        )
    if reason == "special_service":
        return (
            f"{ext} is a special-service number (3 digits starting with 1, such as 114) and "
            "cannot be an extension.",
            f"{ext} 是特服号码（以 1 开头的 3 位号码，如 114），不能作为分机号。",
        )
    return (
        f"{ext} is a carrier or public-service number (100xx, 12xxx, 95xxx, 96xxx) and cannot "
        "be an extension.",
        f"{ext} 是运营商或公共服务号码（100xx、12xxx、95xxx、96xxx），不能作为分机号。",
    )


def extension_error(code: str, en: str, zh: str, field: str = "extension") -> FieldError:
    return FieldError([{"field": field, "code": code, "message": en, "message_zh": zh}])


def normalise_extension(raw: str) -> str:
    return clean_digits(raw)


def check_extension(plan: Plan, raw: str, field: str = "extension") -> str:
    """The normalised extension, or a field error saying exactly what is wrong with it."""
    ext = normalise_extension(raw)
    if not ext.isdigit() or not ext.isascii():
        raise extension_error(
            "extension_not_digits",
            "An extension is digits only (feature codes such as *72 are reserved).",
            "分机号只能是数字（*72 等功能码不能作分机号）。",
            field,
        )
    reason = reserved_reason(ext)
    if reason is not None:
        en, zh = _reserved_message(reason, ext)
        raise extension_error("extension_reserved", en, zh, field)
    if len(ext) != plan.length:
        raise extension_error(
            "extension_length",
            f"Extensions of this enterprise have {plan.length} digits.",
            f"本企业分机号为 {plan.length} 位。",
            field,
        )
    if not plan.allows(ext):
        ranges = ", ".join(f"{lo}-{hi}" for lo, hi in plan.ranges)
        raise extension_error(
            "extension_out_of_range",
            f"The extension is outside the allowed ranges ({ranges}).",
            f"分机号不在允许的号段内（{ranges}）。",
            field,
        )
    return ext


def numbers_in_plan(plan: Plan, after: str | None = None) -> Sequence[range]:
    """The plan's ranges as integer ranges, starting after `after`."""
    start = int(after) + 1 if after else 0
    return [range(max(int(lo), start), int(hi) + 1) for lo, hi in sorted(plan.ranges)]


class ExtensionRange(BaseModel):
    start: str = Field(pattern=r"^\d{3,6}$")
    end: str = Field(pattern=r"^\d{3,6}$")


class PlanIn(Input):
    length: int = Field(ge=MIN_LENGTH, le=MAX_LENGTH)
    ranges: list[ExtensionRange] = Field(min_length=1, max_length=20)

    @field_validator("ranges", mode="before")
    @classmethod
    def _digits(cls, value: object) -> object:
        if isinstance(value, list):
            return [
                {k: clean_digits(str(v)) for k, v in item.items()}
                if isinstance(item, dict)
                else item
                for item in value
            ]
        return value

    @model_validator(mode="after")
    def _consistent(self) -> PlanIn:
        spans = sorted((r.start, r.end) for r in self.ranges)
        for i, (lo, hi) in enumerate(spans):
            if len(lo) != self.length or len(hi) != self.length:
                raise ValueError(f"range {lo}-{hi} does not have {self.length} digits")
            if lo > hi:
                raise ValueError(f"range {lo}-{hi} ends before it starts")
            if i and spans[i - 1][1] >= lo:
                raise ValueError(
                    f"ranges {spans[i - 1][0]}-{spans[i - 1][1]} and {lo}-{hi} overlap"
                )
        return self

    def plan(self) -> Plan:
        return Plan(self.length, tuple(sorted((r.start, r.end) for r in self.ranges)))


class PlanOut(BaseModel):
    length: int
    ranges: list[ExtensionRange]
    capacity: int
    used: int
    free: int


class ExtensionOut(BaseModel):
    extension: str
    user_id: uuid.UUID | None
    user_name: str | None


class ExtensionPage(BaseModel):
    items: list[ExtensionOut]
    next_cursor: str | None


async def load_plan(session: AsyncSession) -> Plan:
    row = await session.scalar(select(ExtensionPlan))
    if row is None:
        return DEFAULT_PLAN
    return Plan(row.length, tuple((lo, hi) for lo, hi in row.ranges))


async def next_free(session: AsyncSession, plan: Plan, *, taken: set[str] | None = None) -> str:
    """The lowest free extension of the plan (skipping reserved numbers and `taken`)."""
    async for ext in _walk(session, plan, None, free=True, taken=taken or set()):
        return ext[0]
    raise conflict(
        "extensions_exhausted",
        "Every extension of the allowed ranges is in use.",
        "允许的号段内已没有空闲分机号。",
    )


async def free_extensions(session: AsyncSession, plan: Plan, taken: set[str]) -> AsyncIterator[str]:
    """Free extensions in order, for handing out many at once (spreadsheet import)."""
    async for ext, _ in _walk(session, plan, None, free=True, taken=taken):
        yield ext


async def _walk(
    session: AsyncSession, plan: Plan, after: str | None, *, free: bool, taken: set[str]
) -> AsyncIterator[tuple[str, User | None]]:
    """Numbers of the plan in order with their user (or None), reading users a window at a time."""
    window = 500
    for span in numbers_in_plan(plan, after):
        if not span:
            continue
        position = span.start
        while position < span.stop:
            lo = str(position).zfill(plan.length)
            hi = str(min(position + window, span.stop) - 1).zfill(plan.length)
            used = {
                u.extension: u
                for u in (
                    await session.scalars(
                        select(User).where(User.extension >= lo, User.extension <= hi)
                    )
                ).all()
            }
            for number in range(position, min(position + window, span.stop)):
                ext = str(number).zfill(plan.length)
                if reserved_reason(ext):
                    continue
                user = used.get(ext)
                if free and (user is not None or ext in taken):
                    continue
                yield ext, user
            position += window


class ExtensionService:
    def __init__(self, db: Database, bus: EventBus, clock: Clock, journal: Journal) -> None:
        self._db = db
        self._bus = bus
        self._clock = clock
        self._journal = journal

    async def get_plan(self, tenant_id: uuid.UUID) -> PlanOut:
        async with self._db.session(TenantScope(tenant_id)) as session:
            plan = await load_plan(session)
            return await _plan_out(session, plan)

    async def set_plan(self, actor: Actor, tenant_id: uuid.UUID, data: PlanIn) -> PlanOut:
        plan = data.plan()
        async with UnitOfWork(self._db, self._bus, TenantScope(tenant_id)) as uow:
            outside = [
                ext
                for ext in (
                    await uow.session.scalars(
                        select(User.extension).where(User.extension.isnot(None))
                    )
                ).all()
                if ext is not None and not plan.allows(ext)
            ]
            if outside:
                raise Problem(
                    409,
                    "extensions_outside_plan",
                    f"{len(outside)} users have extensions outside the plan; change them first.",
                    f"有 {len(outside)} 个用户的分机号不在新号段内，请先修改。",
                    extra={"extensions": sorted(outside)[:20]},
                )
            row = await uow.session.scalar(select(ExtensionPlan))
            before = await load_plan(uow.session)
            ranges = [list(r) for r in plan.ranges]
            if row is None:
                row = ExtensionPlan(length=plan.length, ranges=ranges, updated_at=self._clock.now())
                uow.session.add(row)
            else:
                row.length, row.ranges, row.updated_at = plan.length, ranges, self._clock.now()
            await uow.session.flush()
            await self._journal.note(
                uow,
                actor,
                "extension_plan.change",
                Target("extension_plan", None, "分机号段"),
                tenant_id,
                event=ExtensionPlanChanged(tenant_id=tenant_id),
                summary={
                    "length": [before.length, plan.length],
                    "ranges": [[list(r) for r in before.ranges], ranges],
                },
            )
            return await _plan_out(uow.session, plan)

    async def list(
        self, tenant_id: uuid.UUID, state: str, *, limit: int, cursor: str | None
    ) -> ExtensionPage:
        """`state`: all, used or free. `cursor` is the last extension of the previous page."""
        items: list[ExtensionOut] = []
        async with self._db.session(TenantScope(tenant_id)) as session:
            plan = await load_plan(session)
            if state == "used":
                stmt = select(User).where(User.extension.isnot(None)).order_by(User.extension)
                if cursor:
                    stmt = stmt.where(User.extension > cursor)
                users = (await session.scalars(stmt.limit(limit + 1))).all()
                items = [
                    ExtensionOut(extension=u.extension or "", user_id=u.id, user_name=u.name)
                    for u in users
                ]
            else:
                async for ext, user in _walk(
                    session, plan, cursor, free=state == "free", taken=set()
                ):
                    items.append(
                        ExtensionOut(
                            extension=ext,
                            user_id=user.id if user else None,
                            user_name=user.name if user else None,
                        )
                    )
                    if len(items) > limit:
                        break
        more = len(items) > limit
        items = items[:limit]
        return ExtensionPage(items=items, next_cursor=items[-1].extension if more else None)


async def _plan_out(session: AsyncSession, plan: Plan) -> PlanOut:
    used = int(
        await session.scalar(
            select(func.count()).select_from(User).where(User.extension.isnot(None))
        )
        or 0
    )
    capacity = sum(int(hi) - int(lo) + 1 - _reserved_count(lo, hi) for lo, hi in plan.ranges)
    return PlanOut(
        length=plan.length,
        ranges=[ExtensionRange(start=lo, end=hi) for lo, hi in plan.ranges],
        capacity=capacity,
        used=used,
        free=max(0, capacity - used),
    )


def _overlap(lo: int, hi: int, a: int, b: int) -> int:
    return max(0, min(hi, b) - max(lo, a) + 1)


def _reserved_count(lo: str, hi: str) -> int:
    """How many numbers of [lo, hi] `reserved_reason` refuses, without walking the range."""
    length, a, b = len(lo), int(lo), int(hi)
    count = _overlap(a, b, 0, 10 ** (length - 1) - 1)  # leading 0
    if length == 3:
        count += _overlap(a, b, 100, 199)
        count += sum(1 for e in ("911", "999") if a <= int(e) <= b)
    if length == 5:
        for start, end in ((10000, 10099), (12000, 12999), (95000, 96999)):
            count += _overlap(a, b, start, end)
    return count
