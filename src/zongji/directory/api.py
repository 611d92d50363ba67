"""Enterprise provisioning over HTTP: the operator's console and business system (BSS).

Every change accepts an `Idempotency-Key` header: the BSS's request id. A retry with the same id
gets the first answer again, and nothing is done twice.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Header, Query, status

from zongji.directory.models import EnterpriseStatus
from zongji.directory.schemas import (
    AdminAccountCreate,
    EnterpriseCard,
    EnterpriseChange,
    EnterpriseCreate,
    EnterpriseOut,
    EnterprisePage,
    StatusChange,
)
from zongji.directory.web import DirectoryDeps
from zongji.identity.web import EnterpriseAdmin, Member, Operator
from zongji.platform.web import AddressDep

router = APIRouter(tags=["enterprises"])
RequestId = Annotated[str | None, Header(alias="Idempotency-Key", max_length=128)]
PLATFORM = "/api/v1/platform/enterprises"


@router.post(PLATFORM, response_model=EnterpriseOut, status_code=status.HTTP_201_CREATED)
async def create_enterprise(
    body: EnterpriseCreate,
    operator: Operator,
    services: DirectoryDeps,
    address: AddressDep,
    request_id: RequestId = None,
) -> EnterpriseOut:
    """开户: open an enterprise, optionally with its first console admin."""
    return await services.directory.enterprises.create(
        operator.actor(address), body, request_id=request_id
    )


@router.get(PLATFORM, response_model=EnterprisePage)
async def list_enterprises(
    operator: Operator,
    services: DirectoryDeps,
    status_: Annotated[EnterpriseStatus | None, Query(alias="status")] = None,
    q: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> EnterprisePage:
    """Every enterprise, filtered by status or by a code/name fragment (`q`), in pages."""
    return await services.directory.enterprises.list(
        status=status_, query=q, limit=limit, cursor=cursor
    )


@router.get(PLATFORM + "/{enterprise_id}", response_model=EnterpriseOut)
async def get_enterprise(
    enterprise_id: uuid.UUID, operator: Operator, services: DirectoryDeps
) -> EnterpriseOut:
    """One enterprise with its settings, features, limits, user count and status."""
    return await services.directory.enterprises.get(enterprise_id)


@router.patch(PLATFORM + "/{enterprise_id}", response_model=EnterpriseOut)
async def change_enterprise(
    enterprise_id: uuid.UUID,
    body: EnterpriseChange,
    operator: Operator,
    services: DirectoryDeps,
    address: AddressDep,
    request_id: RequestId = None,
) -> EnterpriseOut:
    """变更: change an enterprise's settings, numbers, features or limits."""
    return await services.directory.enterprises.change(
        operator.actor(address), enterprise_id, body, request_id=request_id
    )


@router.post(PLATFORM + "/{enterprise_id}/admins", status_code=status.HTTP_201_CREATED)
async def add_enterprise_admin(
    enterprise_id: uuid.UUID,
    body: AdminAccountCreate,
    operator: Operator,
    services: DirectoryDeps,
    address: AddressDep,
) -> dict[str, uuid.UUID]:
    """Give an enterprise another console admin account."""
    account_id = await services.identity.add_enterprise_admin(
        operator.actor(address), enterprise_id, body
    )
    return {"id": account_id}


@router.get("/api/v1/enterprise", response_model=EnterpriseOut)
async def my_enterprise(admin: EnterpriseAdmin, services: DirectoryDeps) -> EnterpriseOut:
    """The enterprise admin's own enterprise, as the console shows it."""
    return await services.directory.enterprises.get(admin.tenant_id)


@router.get("/api/v1/directory/enterprise", response_model=EnterpriseCard)
async def enterprise_card(member: Member, services: DirectoryDeps) -> EnterpriseCard:
    """The caller's own enterprise as every member may see it: name, code, SIP domain, main and
    access numbers (employees and contact managers included)."""
    ent = await services.directory.enterprises.get(member.tenant_id)
    return EnterpriseCard.model_validate(ent.model_dump())


class StatusVerb(StrEnum):
    SUSPEND = "suspend"  # 停机: no logins (and, later, no calls) until resumed
    RESUME = "resume"  # 复机
    CANCEL = "cancel"  # 销户: final


@router.post(PLATFORM + "/{enterprise_id}/{verb}", response_model=EnterpriseOut)
async def set_enterprise_status(
    enterprise_id: uuid.UUID,
    verb: StatusVerb,
    operator: Operator,
    services: DirectoryDeps,
    address: AddressDep,
    body: StatusChange | None = None,
    request_id: RequestId = None,
) -> EnterpriseOut:
    """停、复、销: suspend, resume or cancel an enterprise."""
    return await services.directory.enterprises.set_status(
        operator.actor(address),
        enterprise_id,
        verb.value,
        reason=body.reason if body else None,
        request_id=request_id,
    )
