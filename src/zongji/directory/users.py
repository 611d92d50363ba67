"""The directory's users (DIR-4, DIR-5, CL-2, CL-5, ADM-6…ADM-21): create, edit, move, delete,
list in directory order, avatars; and how other contexts see a user (identity's logins).

The same service serves the console (enterprise admins), the client (contact managers, and each
user editing their own profile) and spreadsheet import, so a rule holds whichever door a change
comes through. Rules that need the enterprise (extension plan, number pool, features, departments)
are in `UserRules`; import loads it once for all its rows.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from zongji.audit.models import AuditLevel
from zongji.audit.service import Target, changes
from zongji.directory.departments import Tree, load_tree
from zongji.directory.extensions import Plan, check_extension, load_plan, next_free
from zongji.directory.journal import Journal
from zongji.directory.models import (
    Enterprise,
    EnterpriseStatus,
    Favourite,
    OutboundMode,
    OutboundRestriction,
    OutboundTime,
    PersonalContact,
    PoolNumber,
    User,
)
from zongji.directory.numbers import assign_direct_line
from zongji.directory.pinyin import spell
from zongji.directory.service_period import ServiceState, local_today, service_state
from zongji.directory.user_fields import refuse_policy_changes
from zongji.directory.user_schemas import ProfileChange, UserChange, UserCreate, UserOut, UserPage
from zongji.platform.actor import Actor, ActorKind
from zongji.platform.clock import Clock
from zongji.platform.db import PLATFORM, Database, TenantScope
from zongji.platform.errors import FieldError, Problem, conflict, not_found
from zongji.platform.events import EventBus
from zongji.platform.files import FileStorage
from zongji.platform.ids import uuid7
from zongji.platform.phone import InvalidNumber, to_e164
from zongji.platform.uow import UnitOfWork

AVATAR_MAX_BYTES = 2 * 1024 * 1024
AVATAR_TYPES = {
    b"\x89PNG\r\n\x1a\n": ("png", "image/png"),
    b"\xff\xd8\xff": ("jpg", "image/jpeg"),
    b"GIF87a": ("gif", "image/gif"),
    b"GIF89a": ("gif", "image/gif"),
}
MUTABLE = (
    "name", "mobile", "extension", "department_id", "title", "email", "phone", "address",
    "main_number", "is_admin", "is_receptionist", "conference_allowed", "outbound_restriction",
    "outbound_mode", "outbound_time", "monthly_minutes", "work_start", "work_end", "valid_from",
    "valid_until", "pinned", "pin_order",
)  # fmt: skip


@dataclass(frozen=True)
class UserLogin:
    """What identity needs to let a user in: who, where, and with which rights."""

    tenant_id: uuid.UUID
    user_id: uuid.UUID
    name: str
    is_admin: bool
    enterprise_code: str
    enterprise_name: str
    enterprise_status: EnterpriseStatus
    registered: bool
    suspended: bool
    valid_from: date | None
    valid_until: date | None
    timezone: str  # the enterprise's: validity days are its days

    def service_state(self, now: datetime) -> ServiceState:
        """In service, suspended, or outside the validity period (ADM-21) at `now`."""
        return service_state(
            local_today(now, self.timezone),
            suspended=self.suspended,
            valid_from=self.valid_from,
            valid_until=self.valid_until,
        )


def error(field: str, code: str, en: str, zh: str) -> dict[str, str]:
    return {"field": field, "code": code, "message": en, "message_zh": zh}


@dataclass
class Prepared:
    """A user's fields after every rule passed, ready to write."""

    fields: dict[str, Any]
    direct_line: str | None


