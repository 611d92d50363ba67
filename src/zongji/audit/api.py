"""/api/v1/operation-log (ADM-26, ADM-27): read and export, never edit.

Enterprise admins read their enterprise's log; operators read the platform's log or any
enterprise's. There is deliberately no route that changes or removes an entry.
"""

from __future__ import annotations

import json
import uuid
import zoneinfo
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from zongji.audit.models import LEVEL_ZH, AuditLevel
from zongji.audit.schemas import AuditEntryOut, AuditPage
from zongji.audit.service import AuditFilter, AuditLog
from zongji.directory.enterprises import EnterpriseService
from zongji.identity.web import EnterpriseAdmin, Operator
from zongji.platform.clock import Clock
from zongji.platform.db import PLATFORM, Scope, TenantScope
from zongji.platform.tabular import MEDIA_TYPES, ExportFormat, csv_chunks, file_chunks, xlsx_file
from zongji.platform.web import Provided

router = APIRouter(tags=["operation log"])


@dataclass(frozen=True)
class AuditApiDeps:
    """What the operation log's routes depend on, provided by the composition root."""

    audit: AuditLog
    enterprises: EnterpriseService  # an enterprise's time zone, for exported times
    clock: Clock


audit_api: Provided[AuditApiDeps] = Provided("audit")
AuditDeps = Annotated[AuditApiDeps, Depends(audit_api)]

HEADERS = [
    "序号",
    "时间",
    "操作人",
    "操作人类型",
    "来源地址",
    "操作",
    "对象",
    "级别",
    "详情",
    "哈希",
]


def _filter(
    actor: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    level: AuditLevel | None = None,
    target: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[datetime | None, Query(alias="from")] = None,
    until: Annotated[datetime | None, Query(alias="to")] = None,
) -> AuditFilter:
    return AuditFilter(actor, action, level, target, since, until)


async def _page(
    services: AuditApiDeps, scope: Scope, flt: AuditFilter, limit: int, cursor: int | None
) -> AuditPage:
    entries = await services.audit.list(scope, flt, limit=limit + 1, before_seq=cursor)
    items = [AuditEntryOut.model_validate(e) for e in entries[:limit]]
    next_cursor = str(items[-1].seq) if len(entries) > limit else None
    return AuditPage(items=items, next_cursor=next_cursor)


async def _export(
    services: AuditApiDeps, scope: Scope, flt: AuditFilter, fmt: ExportFormat, zone: str
) -> StreamingResponse:
    tz = zoneinfo.ZoneInfo(zone)

    async def rows() -> AsyncIterator[Sequence[Any]]:
        async for e in services.audit.stream(scope, flt):
            yield [
                e.seq,
                e.at.astimezone(tz).replace(tzinfo=None),
                e.actor_name,
                e.actor_kind,
                e.address or "",
                e.action,
                e.target_label,
                LEVEL_ZH[AuditLevel(e.level)],
                json.dumps(e.summary, ensure_ascii=False),
                e.hash,
            ]

    stamp = services.clock.now().astimezone(tz).strftime("%Y%m%d-%H%M%S")
    filename = f"operation-log-{stamp}.{fmt.value}"
    if fmt is ExportFormat.CSV:
        body: AsyncIterator[bytes] = csv_chunks(HEADERS, rows())
    else:
        body = file_chunks(await xlsx_file("操作日志", HEADERS, rows()))
    return StreamingResponse(
        body,
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


FilterDep = Annotated[AuditFilter, Depends(_filter)]
Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[int | None, Query(ge=1, description="`next_cursor` of the previous page")]
Format = Annotated[ExportFormat, Query(alias="format")]


async def _enterprise_zone(services: AuditApiDeps, tenant_id: uuid.UUID) -> str:
    return (await services.enterprises.get(tenant_id)).timezone


@router.get("/api/v1/operation-log", response_model=AuditPage)
async def enterprise_log(
    admin: EnterpriseAdmin,
    services: AuditDeps,
    flt: FilterDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> AuditPage:
    """The enterprise's operation log, newest first."""
    return await _page(services, TenantScope(admin.tenant_id), flt, limit, cursor)


@router.get("/api/v1/operation-log/export")
async def export_enterprise_log(
    admin: EnterpriseAdmin, services: AuditDeps, flt: FilterDep, fmt: Format = ExportFormat.XLSX
) -> StreamingResponse:
    """The enterprise's operation log as xlsx or CSV (ADM-27), with the same filters as the list;
    times in the enterprise's time zone."""
    zone = await _enterprise_zone(services, admin.tenant_id)
    return await _export(services, TenantScope(admin.tenant_id), flt, fmt, zone)


OperatorChain = Annotated[
    uuid.UUID | None,
    Query(alias="enterprise_id", description="An enterprise's chain; the platform's if omitted"),
]


async def _operator_scope(
    services: AuditApiDeps, flt: AuditFilter, chain: uuid.UUID | None
) -> tuple[Scope, AuditFilter, str]:
    if chain is None:
        return PLATFORM, flt, "Asia/Shanghai"
    zone = await _enterprise_zone(services, chain)  # 404 for an unknown enterprise
    return PLATFORM, replace(flt, tenant_id=chain), zone


@router.get("/api/v1/platform/operation-log", response_model=AuditPage)
async def platform_log(
    operator: Operator,
    services: AuditDeps,
    flt: FilterDep,
    enterprise_id: OperatorChain = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> AuditPage:
    """The platform's operation log (operators' own actions), or one enterprise's chain with
    `enterprise_id`; newest first."""
    scope, flt, _ = await _operator_scope(services, flt, enterprise_id)
    return await _page(services, scope, flt, limit, cursor)


@router.get("/api/v1/platform/operation-log/export")
async def export_platform_log(
    operator: Operator,
    services: AuditDeps,
    flt: FilterDep,
    enterprise_id: OperatorChain = None,
    fmt: Format = ExportFormat.XLSX,
) -> StreamingResponse:
    """The platform's (or one enterprise's) operation log as xlsx or CSV, with the list's
    filters."""
    scope, flt, zone = await _operator_scope(services, flt, enterprise_id)
    return await _export(services, scope, flt, fmt, zone)
