"""The department tree (DIR-2, ADM-4): any depth; add anywhere, rename, move, reorder, delete.

Deleting a department never deletes people: its members and its sub-departments move up to its
parent (to the top level for a top-level department). Member counts include sub-departments.
An enterprise has at most a few thousand departments, so the tree is read whole and shaped in
memory; that keeps cycles out of moves and counts in one query.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from zongji.audit.service import Target
from zongji.directory.journal import Journal
from zongji.directory.models import Department, User
from zongji.directory.schemas import Input
from zongji.platform.actor import Actor
from zongji.platform.clock import Clock
from zongji.platform.db import Database, TenantScope
from zongji.platform.errors import Problem, conflict, field_error, not_found
from zongji.platform.events import EventBus
from zongji.platform.uow import UnitOfWork

MAX_DEPTH = 32
MAX_DEPARTMENTS = 10_000
LOGGED_MOVES = 100  # sub-departments named in a deletion's log entry (the count is always there)
DepartmentName = Annotated[
    str, Field(min_length=1, max_length=64, pattern=r"^[^/\\\x00-\x1f]+$")
]  # "/" separates levels in paths (研发部/测试组)


class DepartmentCreate(Input):
    name: DepartmentName
    parent_id: uuid.UUID | None = None
    position: int | None = Field(None, ge=0, description="Place among siblings; default last")


class DepartmentChange(Input):
    """Rename, move (`parent_id`; null = top level) or reorder (`position`)."""

    name: DepartmentName | None = None
    parent_id: uuid.UUID | None = None
    position: int | None = Field(None, ge=0)


class DepartmentOut(BaseModel):
    id: uuid.UUID
    name: str
    parent_id: uuid.UUID | None
    position: int
    path: str  # 研发部/测试组
    member_count: int  # including sub-departments
    direct_member_count: int
    children: list[DepartmentOut] = []


class MovedDepartment(BaseModel):
    """A sub-department of a deleted department, as it is now."""

    id: uuid.UUID
    name: str
    renamed_from: str | None = Field(
        None, description="Its old name, when a sibling at the new place already had it"
    )
    parent_id: uuid.UUID | None = Field(description="Where it moved: the deleted one's parent")
    path: str


class DepartmentDeleted(BaseModel):
    """What deleting a department did: nobody is deleted, members and sub-departments move up
    one level, to the deleted department's parent (to the top level for a top-level one)."""

    id: uuid.UUID
    path: str = Field(description="The deleted department's path")
    moved_to: uuid.UUID | None = Field(
        description="Its parent, where members and sub-departments went; null: the top level"
    )
    moved_to_path: str = Field(description="Path of `moved_to`; empty for the top level")
    users: list[uuid.UUID] = Field(description="Its direct members, now in `moved_to`")
    departments: list[MovedDepartment] = Field(
        description="Its direct sub-departments (with everything under them), now in `moved_to`"
    )


@dataclass
class Tree:
    """The enterprise's departments, shaped in memory."""

    nodes: dict[uuid.UUID, Department]
    children: dict[uuid.UUID | None, list[Department]] = field(default_factory=dict)

    @classmethod
    def of(cls, departments: list[Department]) -> Tree:
        tree = cls({d.id: d for d in departments})
        grouped: dict[uuid.UUID | None, list[Department]] = defaultdict(list)
        for d in departments:
            grouped[d.parent_id].append(d)
        for siblings in grouped.values():
            siblings.sort(key=lambda d: (d.position, d.name, d.id))
        tree.children = dict(grouped)
        return tree

    def path(self, dept_id: uuid.UUID) -> list[Department]:
        chain: list[Department] = []
        node = self.nodes.get(dept_id)
        while node is not None and len(chain) <= MAX_DEPTH:
            chain.append(node)
            node = self.nodes.get(node.parent_id) if node.parent_id else None
        return list(reversed(chain))

    def path_text(self, dept_id: uuid.UUID | None) -> str:
        return "/".join(d.name for d in self.path(dept_id)) if dept_id else ""

    def subtree(self, dept_id: uuid.UUID) -> list[uuid.UUID]:
        found, stack = [], [dept_id]
        while stack:
            current = stack.pop()
            found.append(current)
            stack.extend(d.id for d in self.children.get(current, []))
        return found

    def depth_below(self, dept_id: uuid.UUID) -> int:
        return max((1 + self.depth_below(c.id) for c in self.children.get(dept_id, [])), default=0)

    def child_named(self, parent_id: uuid.UUID | None, name: str) -> Department | None:
        return next((d for d in self.children.get(parent_id, []) if d.name == name), None)


async def load_tree(session: AsyncSession) -> Tree:
    return Tree.of(list((await session.scalars(select(Department))).all()))


async def member_counts(session: AsyncSession) -> dict[uuid.UUID | None, int]:
    rows = await session.execute(
        select(User.department_id, func.count()).group_by(User.department_id)
    )
    return {dept: int(n) for dept, n in rows.all()}


