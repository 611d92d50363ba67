"""Suspending and resuming one user (停机 / 复机, OPS-3): by the enterprise's console admin, and
by the operator's business system (BSS) under the platform's enterprise routes.

A suspended user stays in the directory (marked `suspended`), keeps their extension and data,
and can do nothing until resumed: their sessions end, logins and token refreshes are refused,
the PBX refuses their REGISTERs and calls, and calls to them are not put through.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from zongji.directory.schemas import StatusChange
from zongji.directory.user_schemas import UserOut
from zongji.directory.web import DirectoryApiDeps, DirectoryDeps
from zongji.identity.web import EnterpriseAdmin, Operator
from zongji.platform.actor import Actor
from zongji.platform.web import AddressDep

router = APIRouter(tags=["directory: users"])
PLATFORM_USER = "/api/v1/platform/enterprises/{enterprise_id}/users/{user_id}"


@router.post("/api/v1/directory/users/{user_id}/suspend", response_model=UserOut)
async def suspend_user(
    user_id: uuid.UUID,
    admin: EnterpriseAdmin,
    services: DirectoryDeps,
    address: AddressDep,
    body: StatusChange | None = None,
) -> UserOut:
    """停机: the enterprise's admin suspends one of its users. Suspending a suspended user
    changes nothing."""
    return await _set(services, admin.actor(address), admin.tenant_id, user_id, True, body)


@router.post("/api/v1/directory/users/{user_id}/resume", response_model=UserOut)
async def resume_user(
    user_id: uuid.UUID,
    admin: EnterpriseAdmin,
    services: DirectoryDeps,
    address: AddressDep,
    body: StatusChange | None = None,
) -> UserOut:
    """复机: the enterprise's admin resumes a suspended user (their earlier sessions stay
    ended; they log in again)."""
    return await _set(services, admin.actor(address), admin.tenant_id, user_id, False, body)


@router.post(PLATFORM_USER + "/suspend", response_model=UserOut)
async def operator_suspends_user(
    enterprise_id: uuid.UUID,
    user_id: uuid.UUID,
    operator: Operator,
    services: DirectoryDeps,
    address: AddressDep,
    body: StatusChange | None = None,
) -> UserOut:
    """停机 of one user by the operator (OPS-3, the BSS): safe to retry."""
    await services.directory.enterprises.get(enterprise_id)  # 404 for an unknown enterprise
    return await _set(services, operator.actor(address), enterprise_id, user_id, True, body)


@router.post(PLATFORM_USER + "/resume", response_model=UserOut)
async def operator_resumes_user(
    enterprise_id: uuid.UUID,
    user_id: uuid.UUID,
    operator: Operator,
    services: DirectoryDeps,
    address: AddressDep,
    body: StatusChange | None = None,
) -> UserOut:
    """复机 of one user by the operator (OPS-3, the BSS): safe to retry."""
    await services.directory.enterprises.get(enterprise_id)
    return await _set(services, operator.actor(address), enterprise_id, user_id, False, body)


async def _set(
    services: DirectoryApiDeps,
    actor: Actor,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    suspended: bool,
    body: StatusChange | None,
) -> UserOut:
    await services.identity.set_user_suspended(
        actor, tenant_id, user_id, suspended, reason=body.reason if body else None
    )
    return await services.directory.users.get(tenant_id, user_id)
