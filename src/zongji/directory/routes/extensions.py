"""/api/v1/directory/extension-plan and /extensions (ADM-5): length, ranges; all, used, free."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from zongji.directory.extensions import ExtensionPage, PlanIn, PlanOut
from zongji.directory.web import DirectoryDeps
from zongji.identity.web import DirectoryManager, EnterpriseAdmin
from zongji.platform.web import AddressDep

router = APIRouter(prefix="/api/v1/directory", tags=["directory: extensions"])


@router.get("/extension-plan", response_model=PlanOut)
async def get_extension_plan(manager: DirectoryManager, services: DirectoryDeps) -> PlanOut:
    """The enterprise's extension plan: length and allowed ranges."""
    return await services.directory.extensions.get_plan(manager.tenant_id)


@router.put("/extension-plan", response_model=PlanOut)
async def set_extension_plan(
    body: PlanIn, admin: EnterpriseAdmin, services: DirectoryDeps, address: AddressDep
) -> PlanOut:
    """Extension length (3–6) and allowed ranges; refused while users have extensions outside."""
    return await services.directory.extensions.set_plan(admin.actor(address), admin.tenant_id, body)


@router.get("/extensions", response_model=ExtensionPage)
async def list_extensions(
    manager: DirectoryManager,
    services: DirectoryDeps,
    state: Literal["all", "used", "free"] = "all",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(pattern=r"^\d{1,6}$")] = None,
) -> ExtensionPage:
    """ADM-5: extensions of the plan, all, used (with their user) or free, in pages."""
    return await services.directory.extensions.list(
        manager.tenant_id, state, limit=limit, cursor=cursor
    )
