"""Importing users from a spreadsheet (ADM-1, ADM-3): a dry run that previews, and a commit.

Every row is checked with the same rules as a single user (`UserCreate`, `UserRules`), plus what
only a file can get wrong: a mobile or extension twice in the file. Rows are *incremental*: a row
whose mobile is already in the directory, or whose extension belongs to someone of the same name,
is the same person and is skipped; an extension that belongs to someone else is an error. A path
in 部门 (研发部/测试组) creates the departments it names.

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
from zongji.directory.spreadsheet.reader import rows as read_rows
from zongji.directory.user_schemas import UserCreate
from zongji.directory.users import UserRules, apply, check_capacity, flush_or_conflict
from zongji.platform.actor import Actor
from zongji.platform.clock import Clock
from zongji.platform.db import Database, TenantScope
from zongji.platform.errors import Problem
from zongji.platform.events import EventBus
from zongji.platform.phone import clean_digits
from zongji.platform.uow import UnitOfWork

PREVIEW_ROWS = 2000
REPORTED_ERRORS = 5000
FIELD_COLUMN = {c.field: c for c in COLUMNS} | {
    "work_start": next(c for c in COLUMNS if c.field == "work_hours"),
    "work_end": next(c for c in COLUMNS if c.field == "work_hours"),
    "pinned": next(c for c in COLUMNS if c.field == "pin_order"),
}
DIGIT_FIELDS = {"mobile", "extension", "phone", "direct_line", "monthly_minutes", "pin_order"}


class RowError(BaseModel):
    row: int
    column: str
    code: str
    message: str
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
    def __init__(self, number: int, cells: dict[Column, str]) -> None:
        self.number = number
        self.cells = {c: _normalise(c, v) for c, v in cells.items()}
        self.errors: list[RowError] = []
        self.data: UserCreate | None = None
        self.department = self.cells.get(_col("department"), "")
        self.skip: str | None = None
        self.fields: dict[str, Any] = {}
        self.direct_line: str | None = None
        self.spelling: Spelling | None = None

    def fail(self, column: Column, code: str, en: str, zh: str) -> None:
        self.errors.append(
            RowError(row=self.number, column=column.header, code=code, message=en, message_zh=zh)
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


def _normalise(column: Column, value: str) -> str:
    """Full-width characters to half-width and stray spaces away; codes and choices compared in
    lower case, names and addresses kept as written."""
    text = " ".join(unicodedata.normalize("NFKC", value).split())
    if column.field in ("email",):
        text = normalise_text(text)
    if column.field in DIGIT_FIELDS:
        text = clean_digits(text)
    if column.field == "department":
        text = "/".join(part.strip() for part in text.replace("／", "/").split("/") if part.strip())
    return text


def _parse(row: _Row) -> None:
    """Cells → `UserCreate`, with every problem reported against its column."""
    values: dict[str, Any] = {}
    for column, text in row.cells.items():
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
        elif column.field in ("monthly_minutes", "pin_order"):
            if not text.isdigit():
                row.fail(column, "not_a_number", "Must be a whole number.", "须为整数。")
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
            field = str(err["loc"][0]) if err["loc"] else _model_field(str(err["msg"]))
            column = FIELD_COLUMN.get(field, _col("name"))
            row.fail(
                column,
                str(err["type"]),
                str(err["msg"]).removeprefix("Value error, "),
                "内容不正确。",
            )


def _model_field(message: str) -> str:
    return "work_start" if "work_" in message else "valid_until"


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
            by_mobile = {mobile for mobile, _, _ in known}
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
                raise Problem(
                    422,
                    "import_has_errors",
                    f"{len(failed)} rows have errors; nothing was imported.",
                    f"有 {len(failed)} 行存在错误，未导入任何数据。",
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
        parsed = [_Row(number, cells) for number, cells in read_rows(data, filename)]
        for row in parsed:
            _parse(row)
            if row.data is not None:
                row.spelling = spell(row.data.name)
        return parsed

    @staticmethod
    def _check(
        parsed: list[_Row],
        rules: UserRules,
        by_mobile: set[str],
        by_extension: dict[str, str],
    ) -> None:
        first_mobile: dict[str, int] = {}
        first_extension: dict[str, int] = {}
        first_line: dict[str, int] = {}
        for row in parsed:
            if row.data is None:
                continue
            data = row.data.model_copy(update={"department_id": None})
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
            if data.mobile in by_mobile:
                row.skip = "mobile_exists"
            elif ext and ext in by_extension:
                if by_extension[ext] == data.name:
                    row.skip = "extension_exists"
                else:
                    row.fail(
                        _col("extension"),
                        "extension_taken",
                        f"Extension {ext} belongs to {by_extension[ext]}.",
                        f"分机号 {ext} 已属于 {by_extension[ext]}。",
                    )
            if row.skip or row.errors:
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
                        f"Same as row {seen[value]}.",
                        f"与第 {seen[value]} 行的{zh}重复。",
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
