"""Enterprise provisioning (OPS-1, OPS-3): open, change, suspend, resume and cancel a tenant.

The operator (or the operator's business system, under a request id) drives these. A suspended or
cancelled enterprise cannot log in; later its devices cannot call. Cancelling is final.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError

from zongji.audit.models import AuditLevel
from zongji.audit.service import AuditLog, Target, changes
from zongji.directory.events import (
    EnterpriseCancelled,
    EnterpriseChanged,
    EnterpriseCreated,
    EnterpriseResumed,
    EnterpriseSuspended,
)
from zongji.directory.extensions import load_plan
from zongji.directory.models import Enterprise, EnterpriseStatus, PoolNumber, User
from zongji.directory.schemas import (
    AdminAccountCreate,
    EnterpriseChange,
    EnterpriseCreate,
    EnterpriseFeatures,
    EnterpriseOut,
    EnterprisePage,
    _number,
)
from zongji.platform.actor import Actor
from zongji.platform.clock import Clock
from zongji.platform.db import PLATFORM, Database, TenantScope
from zongji.platform.errors import conflict, field_error, not_found
from zongji.platform.events import EventBus
from zongji.platform.idempotency import run_idempotent
from zongji.platform.uow import UnitOfWork


class AdminProvisioner(Protocol):
    """Makes an enterprise's first console admin, in the same transaction (identity does this)."""

    async def create_enterprise_admin(
        self, uow: UnitOfWork, actor: Actor, tenant_id: uuid.UUID, admin: AdminAccountCreate
    ) -> None: ...


ALLOWED: dict[str, tuple[EnterpriseStatus, ...]] = {
    "suspend": (EnterpriseStatus.ACTIVE,),
    "resume": (EnterpriseStatus.SUSPENDED,),
    "cancel": (EnterpriseStatus.ACTIVE, EnterpriseStatus.SUSPENDED),
}
RESULT = {
    "suspend": EnterpriseStatus.SUSPENDED,
    "resume": EnterpriseStatus.ACTIVE,
    "cancel": EnterpriseStatus.CANCELLED,
}
ANNOUNCED: dict[str, type[EnterpriseSuspended | EnterpriseResumed | EnterpriseCancelled]] = {
    "suspend": EnterpriseSuspended,
    "resume": EnterpriseResumed,
    "cancel": EnterpriseCancelled,
}
LEVEL = {"suspend": AuditLevel.WARNING, "resume": AuditLevel.WARNING, "cancel": AuditLevel.CRITICAL}
VERB_ZH = {"suspend": "停机", "resume": "复机", "cancel": "销户"}


def _owner(actor: Actor) -> str:
    return f"{actor.kind.value}:{actor.id or actor.name}"


