"""Spreadsheet template, import (dry run, commit, incremental, errors), export (ADM-1…3, 8)."""

from __future__ import annotations

import csv
import io
import zipfile
from typing import Any

from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from tests.conftest import World
from tests.directory.conftest import Console, enterprise
from zongji.directory.models import Department, User
from zongji.directory.spreadsheet.columns import HEADERS
from zongji.platform.db import PLATFORM

IMPORT = "/api/v1/directory/import"


def xlsx(rows: list[list[Any]], headers: list[str] = HEADERS) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def row(name: str, mobile: str, **cells: Any) -> list[Any]:
    values = {"姓名": name, "手机号码": mobile, **cells}
    return [values.get(h, "") for h in HEADERS]


async def upload(acme: Console, data: bytes, name: str = "users.xlsx", **params: Any) -> Any:
    return await acme.call("POST", IMPORT, files={"file": (name, data)}, params=params)


async def count(world: World, model: Any) -> int:
    async with world.services.db.session(PLATFORM) as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_template_has_headers_example_drop_downs_and_instructions(acme: Console) -> None:
    r = await acme.call("GET", "/api/v1/directory/import/template")
    assert r.status_code == 200
    workbook = load_workbook(io.BytesIO(r.content))
    sheet = workbook["通讯录"]
    headers = [c.value for c in sheet[1]]
    assert headers[:3] == ["姓名*", "手机号码*", "分机号"]
    assert [c.value for c in sheet[2]][:2] == ["张三", "13800000001"]
    lists = {
        str(v.sqref).split(":")[0][:-1]: v.formula1 for v in sheet.data_validations.dataValidation
    }
    letter = {h.rstrip("*"): chr(ord("A") + i) for i, h in enumerate(headers)}
    assert lists[letter["外呼限制"]] == '"内部,本地,国内,国际"'
    assert lists[letter["前台"]] == '"是,否"'
    assert "说明" in workbook.sheetnames
    r = await acme.call("POST", IMPORT, files={"file": ("t.xlsx", r.content)})
    assert r.json()["to_add"] == 1  # the example row itself is a valid row


async def test_dry_run_then_commit_with_departments_and_normalisation(
    acme: Console, world: World
) -> None:
    await acme.user("老员工", "13800000009", extension="8009")
    data = xlsx(
        [
            row(
                "张三",
                "１３８ 0000 0001",
                分机号="8001",
                部门=" 研发部 / 测试组 ",
                外呼限制="本地",
                前台="是",
            ),
            row(" 李四 ", "13800000002", 部门="研发部", 上班时间="8:30-17:30", 置顶顺序="1"),
            row("老员工", "13800000009"),  # already there: skipped
            row("王五", "13800000003", 有效期开始="2026-01-01", 有效期结束="2026-06-30"),
        ]
    )
    r = await upload(acme, data)
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["dry_run"], report["to_add"], report["to_skip"], report["error_rows"]) == (
        True,
        3,
        1,
        0,
    )
    assert report["departments_created"] == ["研发部", "研发部/测试组"]
    assert [(x["row"], x["action"]) for x in report["rows"]] == [
        (2, "add"),
        (3, "add"),
        (4, "skip"),
        (5, "add"),
    ]
    assert report["rows"][2]["reason"] == "mobile_exists"
    assert await count(world, User) == 1
    assert await count(world, Department) == 0

    r = await upload(acme, data, dry_run=False)
    assert r.status_code == 200, r.text
    assert (r.json()["committed"], r.json()["added"]) == (True, 3)
    users = {
        u["name"]: u for u in (await acme.call("GET", "/api/v1/directory/users")).json()["items"]
    }
    assert users["张三"]["mobile"] == "+8613800000001"
    assert users["张三"]["department_path"] == "研发部/测试组"
    assert (users["张三"]["outbound_restriction"], users["张三"]["is_receptionist"]) == (
        "local",
        True,
    )
    assert (users["李四"]["work_start"], users["李四"]["pinned"]) == ("08:30", True)
    assert (users["李四"]["extension"], users["王五"]["extension"]) == ("8000", "8002")  # next free
    assert users["王五"]["valid_until"] == "2026-06-30"
    tree = (await acme.call("GET", "/api/v1/directory/departments")).json()
    assert [(d["name"], d["member_count"]) for d in tree] == [("研发部", 2)]

    r = await upload(acme, data, dry_run=False)  # again: everyone is there
    assert (r.json()["to_add"], r.json()["to_skip"], r.json()["added"]) == (0, 4, 0)


