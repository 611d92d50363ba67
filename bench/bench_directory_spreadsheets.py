"""Spreadsheet import and export (ADM-1, ADM-3, ADM-8).

- Import of a 10,000-row xlsx: a dry run and a commit through `DirectoryImport.run`, as the API
  calls it (every row validated, departments created, extensions assigned, one transaction).
  Target: ≤ 10 s each.
- Export of 100,000 users as xlsx and as CSV, streamed: time, size, and the peak of Python heap
  allocations while streaming (tracemalloc), which stays flat whatever the number of users.
  Anchor: the same 100,000 rows written by the csv module from a list already in memory.

`--smoke`: 1,000 rows imported, 2,000 users exported, for CI.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import os
import time
import tracemalloc

from openpyxl import Workbook

from directory_data import enterprise, people
from zongji.directory.search.spelling import national
from zongji.directory.spreadsheet.columns import HEADERS
from zongji.platform.actor import SYSTEM
from zongji.platform.tabular import ExportFormat


def workbook(rows: int) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("通讯录")
    sheet.append(HEADERS)
    departments = [
        "研发部/平台组",
        "研发部/测试组",
        "市场部/华东区",
        "市场部/华南区",
        "客服部",
        "总经办",
    ]
    for i, person in enumerate(people(rows, seed=99)):
        values = {
            "姓名": person.name,
            "手机号码": national(person.mobile),
            "部门": departments[i % 6],
            "外呼限制": "国内",
            "前台": "否",
            "上班时间": "09:00-18:00",
            "邮箱": f"u{i}@example.com",
        }
        sheet.append([values.get(h, "") for h in HEADERS])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def imports(rows: int) -> None:
    data = workbook(rows)
    print(f"import: {rows:,}-row xlsx ({len(data) / 1e6:.1f} MB)")
    services, tenant, _ = await enterprise(0)
    try:
        for dry_run in (True, False):
            started = time.perf_counter()
            report = await services.directory.importer.run(
                SYSTEM, tenant, data, "bench.xlsx", dry_run=dry_run
            )
            elapsed = time.perf_counter() - started
            label = "dry run" if dry_run else "commit "
            counts = f"to add {report.to_add:,}, errors {report.error_rows}, added {report.added:,}"
            print(f"  {label}: {elapsed:.2f} s  ({counts})")
    finally:
        await services.close()


async def exports(users: int) -> None:
    print(f"export: {users:,} users")
    services, tenant, crowd = await enterprise(users)
    try:
        for fmt in (ExportFormat.CSV, ExportFormat.XLSX):
            started = time.perf_counter()
            size = 0
            async for chunk in await services.directory.exporter.stream(tenant, fmt):
                size += len(chunk)
            elapsed = time.perf_counter() - started
            tracemalloc.start()  # a second pass, traced (tracing slows Python down severalfold)
            async for _ in await services.directory.exporter.stream(tenant, fmt):
                pass
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(f"  ours {fmt.value:<4}: {elapsed:.2f} s, {size / 1e6:.1f} MB, "
                  f"peak Python heap while streaming {peak / 1e6:.1f} MB")  # fmt: skip
        started = time.perf_counter()
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(HEADERS)
        for person in crowd:
            writer.writerow([person.name, national(person.mobile), person.extension] + [""] * 17)
        print(f"  anchor csv.writer from memory: {time.perf_counter() - started:.2f} s")
    finally:
        await services.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; other work may share it: figures are indicative")
    await imports(1_000 if args.smoke else 10_000)
    await exports(2_000 if args.smoke else 100_000)


if __name__ == "__main__":
    asyncio.run(main())