def shape(tree: Tree, counts: dict[uuid.UUID | None, int]) -> list[DepartmentOut]:
    def build(node: Department, prefix: str) -> DepartmentOut:
        path = f"{prefix}/{node.name}" if prefix else node.name
        children = [build(c, path) for c in tree.children.get(node.id, [])]
        direct = counts.get(node.id, 0)
        return DepartmentOut(
            id=node.id,
            name=node.name,
            parent_id=node.parent_id,
            position=node.position,
            path=path,
            member_count=direct + sum(c.member_count for c in children),
            direct_member_count=direct,
            children=children,
        )

    return [build(top, "") for top in tree.children.get(None, [])]


def name_taken() -> Problem:
    return conflict(
        "department_name_taken",
        "A department of this name already exists here.",
        "同一上级部门下已有同名部门。",
    )


async def ensure_path(
    session: AsyncSession, tree: Tree, path: str, now: datetime
) -> tuple[uuid.UUID, list[Department]]:
    """The department at `研发部/测试组`, creating what is missing (spreadsheet import).
    Returns its id and the departments created."""
    parent: uuid.UUID | None = None
    created: list[Department] = []
    for name in [p.strip() for p in path.split("/") if p.strip()]:
        node = tree.child_named(parent, name)
        if node is None:
            position = len(tree.children.get(parent, []))
            node = Department(
                parent_id=parent,
                name=name,
                position=position,
                created_at=now,
                updated_at=now,
            )
            session.add(node)
            tree.nodes[node.id] = node
            tree.children.setdefault(parent, []).append(node)
            created.append(node)
        parent = node.id
    assert parent is not None
    return parent, created


