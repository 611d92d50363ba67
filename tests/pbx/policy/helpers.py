"""Enterprises, users and dialled numbers as the call engine hands them to the policy."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from zongji.pbx.contracts import DialKind, Dialled, Subscriber, TenantLine
from zongji.platform.clock import FakeClock

SHANGHAI = ZoneInfo("Asia/Shanghai")

# Seen from an enterprise in Nanjing (area code 25)
LOCAL_LANDLINE = "+862584123456"
LOCAL_MOBILE = "+8618061234567"  # a Nanjing mobile block
OTHER_CITY_LANDLINE = "+861088888888"  # Beijing
OTHER_CITY_MOBILE = "+8613912345678"  # a Changzhou mobile block
SERVICE_400 = "+864008123456"
TOLL_FREE_800 = "+868008123456"
INTERNATIONAL = "+14155550123"
HONG_KONG = "+85221234567"


def nanjing(tenant_id: uuid.UUID | None = None, **kw: Any) -> TenantLine:
    line = TenantLine(
        tenant_id=tenant_id or uuid.uuid4(),
        code="acme",
        name="Acme 南京",
        sip_domain="acme.zongji.test",
        status="active",
        area_code="25",
        city="南京",
        timezone="Asia/Shanghai",
        main_number="+862566660000",
        access_number=None,
        features={"international_calling": False},
        extension_length=4,
    )
    return replace(line, **kw)


def subscriber(tenant: TenantLine, **kw: Any) -> Subscriber:
    sub = Subscriber(
        tenant_id=tenant.tenant_id,
        user_id=uuid.uuid4(),
        name="张三",
        extension="8001",
        direct_line=None,
        mobile="+8613800000001",
        is_receptionist=False,
        outbound_restriction="domestic",
        outbound_time="unlimited",
        monthly_minutes=None,
        work_start="09:00",
        work_end="18:00",
        valid_from=None,
        valid_until=None,
    )
    return replace(sub, **kw)


def outside(number: str) -> Dialled:
    return Dialled(DialKind.EXTERNAL, number, number)


def extension(number: str = "8002") -> Dialled:
    return Dialled(DialKind.EXTENSION, number, number)


def emergency(code: str = "110") -> Dialled:
    return Dialled(DialKind.EMERGENCY, code, code)


def set_local(clock: FakeClock, when: str, zone: ZoneInfo = SHANGHAI) -> None:
    """Move the fake clock to a local wall-clock time ("2026-01-05 09:00:00")."""
    target = datetime.fromisoformat(when).replace(tzinfo=zone).astimezone(UTC)
    clock.advance((target - clock.now()).total_seconds())
