"""A busy database delays a call record; it never loses one.

Under overload SQLite's write lock can stay with other writers past the busy timeout (10 s), and
a PostgreSQL table can be locked by maintenance; the records service keeps trying until the
database takes the write. The lock here is real: another connection holds it.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from tests.pbx.records.helpers import start
from zongji.pbx.contracts import CallEnd, CallStatus, HangupSide
from zongji.pbx.records.models import CallRecord
from zongji.platform.db import TenantScope
from zongji.services import Services

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
ACME = uuid.UUID("01900000-0000-7000-8000-0000000000b1")
BUSY_TIMEOUT = 10.0  # platform/db.py's PRAGMA busy_timeout


def _hold_sqlite_lock(path: str, seconds: float, locked: threading.Event) -> None:
    connection = sqlite3.connect(path, isolation_level=None, timeout=30)
    try:
        connection.execute("BEGIN IMMEDIATE")  # the write lock, as a busy writer holds it
        locked.set()
        threading.Event().wait(seconds)
        connection.execute("COMMIT")
    finally:
        connection.close()


async def _hold_postgres_lock(services: Services, seconds: float, locked: asyncio.Event) -> None:
    import asyncpg

    url = services.db.engine.url.render_as_string(hide_password=False)
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        async with connection.transaction():
            await connection.execute("LOCK TABLE call_records IN ACCESS EXCLUSIVE MODE")
            locked.set()
            await asyncio.sleep(seconds)
    finally:
        await connection.close()


async def test_a_record_written_while_the_database_is_locked_arrives_when_it_frees(
    services: Services,
) -> None:
    records = services.pbx.records
    call = start(ACME, "busy-1", T0)
    await records.opened(call)

    hold = BUSY_TIMEOUT + 1.5  # past SQLite's busy timeout: the first attempt fails
    if services.db.dialect == "sqlite":
        locked = threading.Event()
        path = str(services.db.engine.url.database)
        holder = asyncio.create_task(asyncio.to_thread(_hold_sqlite_lock, path, hold, locked))
        assert await asyncio.to_thread(locked.wait, 10)
    else:
        pg_locked = asyncio.Event()
        holder = asyncio.create_task(_hold_postgres_lock(services, 2.0, pg_locked))
        await pg_locked.wait()

    end = CallEnd(CallStatus.NO_ANSWER, T0 + timedelta(seconds=30), HangupSide.CALLER)
    await records.closed("busy-1", end)  # returns once written, however long that took
    await holder

    async with services.db.session(TenantScope(ACME)) as session:
        row = await session.scalar(select(CallRecord).where(CallRecord.call_id == "busy-1"))
    assert row is not None
    assert row.status == CallStatus.NO_ANSWER
    assert row.ended_at == end.ended_at
