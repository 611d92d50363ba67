"""The telephony view the IVR tests look extensions up in.

Built from the directory service's telephony rows (what the PBX's `view.py` keeps in memory),
read fresh each time it is made, so a test sees exactly the users it created.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from zongji.pbx.contracts import Subscriber, TelephonyView, TenantLine
from zongji.services import Services


class _RowsView:
    def __init__(self, tenants: dict[uuid.UUID, TenantLine], users: list[Subscriber]) -> None:
        self._tenants = tenants
        self._users = users

    async def tenant(self, tenant_id: uuid.UUID) -> TenantLine | None:
        return self._tenants.get(tenant_id)

    async def tenant_by_domain(self, domain: str) -> TenantLine | None:
        return next((t for t in self._tenants.values() if t.sip_domain == domain.lower()), None)

    async def subscriber(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> Subscriber | None:
        return next(
            (u for u in self._users if u.tenant_id == tenant_id and u.user_id == user_id), None
        )

    async def by_extension(self, tenant_id: uuid.UUID, extension: str) -> Subscriber | None:
        return next(
            (u for u in self._users if u.tenant_id == tenant_id and u.extension == extension),
            None,
        )

    async def receptionists(self, tenant_id: uuid.UUID) -> Sequence[Subscriber]:
        return [u for u in self._users if u.tenant_id == tenant_id and u.is_receptionist]


def _tenant(row: dict[str, Any]) -> TenantLine:
    return TenantLine(
        tenant_id=row["id"],
        code=row["code"],
        name=row["name"],
        sip_domain=row["sip_domain"],
        status=str(row["status"]),
        area_code=row["area_code"],
        city=row["city"],
        timezone=row["timezone"],
        main_number=row["main_number"],
        access_number=row["access_number"],
        features=row["features"],
        extension_length=row["extension_length"],
    )


def _subscriber(tenant_id: uuid.UUID, row: dict[str, Any]) -> Subscriber:
    return Subscriber(
        tenant_id=tenant_id,
        user_id=row["id"],
        name=row["name"],
        extension=row["extension"],
        direct_line=row["direct_line"],
        mobile=row["mobile"],
        is_receptionist=row["is_receptionist"],
        outbound_restriction=str(row["outbound_restriction"]),
        outbound_time=str(row["outbound_time"]),
        monthly_minutes=row["monthly_minutes"],
        work_start=row["work_start"],
        work_end=row["work_end"],
        valid_from=row["valid_from"],
        valid_until=row["valid_until"],
    )


async def telephony_view(services: Services) -> TelephonyView:
    """A view of every enterprise and user in the database right now."""
    page = await services.enterprises.list(limit=1000)
    tenants: dict[uuid.UUID, TenantLine] = {}
    users: list[Subscriber] = []
    for ent in page.items:
        row = await services.enterprises.telephony_row(ent.id)
        assert row is not None
        tenants[ent.id] = _tenant(row)
        users += [_subscriber(ent.id, u) for u in await services.users.telephony_rows(ent.id)]
    return _RowsView(tenants, users)
