"""Exporting call records (ADM-24) as xlsx or CSV, streamed from the database.

Columns have Chinese headers, as the directory's export does, and times are the enterprise's
local time (spreadsheets have no time zones). Cell text that would run as a formula is written
as text by `zongji.platform.tabular`.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from zongji.pbx.records.models import CallRecord
from zongji.pbx.records.search import CallFilters, CallRecordSearch
from zongji.platform.tabular import ExportFormat, csv_chunks, file_chunks, xlsx_file

HEADERS = (
    "呼叫类型",
    "主叫号码",
    "主叫姓名",
    "被叫号码",
    "被叫姓名",
    "接听人",
    "开始时间",
    "接听时间",
    "结束时间",
    "通话时长(秒)",
    "计费分钟",
    "外线号码",
    "状态",
    "原因",
    "挂断方",
    "呼叫标识",
)

DIRECTIONS = {"internal": "内部", "inbound": "呼入", "outbound": "呼出"}
STATUSES = {
    "answered": "已接听",
    "no_answer": "未接听",
    "busy": "忙",
    "cancelled": "已取消",
    "failed": "失败",
    "refused": "已拒绝",
    "voicemail": "语音信箱",
    "interrupted": "中断",
}
SIDES = {"caller": "主叫", "callee": "被叫", "system": "系统"}
SHEET = "通话记录"


def _zone(name: str | None) -> tzinfo:
    try:
        return ZoneInfo(name or "Asia/Shanghai")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Asia/Shanghai")


def _local(at: datetime | None, zone: tzinfo) -> datetime | None:
    return at.astimezone(zone).replace(tzinfo=None) if at is not None else None


def record_row(row: CallRecord, zone: tzinfo) -> list[Any]:
    status = STATUSES.get(row.status, row.status) if row.status else "通话中"
    reason = row.reason
    if row.rule:
        reason = f"{reason} ({row.rule})" if reason else row.rule
    answered_by = row.answered_by_name or row.answered_by_number
    return [
        DIRECTIONS.get(row.direction, row.direction),
        row.caller_number,
        row.caller_name,
        row.callee_number,
        row.callee_name,
        answered_by,
        _local(row.started_at, zone),
        _local(row.answered_at, zone),
        _local(row.ended_at, zone),
        row.billable_seconds,
        row.billed_minutes,
        row.outside_number,
        status,
        reason,
        SIDES.get(row.hangup_side, row.hangup_side) if row.hangup_side else None,
        row.call_id,
    ]


class CallRecordExport:
    def __init__(self, search: CallRecordSearch) -> None:
        self._search = search

    async def _rows(
        self, tenant_id: uuid.UUID, filters: CallFilters, zone: tzinfo
    ) -> AsyncIterator[Sequence[Any]]:
        async for row in self._search.rows(tenant_id, filters):
            yield record_row(row, zone)

    async def stream(
        self,
        tenant_id: uuid.UUID,
        filters: CallFilters,
        fmt: ExportFormat,
        timezone: str | None = None,
    ) -> AsyncIterator[bytes]:
        """Checks the filters first, so bad ones are a problem+json rather than a broken file."""
        filters.check()
        zone = _zone(timezone)
        rows = self._rows(tenant_id, filters, zone)
        if fmt is ExportFormat.CSV:
            return csv_chunks(HEADERS, rows)
        return file_chunks(await xlsx_file(SHEET, HEADERS, rows))
