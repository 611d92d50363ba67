"""Reading the change feed (DIR-3): what changed since a client's cursor.

A client without a cursor gets the whole directory; with one, the departments and users changed
since (in full) and the ids of those deleted (tombstones), a page at a time, and the cursor to come
back with. Feed rows are written by `journal.Journal`; see there why the order is commit order.

A cursor beyond the feed's head was never handed out by this database: the client kept it across
a restore from backup, or from another installation. Answering "nothing changed" would leave it
believing a directory that is not this one, and silently skip every change until the head passes
its cursor, so it is refused (409 `cursor_ahead`) and the client must sync again from the start.
"""

from __future__ import annotations

import uuid

from pydantic import BaseModel
from sqlalchemy import and_, func, or_, select

from zongji.directory.departments import DepartmentOut, load_tree, member_counts, shape
from zongji.directory.models import ChangeKind, DirectoryChange, User
from zongji.directory.user_schemas import UserOut
from zongji.directory.users import outs
from zongji.platform.db import Database, TenantScope
from zongji.platform.errors import Problem


class ChangesOut(BaseModel):
    users: list[UserOut]
    departments: list[DepartmentOut]  # flat: each without children; the tree is by parent_id
    deleted_users: list[uuid.UUID]
    deleted_departments: list[uuid.UUID]
    cursor: str  # pass it back next time
    has_more: bool  # more changes wait: ask again with `cursor` now


def _invalid() -> Problem:
    return Problem(400, "invalid_cursor", "The cursor is not valid.", "同步游标无效。")


def _parse(cursor: str | None) -> tuple[int, uuid.UUID | None]:
    if not cursor:
        return -1, None
    try:
        seq_text, _, ident = cursor.partition(".")
        seq = int(seq_text)
        after = uuid.UUID(ident) if ident else None
    except ValueError as exc:
        raise _invalid() from exc
    if seq < 0 or not seq_text.isdigit():
        raise _invalid()  # never handed out
    return seq, after


def cursor_ahead() -> Problem:
    return Problem(
        409,
        "cursor_ahead",
        "The sync cursor is ahead of this directory's changes (restored from a backup?): sync"
        " again from the start, without a cursor.",
        "同步游标超出了通讯录的变更记录（数据可能已从备份恢复），请不带游标重新完整同步。",
    )


class ChangeFeed:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def head(self, tenant_id: uuid.UUID) -> int:
        """The latest sequence number of the enterprise's feed (-1 for none)."""
        async with self._db.session(TenantScope(tenant_id)) as session:
            value = await session.scalar(select(func.max(DirectoryChange.seq)))
        return -1 if value is None else int(value)

    async def since(self, tenant_id: uuid.UUID, cursor: str | None, limit: int = 500) -> ChangesOut:
        seq, after_id = _parse(cursor)
        stmt = (
            select(DirectoryChange)
            .order_by(DirectoryChange.seq, DirectoryChange.id)
            .limit(limit + 1)
        )
        if after_id is None:
            stmt = stmt.where(DirectoryChange.seq > seq)
        else:
            stmt = stmt.where(
                or_(
                    DirectoryChange.seq > seq,
                    and_(DirectoryChange.seq == seq, DirectoryChange.id > after_id),
                )
            )
        if cursor is None:
            stmt = stmt.where(
                DirectoryChange.deleted.is_(False)
            )  # a first sync needs no tombstones
        async with self._db.session(TenantScope(tenant_id)) as session:
            if seq > 0:  # 0 is handed out for an empty feed, whose head is -1
                head = await session.scalar(select(func.max(DirectoryChange.seq)))
                if head is None or seq > head:
                    raise cursor_ahead()
            rows = list((await session.scalars(stmt)).all())
            has_more = len(rows) > limit
            rows = rows[:limit]
            live_users = [r.id for r in rows if r.kind == ChangeKind.USER and not r.deleted]
            live_depts = {r.id for r in rows if r.kind == ChangeKind.DEPARTMENT and not r.deleted}
            users: list[User] = []
            for start in range(0, len(live_users), 1000):
                users += (
                    await session.scalars(
                        select(User).where(User.id.in_(live_users[start : start + 1000]))
                    )
                ).all()
            tree = await load_tree(session)
            flat: list[DepartmentOut] = []
            stack = shape(tree, await member_counts(session)) if live_depts else []
            while stack:
                node = stack.pop()
                stack.extend(node.children)
                if node.id in live_depts:
                    flat.append(node.model_copy(update={"children": []}))
            user_outs = await outs(session, users, tenant_id)
        if rows:
            last = rows[-1]
            next_cursor = f"{last.seq}.{last.id}" if has_more else str(last.seq)
        else:
            next_cursor = cursor or str(max(seq, 0))
        return ChangesOut(
            users=sorted(user_outs, key=lambda u: str(u.id)),
            departments=sorted(flat, key=lambda d: str(d.id)),
            deleted_users=[r.id for r in rows if r.kind == ChangeKind.USER and r.deleted],
            deleted_departments=[
                r.id for r in rows if r.kind == ChangeKind.DEPARTMENT and r.deleted
            ],
            cursor=next_cursor,
            has_more=has_more,
        )
