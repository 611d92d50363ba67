"""/api/v1/directory/departments: the department tree (DIR-2, ADM-4)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from zongji.api.deps import AddressDep, DirectoryManager, Member, ServicesDep
from zongji.directory.departments import DepartmentChange, DepartmentCreate, DepartmentOut

router = APIRouter(prefix="/api/v1/directory/departments", tags=["directory: departments"])


@router.get("", response_model=list[DepartmentOut])
async def department_tree(member: Member, services: ServicesDep) -> list[DepartmentOut]:
    """The whole tree, siblings in their order, with member counts including sub-departments."""
    return await services.departments.tree(member.tenant_id)


@router.get("/{department_id}", response_model=DepartmentOut)
async def get_department(
    department_id: uuid.UUID, member: Member, services: ServicesDep
) -> DepartmentOut:
    """One department with its path and member count."""
    return await services.departments.get(member.tenant_id, department_id)


@router.post("", response_model=DepartmentOut, status_code=status.HTTP_201_CREATED)
async def create_department(
    body: DepartmentCreate, manager: DirectoryManager, services: ServicesDep, address: AddressDep
) -> DepartmentOut:
    """Add a department at the top level or under `parent_id` (ADM-4)."""
    return await services.departments.create(manager.actor(address), manager.tenant_id, body)


@router.patch("/{department_id}", response_model=DepartmentOut)
async def change_department(
    department_id: uuid.UUID,
    body: DepartmentChange,
    manager: DirectoryManager,
    services: ServicesDep,
    address: AddressDep,
) -> DepartmentOut:
    """Rename, move under another parent (`parent_id`, null: top level), or reorder (`position`)."""
    return await services.departments.change(
        manager.actor(address), manager.tenant_id, department_id, body
    )


@router.delete("/{department_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_department(
    department_id: uuid.UUID, manager: DirectoryManager, services: ServicesDep, address: AddressDep
) -> Response:
    """Members and sub-departments move up to the parent; no user is deleted."""
    await services.departments.delete(manager.actor(address), manager.tenant_id, department_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