@dataclass
class UserRules:
    """The enterprise-dependent rules for a user's fields, loaded once per operation."""

    enterprise: Enterprise
    plan: Plan
    tree: Tree
    pool: dict[str, uuid.UUID | None]  # the enterprise's numbers → user of each

    @classmethod
    async def load(cls, session: AsyncSession, tenant_id: uuid.UUID) -> UserRules:
        ent = await session.get(Enterprise, tenant_id)
        if ent is None:
            raise not_found("Enterprise", "企业")
        pool = {p.number: p.user_id for p in (await session.scalars(select(PoolNumber))).all()}
        return cls(ent, await load_plan(session), await load_tree(session), pool)

    def _number(self, raw: str | None, field: str, errors: list[dict[str, str]]) -> str | None:
        if raw is None:
            return None
        try:
            return to_e164(raw, area_code=self.enterprise.area_code)
        except InvalidNumber:
            errors.append(
                error(field, "invalid_number", "Not a valid phone number.", "号码格式不正确。")
            )
            return None

    def check(
        self, data: UserCreate, user_id: uuid.UUID | None
    ) -> tuple[Prepared, list[dict[str, str]]]:
        """Normalised fields and every rule broken (empty if none). Uniqueness of mobile and
        extension among users is the caller's: it knows whether it has them all in memory."""
        errors: list[dict[str, str]] = []
        fields = data.model_dump(exclude={"direct_line"})
        fields["phone"] = self._number(data.phone, "phone", errors)
        direct_line = self._number(data.direct_line, "direct_line", errors)
        if direct_line is not None:
            if direct_line not in self.pool:
                errors.append(
                    error(
                        "direct_line",
                        "number_not_in_pool",
                        "The number is not in the enterprise's number pool.",
                        "该号码不在企业号码池中。",
                    )
                )
            elif self.pool[direct_line] not in (None, user_id):
                errors.append(
                    error(
                        "direct_line",
                        "number_assigned",
                        "This number is another user's direct line.",
                        "该号码已是其他用户的直线号码。",
                    )
                )
        main = self._number(data.main_number, "main_number", errors)
        if main is not None and main != self.enterprise.main_number and main not in self.pool:
            errors.append(
                error(
                    "main_number",
                    "number_not_enterprise",
                    "The main number must be the enterprise's main number or one of its pool.",
                    "主叫号码须为企业总机号码或号码池中的号码。",
                )
            )
        fields["main_number"] = main
        if data.extension is not None:
            try:
                fields["extension"] = check_extension(self.plan, data.extension)
            except FieldError as exc:
                errors.extend(exc.extra["errors"])
        if data.department_id is not None and data.department_id not in self.tree.nodes:
            errors.append(
                error(
                    "department_id", "department_not_found", "No such department.", "部门不存在。"
                )
            )
        features = self.enterprise.features
        if data.outbound_restriction is OutboundRestriction.INTERNATIONAL and not features.get(
            "international_calling"
        ):
            errors.append(
                error(
                    "outbound_restriction",
                    "international_not_allowed",
                    "International calling is not enabled for this enterprise.",
                    "本企业未开通国际呼叫。",
                )
            )
        if data.outbound_mode is OutboundMode.CALLBACK and not features.get("callback"):
            errors.append(
                error(
                    "outbound_mode",
                    "callback_not_enabled",
                    "Callback is not enabled for this enterprise.",
                    "本企业未开通电话回拨。",
                )
            )
        if data.outbound_mode is OutboundMode.DIRECT_DIAL and not features.get("direct_dial", True):
            errors.append(
                error(
                    "outbound_mode",
                    "direct_dial_not_enabled",
                    "Direct dial is not enabled for this enterprise.",
                    "本企业未开通电话直拨。",
                )
            )
        if not data.pinned:
            fields["pin_order"] = 0
        return Prepared(fields, direct_line), errors


def apply(user: User, fields: dict[str, Any], now: datetime) -> None:
    if fields.get("name", user.name) != user.name or not user.sort_key:
        spelling = spell(fields.get("name", user.name))
        user.name_readings, user.sort_key = spelling.readings, spelling.sort_key
    for key in MUTABLE:
        if key in fields:
            value = fields[key]
            setattr(user, key, value.value if hasattr(value, "value") else value)
    user.updated_at = now


def snapshot(user: User, direct_line: str | None) -> dict[str, Any]:
    """The user as `UserCreate` fields: the base a partial change is merged onto."""
    data = {key: getattr(user, key) for key in MUTABLE}
    data["direct_line"] = direct_line
    return data