class DepartmentService:
    def __init__(self, db: Database, bus: EventBus, clock: Clock, journal: Journal) -> None:
        self._db = db
        self._bus = bus
        self._clock = clock
        self._journal = journal

    async def tree(self, tenant_id: uuid.UUID) -> list[DepartmentOut]:
        async with self._db.session(TenantScope(tenant_id)) as session:
            return shape(await load_tree(session), await member_counts(session))

    async def get(self, tenant_id: uuid.UUID, dept_id: uuid.UUID) -> DepartmentOut:
        async with self._db.session(TenantScope(tenant_id)) as session:
            return await self._out(session, dept_id)

    async def _out(self, session: AsyncSession, dept_id: uuid.UUID) -> DepartmentOut:
        tree = await load_tree(session)
        if dept_id not in tree.nodes:
            raise not_found("Department", "部门")
        found = _find(shape(tree, await member_counts(session)), dept_id)
        assert found is not None
        return found

    async def create(
        self, actor: Actor, tenant_id: uuid.UUID, data: DepartmentCreate
    ) -> DepartmentOut:
        async with UnitOfWork(self._db, self._bus, TenantScope(tenant_id)) as uow:
            tree = await load_tree(uow.session)
            if len(tree.nodes) >= MAX_DEPARTMENTS:
                raise conflict(
                    "too_many_departments", "Too many departments.", "部门数量已达上限。"
                )
            if data.parent_id is not None:
                if data.parent_id not in tree.nodes:
                    raise field_error(
                        "parent_id", "not_found", "No such department.", "上级部门不存在。"
                    )
                if len(tree.path(data.parent_id)) >= MAX_DEPTH:
                    raise field_error(
                        "parent_id", "too_deep", "The tree is too deep.", "部门层级过深。"
                    )
            if tree.child_named(data.parent_id, data.name):
                raise name_taken()
            now = self._clock.now()
            siblings = tree.children.get(data.parent_id, [])
            dept = Department(
                parent_id=data.parent_id,
                name=data.name,
                position=len(siblings),
                created_at=now,
                updated_at=now,
            )
            uow.session.add(dept)
            await uow.session.flush()
            moved = _reorder(siblings, dept, data.position)
            await self._journal.record(
                uow,
                actor,
                "department.create",
                _target(dept),
                tenant_id,
                departments=[dept.id, *moved],
                summary={
                    "name": dept.name,
                    "path": Tree.of([*tree.nodes.values(), dept]).path_text(dept.id),
                },
            )
            return await self._out(uow.session, dept.id)

    async def change(
        self, actor: Actor, tenant_id: uuid.UUID, dept_id: uuid.UUID, data: DepartmentChange
    ) -> DepartmentOut:
        given = data.model_fields_set
        async with UnitOfWork(self._db, self._bus, TenantScope(tenant_id)) as uow:
            tree = await load_tree(uow.session)
            dept = tree.nodes.get(dept_id)
            if dept is None:
                raise not_found("Department", "部门")
            before = {"name": dept.name, "path": tree.path_text(dept.id), "position": dept.position}
            parent = dept.parent_id
            if "parent_id" in given and data.parent_id != dept.parent_id:
                parent = data.parent_id
                if parent is not None:
                    if parent not in tree.nodes:
                        raise field_error(
                            "parent_id", "not_found", "No such department.", "上级部门不存在。"
                        )
                    if parent in tree.subtree(dept.id):
                        raise field_error(
                            "parent_id",
                            "cycle",
                            "A department cannot move under itself or its sub-departments.",
                            "部门不能移动到自身或其下级部门之下。",
                        )
                    if len(tree.path(parent)) + 1 + tree.depth_below(dept.id) > MAX_DEPTH:
                        raise field_error(
                            "parent_id", "too_deep", "The tree is too deep.", "部门层级过深。"
                        )
            if data.name is None and "name" in given:
                raise field_error(
                    "name", "required", "This field cannot be empty.", "该项不能为空。"
                )
            name = data.name or dept.name
            other = tree.child_named(parent, name)
            if other is not None and other.id != dept.id:
                raise name_taken()
            touched: list[uuid.UUID] = [dept.id]
            if parent != dept.parent_id:
                old_siblings = [d for d in tree.children.get(dept.parent_id, []) if d.id != dept.id]
                touched += _renumber(old_siblings)
                dept.parent_id = parent
                new_siblings = tree.children.setdefault(parent, [])
                dept.position = len(new_siblings)
                touched += _reorder(new_siblings, dept, data.position)
            elif data.position is not None:
                siblings = [d for d in tree.children.get(parent, []) if d.id != dept.id]
                touched += _reorder(siblings, dept, data.position)
            dept.name = name
            dept.updated_at = self._clock.now()
            await uow.session.flush()
            after = {
                "name": dept.name,
                "path": Tree.of(list(tree.nodes.values())).path_text(dept.id),
                "position": dept.position,
            }
            await self._journal.record(
                uow,
                actor,
                "department.change",
                _target(dept),
                tenant_id,
                departments=touched,
                summary={k: [before[k], v] for k, v in after.items() if before[k] != v},
            )
            return await self._out(uow.session, dept.id)

    async def delete(
        self, actor: Actor, tenant_id: uuid.UUID, dept_id: uuid.UUID
    ) -> DepartmentDeleted:
        """Delete a department; its members and sub-departments move to its parent (the top
        level only if it was top level), and the answer says which moved where."""
        async with UnitOfWork(self._db, self._bus, TenantScope(tenant_id)) as uow:
            tree = await load_tree(uow.session)
            dept = tree.nodes.get(dept_id)
            if dept is None:
                raise not_found("Department", "部门")
            parent = dept.parent_id
            path, parent_path = tree.path_text(dept.id), tree.path_text(parent)
            members = list(
                (
                    await uow.session.scalars(select(User.id).where(User.department_id == dept.id))
                ).all()
            )
            await uow.session.execute(
                update(User)
                .where(User.department_id == dept.id)
                .values(department_id=parent, updated_at=self._clock.now())
            )
            children = tree.children.get(dept.id, [])
            siblings = [d for d in tree.children.get(parent, []) if d.id != dept.id]
            moved: list[MovedDepartment] = []
            for child in children:
                old_name = child.name
                if any(s.name == child.name for s in siblings):
                    child.name = f"{child.name}（{dept.name}）"[:64]
                child.parent_id = parent
                child.updated_at = self._clock.now()
                moved.append(
                    MovedDepartment(
                        id=child.id,
                        name=child.name,
                        renamed_from=old_name if child.name != old_name else None,
                        parent_id=parent,
                        path=f"{parent_path}/{child.name}" if parent_path else child.name,
                    )
                )
            renumbered = _renumber([*siblings, *children])
            await uow.session.delete(dept)
            await uow.session.flush()
            await self._journal.record(
                uow,
                actor,
                "department.delete",
                _target(dept),
                tenant_id,
                users=members,
                departments=dict.fromkeys([*(c.id for c in children), *renumbered]),
                deleted_departments=[dept.id],
                summary={
                    "path": path,
                    "moved_to": parent_path,
                    "members_moved": len(members),
                    "sub_departments_moved": len(children),
                    "sub_departments": [
                        {"from": f"{path}/{m.renamed_from or m.name}", "to": m.path}
                        for m in moved[:LOGGED_MOVES]
                    ],
                },
            )
            return DepartmentDeleted(
                id=dept.id,
                path=path,
                moved_to=parent,
                moved_to_path=parent_path,
                users=members,
                departments=moved,
            )


def _find(nodes: list[DepartmentOut], dept_id: uuid.UUID) -> DepartmentOut | None:
    for node in nodes:
        if node.id == dept_id:
            return node
        found = _find(node.children, dept_id)
        if found is not None:
            return found
    return None


def _renumber(siblings: list[Department]) -> list[uuid.UUID]:
    """Positions 0, 1, 2 … in the given order; returns the ids whose position changed."""
    changed = []
    for i, sibling in enumerate(siblings):
        if sibling.position != i:
            sibling.position = i
            changed.append(sibling.id)
    return changed


def _reorder(siblings: list[Department], dept: Department, position: int | None) -> list[uuid.UUID]:
    others = [d for d in siblings if d.id != dept.id]
    index = len(others) if position is None else min(position, len(others))
    others.insert(index, dept)
    siblings[:] = others
    return _renumber(others)


def _target(dept: Department) -> Target:
    return Target("department", str(dept.id), dept.name)
