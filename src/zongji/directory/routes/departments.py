"""/api/v1/directory/departments: the department tree (DIR-2, ADM-4)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from zongji.directory.departments import (
    DepartmentChange,
    DepartmentCreate,
    DepartmentDeleted,
    DepartmentOut,
)
from zongji.directory.web import DirectoryDeps
from zongji.identity.web import DirectoryManager, Member
from zongji.platform.web import AddressDep

router = APIRouter(prefix="/api/v1/directory/departments", tags=["directory: departments"])


@router.get("", response_model=list[DepartmentOut])
async def department_tree(member: Member, services: DirectoryDeps) -> list[DepartmentOut]:
    """The whole tree, siblings in their order, with member counts including sub-departments."""
    return await services.directory.departments.tree(member.tenant_id)


@router.get("/{department_id}", response_model=DepartmentOut)
async def get_department(
    department_id: uuid.UUID, member: Member, services: DirectoryDeps
) -> DepartmentOut:
    """One department with its path and member count."""
    return await services.directory.departments.get(member.tenant_id, department_id)


@router.post("", response_model=DepartmentOut, status_code=status.HTTP_201_CREATED)
async def create_department(
    body: DepartmentCreate, manager: DirectoryManager, services: DirectoryDeps, address: AddressDep
) -> DepartmentOut:
    """Add a department at the top level or under `parent_id` (ADM-4)."""
    return await services.directory.departments.create(
        manager.actor(address), manager.tenant_id, body
    )


@router.patch("/{department_id}", response_model=DepartmentOut)
async def change_department(
    department_id: uuid.UUID,
    body: DepartmentChange,
    manager: DirectoryManager,
    services: DirectoryDeps,
    address: AddressDep,
) -> DepartmentOut:
    """Rename, move under another parent (`parent_id`, null: top level), or reorder (`position`)."""
    return await services.directory.departments.change(
        manager.actor(address), manager.tenant_id, department_id, body
    )


@router.delete("/{department_id}", response_model=DepartmentDeleted)
async def delete_department(
    department_id: uuid.UUID,
    manager: DirectoryManager,
    services: DirectoryDeps,
    address: AddressDep,
) -> DepartmentDeleted:
    """Delete a department. No user is deleted: its members and its sub-departments (with
    everything under them) move up one level, to its parent (to the top level only if it was
    top level); a sub-department whose name is taken there is renamed `名称（被删部门）`. The
    answer lists who and what moved where; the change feed carries the same moves."""
    return await services.directory.departments.delete(
        manager.actor(address), manager.tenant_id, department_id
    )
