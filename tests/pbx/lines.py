"""Enterprises and users as call control sees them (`TenantLine`, `Subscriber`), for tests that
drive a part of the PBX without the directory behind it."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from zongji.pbx.contracts import Subscriber, TenantLine


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
