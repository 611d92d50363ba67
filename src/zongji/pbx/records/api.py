"""/api/v1/calls (enterprise admins: search and export, ADM-22..24) and /api/v1/me/calls (an
employee's own history: outgoing, incoming, missed)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from zongji.identity.web import Employee, EnterpriseAdmin
from zongji.pbx.contracts import CallDirection, CallStatus
from zongji.pbx.records.search import (
    CallFilters,
    CallRecordOut,
    CallRecordPage,
    HistoryKind,
    Match,
)
from zongji.pbx.records.stats import CallStats
from zongji.pbx.web import PbxDeps
from zongji.platform.errors import not_found
from zongji.platform.tabular import MEDIA_TYPES, ExportFormat

router = APIRouter(tags=["pbx: call records"])


def call_filters(
    direction: CallDirection | None = None,
    caller: Annotated[str | None, Query(max_length=64, description="Caller number or name")] = None,
    callee: Annotated[
        str | None,
        Query(max_length=64, description="Callee (or who answered) number or name"),
    ] = None,
    match: Annotated[
        Match, Query(description="`contains` (substring) or `exact` for caller/callee")
    ] = Match.CONTAINS,
    since: Annotated[
        datetime | None, Query(alias="from", description="Started at or after (with zone)")
    ] = None,
    until: Annotated[
        datetime | None, Query(alias="to", description="Started before (with zone)")
    ] = None,
    status: Annotated[list[CallStatus] | None, Query(description="Repeat for several")] = None,
    user_id: Annotated[
        uuid.UUID | None, Query(description="Calls this user placed, received or answered")
    ] = None,
) -> CallFilters:
    filters = CallFilters(
        direction=direction,
        caller=caller.strip() or None if caller else None,
        callee=callee.strip() or None if callee else None,
        match=match,
        since=since,
        until=until,
        statuses=tuple(status or ()),
        user_id=user_id,
    )
    filters.check()
    return filters


FiltersDep = Annotated[CallFilters, Depends(call_filters)]


@router.get("/api/v1/calls", response_model=CallRecordPage)
async def search_calls(
    admin: EnterpriseAdmin,
    services: PbxDeps,
    filters: FiltersDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=256)] = None,
) -> CallRecordPage:
    """Call records of the enterprise, newest first (ADM-22, ADM-23)."""
    return await services.pbx.records.search.page(
        admin.tenant_id, filters, limit=limit, cursor=cursor
    )


@router.get("/api/v1/calls/export")
async def export_calls(
    admin: EnterpriseAdmin,
    services: PbxDeps,
    filters: FiltersDep,
    fmt: Annotated[ExportFormat, Query(alias="format")] = ExportFormat.XLSX,
) -> StreamingResponse:
    """The records matching the same filters as the search, as xlsx or CSV (ADM-24)."""
    enterprise = await services.enterprises.get(admin.tenant_id)
    stamp = services.clock.now().strftime("%Y%m%d-%H%M%S")
    return StreamingResponse(
        await services.pbx.records.export.stream(
            admin.tenant_id, filters, fmt, enterprise.timezone
        ),
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="calls-{stamp}.{fmt.value}"'},
    )


@router.get("/api/v1/calls/stats", response_model=CallStats)
async def call_stats(admin: EnterpriseAdmin, services: PbxDeps, filters: FiltersDep) -> CallStats:
    """The records matching the same filters as the search, counted per day and per hour of
    the day in the enterprise's time zone: calls, answered, missed, failed, inbound, outbound,
    internal, talk time (ADM-22..24's charts). Without `from`/`to`: the last 30 days up to the
    end of today; at most 366 days (422 `range_too_long`)."""
    enterprise = await services.enterprises.get(admin.tenant_id)
    return await services.pbx.records.stats.count(
        admin.tenant_id, filters, enterprise.timezone, services.clock.now()
    )


@router.get("/api/v1/calls/{record_id}", response_model=CallRecordOut)
async def get_call(
    record_id: uuid.UUID, admin: EnterpriseAdmin, services: PbxDeps
) -> CallRecordOut:
    """One call record of the enterprise (the `id` of a search result); 404 for another's."""
    await services.pbx.records.writer.written()
    found = await services.pbx.records.search.get(admin.tenant_id, record_id)
    if found is None:
        raise not_found("Call record", "通话记录")
    return found


@router.get("/api/v1/me/calls", response_model=CallRecordPage)
async def my_calls(
    employee: Employee,
    services: PbxDeps,
    kind: HistoryKind | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=256)] = None,
) -> CallRecordPage:
    """The caller's own calls, newest first: `outgoing`, `incoming`, `missed` (incoming calls
    not answered), or all of them."""
    return await services.pbx.records.search.history(
        employee.tenant_id, employee.subject_id, kind, limit=limit, cursor=cursor
    )
