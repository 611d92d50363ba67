"""Records written behind the calls: many calls per transaction, reports of one call merged, every
report durable once its awaitable resolves, nothing left behind when the node stops, and a node
that dies after an answer still finds the answered call's dialogs."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, select

from tests.pbx.records.helpers import start
from zongji.pbx.contracts import CallEnd, CallStatus, HangupSide, Party
from zongji.pbx.records.models import CallRecord
from zongji.pbx.records.service import CallRecordService
from zongji.pbx.records.writer import GATHER_SECONDS
from zongji.platform.clock import FakeClock
from zongji.platform.db import PLATFORM
from zongji.services import Services
from zongji.sip.dialog import DialogSnapshot

T0 = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
ACME = uuid.UUID("01900000-0000-7000-8000-000000000001")
OTHER = uuid.UUID("01900000-0000-7000-8000-000000000002")


@contextmanager
def statements(services: Services) -> Iterator[list[str]]:
    """The INSERTs and UPDATEs of call_records, and the COMMITs, sent to the database."""
    seen: list[str] = []
    engine = services.db.engine.sync_engine

    def on_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        head = statement.lstrip().split(None, 3)
        if head[:1] in (["INSERT"], ["UPDATE"]) and "call_records" in statement:
            seen.append(head[0])

    def on_commit(conn: Any) -> None:
        seen.append("COMMIT")

    event.listen(engine, "before_cursor_execute", on_execute)
    event.listen(engine, "commit", on_commit)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
        event.remove(engine, "commit", on_commit)


async def rows(services: Services) -> dict[str, CallRecord]:
    async with services.db.session(PLATFORM) as session:
        found = (await session.scalars(select(CallRecord))).all()
    return {f"{(row.tenant_id == ACME and 'acme') or 'other'}:{row.call_id}": row for row in found}


def dialog(call_id: str) -> DialogSnapshot:
    return DialogSnapshot(
        call_id=call_id,
        local="<sip:8001@acme.example>;tag=ours",
        remote="<sip:8002@acme.example>;tag=theirs",
        remote_target="sip:8002@192.0.2.10:5062",
        route_set=(),
        local_seq=1,
        secure=False,
        is_uac=False,
        pinned=False,
        transport="UDP",
        host="192.0.2.10",
        port=5062,
    )


async def test_the_calls_of_one_moment_share_one_transaction(services: Services) -> None:
    records = services.pbx.records
    with statements(services) as seen:
        opened = [records.opened(start(ACME if i % 2 else OTHER, f"c-{i}", T0)) for i in range(40)]
        await asyncio.gather(*opened)
        assert seen == ["INSERT", "COMMIT"]  # one executemany, two enterprises, one transaction
        seen.clear()
        ends = [
            records.closed(f"c-{i}", CallEnd(CallStatus.NO_ANSWER, T0 + timedelta(seconds=9), None))
            for i in range(40)
        ]
        await asyncio.gather(*ends)
        assert seen == ["UPDATE", "COMMIT"]
    found = await rows(services)
    assert len(found) == 40
    assert {row.status for row in found.values()} == {"no_answer"}
    assert found["acme:c-1"].tenant_id == ACME
    assert found["other:c-2"].tenant_id == OTHER
    assert found["acme:c-1"].ended_at == T0 + timedelta(seconds=9)


async def test_a_call_answered_before_its_row_was_written_is_one_insert(
    services: Services,
) -> None:
    records = services.pbx.records
    legs = [dialog("a-1"), dialog("a-2")]
    with statements(services) as seen:
        records.opened(start(ACME, "a", T0))  # not awaited, as the engine does
        await records.answered("a", T0 + timedelta(seconds=2), Party("8002"), None, legs)
        assert seen == ["INSERT", "COMMIT"]
        seen.clear()
        refused = records.opened(start(ACME, "r", T0))
        end = CallEnd(CallStatus.REFUSED, T0, HangupSide.SYSTEM, reason="403", rule="validity")
        await records.closed("r", end)
        await refused
        assert seen == ["INSERT", "COMMIT"]  # a call refused at once: only its final row
    found = await rows(services)
    assert found["acme:a"].answered_at == T0 + timedelta(seconds=2)
    assert found["acme:a"].answered_by_number == "8002"
    assert found["acme:a"].legs == [leg.to_json() for leg in legs]
    assert (found["acme:r"].status, found["acme:r"].rule) == ("refused", "validity")


async def test_reports_nobody_awaits_are_written_within_the_window(services: Services) -> None:
    records = services.pbx.records
    records.opened(start(ACME, "ringing", T0))
    records.routed("ringing", Party("8003", None, "王五"))
    await asyncio.sleep(GATHER_SECONDS * 10)  # nobody awaited, nobody drained: written anyway
    row = (await rows(services))["acme:ringing"]
    assert row.callee_number == "8003"
    assert row.ended_at is None


async def test_stopping_waits_for_the_queued_reports(services: Services) -> None:
    records = services.pbx.records
    for i in range(5):
        records.opened(start(ACME, f"s-{i}", T0))
    assert records.writer.pending == 5
    await records.drain()
    assert records.writer.pending == 0
    assert len(await rows(services)) == 5


async def test_a_node_that_dies_right_after_an_answer_still_ends_its_dialogs(
    services: Services, clock: FakeClock
) -> None:
    """The guarantee: once `answered` (which the engine awaits) resolves, the dialogs are in the
    database; the node may die at once and the next start finds them."""
    records = services.pbx.records
    records.opened(start(ACME, "talking", T0))  # not awaited, as the engine does
    caller, callee = dialog("talking-1"), dialog("talking-2")
    answered_at = T0 + timedelta(seconds=1)
    await records.answered("talking", answered_at, Party("8002"), None, [caller, callee])
    # … the node dies here: nothing else is written, no drain, no close.
    restarted = CallRecordService(services.db, services.bus, clock, "test-node", None)
    interrupted = await restarted.close_interrupted()
    assert [(call.call_id, call.legs) for call in interrupted] == [("talking", (caller, callee))]


async def test_one_bad_row_does_not_lose_the_others_of_its_batch(
    services: Services, clock: FakeClock
) -> None:
    records = services.pbx.records
    await records.opened(start(ACME, "dup", T0))
    rebuilt = CallRecordService(services.db, services.bus, clock, "test-node", None)
    again = rebuilt.opened(start(ACME, "dup", T0))  # (tenant, call id) is taken
    fine = rebuilt.opened(start(ACME, "fine", T0))
    await asyncio.gather(again, fine)  # never raises
    found = await rows(services)
    assert set(found) == {"acme:dup", "acme:fine"}
