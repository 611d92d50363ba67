"""The admin's dashboard and the call-record statistics over an enterprise with 100,000 records
(30 days, ~3,300 a day): the whole dashboard (devices, calls in progress, today by hour, the
month's minutes), the statistics of one day and of the 30 days (per day and hour), beside the
anchor: a bare `SELECT count(*)` of the same range's records on the same engine (what finding
the rows costs, with nothing grouped or computed).

SQLite by default (a file in a temporary directory); `--database-url` for PostgreSQL.
`--smoke`: small numbers, for CI.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select, text

from bench_pbx_records import T0, fill, timed
from zongji.pbx.records.models import CallRecord
from zongji.pbx.records.search import CallFilters
from zongji.platform.clock import SystemClock
from zongji.platform.config import Settings
from zongji.platform.db import PLATFORM
from zongji.platform.migrate import upgrade
from zongji.services import build_services

ZONE = "Asia/Shanghai"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--database-url")
    args = parser.parse_args()
    rows, repeat = (5_000, 5) if args.smoke else (100_000, 30)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        await upgrade(url)
        settings = Settings(
            database_url=url, data_dir=Path(tmp), secret_key="b" * 40, node_name="bench"
        )
        services = build_services(settings, clock=SystemClock())
        try:
            db = services.db
            print(f"database: {db.dialect}")
            tenant = uuid.uuid4()
            await fill(db, tenant, rows, [uuid.uuid4() for _ in range(50)])
            await fill(db, uuid.uuid4(), rows // 10, [uuid.uuid4() for _ in range(5)])  # others
            async with db.engine.begin() as conn:
                await conn.execute(text("ANALYZE"))
            records = services.pbx.records
            now = T0 + timedelta(days=10, hours=6)
            day = (T0 + timedelta(days=10), T0 + timedelta(days=11))
            month = (T0 - timedelta(days=1), T0 + timedelta(days=31))

            async def bare(start: object, end: object) -> None:
                async with db.session(PLATFORM) as session:
                    await session.scalar(
                        select(func.count()).where(
                            CallRecord.tenant_id == tenant,
                            CallRecord.started_at >= start,
                            CallRecord.started_at < end,
                        )
                    )

            async def dashboard() -> None:
                await services.pbx.dashboard.figures(tenant, ZONE, now)

            async def stats(start: object, end: object) -> None:
                filters = CallFilters(since=start, until=end)  # type: ignore[arg-type]
                await records.stats.count(tenant, filters, ZONE, now)

            async def live() -> None:
                await records.live(tenant)

            print(f"{rows:,} records of one enterprise over 30 days (ms, median / p99):")
            cases = {
                "dashboard (every figure)": dashboard,
                "calls in progress": live,
                "stats, one day (per hour)": lambda: stats(*day),
                "  anchor: count(*) of that day": lambda: bare(*day),
                "stats, 30 days (per day and hour)": lambda: stats(*month),
                "  anchor: count(*) of the 30 days": lambda: bare(*month),
            }
            for name, work in cases.items():
                p50, p99 = await timed(work, repeat)
                print(f"  {name:38s} {p50:7.1f} / {p99:7.1f}")
        finally:
            await services.close()


if __name__ == "__main__":
    asyncio.run(main())
