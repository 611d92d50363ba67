"""The records writer's pace (`records/writer.py` on `platform/write_behind.py`): a call's report
made while the writer is idle is written at once, not after the window; reports that come while
a transaction is recent wait and go together."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import event, select

from tests.pbx.records.helpers import start
from zongji.pbx.records.models import CallRecord
from zongji.pbx.records.service import _open_values
from zongji.pbx.records.writer import RecordWriter
from zongji.platform.db import PLATFORM
from zongji.platform.write_behind import transient
from zongji.services import Services

T0 = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
ACME = uuid.UUID("01900000-0000-7000-8000-0000000000c1")
HANG_GUARD = 30.0  # seconds: only a writer that waits for its (hour-long) window gets near it


async def test_a_report_made_while_idle_is_written_at_once(services: Services) -> None:
    writer = RecordWriter(services.db, services.bus, transient, gather=3600.0)
    row = _open_values(start(ACME, "lone", T0), "test-node")
    await asyncio.wait_for(writer.insert(row["id"], row), HANG_GUARD)
    async with services.db.session(PLATFORM) as session:
        found = await session.scalar(select(CallRecord.call_id).where(CallRecord.id == row["id"]))
    assert found == "lone"


async def test_reports_after_a_recent_transaction_wait_for_the_pace_together(
    services: Services,
) -> None:
    writer = RecordWriter(services.db, services.bus, transient, gather=0.5)
    commits: list[int] = []
    engine = services.db.engine.sync_engine

    def on_commit(conn: object) -> None:
        commits.append(1)

    rows = [_open_values(start(ACME, f"p-{i}", T0), "test-node") for i in range(3)]
    event.listen(engine, "commit", on_commit)
    try:
        await writer.insert(rows[0]["id"], rows[0])
        assert len(commits) == 1
        later = writer.insert(rows[1]["id"], rows[1])
        await asyncio.sleep(0)  # another moment, still within the pace
        closed = writer.update(rows[1]["id"], {"ended_at": T0 + timedelta(seconds=5)})
        other = writer.insert(rows[2]["id"], rows[2])
        await asyncio.wait_for(asyncio.gather(later, closed, other), HANG_GUARD)
        assert len(commits) == 2  # one more transaction for all three reports
    finally:
        event.remove(engine, "commit", on_commit)
    await writer.drain()