def avatar_url(user: User) -> str | None:
    return (
        f"/api/v1/directory/users/{user.id}/avatar?v={user.avatar.rsplit('/', 1)[-1][:12]}"
        if user.avatar
        else None
    )


def user_out(user: User, ent: Enterprise, tree: Tree, direct_line: str | None) -> UserOut:
    return UserOut(
        id=user.id,
        name=user.name,
        pinyin=user.sort_key.split("\x01", 1)[0],
        mobile=user.mobile,
        extension=user.extension,
        department_id=user.department_id,
        department_path=tree.path_text(user.department_id),
        title=user.title,
        email=user.email,
        phone=user.phone,
        address=user.address,
        avatar_url=avatar_url(user),
        direct_line=direct_line,
        main_number=user.main_number or ent.main_number,
        is_admin=user.is_admin,
        is_receptionist=user.is_receptionist,
        conference_allowed=user.conference_allowed,
        outbound_restriction=OutboundRestriction(user.outbound_restriction),
        outbound_mode=OutboundMode(user.outbound_mode),
        outbound_time=OutboundTime(user.outbound_time),
        monthly_minutes=user.monthly_minutes,
        work_start=user.work_start,
        work_end=user.work_end,
        valid_from=user.valid_from,
        valid_until=user.valid_until,
        pinned=user.pinned,
        pin_order=user.pin_order,
        registered=user.registered_at is not None,
        registered_at=user.registered_at,
        suspended=user.suspended_at is not None,
        suspended_at=user.suspended_at,
        created_at=user.created_at,
        updated_at=user.updated_at,
    )


async def outs(session: AsyncSession, users: Sequence[User], tenant_id: uuid.UUID) -> list[UserOut]:
    """Outputs for many users with three queries, whatever their number."""
    if not users:
        return []
    ent = await session.get(Enterprise, tenant_id)
    assert ent is not None
    tree = await load_tree(session)
    ids = [u.id for u in users]
    lines: dict[uuid.UUID | None, str] = {}
    for start in range(0, len(ids), 1000):
        rows = await session.execute(
            select(PoolNumber.user_id, PoolNumber.number).where(
                PoolNumber.user_id.in_(ids[start : start + 1000])
            )
        )
        lines.update({uid: number for uid, number in rows.all()})
    return [user_out(u, ent, tree, lines.get(u.id)) for u in users]


def listing_order() -> tuple[Any, ...]:
    """Pinned users first by their order, then everyone by pinyin (ADM-11, ADM-12)."""
    return (User.pinned.desc(), User.pin_order, User.sort_key, User.id)


