"""Directory search latency (DIR-9, CALL-2) at 100,000 users, beside an SQLite FTS5 prefix query
over the same names and numbers (the anchor), from the same run.

Ours is measured end to end through `DirectorySearch.search` as the API calls it: the feed-head
check against the database, the in-memory index, ranking. The anchor is an FTS5 table with one row
per user (name, full pinyin, initials, extension, mobile) queried with a prefix MATCH and LIMIT 20:
it answers name/pinyin/initials/extension *prefixes* only (no mixed `张s`, no ranking, no phone
substrings), so it is a floor for what an SQL full-text index costs, not the same feature.

`--smoke`: 2,000 users and a few hundred queries, for CI.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import statistics
import time
from collections.abc import Callable

from directory_data import Person, enterprise
from zongji.directory.pinyin import tokenise
from zongji.directory.search.spelling import national


def queries(crowd: list[Person], count: int, seed: int = 11) -> dict[str, list[str]]:
    rng = random.Random(seed)

    def spelled(p: Person) -> str:
        return "".join(t.readings[0] for t in tokenise(p.name))

    def phone_part(p: Person) -> str:
        start = rng.randint(0, 6)
        return national(p.mobile)[start : start + rng.randint(4, 7)]

    kinds: dict[str, Callable[[Person], str]] = {
        "hanzi": lambda p: p.name[: rng.randint(1, len(p.name))],
        "full pinyin prefix": lambda p: spelled(p)[: rng.randint(2, 8)],
        "initials": lambda p: "".join(t.readings[0][0] for t in tokenise(p.name)),
        "mixed 张s": lambda p: p.name[0] + tokenise(p.name)[1].readings[0][0],
        "extension prefix": lambda p: p.extension[: rng.randint(3, 6)],
        "phone substring": phone_part,
    }
    return {kind: [make(rng.choice(crowd)) for _ in range(count)] for kind, make in kinds.items()}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def anchor(crowd: list[Person], workload: dict[str, list[str]]) -> dict[str, list[float]]:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE people USING fts5(name, pinyin, initials, extension, mobile)")
    rows = []
    for p in crowd:
        tokens = tokenise(p.name)
        name = " ".join(t.text for t in tokens)
        full = "".join(t.readings[0] for t in tokens)
        initials = "".join(t.readings[0][0] for t in tokens)
        rows.append((name, full, initials, p.extension, national(p.mobile)))
    started = time.perf_counter()
    db.executemany("INSERT INTO people VALUES (?, ?, ?, ?, ?)", rows)
    db.commit()
    print(f"  anchor FTS5 build: {time.perf_counter() - started:.2f} s")
    timings: dict[str, list[float]] = {}
    for kind, texts in workload.items():
        for text in texts:
            match = '"' + text.replace('"', "") + '"*'
            t0 = time.perf_counter()
            db.execute(
                "SELECT rowid FROM people WHERE people MATCH ? LIMIT 20", (match,)
            ).fetchall()
            timings.setdefault(kind, []).append((time.perf_counter() - t0) * 1000)
    return timings


async def ours(
    users: int, workload: dict[str, list[str]]
) -> tuple[dict[str, list[float]], list[Person]]:
    services, tenant, crowd = await enterprise(users)
    try:
        started = time.perf_counter()
        index = await services.directory.search.index_of(tenant)
        print(
            f"  ours: index build {time.perf_counter() - started:.2f} s, "
            f"{len(index.base):,} people, {index.base.key_count:,} keys"
        )
        timings: dict[str, list[float]] = {}
        for kind, texts in workload.items():
            for text in texts:
                t0 = time.perf_counter()
                await services.directory.search.search(tenant, text, limit=20)
                timings.setdefault(kind, []).append((time.perf_counter() - t0) * 1000)
        return timings, crowd
    finally:
        await services.close()


def report(name: str, timings: dict[str, list[float]]) -> None:
    every = [t for values in timings.values() for t in values]
    print(f"  {name}: all {len(every)} queries p50 {statistics.median(every):.2f} ms, "
          f"p99 {percentile(every, 0.99):.2f} ms")  # fmt: skip
    for kind, values in timings.items():
        p50, p99 = statistics.median(values), percentile(values, 0.99)
        print(f"    {kind:<20} p50 {p50:6.2f} ms   p99 {p99:6.2f} ms")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--users", type=int)
    args = parser.parse_args()
    users = args.users or (2_000 if args.smoke else 100_000)
    per_kind = 50 if args.smoke else 500
    print(f"directory search: {users:,} users, {per_kind} queries per kind, 20 results each")
    print(f"  machine: {os.cpu_count()} cores; other work may share it: figures are indicative")
    from directory_data import people

    workload = queries(people(users), per_kind)
    timings, crowd = await ours(users, workload)
    report("ours (DirectorySearch.search, incl. feed-head query)", timings)
    report("anchor (SQLite FTS5 prefix MATCH, LIMIT 20)", anchor(crowd, workload))


if __name__ == "__main__":
    asyncio.run(main())
