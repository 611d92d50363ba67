"""Every change to the directory goes through one door: operation-log entry, change-feed rows and
the `DirectoryChanged` event, written together in the change's own transaction.

The change feed's sequence number *is* the enterprise's operation-log sequence of the entry that
describes the change. Appending to the log locks the enterprise's chain head, so entries (and so
feed rows) get their numbers in commit order, on PostgreSQL as on SQLite: a client that synced up
to number N can never later miss a change numbered below N. No second counter, no second lock.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite

from zongji.audit.models import AuditLevel
from zongji.audit.service import AuditLog, Target
from zongji.directory.events import DirectoryChanged
from zongji.directory.models import ChangeKind, DirectoryChange
from zongji.platform.actor import Actor
from zongji.platform.events import Event
from zongji.platform.uow import UnitOfWork

EVENT_IDS_MAX = 200  # an event names at most this many objects; devices read the rest from the feed
_BATCH = 1000


class Journal:
    def __init__(self, audit: AuditLog) -> None:
        self._audit = audit

    async def record(
        self,
        uow: UnitOfWork,
        actor: Actor,
        action: str,
        target: Target,
        tenant_id: uuid.UUID,
        *,
        users: Iterable[uuid.UUID] = (),
        departments: Iterable[uuid.UUID] = (),
        deleted_users: Iterable[uuid.UUID] = (),
        deleted_departments: Iterable[uuid.UUID] = (),
        summary: Mapping[str, Any] | None = None,
        level: AuditLevel = AuditLevel.INFO,
    ) -> int:
        """Log the change, mark the objects changed at its sequence number, announce it after
        commit. Returns the sequence number (the feed cursor that includes this change)."""
        entry = await self._audit.record(
            uow, actor, action, target, tenant_id=tenant_id, level=level, summary=summary
        )
        rows = [
            *_rows(tenant_id, entry.seq, ChangeKind.USER, users, deleted=False),
            *_rows(tenant_id, entry.seq, ChangeKind.DEPARTMENT, departments, deleted=False),
            *_rows(tenant_id, entry.seq, ChangeKind.USER, deleted_users, deleted=True),
            *_rows(tenant_id, entry.seq, ChangeKind.DEPARTMENT, deleted_departments, deleted=True),
        ]
        await _upsert(uow, rows)
        ids: dict[str, list[uuid.UUID]] = {
            ChangeKind.USER.value: [],
            ChangeKind.DEPARTMENT.value: [],
        }
        for row in rows:  # created, changed and deleted alike (the iterables are consumed above)
            ids[row["kind"]].append(row["id"])
        users_ids, department_ids = ids[ChangeKind.USER.value], ids[ChangeKind.DEPARTMENT.value]
        uow.publish(
            DirectoryChanged(
                tenant_id=tenant_id,
                cursor=entry.seq,
                action=action,
                users=tuple(users_ids[:EVENT_IDS_MAX]),
                departments=tuple(department_ids[:EVENT_IDS_MAX]),
                truncated=max(len(users_ids), len(department_ids)) > EVENT_IDS_MAX,
            )
        )
        return entry.seq

    async def note(
        self,
        uow: UnitOfWork,
        actor: Actor,
        action: str,
        target: Target,
        tenant_id: uuid.UUID,
        *,
        event: Event,
        summary: Mapping[str, Any] | None = None,
        level: AuditLevel = AuditLevel.INFO,
    ) -> None:
        """A change that is not a department or user (extension plan, number pool, personal
        contacts): logged, and announced as `event` after commit, but not in the feed."""
        await self._audit.record(
            uow, actor, action, target, tenant_id=tenant_id, level=level, summary=summary
        )
        uow.publish(event)


def _rows(
    tenant_id: uuid.UUID, seq: int, kind: ChangeKind, ids: Iterable[uuid.UUID], *, deleted: bool
) -> list[dict[str, Any]]:
    return [
        {"id": i, "tenant_id": tenant_id, "kind": kind.value, "seq": seq, "deleted": deleted}
        for i in dict.fromkeys(ids)
    ]


async def _upsert(uow: UnitOfWork, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    dialect = uow.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    for start in range(0, len(rows), _BATCH):
        stmt = insert(DirectoryChange)
        stmt = stmt.on_conflict_do_update(
            index_elements=["id"],
            set_={"seq": stmt.excluded.seq, "deleted": stmt.excluded.deleted},
        )
        await uow.session.execute(stmt, list(rows[start : start + _BATCH]))