class EnterpriseService:
    def __init__(
        self,
        db: Database,
        bus: EventBus,
        clock: Clock,
        audit: AuditLog,
        sip_domain_suffix: str,
        admins: AdminProvisioner | None = None,
    ) -> None:
        self._db = db
        self._bus = bus
        self._clock = clock
        self._audit = audit
        self.admins = admins  # identity; wired in after both exist
        self._suffix = sip_domain_suffix

    # -- reads ---------------------------------------------------------------------------------

    async def get(self, enterprise_id: uuid.UUID) -> EnterpriseOut:
        async with self._db.session(PLATFORM) as session:
            ent = await session.get(Enterprise, enterprise_id)
            if ent is None:
                raise not_found("Enterprise", "企业")
            return await _out(session, ent)

    async def find_by_code(self, code: str) -> EnterpriseOut | None:
        async with self._db.session(PLATFORM) as session:
            ent = await session.scalar(select(Enterprise).where(Enterprise.code == code))
            return None if ent is None else await _out(session, ent)

    async def status_of(self, enterprise_id: uuid.UUID) -> EnterpriseStatus | None:
        async with self._db.session(PLATFORM) as session:
            status = await session.scalar(
                select(Enterprise.status).where(Enterprise.id == enterprise_id)
            )
            return None if status is None else EnterpriseStatus(status)

    async def id_for_sip_domain(self, domain: str) -> uuid.UUID | None:
        """The enterprise whose SIP domain this is (case-insensitive, as DNS names are)."""
        async with self._db.session(PLATFORM) as session:
            return await session.scalar(
                select(Enterprise.id).where(func.lower(Enterprise.sip_domain) == domain.lower())
            )

    async def telephony_row(self, enterprise_id: uuid.UUID) -> dict[str, Any] | None:
        """What call routing needs of an enterprise, as a plain row (the PBX keeps it in memory):
        id, code, name, sip_domain, status, area_code, city, timezone, main_number,
        access_number, features, extension_length."""
        async with self._db.session(TenantScope(enterprise_id)) as session:
            ent = await session.get(Enterprise, enterprise_id)
            if ent is None:
                return None
            plan = await load_plan(session)
            return {
                "id": ent.id,
                "code": ent.code,
                "name": ent.name,
                "sip_domain": ent.sip_domain,
                "status": ent.status,
                "area_code": ent.area_code,
                "city": ent.city,
                "timezone": ent.timezone,
                "main_number": ent.main_number,
                "access_number": ent.access_number,
                "features": dict(ent.features),
                "extension_length": plan.length,
            }

    async def list(
        self,
        *,
        status: EnterpriseStatus | None = None,
        query: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> EnterprisePage:
        """By code; `cursor` is the last code of the previous page."""
        stmt: Select[Enterprise] = select(Enterprise).order_by(Enterprise.code)
        if status:
            stmt = stmt.where(Enterprise.status == status.value)
        if query:
            stmt = stmt.where(
                Enterprise.name.contains(query, autoescape=True)
                | Enterprise.code.contains(query.lower(), autoescape=True)
            )
        if cursor:
            stmt = stmt.where(Enterprise.code > cursor)
        async with self._db.session(PLATFORM) as session:
            rows = list((await session.scalars(stmt.limit(limit + 1))).all())
            items = [await _out(session, e) for e in rows[:limit]]
        return EnterprisePage(
            items=items, next_cursor=rows[limit - 1].code if len(rows) > limit else None
        )

    # -- changes -------------------------------------------------------------------------------

    async def create(
        self, actor: Actor, data: EnterpriseCreate, *, request_id: str | None = None
    ) -> EnterpriseOut:
        async def work(uow: UnitOfWork) -> EnterpriseOut:
            now = self._clock.now()
            domain = data.sip_domain or f"{data.code}.{self._suffix}"
            await self._check_unique(uow, code=data.code, sip_domain=domain, main=data.main_number)
            ent = Enterprise(
                code=data.code,
                name=data.name,
                sip_domain=domain,
                area_code=data.area_code,
                city=data.city,
                timezone=data.timezone,
                main_number=data.main_number,
                access_number=data.access_number,
                features=data.features.model_dump(),
                max_users=data.max_users,
                status=EnterpriseStatus.ACTIVE.value,
                created_at=now,
                updated_at=now,
                status_changed_at=now,
            )
            uow.session.add(ent)
            await _flush(uow)
            await self._audit.record(
                uow,
                actor,
                "enterprise.create",
                _target(ent),
                tenant_id=ent.id,
                summary={"created": _fields(ent)},
            )
            if data.admin is not None:
                if self.admins is None:
                    raise RuntimeError("no admin provisioner wired in")
                await self.admins.create_enterprise_admin(uow, actor, ent.id, data.admin)
            uow.publish(EnterpriseCreated(tenant_id=ent.id, code=ent.code))
            return await _out(uow.session, ent)

        return await self._run(actor, request_id, "create", data, work)

    async def change(
        self,
        actor: Actor,
        enterprise_id: uuid.UUID,
        data: EnterpriseChange,
        *,
        request_id: str | None = None,
    ) -> EnterpriseOut:
        async def work(uow: UnitOfWork) -> EnterpriseOut:
            ent = await self._load(uow, enterprise_id)
            if ent.status == EnterpriseStatus.CANCELLED:
                raise conflict(
                    "enterprise_cancelled",
                    "A cancelled enterprise cannot be changed.",
                    "已销户的企业不能修改。",
                )
            before = _fields(ent)
            given = data.model_dump(exclude_unset=True, exclude={"features"})
            area = given.get("area_code") or ent.area_code
            for key in ("main_number", "access_number"):
                if key in given:
                    try:
                        given[key] = _number(given[key], area)
                    except ValueError as exc:
                        raise field_error(
                            key, "invalid_number", str(exc), "号码格式不正确。"
                        ) from exc
            for key, value in given.items():
                if value is None and key not in ("main_number", "access_number"):
                    raise field_error(
                        key, "required", "This field cannot be empty.", "该项不能为空。"
                    )
            await self._check_unique(
                uow,
                sip_domain=given.get("sip_domain"),
                main=given.get("main_number"),
                exclude=ent.id,
            )
            if "max_users" in given:
                count = await _user_count(uow.session, ent.id)
                if given["max_users"] < count:
                    raise conflict(
                        "max_users_below_count",
                        f"The enterprise already has {count} users.",
                        f"该企业已有 {count} 个用户，上限不能低于此数。",
                    )
            for key, value in given.items():
                setattr(ent, key, value)
            if data.features is not None:
                features = EnterpriseFeatures.model_validate(ent.features).model_dump()
                features.update(data.features.model_dump(exclude_none=True))
                ent.features = features
            diff = changes(before, _fields(ent))
            if diff:
                ent.updated_at = self._clock.now()
                await _flush(uow)
                await self._audit.record(
                    uow, actor, "enterprise.change", _target(ent), tenant_id=ent.id, summary=diff
                )
                uow.publish(EnterpriseChanged(tenant_id=ent.id, fields=tuple(sorted(diff))))
            return await _out(uow.session, ent)

        return await self._run(
            actor, request_id, f"change:{enterprise_id}", data.model_dump(exclude_unset=True), work
        )

    async def set_status(
        self,
        actor: Actor,
        enterprise_id: uuid.UUID,
        verb: str,
        *,
        reason: str | None = None,
        request_id: str | None = None,
    ) -> EnterpriseOut:
        """`verb` is suspend, resume or cancel (停、复、销)."""

        async def work(uow: UnitOfWork) -> EnterpriseOut:
            ent = await self._load(uow, enterprise_id)
            if EnterpriseStatus(ent.status) not in ALLOWED[verb]:
                raise conflict(
                    "invalid_status_transition",
                    f"Cannot {verb} an enterprise that is {ent.status}.",
                    f"企业当前状态不允许{VERB_ZH[verb]}。",
                )
            old = ent.status
            ent.status = RESULT[verb].value
            ent.status_changed_at = ent.updated_at = self._clock.now()
            await self._audit.record(
                uow,
                actor,
                f"enterprise.{verb}",
                _target(ent),
                tenant_id=ent.id,
                level=LEVEL[verb],
                summary={"status": [old, ent.status], "reason": reason},
            )
            uow.publish(ANNOUNCED[verb](tenant_id=ent.id, reason=reason))
            return await _out(uow.session, ent)

        if verb not in ALLOWED:
            raise ValueError(verb)
        return await self._run(actor, request_id, f"{verb}:{enterprise_id}", reason, work)

    # -- helpers -------------------------------------------------------------------------------

    async def _run(
        self, actor: Actor, request_id: str | None, operation: str, payload: Any, work: Any
    ) -> EnterpriseOut:
        if hasattr(payload, "model_dump"):
            payload = payload.model_dump(mode="json")
        return await run_idempotent(
            self._db,
            self._bus,
            PLATFORM,
            owner=_owner(actor),
            request_id=request_id,
            operation=f"enterprise.{operation}",
            payload=payload,
            now=self._clock.now(),
            result_type=EnterpriseOut,
            work=work,
        )

    async def _load(self, uow: UnitOfWork, enterprise_id: uuid.UUID) -> Enterprise:
        ent = await uow.session.get(Enterprise, enterprise_id, with_for_update=True)
        if ent is None:
            raise not_found("Enterprise", "企业")
        return ent

    async def _check_unique(
        self,
        uow: UnitOfWork,
        *,
        code: str | None = None,
        sip_domain: str | None = None,
        main: str | None = None,
        exclude: uuid.UUID | None = None,
    ) -> None:
        checks = [
            (code, Enterprise.code, "enterprise_code_taken", "企业编码已被使用。", "code"),
            (
                sip_domain,
                Enterprise.sip_domain,
                "sip_domain_taken",
                "SIP 域名已被使用。",
                "SIP domain",
            ),
            (
                main,
                Enterprise.main_number,
                "number_taken",
                "该号码已被其他企业使用。",
                "main number",
            ),
        ]
        for value, column, code_, zh, what in checks:
            if value is None:
                continue
            stmt = select(Enterprise.id).where(column == value)
            if exclude is not None:
                stmt = stmt.where(Enterprise.id != exclude)
            if await uow.session.scalar(stmt) is not None:
                raise conflict(code_, f"This {what} is already in use.", zh)
        if main is not None and await uow.session.scalar(
            select(PoolNumber.id).where(PoolNumber.number == main)
        ):
            raise conflict(
                "number_taken", "This main number is in a number pool.", "该号码已在号码池中。"
            )


async def _flush(uow: UnitOfWork) -> None:
    try:
        await uow.session.flush()
    except IntegrityError as exc:  # a concurrent writer took the same code, domain or number
        raise conflict(
            "conflict", "A concurrent change took the same value.", "与同时进行的修改冲突，请重试。"
        ) from exc


def _target(ent: Enterprise) -> Target:
    return Target("enterprise", str(ent.id), f"{ent.name} ({ent.code})")


def _fields(ent: Enterprise) -> dict[str, Any]:
    return {
        "name": ent.name,
        "sip_domain": ent.sip_domain,
        "area_code": ent.area_code,
        "city": ent.city,
        "timezone": ent.timezone,
        "main_number": ent.main_number,
        "access_number": ent.access_number,
        "features": dict(ent.features),
        "max_users": ent.max_users,
    }


async def _user_count(session: Any, enterprise_id: uuid.UUID) -> int:
    count = await session.scalar(
        select(func.count()).select_from(User).where(User.tenant_id == enterprise_id)
    )
    return int(count or 0)


async def _out(session: Any, ent: Enterprise) -> EnterpriseOut:
    return EnterpriseOut(
        id=ent.id,
        code=ent.code,
        name=ent.name,
        sip_domain=ent.sip_domain,
        area_code=ent.area_code,
        city=ent.city,
        timezone=ent.timezone,
        main_number=ent.main_number,
        access_number=ent.access_number,
        features=EnterpriseFeatures.model_validate(ent.features),
        max_users=ent.max_users,
        user_count=await _user_count(session, ent.id),
        status=EnterpriseStatus(ent.status),
        created_at=ent.created_at,
        updated_at=ent.updated_at,
        status_changed_at=ent.status_changed_at,
    )
