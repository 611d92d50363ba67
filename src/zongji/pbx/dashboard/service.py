"""The figures of the enterprise admin's first page, each asked of the part that owns it:
devices (credentials issued, registrations journalled by every node), calls in progress and
today's calls (the records), and the month's billed minutes (the outbound policy).

Each figure is one indexed aggregate query, so the page costs a handful of small queries
whatever the enterprise's size (bench/bench_pbx_dashboard.py). "Today" and "this month" are the
enterprise's, in its time zone, as quota months and working hours are.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

from pydantic import BaseModel, Field

from zongji.pbx.devices.binding_store import BindingStore
from zongji.pbx.devices.credentials import DeviceCredentials
from zongji.pbx.policy.service import PolicyService
from zongji.pbx.records.search import CallFilters
from zongji.pbx.records.service import CallRecordService
from zongji.pbx.records.stats import CallCounts, HourCounts, LiveCalls, local_day_start, zone_of


class DeviceCounts(BaseModel):
    issued: int = Field(description="SIP device credentials issued and not revoked")
    registered: int = Field(description="Of those, registered now (on any node)")
    users_registered: int = Field(description="Users with at least one registered device")


class MonthMinutes(BaseModel):
    month: str = Field(description='The enterprise\'s current month, "2026-12"')
    billed_minutes: int = Field(description="Outside minutes billed this month (what quotas count)")
    billed_calls: int = Field(description="Answered outside calls billed this month")


class Dashboard(BaseModel):
    as_of: datetime
    timezone: str
    today: date = Field(description="The enterprise's local date")
    devices: DeviceCounts
    calls_in_progress: LiveCalls
    today_calls: CallCounts
    today_by_hour: list[HourCounts] = Field(description="Hours 0–23 of today, local time")
    month: MonthMinutes


class DashboardFigures:
    def __init__(
        self,
        records: CallRecordService,
        credentials: DeviceCredentials,
        bindings: BindingStore,
        policy: PolicyService,
    ) -> None:
        self._records = records
        self._credentials = credentials
        self._bindings = bindings
        self._policy = policy

    async def figures(self, tenant_id: uuid.UUID, timezone: str, now: datetime) -> Dashboard:
        zone = zone_of(timezone)
        today = now.astimezone(zone).date()
        day = CallFilters(
            since=local_day_start(today, zone),
            until=local_day_start(today + timedelta(days=1), zone),
        )
        stats = await self._records.stats.count(tenant_id, day, timezone, now)
        registered, users = await self._bindings.registered(tenant_id)
        usage = await self._policy.month_usage(tenant_id, timezone)
        return Dashboard(
            as_of=now,
            timezone=stats.timezone,
            today=today,
            devices=DeviceCounts(
                issued=await self._credentials.count(tenant_id),
                registered=registered,
                users_registered=users,
            ),
            calls_in_progress=await self._records.live(tenant_id),
            today_calls=stats.totals,
            today_by_hour=stats.by_hour,
            month=MonthMinutes(
                month=usage.month,
                billed_minutes=usage.billed_minutes,
                billed_calls=usage.billed_calls,
            ),
        )
