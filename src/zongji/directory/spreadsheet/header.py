"""Finding the header row of an uploaded spreadsheet, wherever HR put it and whatever they called
the columns.

Files exported from HR systems often start with a title row (“2026 年 3 月员工花名册”), a date or
a blank line, and name the columns their own way (名字, 手机号, 内线, Mobile). The header is the
first of the first `HEADER_SCAN_ROWS` rows that names every required column, by its template
header, its English name or one of its synonyms (`columns.Column.synonyms`); the rows above it are
ignored. Headers are compared loosely: full-width forms, case, spaces, invisible characters and the
template's required-marks (`*`, `（必填）`) do not matter.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from zongji.directory.spreadsheet.columns import COLUMNS, Column
from zongji.platform.errors import Problem
from zongji.platform.text import visible_text

HEADER_SCAN_ROWS = 10
_MARKS = ("（必填）", "(必填)", "(required)", "*", "＊")


def header_key(title: str) -> str:
    """How a header cell is compared: `手机号码*`, ` 手机号码 ` and `手机号码（必填）` are one."""
    text = visible_text(unicodedata.normalize("NFKC", title)).lower()
    stripped = True
    while stripped:
        stripped = False
        for mark in _MARKS:
            mark = unicodedata.normalize("NFKC", mark).lower()
            if text.endswith(mark):
                text, stripped = text[: -len(mark)].strip(), True
    return "".join(text.split()).replace("_", "").replace("-", "")


def _known() -> dict[str, Column]:
    known: dict[str, Column] = {}
    for column in COLUMNS:
        for title in (column.header, column.label_en, *column.synonyms):
            key = header_key(title)
            if known.setdefault(key, column) is not column:
                raise AssertionError(f"header {title!r} names two columns")
    return known


KNOWN_HEADERS = _known()


@dataclass(frozen=True)
class Header:
    """The header row: where it is, which cell is which column, and each column's title as the
    file writes it (row errors name the column the way the admin sees it)."""

    row: int
    columns: dict[int, Column]
    titles: dict[Column, str]

    def title(self, column: Column) -> str:
        return self.titles.get(column, column.header)


def _match(number: int, cells: Sequence[str]) -> tuple[Header, list[tuple[Column, str, str]]]:
    columns: dict[int, Column] = {}
    titles: dict[Column, str] = {}
    twice: list[tuple[Column, str, str]] = []
    for index, cell in enumerate(cells):
        column = KNOWN_HEADERS.get(header_key(cell))
        if column is None:
            continue
        if column in titles:
            twice.append((column, titles[column], visible_text(cell)))
            continue
        columns[index] = column
        titles[column] = visible_text(cell).rstrip("*＊").strip()
    return Header(number, columns, titles), twice


def _missing(header: Header | None) -> list[Column]:
    found = set(header.columns.values()) if header else set()
    return [c for c in COLUMNS if c.required and c not in found]


def find_header(rows: Iterator[tuple[int, Sequence[str]]]) -> Header:
    """The header among the first `HEADER_SCAN_ROWS` rows of (row number, cells); `rows` is left
    at the first row after it."""
    best: Header | None = None
    seen_any = False  # a file with nothing in it is empty, not without a header
    for number, cells in rows:
        if number > HEADER_SCAN_ROWS:
            seen_any = True
            break
        if not any(c.strip() for c in cells):
            continue
        seen_any = True
        header, twice = _match(number, cells)
        if not _missing(header):
            if twice:
                column, first, second = twice[0]
                raise Problem(
                    422,
                    "duplicate_column",
                    f"The header row (row {number}) has two columns for {column.label_en}: "
                    f"“{first}” and “{second}”. Keep one.",
                    f"表头（第 {number} 行）中“{first}”和“{second}”都表示{column.header}，"
                    "请只保留一列。",
                    extra={"row": number, "columns": [first, second]},
                )
            return header
        if best is None or len(header.columns) > len(best.columns):
            best = header
    if not seen_any:
        raise Problem(422, "empty_spreadsheet", "The file has no header row.", "文件中没有表头。")
    missing = [c.header for c in _missing(best)]
    missing_en = [c.label_en for c in _missing(best)]
    raise Problem(
        422,
        "missing_columns",
        f"No header row in the first {HEADER_SCAN_ROWS} rows has the required columns: "
        f"{', '.join(missing)} ({', '.join(missing_en)}) are missing. "
        "The import template lists the accepted column names.",
        f"前 {HEADER_SCAN_ROWS} 行中没有包含全部必填列的表头，缺少：{'、'.join(missing)}。"
        "可用的列名见导入模板的说明。",
        extra={"columns": missing, "searched_rows": HEADER_SCAN_ROWS},
    )
