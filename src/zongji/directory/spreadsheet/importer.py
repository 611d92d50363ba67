"""Importing users from a spreadsheet (ADM-1, ADM-3): a dry run that previews, and a commit.

Every row is checked with the same rules as a single user (`UserCreate`, `UserRules`), plus what
only a file can get wrong: a mobile or extension twice in the file, a formula. Rows are
*incremental*: a row whose mobile is already in the directory under the same name, or whose
extension belongs to someone of the same name, is that person and is skipped without the
enterprise's rules being applied to it (nothing of it is written: their own direct line is not
"another user's", a feature switched off since the export does not fail it). An extension that
belongs to someone else is an error, and so is a mobile that belongs to someone of another name:
a typo in the file or a person who changed their name, which an HR admin must look at before
anything happens (with `valid_only` the row is left out). A path in 部门 (研发部/测试组) creates
the departments it names.

Every error names the row, the column as the file calls it, the value and what is wrong, in
English and Chinese (`messages.py`).

A commit is one transaction: with any error row nothing is imported, unless the admin asked for
the valid rows only. Blank extensions get the next free ones.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
import uuid
from datetime import date
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import select

from zongji.audit.service import Target
from zongji.directory.departments import ensure_path
from zongji.directory.extensions import free_extensions
from zongji.directory.journal import Journal
from zongji.directory.models import User
from zongji.directory.numbers import assign_direct_line
from zongji.directory.pinyin import Spelling, normalise_text, spell
from zongji.directory.spreadsheet.columns import COLUMNS, Column
from zongji.directory.spreadsheet.header import Header
from zongji.directory.spreadsheet.messages import frame, model_error
from zongji.directory.spreadsheet.reader import Cell, SheetRow
from zongji.directory.spreadsheet.reader import read as read_sheet
from zongji.directory.user_schemas import UserCreate
from zongji.directory.users import UserRules, apply, check_capacity, flush_or_conflict
from zongji.platform.actor import Actor
from zongji.platform.clock import Clock
from zongji.platform.db import Database, TenantScope
from zongji.platform.errors import Problem
from zongji.platform.events import EventBus
from zongji.platform.phone import clean_digits
from zongji.platform.text import visible_text
from zongji.platform.uow import UnitOfWork

PREVIEW_ROWS = 2000
REPORTED_ERRORS = 5000
FIELD_COLUMN = {c.field: c for c in COLUMNS} | {
    "work_start": next(c for c in COLUMNS if c.field == "work_hours"),
    "work_end": next(c for c in COLUMNS if c.field == "work_hours"),
    "pinned": next(c for c in COLUMNS if c.field == "pin_order"),
}
PHONE_FIELDS = {"mobile", "extension", "phone", "direct_line"}
COUNT_FIELDS = {"monthly_minutes", "pin_order"}
_WHOLE = re.compile(r"\d+")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")


class RowError(BaseModel):
    row: int
    column: str  # as the file's header names it
    field: str  # the column's stable name (`mobile`, `extension` …), whatever the header said
    value: str  # the cell, as read and normalised
    code: str
    message: str  # names row, column and value, then what is wrong
    message_zh: str


class RowResult(BaseModel):
    row: int
    action: str  # add, skip or error
    name: str
    mobile: str
    extension: str  # empty: assigned on commit
    department: str
    reason: str | None = None  # why skipped


class ImportReport(BaseModel):
    dry_run: bool
    committed: bool
    total_rows: int
    to_add: int
    to_skip: int
    error_rows: int
    added: int
    departments_created: list[str]
    rows: list[RowResult]  # the first rows, as a preview
    errors: list[RowError]


class _Row:
    def __init__(self, header: Header, sheet_row: SheetRow) -> None:
        self.number = sheet_row.number
        self.header = header
        self.formulas = {c for c, cell in sheet_row.cells.items() if cell.formula}
        self.cells = {c: _normalise(c, cell) for c, cell in sheet_row.cells.items()}
        self.errors: list[RowError] = []
        self.data: UserCreate | None = None
        self.department = self.cells.get(_col("department"), "")
        self.skip: str | None = None
        self.fields: dict[str, Any] = {}
        self.direct_line: str | None = None
        self.spelling: Spelling | None = None

    def fail(self, column: Column, code: str, en: str, zh: str) -> None:
        title = self.header.title(column)
        value = self.cells.get(column, "")
        message, message_zh = frame(self.number, title, column, value, en, zh)
        self.errors.append(
            RowError(
                row=self.number,
                column=title,
                field=column.field,
                value=value,
                code=code,
                message=message,
                message_zh=message_zh,
            )
        )

    def result(self) -> RowResult:
        action = "error" if self.errors else "skip" if self.skip else "add"
        return RowResult(
            row=self.number,
            action=action,
            name=self.cells.get(_col("name"), ""),
            mobile=self.data.mobile if self.data else self.cells.get(_col("mobile"), ""),
            extension=(self.fields.get("extension") or "")
            if self.fields
            else self.cells.get(_col("extension"), ""),
            department=self.department,
            reason=self.skip,
        )


def _col(field: str) -> Column:
    return FIELD_COLUMN[field]


def _normalise(column: Column, cell: Cell) -> str:
    """Full-width characters to half-width (８００１ is 8001), invisible characters (zero-width
    spaces, joiners, BOMs, control characters) and stray spaces away; e-mail in lower case,
    separators out of phone numbers; names and addresses otherwise kept as written. Counts
    (minutes, pin order) keep their sign and decimal point, so that -5 and 1.5 are refused
    rather than read as 5 and 15."""
    text = visible_text(unicodedata.normalize("NFKC", cell.text))
    if column.field in ("email",):
        text = normalise_text(text)
    if column.field in PHONE_FIELDS:
        text = clean_digits(text)
    if column.field == "department":
        text = "/".join(part.strip() for part in text.replace("／", "/").split("/") if part.strip())
    return text


def _parse(row: _Row) -> None:
    """Cells → `UserCreate`, with every problem reported against its column."""
    values: dict[str, Any] = {}
    for column, text in row.cells.items():
        if column in row.formulas:
            row.fail(
                column,
                "formula_not_accepted",
                "Formulas are not accepted; type the value itself.",
                "不接受公式，请直接填写内容。",
            )
            continue
        if column.max_length and len(text) > column.max_length:
            row.fail(
                column,
                "too_long",
                f"Longer than {column.max_length} characters.",
                f"超过 {column.max_length} 个字符。",
            )
            continue
        if not text:
            if column.required:
                row.fail(column, "required", "This column is required.", "该列必填。")
            continue
        if column.choices is not None:
            if text not in column.choices:
                allowed = "/".join(column.choices)
                row.fail(
                    column, "invalid_choice", f"Must be one of {allowed}.", f"只能填写 {allowed}。"
                )
                continue
            values[column.field] = column.choices[text]
        elif column.field in COUNT_FIELDS:
            if not _WHOLE.fullmatch(text):
                en, zh = _not_a_count(column, text)
                row.fail(column, "not_a_number", en, zh)
                continue
            values[column.field] = int(text)
            if column.field == "pin_order":
                values["pinned"] = True
        elif column.field == "work_hours":
            parts = re.split(r"\s*[-~至到—]\s*", text)
            if len(parts) != 2:
                row.fail(
                    column,
                    "invalid_hours",
                    "Use a range such as 09:00-18:00.",
                    "格式如 09:00-18:00。",
                )
                continue
            values["work_start"], values["work_end"] = parts
        elif column.field in ("valid_from", "valid_until"):
            try:
                values[column.field] = date.fromisoformat(text.replace("/", "-").split(" ")[0])
            except ValueError:
                row.fail(
                    column,
                    "invalid_date",
                    "Use a date such as 2026-01-31.",
                    "日期格式如 2026-01-31。",
                )
        elif column.field != "department":
            values[column.field] = text
    for column in COLUMNS:
        if column.required and column not in row.cells:
            row.fail(column, "required", "This column is required.", "该列必填。")
    if row.errors:
        return
    try:
        row.data = UserCreate.model_validate(values)
    except ValidationError as exc:
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else _model_field(str(err["type"]))
            en, zh = model_error(field, dict(err))
            row.fail(FIELD_COLUMN.get(field, _col("name")), str(err["type"]), en, zh)


def _model_field(kind: str) -> str:
    """The column a whole-user error (`UserCreate._spans`) is reported against."""
    return "work_start" if kind == "work_hours_order" else "valid_until"


def _not_a_count(column: Column, text: str) -> tuple[str, str]:
    what_en, what_zh = (
        ("minutes", "分钟数") if column.field == "monthly_minutes" else ("pin order", "置顶顺序")
    )
    if _NUMBER.fullmatch(text) and text.startswith("-"):
        return (
            f"The {what_en} cannot be negative.",
            f"{what_zh}不能为负数。",
        )
    if _NUMBER.fullmatch(text):
        return (
            f"The {what_en} must be a whole number, without a decimal point.",
            f"{what_zh}须为整数，不能带小数点。",
        )
    return (
        f"The {what_en} must be a whole number of digits only (0 or more).",
        f"{what_zh}须为只含数字的整数（0 或以上）。",
    )


def _same_name(a: str, b: str) -> bool:
    """Names compared as people read them: no invisible characters, width or case differences."""
    return normalise_text(visible_text(a)) == normalise_text(visible_text(b))


def _same_person(
    row: _Row, data: UserCreate, by_mobile: dict[str, str], by_extension: dict[str, str]
) -> bool:
    """Does this row describe someone already in the directory (by mobile, or by extension, and
    name)? Then it is skipped. A mobile or an extension that belongs to someone of another name
    fails the row. The dicts give the name of the user with each mobile and extension."""
    owner = by_mobile.get(data.mobile)
    if owner is not None:
        if _same_name(owner, data.name):
            row.skip = "mobile_exists"
            return True
        row.fail(
            _col("mobile"),
            "mobile_belongs_to_other",
            f"This mobile belongs to {owner} in the directory, but the row names "
            f"{data.name}. Correct the mobile or the name (to leave the row out, import the "
            "valid rows only).",
            f"该手机号码在通讯录中属于{owner}，但本行姓名为{data.name}。请更正手机号码或"
            "姓名（如要跳过本行，请选择只导入无误的行）。",
        )
        return False
    ext = data.extension
    owner = by_extension.get(ext) if ext else None
    if owner is not None:
        if _same_name(owner, data.name):
            row.skip = "extension_exists"
            return True
        row.fail(
            _col("extension"),
            "extension_taken",
            f"Extension {ext} belongs to {owner}.",
            f"分机号 {ext} 已属于{owner}。",
        )
    return False


class DirectoryImport:
    def __init__(self, db: Database, bus: EventBus, clock: Clock, journal: Journal) -> None:
        self._db = db
        self._bus = bus
        self._clock = clock
        self._journal = journal

    async def run(
        self,
        actor: Actor,
        tenant_id: uuid.UUID,
        data: bytes,
        filename: str,
        *,
        dry_run: bool,
        valid_only: bool = False,
    ) -> ImportReport:
        parsed = await asyncio.to_thread(self._read, data, filename)
        async with UnitOfWork(self._db, self._bus, TenantScope(tenant_id)) as uow:
            rules = await UserRules.load(uow.session, tenant_id)
            known = (
                await uow.session.execute(select(User.mobile, User.extension, User.name))
            ).all()
            by_mobile = {mobile: name for mobile, _, name in known}
            by_extension = {ext: name for _, ext, name in known if ext}
            self._check(parsed, rules, by_mobile, by_extension)
            adding = [r for r in parsed if not r.errors and not r.skip]
            failed = [r for r in parsed if r.errors]
            report = ImportReport(
                dry_run=dry_run,
                committed=False,
                total_rows=len(parsed),
                to_add=len(adding),
                to_skip=sum(1 for r in parsed if r.skip and not r.errors),
                error_rows=len(failed),
                added=0,
                departments_created=_missing_paths(rules, adding),
                rows=[r.result() for r in parsed[:PREVIEW_ROWS]],
                errors=[e for r in failed for e in r.errors][:REPORTED_ERRORS],
            )
            if adding:
                await check_capacity(uow.session, rules.enterprise, len(adding))
            if dry_run:
                await uow.session.rollback()
                return report
            if failed and not valid_only:
                first = failed[0].errors[0]
                raise Problem(
                    422,
                    "import_has_errors",
                    f"{len(failed)} rows have errors; nothing was imported. First: {first.message}",
                    f"有 {len(failed)} 行存在错误，未导入任何数据。第一处：{first.message_zh}",
                    extra={"report": report.model_dump(mode="json")},
                )
            if not adding:
                await uow.session.rollback()
                return report.model_copy(update={"committed": True})
            ids = await self._write(uow, rules, adding)
            created = report.departments_created
            await self._journal.record(
                uow,
                actor,
                "user.import",
                Target("import", None, filename[:200] or "import"),
                tenant_id,
                users=ids[0],
                departments=ids[1],
                summary={
                    "added": len(adding),
                    "skipped": report.to_skip,
                    "error_rows": len(failed),
                    "departments_created": created[:50],
                },
            )
            report.rows = [r.result() for r in parsed[:PREVIEW_ROWS]]
            return report.model_copy(update={"committed": True, "added": len(adding)})

    @staticmethod
    def _read(data: bytes, filename: str) -> list[_Row]:
        """Reading, parsing and spelling every name: CPU work, done off the event loop."""
        header, sheet_rows = read_sheet(data, filename)
        parsed = [_Row(header, sheet_row) for sheet_row in sheet_rows]
        for row in parsed:
            _parse(row)
            if row.data is not None:
                row.spelling = spell(row.data.name)
        return parsed

    @staticmethod
    def _check(
        parsed: list[_Row],
        rules: UserRules,
        by_mobile: dict[str, str],
        by_extension: dict[str, str],
    ) -> None:
        first_mobile: dict[str, int] = {}
        first_extension: dict[str, int] = {}
        first_line: dict[str, int] = {}
        for row in parsed:
            if row.data is None:
                continue
            data = row.data.model_copy(update={"department_id": None})
            if _same_person(row, data, by_mobile, by_extension) or row.errors:
                # Skipped, nothing of the row is written: the enterprise's rules are not the
                # row's business (a feature switched off since the export must not fail it).
                continue
            prepared, errors = rules.check(data, None)
            for err in errors:
                row.fail(
                    FIELD_COLUMN.get(err["field"], _col("name")),
                    err["code"],
                    err["message"],
                    err["message_zh"],
                )
            row.fields, row.direct_line = prepared.fields, prepared.direct_line
            ext = prepared.fields.get("extension")
            if row.errors:
                continue
            for value, seen, column, code, zh in (
                (data.mobile, first_mobile, "mobile", "duplicate_mobile_in_file", "手机号"),
                (ext, first_extension, "extension", "duplicate_extension_in_file", "分机号"),
                (
                    row.direct_line,
                    first_line,
                    "direct_line",
                    "duplicate_number_in_file",
                    "直线号码",
                ),
            ):
                if not value:
                    continue
                if value in seen:
                    row.fail(
                        _col(column),
                        code,
                        f"Row {seen[value]} of the file has the same {_col(column).label_en}.",
                        f"与文件第 {seen[value]} 行的{zh}重复。",
                    )
                else:
                    seen[value] = row.number

    async def _write(
        self, uow: UnitOfWork, rules: UserRules, adding: list[_Row]
    ) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
        now = self._clock.now()
        session = uow.session
        taken = {r.fields["extension"] for r in adding if r.fields.get("extension")}
        free = free_extensions(session, rules.plan, taken)
        departments: list[uuid.UUID] = []
        users: list[User] = []
        for row in adding:
            if row.department:
                row.fields["department_id"], created = await ensure_path(
                    session, rules.tree, row.department, now
                )
                departments += [d.id for d in created]
            if not row.fields.get("extension"):
                try:
                    row.fields["extension"] = await anext(free)
                except StopAsyncIteration:
                    raise Problem(
                        409,
                        "extensions_exhausted",
                        "Not enough free extensions for the new users.",
                        "空闲分机号不足。",
                    ) from None
            assert row.data is not None
            user = User(
                registered_at=None,
                created_at=now,
                updated_at=now,
                name=row.data.name,
                mobile=row.data.mobile,
                name_readings=row.spelling.readings if row.spelling else "",
                sort_key=row.spelling.sort_key if row.spelling else "",
            )
            apply(user, row.fields, now)
            users.append(user)
        session.add_all(users)
        await flush_or_conflict(session)
        for row, user in zip(adding, users, strict=True):
            if row.direct_line:
                await assign_direct_line(session, user.id, row.direct_line, now)
        return [u.id for u in users], departments


def _missing_paths(rules: UserRules, rows: list[_Row]) -> list[str]:
    missing: set[str] = set()
    for row in rows:
        parent: uuid.UUID | None = None
        parts = row.department.split("/") if row.department else []
        for depth, name in enumerate(parts):
            node = rules.tree.child_named(parent, name)
            if node is None:
                missing.update("/".join(parts[: d + 1]) for d in range(depth, len(parts)))
                break
            parent = node.id
    return sorted(missing)
