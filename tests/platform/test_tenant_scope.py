"""Isolation between enterprises holds by construction: a session bound to one enterprise can
neither read nor change another's rows, however the query is written."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import delete, func, insert, select, update

from tests.conftest import World
from zongji.directory.models import User
from zongji.platform.db import PLATFORM, ScopeViolation, TenantScope


async def test_reads_and_writes_stay_inside_the_tenant(world: World) -> None:
    a = await world.enterprise("alpha")
    b = await world.enterprise("beta")
    a_user = await world.user(a, "甲", "13900000001", extension="8001")
    b_user = await world.user(b, "乙", "13900000002", extension="8001")  # same extension: fine
    db = world.services.db

    async with db.session(TenantScope(a.id)) as s:
        assert (await s.scalars(select(User.name))).all() == ["甲"]
        assert await s.get(User, b_user) is None
        assert await s.get(User, a_user) is not None
        assert await s.scalar(select(func.count()).select_from(User)) == 1
        joined = await s.scalars(select(User).where(User.extension == "8001"))
        assert [u.id for u in joined] == [a_user]

    async with db.session(TenantScope(a.id), write=True) as s, s.begin():
        await s.execute(update(User).values(name="改"))
        await s.execute(delete(User).where(User.id == b_user))

    async with db.session(PLATFORM) as s:
        names = {row[0]: row[1] for row in await s.execute(select(User.id, User.name))}
    assert names == {a_user: "改", b_user: "乙"}


async def test_new_rows_are_stamped_and_foreign_rows_refused(world: World) -> None:
    a = await world.enterprise("alpha")
    b = await world.enterprise("beta")
    db = world.services.db
    now = world.services.clock.now()

    async with db.session(TenantScope(a.id), write=True) as s, s.begin():
        user = User(name="新", mobile="+8613900000009", created_at=now, updated_at=now)
        s.add(user)
    assert user.tenant_id == a.id

    with pytest.raises(ScopeViolation):
        async with db.session(TenantScope(a.id), write=True) as s, s.begin():
            s.add(
                User(
                    tenant_id=b.id,
                    name="偷",
                    mobile="+8613900000008",
                    created_at=now,
                    updated_at=now,
                )
            )

    with pytest.raises(ScopeViolation):
        async with db.session(PLATFORM, write=True) as s, s.begin():
            s.add(User(name="无主", mobile="+8613900000007", created_at=now, updated_at=now))


async def test_a_session_without_scope_cannot_query(world: World) -> None:
    session = world.services.db._readers()  # bypassing Database.session on purpose
    try:
        with pytest.raises(ScopeViolation):
            await session.execute(select(User))
    finally:
        await session.close()


async def test_unknown_tenant_sees_nothing(world: World) -> None:
    a = await world.enterprise("alpha")
    await world.user(a, "甲", "13900000001")
    async with world.services.db.session(TenantScope(uuid.uuid4())) as s:
        assert (await s.scalars(select(User))).all() == []


async def test_core_statements_on_tenant_tables_are_refused(world: World) -> None:
    from sqlalchemy import text

    a = await world.enterprise("alpha")
    await world.user(a, "甲", "13900000001")
    async with world.services.db.session(TenantScope(a.id)) as s:
        with pytest.raises(ScopeViolation):
            await s.execute(select(User.__table__))
        with pytest.raises(ScopeViolation):
            await s.execute(text("SELECT * FROM users"))
        with pytest.raises(ScopeViolation):
            await s.execute(User.__table__.update().values(name="x"))


async def test_bulk_update_by_primary_key_stays_inside_the_tenant(world: World) -> None:
    """`session.execute(update(User), [{"id": ..., ...}])` (ORM bulk UPDATE by primary key, an
    executemany) does not take `with_loader_criteria`; the session scopes it all the same."""
    a = await world.enterprise("alpha")
    b = await world.enterprise("beta")
    a_user = await world.user(a, "甲", "13900000001")
    b_user = await world.user(b, "乙", "13900000002")
    db = world.services.db

    async with db.session(TenantScope(a.id), write=True) as s, s.begin():
        await s.execute(
            update(User).execution_options(synchronize_session=None),
            [{"id": a_user, "name": "改"}, {"id": b_user, "name": "偷改"}],
        )

    async with db.session(PLATFORM) as s:
        names = {r[0]: r[1] for r in await s.execute(select(User.id, User.name))}
    assert names == {a_user: "改", b_user: "乙"}

    # The scoping is a WHERE, with which SQLAlchemy cannot synchronize loaded objects: it must
    # be asked for without, and is refused (before anything runs) otherwise.
    with pytest.raises(ScopeViolation, match="synchronize_session=None"):
        async with db.session(TenantScope(a.id), write=True) as s, s.begin():
            await s.execute(update(User), [{"id": b_user, "name": "偷改"}])

    async with db.session(PLATFORM) as s:
        names = {r[0]: r[1] for r in await s.execute(select(User.id, User.name))}
    assert names == {a_user: "改", b_user: "乙"}


async def test_no_update_moves_a_row_to_another_tenant(world: World) -> None:
    a = await world.enterprise("alpha")
    b = await world.enterprise("beta")
    a_user = await world.user(a, "甲", "13900000001", extension="8001")
    db = world.services.db

    with pytest.raises(ScopeViolation):
        async with db.session(TenantScope(a.id), write=True) as s, s.begin():
            await s.execute(
                update(User).execution_options(synchronize_session=None),
                [{"id": a_user, "tenant_id": b.id}],
            )
    with pytest.raises(ScopeViolation):
        async with db.session(TenantScope(a.id), write=True) as s, s.begin():
            await s.execute(update(User).values(tenant_id=b.id))
    async with db.session(TenantScope(a.id), write=True) as s, s.begin():  # its own: a no-op
        await s.execute(
            update(User).execution_options(synchronize_session=None),
            [{"id": a_user, "tenant_id": a.id, "name": "改"}],
        )

    async with db.session(PLATFORM) as s:
        rows = [tuple(r) for r in await s.execute(select(User.id, User.name, User.tenant_id))]
    assert rows == [(a_user, "改", a.id)]


async def test_bulk_insert_is_stamped_and_foreign_rows_refused(world: World) -> None:
    """`session.execute(insert(User), [...])` skips the flush; the session stamps and checks
    `tenant_id` on it as the flush does."""
    a = await world.enterprise("alpha")
    b = await world.enterprise("beta")
    db = world.services.db
    now = world.services.clock.now()

    def row(name: str, mobile: str, **more: object) -> dict[str, object]:
        return {"name": name, "mobile": mobile, "created_at": now, "updated_at": now, **more}

    with pytest.raises(ScopeViolation):
        async with db.session(TenantScope(a.id), write=True) as s, s.begin():
            await s.execute(
                insert(User),
                [
                    row("四", "+8613900000004", tenant_id=a.id),
                    row("偷", "+8613900000005", tenant_id=b.id),
                ],
            )
    with pytest.raises(ScopeViolation):
        async with db.session(TenantScope(a.id), write=True) as s, s.begin():
            await s.execute(insert(User).values(**row("偷", "+8613900000006", tenant_id=b.id)))

    async with db.session(TenantScope(a.id), write=True) as s, s.begin():
        await s.execute(insert(User), [row("一", "+8613900000001"), row("二", "+8613900000002")])
        await s.execute(insert(User), [row("三", "+8613900000003", tenant_id=a.id)])
    async with db.session(PLATFORM) as s:
        rows = sorted((r[0], r[1]) for r in await s.execute(select(User.name, User.tenant_id)))
    assert rows == [("一", a.id), ("三", a.id), ("二", a.id)]
