"""Isolation between enterprises holds by construction: a session bound to one enterprise can
neither read nor change another's rows, however the query is written."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import delete, func, select, update

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
