"""What the outbound policy costs per call: classifying the dialled number, `authorise` for the
kinds of users there are, and a quota user's answer + end (the two write transactions).

Every call a device places passes `authorise`, so for most users it must stay in memory and far
below a call's SIP cost (about 0.6 ms per call in the stack, docs/sip.md). Anchors from the same
run: `phonenumbers.parse` alone (the floor under classification), and a bare one-row UPDATE
transaction on the same database (the floor under quota accounting).

The database is a fresh SQLite file; set ZONGJI_BENCH_DATABASE_URL to a PostgreSQL database
(postgresql+asyncpg://…; migrated to the current schema, one scratch table made and dropped)
to measure there instead.
`--smoke`: fewer rounds, for CI.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import phonenumbers
from sqlalchemy import text

from zongji.pbx.contracts import DialKind, Dialled, Subscriber, TenantLine
from zongji.pbx.policy.classify import area_of, classify_number
from zongji.platform.config import Settings
from zongji.platform.migrate import upgrade
from zongji.services import build_services

TENANT = TenantLine(
    tenant_id=uuid.uuid4(),
    code="acme",
    name="Acme",
    sip_domain="acme.zongji.test",
    status="active",
    area_code="25",
    city="南京",
    timezone="Asia/Shanghai",
    main_number="+862588880000",
    access_number=None,
    features={"international_calling": True},
    extension_length=4,
)
NUMBERS = {
    "local landline": "+862584123456",
    "local mobile": "+8618061234567",
    "other-city mobile": "+8613912345678",
    "400 number": "+864008123456",
    "international": "+14155550123",
}


def per_call(fn: Callable[[], object], rounds: int) -> float:
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(rounds):
            fn()
        runs.append((time.perf_counter() - start) / rounds * 1e6)
    return statistics.median(runs)


async def per_call_async(fn: Callable[[], Awaitable[object]], rounds: int) -> float:
    runs = []
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(rounds):
            await fn()
        runs.append((time.perf_counter() - start) / rounds * 1e6)
    return statistics.median(runs)


def subscriber(**kw: object) -> Subscriber:
    base = {
        "tenant_id": TENANT.tenant_id,
        "user_id": uuid.uuid4(),
        "name": "张三",
        "extension": "8001",
        "direct_line": None,
        "mobile": "+8613800000001",
        "is_receptionist": False,
        "outbound_restriction": "international",
        "outbound_time": "unlimited",
        "monthly_minutes": None,
        "work_start": "00:00",
        "work_end": "23:59",
        "valid_from": None,
        "valid_until": None,
    }
    base.update(kw)
    return Subscriber(**base)  # type: ignore[arg-type]


def classification(rounds: int) -> None:
    area = area_of(TENANT.area_code, TENANT.city)
    print(f"{'classify (µs per number)':<34}{'ours':>10}{'parse only':>12}")
    for what, number in NUMBERS.items():
        ours = per_call(lambda n=number: classify_number(n, area), rounds)
        floor = per_call(lambda n=number: phonenumbers.parse(n), rounds)
        print(f"  {what:<32}{ours:>10.1f}{floor:>12.1f}")


async def decisions(url: str, data_dir: Path, rounds: int) -> None:
    settings = Settings(
        database_url=url, data_dir=data_dir, secret_key="bench-" + "x" * 40, node_name="bench"
    )
    services = build_services(settings)
    policy = services.pbx.policy
    call = Dialled(DialKind.EXTERNAL, NUMBERS["other-city mobile"], "13912345678")
    counter = iter(range(10**9))

    async def authorise(caller: Subscriber) -> None:
        call_id = f"c{next(counter)}"
        await policy.authorise(call_id, TENANT, caller, call)
        await policy.ended(call_id, 0)

    anytime = subscriber()
    workdays = subscriber(outbound_time="workdays")
    quota = subscriber(monthly_minutes=10**6)
    print(f"\nauthorise on {services.db.dialect} (µs per call)")
    for what, caller, n in (
        ("unlimited user (no database)", anytime, rounds),
        ("workdays user (calendar cached)", workdays, rounds),
        ("quota user (one read)", quota, max(50, rounds // 50)),
    ):
        print(f"  {what:<40}{await per_call_async(lambda c=caller: authorise(c), n):>10.1f}")

    async def answered_and_ended() -> None:
        call_id = f"q{next(counter)}"
        await policy.authorise(call_id, TENANT, quota, call)
        await policy.answered(call_id)
        await policy.ended(call_id, 61)

    async def bare_update() -> None:
        async with services.db.engine.begin() as conn:
            await conn.execute(text("UPDATE bench_floor SET n = n + 1 WHERE id = 1"))

    async with services.db.engine.begin() as conn:
        await conn.execute(text("DROP TABLE IF EXISTS bench_floor"))
        await conn.execute(text("CREATE TABLE bench_floor (id INTEGER PRIMARY KEY, n INTEGER)"))
        await conn.execute(text("INSERT INTO bench_floor VALUES (1, 0)"))
    n = max(20, rounds // 100)
    cycle = await per_call_async(answered_and_ended, n)
    floor = await per_call_async(bare_update, n)
    print(f"  {'quota call: authorise+answer+end':<40}{cycle:>10.1f}")
    print(f"  {'anchor: one-row UPDATE transaction':<40}{floor:>10.1f}")
    async with services.db.engine.begin() as conn:
        await conn.execute(text("DROP TABLE bench_floor"))
    await services.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    rounds = 500 if args.smoke else 5000
    classification(rounds)
    with tempfile.TemporaryDirectory() as tmp:
        url = os.environ.get("ZONGJI_BENCH_DATABASE_URL") or f"sqlite+aiosqlite:///{tmp}/bench.db"
        asyncio.run(upgrade(url))
        asyncio.run(decisions(url, Path(tmp), rounds))


if __name__ == "__main__":
    main()