async def test_errors_name_rows_and_columns_and_commit_nothing(acme: Console, world: World) -> None:
    await acme.user("占用", "13800000009", extension="8009")
    data = xlsx(
        [
            row("好人", "13800000001"),
            row("坏号", "12345"),
            row("重复", "13800000001"),
            row("分机", "13800000004", 分机号="8009"),
            row("紧急", "13800000005", 分机号="110"),
            row("选项", "13800000006", 外呼方式="飞鸽传书"),
            row("长" * 65, "13800000007"),
            row("", "13800000008"),
            row("同号", "13800000010", 分机号="8100"),
            row("同号2", "13800000011", 分机号="8100"),
        ]
    )
    r = await upload(acme, data, dry_run=False)
    assert (r.status_code, r.json()["code"]) == (422, "import_has_errors")
    errors = {(e["row"], e["column"], e["code"]) for e in r.json()["report"]["errors"]}
    assert errors == {
        (3, "手机号码", "value_error"),
        (4, "手机号码", "duplicate_mobile_in_file"),
        (5, "分机号", "extension_taken"),
        (6, "分机号", "extension_reserved"),
        (7, "外呼方式", "invalid_choice"),
        (8, "姓名", "too_long"),
        (9, "姓名", "required"),
        (11, "分机号", "duplicate_extension_in_file"),
    }
    assert await count(world, User) == 1  # nothing imported

    r = await upload(acme, data, dry_run=False, valid_only=True)
    assert r.status_code == 200
    assert (r.json()["added"], r.json()["error_rows"]) == (2, 8)
    assert await count(world, User) == 3


async def test_csv_in_gbk_and_the_round_trip(acme: Console) -> None:
    text = "姓名,手机号码,分机号,部门\n张三,13800000001,8001,销售部\n李四,13800000002,,\n"
    r = await upload(acme, text.encode("gb18030"), "users.csv", dry_run=False)
    assert r.status_code == 200, r.text
    assert r.json()["added"] == 2
    await acme.user("王五", "13800000003", pinned=True, pin_order=2, monthly_minutes=100)
    for fmt in ("xlsx", "csv"):
        r = await acme.call("GET", "/api/v1/directory/export", params={"format": fmt})
        assert r.status_code == 200
        if fmt == "csv":
            exported = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
            assert exported[0] == HEADERS
            assert [x[0] for x in exported[1:]] == ["王五", "李四", "张三"]  # directory order
            assert exported[2][1] == "13800000002"
        again = await upload(acme, r.content, f"export.{fmt}", dry_run=False)
        assert (again.json()["to_add"], again.json()["to_skip"], again.json()["error_rows"]) == (
            0,
            3,
            0,
        )


async def test_malformed_and_huge_files_are_refused(acme: Console) -> None:
    r = await upload(acme, b"\x00\x01garbage" * 10, "users.xlsx")
    assert (r.status_code, r.json()["code"]) == (415, "not_a_spreadsheet")
    r = await upload(acme, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old.xls")
    assert r.json()["code"] == "unsupported_format"
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/workbook.xml", "<workbook/>")
        z.writestr(
            "xl/worksheets/sheet1.xml", b"\x00" * (300 * 1024 * 1024)
        )  # compresses to ~300 KB
    r = await upload(acme, bomb.getvalue())
    assert (r.status_code, r.json()["code"]) == (400, "suspicious_file")
    r = await upload(acme, b"PK\x03\x04" + b"\x00" * 100)
    assert r.json()["code"] == "not_a_spreadsheet"
    r = await upload(acme, b"a,b\n1,2\n", "x.csv")
    assert (r.status_code, r.json()["code"]) == (422, "missing_columns")
    r = await upload(acme, b"x" * (21 * 1024 * 1024), "big.csv")
    assert (r.status_code, r.json()["code"]) == (413, "file_too_large")
    rows = "姓名,手机号码\n" + "甲,13800000001\n" * 50_001
    r = await upload(acme, rows.encode(), "many.csv")
    assert (r.status_code, r.json()["code"]) == (413, "too_many_rows")
    r = await acme.call(
        "POST",
        IMPORT,
        content=b"x" * 100,
        headers={**acme.headers, "content-length": str(200 * 1024 * 1024)},
    )
    assert (r.status_code, r.json()["code"]) == (413, "request_too_large")


async def test_only_console_admins_import_and_export(acme: Console, world: World) -> None:
    await acme.user("经理", "13800000009", is_admin=True)
    manager = await acme.employee("13800000009")
    assert (await acme.call("GET", "/api/v1/directory/export", headers=manager)).status_code == 403
    r = await acme.call("POST", IMPORT, files={"file": ("a.csv", b"x")}, headers=manager)
    assert r.status_code == 403
    other = Console(world, await enterprise(world, "other"))
    r = await other.call("GET", "/api/v1/directory/export", params={"format": "csv"})
    assert r.content.decode("utf-8-sig").strip() == ",".join(HEADERS)  # nothing of acme's
