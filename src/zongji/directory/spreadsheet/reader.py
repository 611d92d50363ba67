"""Reading an uploaded spreadsheet safely: xlsx or CSV, refused early and clearly when it is not a
spreadsheet, too big, a zip bomb, or has too many rows — in bounded memory and time.

An xlsx file is a zip archive. Before openpyxl opens it, the archive's central directory is read:
the declared uncompressed sizes (which also bound what `zipfile` will ever inflate) and the
compression ratio of every member are checked, so a 40 KB file that would inflate to 4 GB never
gets inflated. openpyxl then reads in streaming (read-only) mode, row by row, and reading stops at
the row limit.

Cells come back as `Cell`s: their text, and whether the spreadsheet would compute them (an xlsx
formula, or a CSV cell starting with `=`). Formulas are refused by the importer rather than their
cached values used: a file written by a program has none, a cached value may be stale, and what
`=HYPERLINK("http://x","张三")` shows is not what the admin typed. The CSV export's formula guard
(an apostrophe before a leading `= + - @`, `platform/tabular.py`) is undone here, so that an
exported file re-imports unchanged.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from zongji.directory.spreadsheet.columns import Column
from zongji.directory.spreadsheet.header import Header, find_header
from zongji.platform.errors import Problem
from zongji.platform.tabular import FORMULA_GUARD, FORMULA_STARTS

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_ROWS = 50_000
MAX_UNCOMPRESSED = 256 * 1024 * 1024
MAX_RATIO = 200
MAX_MEMBERS = 2000
MAX_COLUMNS = 64
SHEET = "通讯录"


@dataclass(frozen=True)
class Cell:
    text: str
    formula: bool = False  # computed by the spreadsheet: refused, never guessed at


@dataclass(frozen=True)
class SheetRow:
    number: int  # as the spreadsheet shows it
    cells: dict[Column, Cell]


def _refuse(status: int, code: str, en: str, zh: str, **extra: Any) -> Problem:
    return Problem(status, code, en, zh, extra=extra)


def not_a_spreadsheet() -> Problem:
    return _refuse(
        415,
        "not_a_spreadsheet",
        "The file is not an xlsx workbook or a CSV file.",
        "文件不是 xlsx 表格或 CSV 文件。",
    )


def too_many_rows() -> Problem:
    return _refuse(
        413,
        "too_many_rows",
        f"At most {MAX_ROWS} rows can be imported at once.",
        f"一次最多导入 {MAX_ROWS} 行。",
        max_rows=MAX_ROWS,
    )


def check_size(size: int) -> None:
    if size > MAX_FILE_BYTES:
        raise _refuse(
            413,
            "file_too_large",
            f"The file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB.",
            f"文件不能超过 {MAX_FILE_BYTES // (1024 * 1024)} MB。",
            max_bytes=MAX_FILE_BYTES,
        )


def _check_archive(archive: zipfile.ZipFile) -> None:
    members = archive.infolist()
    if len(members) > MAX_MEMBERS:
        raise _refuse(
            400, "suspicious_file", "The workbook has too many parts.", "表格文件结构异常。"
        )
    total = 0
    for info in members:
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if total > MAX_UNCOMPRESSED or (info.file_size > 1024 * 1024 and ratio > MAX_RATIO):
            raise _refuse(
                400,
                "suspicious_file",
                "The workbook would expand to an unreasonable size (zip bomb).",
                "表格文件解压后过大，疑似压缩炸弹。",
            )
    if "xl/workbook.xml" not in {m.filename for m in members}:
        raise not_a_spreadsheet()


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a mobile typed as a number: 13800000001.0
    if isinstance(value, datetime):
        return (
            value.date().isoformat()
            if value.time() == datetime.min.time()
            else value.isoformat(" ")
        )
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _xlsx_rows(data: bytes) -> Iterator[list[Cell]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise not_a_spreadsheet() from exc
    with archive:
        _check_archive(archive)
    try:
        # data_only=False: a formula cell shows as one (data_type "f") instead of its cached value
        from openpyxl import load_workbook  # here, not at import: see platform/tabular.py

        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise _refuse(
            400, "unreadable_spreadsheet", "The workbook cannot be read.", "表格文件无法读取。"
        ) from exc
    try:
        sheet = workbook[SHEET] if SHEET in workbook.sheetnames else workbook.worksheets[0]
        declared = sheet.max_row if isinstance(sheet.max_row, int) else 0
        if declared > MAX_ROWS + 1:
            raise too_many_rows()
        for row in sheet.iter_rows(max_col=MAX_COLUMNS):
            yield [Cell(_text(cell.value), getattr(cell, "data_type", None) == "f") for cell in row]
    finally:
        workbook.close()


def _csv_cell(text: str) -> Cell:
    """A CSV cell as a spreadsheet would take it: the export's guard undone, `=…` a formula."""
    if text[:1] == FORMULA_GUARD and text[1:2] in FORMULA_STARTS:
        return Cell(text[1:])
    return Cell(text, formula=text[:1] == "=")


def _csv_rows(data: bytes) -> Iterator[list[Cell]]:
    for encoding in ("utf-8-sig", "gb18030"):  # Excel in China saves CSV as GBK
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise not_a_spreadsheet()
    if "\x00" in text[:4096]:
        raise not_a_spreadsheet()
    try:
        for row in csv.reader(io.StringIO(text)):
            yield [_csv_cell(text) for text in row[:MAX_COLUMNS]]
    except csv.Error as exc:
        raise _refuse(
            400,
            "unreadable_spreadsheet",
            f"The CSV file cannot be read: {exc}.",
            "CSV 文件无法读取。",
        ) from exc


def read(data: bytes, filename: str) -> tuple[Header, Iterator[SheetRow]]:
    """The header (found in the first rows) and the non-empty data rows after it."""
    check_size(len(data))
    if data[:4] == b"PK\x03\x04":
        raw = _xlsx_rows(data)
    elif data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise _refuse(
            415,
            "unsupported_format",
            "Old .xls workbooks are not supported; save it as .xlsx.",
            "不支持旧版 .xls 文件，请另存为 .xlsx。",
        )
    elif filename.lower().endswith(".xlsx"):
        raise not_a_spreadsheet()
    else:
        raw = _csv_rows(data)
    numbered = enumerate(raw, start=1)
    header = find_header((number, [c.text for c in cells]) for number, cells in numbered)
    return header, _data_rows(header, numbered)


def _data_rows(header: Header, numbered: Iterator[tuple[int, list[Cell]]]) -> Iterator[SheetRow]:
    count = 0
    for number, cells in numbered:
        if not any(c.text.strip() for c in cells):
            continue
        count += 1
        if count > MAX_ROWS:
            raise too_many_rows()
        yield SheetRow(
            number,
            {column: cells[i] for i, column in header.columns.items() if i < len(cells)},
        )
