"""Exports as CSV or xlsx, streamed: rows are written as they are read, so an export of any size
runs in bounded memory.

openpyxl is imported where an xlsx file is made, as everywhere in the project: a node that never
exports or imports a spreadsheet does not hold it (~4 MB of an idle node)."""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from enum import StrEnum
from typing import IO, Any


class ExportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"


FORMULA_STARTS = ("=", "+", "-", "@")
"""A CSV cell starting with one of these runs as a formula when a spreadsheet opens the file."""
FORMULA_GUARD = "'"
"""Put before such a cell (unless it is a number), so the spreadsheet shows it as text; importers
of our own files take it off again (`directory/spreadsheet/reader.py`)."""

MEDIA_TYPES = {
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _xlsx_cell(sheet: Any, value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)  # xlsx has no time zones: callers pass local times
    if isinstance(value, str) and value.startswith("="):
        from openpyxl.cell import WriteOnlyCell

        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"  # text, never a formula
        return cell
    return value


async def csv_chunks(
    headers: Sequence[str], rows: AsyncIterator[Sequence[Any]], batch: int = 500
) -> AsyncIterator[bytes]:
    """UTF-8 with a BOM, so that Excel shows Chinese headers correctly when it opens the file."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(headers)
    pending = 0
    async for row in rows:
        writer.writerow([_text(v) for v in row])
        pending += 1
        if pending >= batch:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue().encode()


def _text(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    text = "" if value is None else str(value)
    guarded = text[:1] in FORMULA_STARTS and not _is_number(text)
    return FORMULA_GUARD + text if guarded else text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


async def xlsx_file(
    sheet_title: str, headers: Sequence[str], rows: AsyncIterator[Sequence[Any]]
) -> IO[bytes]:
    """A temporary xlsx file, rewound, written in openpyxl's streaming (write-only) mode."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(sheet_title[:31])
    bold = Font(bold=True)
    header_cells = []
    for title in headers:
        cell = WriteOnlyCell(sheet, value=title)
        cell.font = bold
        header_cells.append(cell)
    sheet.append(header_cells)
    async for row in rows:
        sheet.append([_xlsx_cell(sheet, v) for v in row])
    out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 - caller closes
    workbook.save(out)
    out.seek(0)
    return out


async def file_chunks(file: IO[bytes], size: int = 64 * 1024) -> AsyncIterator[bytes]:
    try:
        while chunk := file.read(size):
            yield chunk
    finally:
        file.close()
