"""Call records: how many calls per second the records service writes (opened, answered, closed,
reported as the engine does: the open not waited for, the answer and the close waited for until
written, with calls overlapping as they do on a node) and the CPU each call costs this process,
beside the same three statements as bare Core SQL on the same engine, one transaction each (the
anchor: what the database itself costs that way); then search and export over a table of
100,000 records. The service writes behind the calls, many calls per transaction
(`records/writer.py`), so its rate grows with the calls in flight: one call alone waits for the
writer's window at its answer and at its end.

SQLite by default (a file in a temporary directory); `--database-url` for PostgreSQL.
`--smoke`: small numbers, for CI.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, text, update

from zongji.pbx.contracts import CallDirection, CallEnd, CallStart, CallStatus, HangupSide, Party
from zongji.pbx.records.models import CallRecord
from zongji.pbx.records.search import CallFilters, HistoryKind, Match
from zongji.platform.clock import SystemClock
from zongji.platform.config import Settings
from zongji.platform.db import PLATFORM, Database
from zongji.platform.ids import uuid7
from zongji.platform.migrate import upgrade
from zongji.platform.tabular import ExportFormat
from zongji.services import build_services

T0 = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


async def write_calls(
    records: object, tenant: uuid.UUID, calls: int, concurrent: int
) -> tuple[float, float]:
    """Calls per second through `CallRecordService`, `concurrent` calls in flight, and the CPU
    time of this process per call (µs)."""
    service = records
    queue = list(range(calls))

    async def one(n: int) -> None:
        call_id = f"bench-{tenant.hex[:6]}-{n}"
        at = T0 + timedelta(seconds=n)
        service.opened(  # type: ignore[attr-defined]  # not waited for, as the engine does
            CallStart(
                call_id,
                tenant,
                CallDirection.OUTBOUND,
                Party("8001", uuid.UUID(int=n % 50 + 1), "张三"),
                Party("+8613912345678"),
                at,
            )
        )
        await service.answered(call_id, at + timedelta(seconds=3))  # type: ignore[attr-defined]
        await service.closed(  # type: ignore[attr-defined]
            call_id, CallEnd(CallStatus.ANSWERED, at + timedelta(seconds=65), HangupSide.CALLER)
        )

    async def worker() -> None:
        while queue:
            await one(queue.pop())

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrent)))
    seconds = time.perf_counter() - started
    return calls / seconds, (time.process_time() - cpu) / calls * 1e6


async def write_bare(db: Database, tenant: uuid.UUID, calls: int, concurrent: int) -> float:
    """The anchor: one INSERT and two UPDATEs per call, Core statements, platform session."""
    queue = list(range(calls))
    table = CallRecord.__table__

    async def one(n: int) -> None:
        ident = uuid7()
        at = T0 + timedelta(seconds=n)
        async with db.session(PLATFORM, write=True) as s, s.begin():
            await s.execute(
                insert(table).values(
                    id=ident, tenant_id=tenant, call_id=f"bare-{n}", direction="outbound",
                    caller_number="8001", callee_number="+8613912345678", started_at=at,
                    billable_seconds=0, billed_minutes=0, node="bench",
                )
            )  # fmt: skip
        async with db.session(PLATFORM, write=True) as s, s.begin():
            await s.execute(update(table).where(table.c.id == ident).values(answered_at=at))
        async with db.session(PLATFORM, write=True) as s, s.begin():
            await s.execute(
                update(table)
                .where(table.c.id == ident)
                .values(ended_at=at, status="answered", billable_seconds=62, billed_minutes=2)
            )

    async def worker() -> None:
        while queue:
            await one(queue.pop())

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrent)))
    return calls / (time.perf_counter() - started)


async def fill(db: Database, tenant: uuid.UUID, rows: int, users: list[uuid.UUID]) -> None:
    """`rows` records over 30 days, loaded in batches (not through the service: setup only)."""
    rng = random.Random(7)
    statuses = ["answered"] * 6 + ["no_answer", "busy", "cancelled", "voicemail", "refused"]
    names = ["张三", "李四", "王五", "曾小贤", "单田芳", "解晓东", "区志强", "查良镛"]
    batch: list[dict[str, object]] = []
    for n in range(rows):
        at = T0 + timedelta(seconds=rng.randint(0, 30 * 86400))
        direction = rng.choice(["internal", "inbound", "outbound"])
        caller = rng.randrange(len(users))
        status = rng.choice(statuses)
        talk = rng.randint(5, 600) if status == "answered" else 0
        batch.append(
            {
                "id": uuid7(), "tenant_id": tenant, "call_id": f"fill-{n}",
                "direction": direction,
                "caller_number": f"80{caller:02d}" if direction != "inbound"
                else f"+86139{rng.randint(0, 99999999):08d}",
                "caller_user_id": users[caller] if direction != "inbound" else None,
                "caller_name": names[caller % len(names)] if direction != "inbound" else None,
                "callee_number": f"+86138{rng.randint(0, 99999999):08d}",
                "callee_user_id": users[rng.randrange(len(users))]
                if direction != "outbound" else None,
                "started_at": at, "answered_at": at + timedelta(seconds=4) if talk else None,
                "ended_at": at + timedelta(seconds=4 + talk), "billable_seconds": talk,
                "billed_minutes": -(-talk // 60) if direction == "outbound" else 0,
                "status": status, "node": "bench",
            }
        )  # fmt: skip
        if len(batch) == 2000 or n == rows - 1:
            async with db.session(PLATFORM, write=True) as s, s.begin():
                await s.execute(insert(CallRecord.__table__), batch)
            batch = []


async def timed(work: object, repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        await work()  # type: ignore[operator]
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), percentile(samples, 0.99)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--database-url")
    args = parser.parse_args()
    calls, rows, repeat = (300, 5_000, 10) if args.smoke else (3_000, 100_000, 50)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        await upgrade(url)
        settings = Settings(
            database_url=url, data_dir=Path(tmp), secret_key="b" * 40, node_name="bench"
        )
        services = build_services(settings, clock=SystemClock())
        try:
            records = services.pbx.records
            print(f"database: {services.db.dialect}")
            print(f"writing {calls} calls (opened, answered, closed):")
            for concurrent in (1, 20, 200):
                ours, cpu = await write_calls(records, uuid.uuid4(), calls, concurrent)
                bare = await write_bare(services.db, uuid.uuid4(), calls, concurrent)
                print(
                    f"  {concurrent:>3} in flight: CallRecordService {ours:7.0f} calls/s "
                    f"({cpu:5.0f} µs CPU/call)   bare Core SQL, 3 transactions/call "
                    f"{bare:7.0f} calls/s"
                )
            tenant = uuid.uuid4()
            users = [uuid.uuid4() for _ in range(50)]
            started = time.perf_counter()
            await fill(services.db, tenant, rows, users)
            async with services.db.engine.begin() as conn:
                await conn.execute(text("ANALYZE call_records"))  # fresh planner statistics
            print(f"filled {rows} records in {time.perf_counter() - started:.1f} s")
            search = records.search
            cases = {
                "first page, no filter": CallFilters(),
                "status=busy": CallFilters(statuses=(CallStatus.BUSY,)),
                "direction=outbound, one day": CallFilters(
                    direction=CallDirection.OUTBOUND,
                    since=T0 + timedelta(days=10),
                    until=T0 + timedelta(days=11),
                ),
                "caller contains '139123'": CallFilters(caller="139123"),
                "caller exact '8007'": CallFilters(caller="8007", match=Match.EXACT),
                "user_id (placed/received/answered)": CallFilters(user_id=users[3]),
            }
            print(f"search, one page of 50 over {rows} records (ms, median / p99):")
            for name, filters in cases.items():

                async def page(f: CallFilters = filters) -> None:
                    await search.page(tenant, f, limit=50)

                p50, p99 = await timed(page, repeat)
                print(f"  {name:38s} {p50:7.1f} / {p99:7.1f}")
            for kind in HistoryKind:

                async def history(k: HistoryKind = kind) -> None:
                    await search.history(tenant, users[5], k, limit=50)

                p50, p99 = await timed(history, repeat)
                print(f"  me/calls kind={kind.value:27s} {p50:7.1f} / {p99:7.1f}")
            for fmt in (ExportFormat.CSV, ExportFormat.XLSX):
                started = time.perf_counter()
                size = 0
                async for chunk in await records.export.stream(tenant, CallFilters(), fmt):
                    size += len(chunk)
                elapsed = time.perf_counter() - started
                print(
                    f"export {fmt.value}: {rows} rows in {elapsed:.1f} s "
                    f"({rows / elapsed:,.0f} rows/s, {size / 1e6:.1f} MB)"
                )
        finally:
            await services.close()


if __name__ == "__main__":
    asyncio.run(main())