def _encode_cursor(user: User) -> str:
    raw = json.dumps([user.pinned, user.pin_order, user.sort_key, str(user.id)], ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _after_cursor(stmt: Select[Any], cursor: str) -> Select[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        pinned, order, key, ident = json.loads(raw)
        ident = uuid.UUID(ident)
        assert isinstance(pinned, bool)
        assert isinstance(order, int)
        assert isinstance(key, str)
    except Exception as exc:
        raise Problem(400, "invalid_cursor", "The cursor is not valid.", "分页游标无效。") from exc
    later_in_group = or_(
        User.pin_order > order,
        and_(
            User.pin_order == order,
            or_(User.sort_key > key, and_(User.sort_key == key, User.id > ident)),
        ),
    )
    if pinned:
        return stmt.where(or_(User.pinned.is_(False), and_(User.pinned.is_(True), later_in_group)))
    return stmt.where(User.pinned.is_(False), later_in_group)


def integrity_conflict(exc: IntegrityError) -> Problem:
    text = str(exc.orig).lower()
    if "extension" in text:
        return conflict(
            "extension_taken", "This extension is already in use.", "该分机号已被使用。"
        )
    if "mobile" in text:
        return conflict("mobile_taken", "This mobile is already in use.", "该手机号已被使用。")
    return conflict(
        "conflict", "A concurrent change took the same value.", "与同时进行的修改冲突，请重试。"
    )


class DirectoryUsers:
    def __init__(
        self, db: Database, bus: EventBus, clock: Clock, journal: Journal, files: FileStorage
    ) -> None:
        self._db = db
        self._bus = bus
        self._clock = clock
        self._journal = journal
        self._files = files

    # -- what identity asks --------------------------------------------------------------------

    async def logins_for_mobile(self, mobile: str) -> list[UserLogin]:
        """Every user with this mobile, across enterprises (a person may work for two)."""
        async with self._db.session(PLATFORM) as session:
            rows = await session.execute(
                select(User, Enterprise)
                .join(Enterprise, Enterprise.id == User.tenant_id)
                .where(User.mobile == mobile)
                .order_by(Enterprise.code)
            )
            return [_login(user, ent) for user, ent in rows.all()]

    async def login_of(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> UserLogin | None:
        async with self._db.session(TenantScope(tenant_id)) as session:
            row = (
                await session.execute(
                    select(User, Enterprise)
                    .join(Enterprise, Enterprise.id == User.tenant_id)
                    .where(User.id == user_id)
                )
            ).first()
            return None if row is None else _login(*row)

    async def mark_registered(
        self, uow: UnitOfWork, user_id: uuid.UUID, actor: Actor | None = None
    ) -> None:
        """The user logged in for the first time: registered (DIR-1 shows it)."""
        user = await uow.session.get(User, user_id)
        if user is not None and user.registered_at is None:
            user.registered_at = self._clock.now()
            who = actor or Actor(ActorKind.USER, user.name, user.id, user.tenant_id)
            await self._journal.record(
                uow, who, "user.register", _target(user), user.tenant_id, users=[user.id]
            )

    # -- what the PBX asks ----------------------------------------------------------------------

    async def telephony_rows(self, tenant_id: uuid.UUID) -> list[dict[str, Any]]:
        """Every user of the enterprise as call routing needs them, as plain rows (the PBX keeps
        them in memory): id, name, extension, mobile, is_receptionist, outbound_restriction,
        outbound_time, monthly_minutes, work_start, work_end, valid_from, valid_until, suspended
        and direct_line (the user's pool number, E.164, or None)."""
        async with self._db.session(TenantScope(tenant_id)) as session:
            lines = {
                uid: number
                for number, uid in (
                    await session.execute(
                        select(PoolNumber.number, PoolNumber.user_id).where(
                            PoolNumber.user_id.is_not(None)
                        )
                    )
                ).all()
            }
            users = (await session.scalars(select(User))).all()
            return [
                {
                    "id": u.id,
                    "name": u.name,
                    "extension": u.extension,
                    "mobile": u.mobile,
                    "is_receptionist": u.is_receptionist,
                    "outbound_restriction": u.outbound_restriction,
                    "outbound_time": u.outbound_time,
                    "monthly_minutes": u.monthly_minutes,
                    "work_start": u.work_start,
                    "work_end": u.work_end,
                    "valid_from": u.valid_from,
                    "valid_until": u.valid_until,
                    "suspended": u.suspended_at is not None,
                    "direct_line": lines.get(u.id),
                }
                for u in users
            ]

    async def existing_ids(
        self, tenant_id: uuid.UUID, user_ids: Sequence[uuid.UUID]
    ) -> set[uuid.UUID]:
        """Which of these users still exist (the PBX drops what belonged to deleted ones)."""
        if not user_ids:
            return set()
        async with self._db.session(TenantScope(tenant_id)) as session:
            found = await session.scalars(select(User.id).where(User.id.in_(list(user_ids))))
            return set(found.all())

    # -- reads ---------------------------------------------------------------------------------

    async def get(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> UserOut:
        async with self._db.session(TenantScope(tenant_id)) as session:
            user = await session.get(User, user_id)
            if user is None:
                raise not_found("User", "用户")
            return (await outs(session, [user], tenant_id))[0]

    async def page(
        self,
        tenant_id: uuid.UUID,
        *,
        department_id: uuid.UUID | None = None,
        include_sub: bool = True,
        limit: int = 100,
        cursor: str | None = None,
    ) -> UserPage:
        stmt = select(User).order_by(*listing_order())
        async with self._db.session(TenantScope(tenant_id)) as session:
            if department_id is not None:
                tree = await load_tree(session)
                if department_id not in tree.nodes:
                    raise not_found("Department", "部门")
                ids = tree.subtree(department_id) if include_sub else [department_id]
                stmt = stmt.where(User.department_id.in_(ids))
            if cursor:
                stmt = _after_cursor(stmt, cursor)
            users = list((await session.scalars(stmt.limit(limit + 1))).all())
            items = await outs(session, users[:limit], tenant_id)
        return UserPage(
            items=items,
            next_cursor=_encode_cursor(users[limit - 1]) if len(users) > limit else None,
        )

    async def count(self, tenant_id: uuid.UUID) -> int:
        async with self._db.session(TenantScope(tenant_id)) as session:
            return int(await session.scalar(select(func.count()).select_from(User)) or 0)

    # -- changes -------------------------------------------------------------------------------

    async def create(
        self,
        actor: Actor,
        tenant_id: uuid.UUID,
        data: UserCreate,
        *,
        may_set_policy: bool = True,
    ) -> UserOut:
        """`may_set_policy=False` for contact managers: the new user gets the default telephony
        policy and no roles unless a console admin sets them (`user_fields.py`)."""
        async with UnitOfWork(self._db, self._bus, TenantScope(tenant_id)) as uow:
            rules = await UserRules.load(uow.session, tenant_id)
            await check_capacity(uow.session, rules.enterprise, 1)
            prepared, errors = rules.check(data, None)
            if not may_set_policy:
                defaults = {
                    k: f.default for k, f in UserCreate.model_fields.items() if not f.is_required()
                }
                refuse_policy_changes(
                    _plain(_given(prepared, data.model_fields_set)), _plain(defaults)
                )
            errors += await self._unique(uow.session, prepared.fields, None)
            if errors:
                raise FieldError(errors)
            if prepared.fields["extension"] is None:
                prepared.fields["extension"] = await next_free(uow.session, rules.plan)
            now = self._clock.now()
            user = User(
                registered_at=None,
                created_at=now,
                updated_at=now,
                name=data.name,
                mobile=data.mobile,
            )
            apply(user, prepared.fields, now)
            uow.session.add(user)
            await flush_or_conflict(uow.session)
            await assign_direct_line(uow.session, user.id, prepared.direct_line, now)
            await self._journal.record(
                uow,
                actor,
                "user.create",
                _target(user),
                tenant_id,
                users=[user.id],
                summary={"created": _summary(user, prepared.direct_line)},
            )
            return (await outs(uow.session, [user], tenant_id))[0]

    async def change(
        self,
        actor: Actor,
        tenant_id: uuid.UUID,
        user_id: uuid.UUID,
        data: UserChange,
        *,
        may_set_policy: bool = True,
    ) -> UserOut:
        """`may_set_policy=False` for contact managers: directory fields only, for anyone,
        themselves included (`user_fields.py`)."""
        given = data.model_dump(exclude_unset=True)
        async with UnitOfWork(self._db, self._bus, TenantScope(tenant_id)) as uow:
            user = await uow.session.get(User, user_id, with_for_update=True)
            if user is None:
                raise not_found("User", "用户")
            rules = await UserRules.load(uow.session, tenant_id)
            line = next((n for n, uid in rules.pool.items() if uid == user.id), None)
            before = snapshot(user, line)
            merged = UserCreate.model_validate({**_plain(before), **_plain(given)})
            prepared, errors = rules.check(merged, user.id)
            if not may_set_policy:
                refuse_policy_changes(_plain(_given(prepared, given.keys())), _plain(before))
            errors += await self._unique(uow.session, prepared.fields, user.id)
            if errors:
                raise FieldError(errors)
            if prepared.fields["extension"] is None:
                prepared.fields["extension"] = user.extension or await next_free(
                    uow.session, rules.plan
                )
            now = self._clock.now()
            apply(user, prepared.fields, now)
            await flush_or_conflict(uow.session)
            await assign_direct_line(uow.session, user.id, prepared.direct_line, now)
            diff = changes(_plain(before), _plain(snapshot(user, prepared.direct_line)))
            if diff:
                await self._journal.record(
                    uow,
                    actor,
                    "user.change",
                    _target(user),
                    tenant_id,
                    users=[user.id],
                    summary=diff,
                )
            return (await outs(uow.session, [user], tenant_id))[0]

    async def change_profile(
        self, actor: Actor, tenant_id: uuid.UUID, user_id: uuid.UUID, data: ProfileChange
    ) -> UserOut:
        """CL-5: users edit their own name, phone, e-mail and address."""
        return await self.change(
            actor,
            tenant_id,
            user_id,
            UserChange.model_validate(data.model_dump(exclude_unset=True)),
        )

    async def set_suspended(
        self,
        uow: UnitOfWork,
        actor: Actor,
        user_id: uuid.UUID,
        suspended: bool,
        reason: str | None = None,
    ) -> bool:
        """停机 / 复机 of one user (OPS-3), inside the caller's unit of work (identity ends the
        user's sessions in the same transaction). Suspending a suspended user (or resuming an
        active one) changes nothing, so a provisioning system may retry safely. True if the
        state changed."""
        user = await uow.session.get(User, user_id, with_for_update=True)
        if user is None:
            raise not_found("User", "用户")
        if (user.suspended_at is not None) == suspended:
            return False
        now = self._clock.now()
        user.suspended_at = now if suspended else None
        user.updated_at = now
        await self._journal.record(
            uow,
            actor,
            "user.suspend" if suspended else "user.resume",
            _target(user),
            user.tenant_id,
            users=[user.id],
            summary={"suspended": [not suspended, suspended], "reason": reason},
            level=AuditLevel.WARNING,
        )
        return True

    async def delete(self, actor: Actor, tenant_id: uuid.UUID, user_id: uuid.UUID) -> None:
        async with UnitOfWork(self._db, self._bus, TenantScope(tenant_id)) as uow:
            user = await uow.session.get(User, user_id, with_for_update=True)
            if user is None:
                raise not_found("User", "用户")
            await uow.session.execute(
                update(PoolNumber)
                .where(PoolNumber.user_id == user.id)
                .values(user_id=None, assigned_at=None)
            )
            await uow.session.execute(
                delete(Favourite).where(
                    or_(Favourite.target_id == user.id, Favourite.owner_id == user.id)
                )
            )
            contacts = select(PersonalContact.id).where(PersonalContact.owner_id == user.id)
            await uow.session.execute(delete(Favourite).where(Favourite.target_id.in_(contacts)))
            await uow.session.execute(
                delete(PersonalContact).where(PersonalContact.owner_id == user.id)
            )
            avatar = user.avatar
            await uow.session.delete(user)
            await uow.session.flush()
            await self._journal.record(
                uow,
                actor,
                "user.delete",
                _target(user),
                tenant_id,
                deleted_users=[user.id],
                summary={
                    "deleted": {
                        "name": user.name,
                        "mobile": user.mobile,
                        "extension": user.extension,
                    }
                },
            )
        if avatar:
            await self._files.delete(avatar)

    async def _unique(
        self, session: AsyncSession, fields: dict[str, Any], user_id: uuid.UUID | None
    ) -> list[dict[str, str]]:
        errors = []
        for key, code, en, zh in (
            ("mobile", "mobile_taken", "This mobile is already in use.", "该手机号已被使用。"),
            (
                "extension",
                "extension_taken",
                "This extension is already in use.",
                "该分机号已被使用。",
            ),
        ):
            value = fields.get(key)
            if value is None:
                continue
            column = getattr(User, key)
            stmt = select(User.id).where(column == value)
            if user_id is not None:
                stmt = stmt.where(User.id != user_id)
            if await session.scalar(stmt) is not None:
                errors.append(error(key, code, en, zh))
        return errors

    # -- avatars -------------------------------------------------------------------------------

    async def set_avatar(
        self, actor: Actor, tenant_id: uuid.UUID, user_id: uuid.UUID, data: bytes
    ) -> UserOut:
        if len(data) > AVATAR_MAX_BYTES:
            raise Problem(
                413,
                "avatar_too_large",
                "The picture is larger than 2 MB.",
                "头像图片不能超过 2 MB。",
            )
        kind = next((v for magic, v in AVATAR_TYPES.items() if data.startswith(magic)), None)
        if kind is None and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            kind = ("webp", "image/webp")
        if kind is None:
            raise Problem(
                415,
                "avatar_not_an_image",
                "The avatar must be a PNG, JPEG, GIF or WebP picture.",
                "头像须为 PNG、JPEG、GIF 或 WebP 图片。",
            )
        key = f"avatars/{tenant_id}/{user_id}-{uuid7().hex}.{kind[0]}"
        await self._files.put(key, data)
        try:
            async with UnitOfWork(self._db, self._bus, TenantScope(tenant_id)) as uow:
                user = await uow.session.get(User, user_id, with_for_update=True)
                if user is None:
                    raise not_found("User", "用户")
                old, user.avatar, user.updated_at = user.avatar, key, self._clock.now()
                await self._journal.record(
                    uow, actor, "user.avatar", _target(user), tenant_id, users=[user.id]
                )
                out = (await outs(uow.session, [user], tenant_id))[0]
        except BaseException:
            await self._files.delete(key)
            raise
        if old:
            await self._files.delete(old)
        return out

    async def avatar(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> tuple[bytes, str]:
        async with self._db.session(TenantScope(tenant_id)) as session:
            key = await session.scalar(select(User.avatar).where(User.id == user_id))
        data = await self._files.get(key) if key else None
        if data is None:
            raise not_found("Avatar", "头像")
        kind = next(
            (v for magic, v in AVATAR_TYPES.items() if data.startswith(magic)),
            ("webp", "image/webp"),
        )
        return data, kind[1]


async def check_capacity(session: AsyncSession, ent: Enterprise, adding: int) -> None:
    """Enterprise `max_users` (set by the operator) holds for single adds and imports alike."""
    count = int(await session.scalar(select(func.count()).select_from(User)) or 0)
    if count + adding > ent.max_users:
        raise Problem(
            409,
            "user_limit_reached",
            f"The enterprise may have at most {ent.max_users} users ({count} now).",
            f"企业用户数上限为 {ent.max_users}（现有 {count}）。",
            extra={"max_users": ent.max_users, "user_count": count},
        )


async def flush_or_conflict(session: AsyncSession) -> None:
    """Flush; a unique key taken meanwhile by a concurrent writer is a 409, not a crash."""
    try:
        await session.flush()
    except IntegrityError as exc:
        raise integrity_conflict(exc) from exc


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in data.items():
        if hasattr(value, "value"):
            value = value.value
        elif hasattr(value, "isoformat"):
            value = value.isoformat()
        elif isinstance(value, uuid.UUID):
            value = str(value)
        out[key] = value
    return out


def _given(prepared: Prepared, names: Iterable[str]) -> dict[str, Any]:
    """The normalised values of the fields the caller gave (`+86 25…` and `025-…` are one
    main number), so a value that is unchanged is recognised as such."""
    values = {**prepared.fields, "direct_line": prepared.direct_line}
    return {name: values.get(name) for name in names}


def _summary(user: User, direct_line: str | None) -> dict[str, Any]:
    return {
        k: v for k, v in _plain(snapshot(user, direct_line)).items() if v not in (None, False, "")
    }


def _target(user: User) -> Target:
    return Target("user", str(user.id), f"{user.name} ({user.extension or user.mobile})")


def _login(user: User, ent: Enterprise) -> UserLogin:
    return UserLogin(
        tenant_id=user.tenant_id,
        user_id=user.id,
        name=user.name,
        is_admin=user.is_admin,
        enterprise_code=ent.code,
        enterprise_name=ent.name,
        enterprise_status=EnterpriseStatus(ent.status),
        registered=user.registered_at is not None,
        suspended=user.suspended_at is not None,
        valid_from=user.valid_from,
        valid_until=user.valid_until,
        timezone=ent.timezone,
    )
