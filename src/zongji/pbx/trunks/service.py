"""The operator's trunks (OPS-2): create, list, change, delete, each checked and audit-logged.

A trunk is the platform's (the operator buys carrier capacity once and shares it), so every
session here is the platform scope and every operation-log entry goes on the platform's chain.
After each change commits, a `TrunkChanged` event tells the runtime of every node to reload:
registration and keep-alive follow the configuration without a restart.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from zongji.audit.models import AuditLevel
from zongji.audit.service import AuditLog, Target, changes
from zongji.directory.enterprises import EnterpriseService
from zongji.pbx.events import TrunkChanged, TrunkChangeKind
from zongji.pbx.trunks.config import TrunkConfig, parse_source
from zongji.pbx.trunks.models import NumberFormat, Trunk, TrunkMode, TrunkTransport
from zongji.pbx.trunks.schemas import TrunkChange, TrunkCreate, TrunkOut
from zongji.platform.actor import Actor
from zongji.platform.clock import Clock
from zongji.platform.db import PLATFORM, Database
from zongji.platform.errors import FieldError, conflict, not_found
from zongji.platform.events import EventBus
from zongji.platform.uow import UnitOfWork

REQUIRED: tuple[str, ...] = ("name", "host", "port", "transport", "mode", "priority", "enabled")
REQUIRED += ("options_interval", "register_expires", "all_enterprises", "number_format")
_EMPTY_EN, _EMPTY_ZH = "This field cannot be empty.", "该项不能为空。"
_NAME_TAKEN = ("trunk_name_taken", "A trunk of this name exists.", "已有同名中继。")

_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$"
)
_USERNAME = re.compile(r"^[A-Za-z0-9_.!~*'()&=+$,;?/%-]+$")  # RFC 3261 user part, unreserved


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return bool(_HOSTNAME.fullmatch(host))
    return True


def _error(field: str, code: str, en: str, zh: str) -> dict[str, str]:
    return {"field": field, "code": code, "message": en, "message_zh": zh}


class TrunkService:
    def __init__(
        self,
        db: Database,
        bus: EventBus,
        clock: Clock,
        audit: AuditLog,
        enterprises: EnterpriseService,
    ) -> None:
        self._db = db
        self._bus = bus
        self._clock = clock
        self._audit = audit
        self._enterprises = enterprises

    # -- reads ---------------------------------------------------------------------------------

    async def all(self) -> list[TrunkOut]:
        async with self._db.session(PLATFORM) as session:
            rows = await session.scalars(select(Trunk).order_by(Trunk.priority, Trunk.name))
            return [_out(t) for t in rows]

    async def get(self, trunk_id: uuid.UUID) -> TrunkOut:
        async with self._db.session(PLATFORM) as session:
            trunk = await session.get(Trunk, trunk_id)
            if trunk is None:
                raise not_found("Trunk", "中继")
            return _out(trunk)

    async def configs(self) -> Sequence[TrunkConfig]:
        """Every trunk's settings, for the runtime (disabled ones too: it reports them)."""
        async with self._db.session(PLATFORM) as session:
            rows = await session.scalars(select(Trunk).order_by(Trunk.priority, Trunk.name))
            return [TrunkConfig.of(t) for t in rows]

    # -- changes -------------------------------------------------------------------------------

    async def create(self, actor: Actor, data: TrunkCreate) -> TrunkOut:
        now = self._clock.now()
        values = data.model_dump()
        values["enterprise_ids"] = [str(i) for i in data.enterprise_ids]
        values["inbound_addresses"] = list(data.inbound_addresses)
        await self._check(values)
        async with UnitOfWork(self._db, self._bus, PLATFORM) as uow:
            await self._check_name(uow, values["name"], None)
            trunk = Trunk(**values, created_at=now, updated_at=now)
            uow.session.add(trunk)
            await _flush(uow)
            await self._audit.record(
                uow,
                actor,
                "trunk.create",
                _target(trunk),
                level=AuditLevel.WARNING,
                summary={"created": trunk.fields()},
            )
            uow.publish(
                TrunkChanged(tenant_id=None, trunk_id=trunk.id, change=TrunkChangeKind.CREATED)
            )
            return _out(trunk)

    async def change(self, actor: Actor, trunk_id: uuid.UUID, data: TrunkChange) -> TrunkOut:
        given = data.model_dump(exclude_unset=True)
        empty = [k for k in REQUIRED if k in given and given[k] is None]
        if empty:
            raise FieldError([_error(k, "required", _EMPTY_EN, _EMPTY_ZH) for k in empty])
        if given.get("enterprise_ids") is not None:
            given["enterprise_ids"] = [str(i) for i in given["enterprise_ids"]]
        for key in ("enterprise_ids", "inbound_addresses"):
            if key in given and given[key] is None:
                given[key] = []
        async with UnitOfWork(self._db, self._bus, PLATFORM) as uow:
            trunk = await uow.session.get(Trunk, trunk_id, with_for_update=True)
            if trunk is None:
                raise not_found("Trunk", "中继")
            before = trunk.fields()
            merged = {**before, **given}
            await self._check(merged)
            if "name" in given:
                await self._check_name(uow, given["name"], trunk.id)
            for key, value in given.items():
                setattr(trunk, key, value)
            diff = changes(before, trunk.fields())
            if diff:
                trunk.updated_at = self._clock.now()
                await _flush(uow)
                await self._audit.record(
                    uow,
                    actor,
                    "trunk.change",
                    _target(trunk),
                    level=AuditLevel.WARNING,
                    summary=diff,
                )
                uow.publish(
                    TrunkChanged(tenant_id=None, trunk_id=trunk.id, change=TrunkChangeKind.CHANGED)
                )
            return _out(trunk)

    async def delete(self, actor: Actor, trunk_id: uuid.UUID) -> None:
        async with UnitOfWork(self._db, self._bus, PLATFORM) as uow:
            trunk = await uow.session.get(Trunk, trunk_id, with_for_update=True)
            if trunk is None:
                raise not_found("Trunk", "中继")
            await self._audit.record(
                uow,
                actor,
                "trunk.delete",
                _target(trunk),
                level=AuditLevel.CRITICAL,
                summary={"deleted": trunk.fields()},
            )
            await uow.session.delete(trunk)
            uow.publish(
                TrunkChanged(tenant_id=None, trunk_id=trunk_id, change=TrunkChangeKind.DELETED)
            )

    # -- checks --------------------------------------------------------------------------------

    async def _check(self, values: dict[str, Any]) -> None:
        """Everything that depends on several fields or on other data; all problems at once."""
        errors: list[dict[str, str]] = []
        if not _valid_host(values["host"]):
            errors.append(
                _error(
                    "host",
                    "invalid_host",
                    "Not a host name or IP address.",
                    "不是有效的主机名或 IP 地址。",
                )
            )
        for key in ("realm", "from_domain"):
            if values.get(key) and not _valid_host(values[key]):
                errors.append(_error(key, "invalid_host", "Not a domain name.", "不是有效的域名。"))
        if TrunkMode(values["mode"]) is TrunkMode.REGISTRATION:
            for key in ("username", "password"):
                if not values.get(key):
                    errors.append(
                        _error(
                            key,
                            "required",
                            "A registration trunk needs a username and a password.",
                            "注册方式的中继需要用户名和密码。",
                        )
                    )
        if values.get("username") and not _USERNAME.fullmatch(values["username"]):
            errors.append(
                _error(
                    "username",
                    "invalid_username",
                    "Not a SIP user name.",
                    "不是有效的 SIP 用户名。",
                )
            )
        for index, text in enumerate(values.get("inbound_addresses") or []):
            try:
                parse_source(text)
            except ValueError:
                errors.append(
                    _error(
                        f"inbound_addresses.{index}",
                        "invalid_address",
                        f"Not an IP address, CIDR block or address:port: {text}",
                        f"不是有效的 IP 地址、网段或 地址:端口：{text}",
                    )
                )
        ids = values.get("enterprise_ids") or []
        if not values["all_enterprises"] and not ids:
            errors.append(
                _error(
                    "enterprise_ids",
                    "enterprises_required",
                    "List the enterprises the trunk serves, or let it serve all.",
                    "请列出该中继服务的企业，或设为服务所有企业。",
                )
            )
        for index, text in enumerate(ids):
            if await self._enterprises.status_of(uuid.UUID(text)) is None:
                errors.append(
                    _error(
                        f"enterprise_ids.{index}",
                        "unknown_enterprise",
                        f"No such enterprise: {text}",
                        f"企业不存在：{text}",
                    )
                )
        if errors:
            raise FieldError(errors)

    async def _check_name(self, uow: UnitOfWork, name: str, exclude: uuid.UUID | None) -> None:
        stmt = select(Trunk.id).where(Trunk.name == name)
        if exclude is not None:
            stmt = stmt.where(Trunk.id != exclude)
        if await uow.session.scalar(stmt) is not None:
            raise conflict(*_NAME_TAKEN)


async def _flush(uow: UnitOfWork) -> None:
    try:
        await uow.session.flush()
    except IntegrityError as exc:  # a concurrent create took the name
        raise conflict(*_NAME_TAKEN) from exc


def _target(trunk: Trunk) -> Target:
    return Target("trunk", str(trunk.id), trunk.name)


def _out(trunk: Trunk) -> TrunkOut:
    return TrunkOut(
        id=trunk.id,
        name=trunk.name,
        host=trunk.host,
        port=trunk.port,
        transport=TrunkTransport(trunk.transport),
        mode=TrunkMode(trunk.mode),
        username=trunk.username,
        has_password=bool(trunk.password),
        realm=trunk.realm,
        register_expires=trunk.register_expires,
        from_domain=trunk.from_domain,
        inbound_addresses=list(trunk.inbound_addresses),
        priority=trunk.priority,
        enabled=trunk.enabled,
        options_interval=trunk.options_interval,
        all_enterprises=trunk.all_enterprises,
        enterprise_ids=[uuid.UUID(i) for i in trunk.enterprise_ids],
        number_format=NumberFormat(trunk.number_format),
        created_at=trunk.created_at,
        updated_at=trunk.updated_at,
    )
