"""Sloppy spreadsheets (issue 11, items 11, 13 and 14): title rows and other column names, counts
that are not whole numbers, formulas, invisible characters, specific messages in both languages,
and a mobile that belongs to someone else."""

from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook, load_workbook

from tests.conftest import World
from tests.directory.conftest import Console
from tests.directory.test_spreadsheets import IMPORT, count, row, upload, xlsx
from zongji.directory.models import User
from zongji.directory.spreadsheet.header import HEADER_SCAN_ROWS

ZH = {"Accept-Language": "zh-CN"}


def sheet(lines: list[list[Any]]) -> bytes:
    workbook = Workbook()
    for line in lines:
        workbook.active.append(line)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


async def upload_zh(acme: Console, data: bytes, name: str, **params: Any) -> Any:
    """An upload by an admin whose browser asks for Chinese."""
    return await acme.call(
        "POST", IMPORT, files={"file": (name, data)}, params=params, headers={**acme.headers, **ZH}
    )


def errors(report: dict[str, Any]) -> dict[tuple[int, str], dict[str, Any]]:
    return {(e["row"], e["field"]): e for e in report["errors"]}


async def test_the_template_lists_the_accepted_column_names(acme: Console) -> None:
    r = await acme.call("GET", "/api/v1/directory/import/template")
    notes = load_workbook(io.BytesIO(r.content))["说明"]
    synonyms = {row[0]: row[2] for row in notes.iter_rows(values_only=True) if row[0]}
    assert "手机号" in synonyms["手机号码（必填）"].split("、")
    assert "内线" in synonyms["分机号"].split("、")
    assert "mobile" in synonyms["手机号码（必填）"].split("、")


async def test_header_below_title_rows_with_synonyms(acme: Console) -> None:
    data = sheet(
        [
            ["2026 年 3 月员工花名册"],
            [],
            ["序号", "名字", "手机号", "内线", "所属部门", "备注"],
            [1, "张三", "13800000001", "8001", "研发部", "新人"],
            [2, "李四", 13800000002, None, None, None],
        ]
    )
    r = await upload(acme, data, dry_run=False)
    assert r.status_code == 200, r.text
    assert [(x["row"], x["action"]) for x in r.json()["rows"]] == [(4, "add"), (5, "add")]
    users = {
        u["name"]: u for u in (await acme.call("GET", "/api/v1/directory/users")).json()["items"]
    }
    assert (users["张三"]["extension"], users["张三"]["department_path"]) == ("8001", "研发部")
    assert users["李四"]["mobile"] == "+8613800000002"


async def test_english_headers_and_errors_named_as_the_file_names_them(acme: Console) -> None:
    text = "Name,Mobile Phone,Ext.\n王五,13800000003,８００３\n赵六,12345,\n"
    r = await upload(acme, text.encode(), "staff.csv")
    report = r.json()
    assert [(x["row"], x["action"], x["extension"]) for x in report["rows"]] == [
        (2, "add", "8003"),  # full-width digits
        (3, "error", ""),
    ]
    error = errors(report)[(3, "mobile")]
    assert error["column"] == "Mobile Phone"
    assert error["value"] == "12345"
    assert error["message"].startswith("Row 3, column Mobile Phone (mobile), value “12345”:")
    assert "not a valid mobile number" in error["message"]
    assert error["message_zh"].startswith("第 3 行“Mobile Phone”列的值“12345”：")
    assert "不是有效的手机号码" in error["message_zh"]


async def test_a_file_without_a_header_names_the_missing_columns(acme: Console) -> None:
    r = await upload_zh(acme, "张三,13800000001\n".encode(), "x.csv")
    assert (r.status_code, r.json()["code"]) == (422, "missing_columns")
    assert r.json()["columns"] == ["姓名", "手机号码"]
    assert "姓名、手机号码" in r.json()["title"]
    late = "\n" * HEADER_SCAN_ROWS + "姓名,手机号码\n张三,13800000001\n"
    r = await upload(acme, late.encode(), "late.csv")
    assert r.json()["code"] == "missing_columns"  # only the first rows are searched
    r = await upload(acme, "名字,姓名,手机号码\n".encode(), "twice.csv")
    assert (r.status_code, r.json()["code"]) == (422, "duplicate_column")


async def test_minutes_and_pin_order_must_be_whole_numbers(acme: Console, world: World) -> None:
    data = xlsx(
        [
            row("甲", "13800000001", 每月分钟数="-5"),
            row("乙", "13800000002", 每月分钟数="1.5"),
            row("丙", "13800000003", 每月分钟数=-5),  # typed as numbers in Excel
            row("丁", "13800000004", 每月分钟数=1.5),
            row("戊", "13800000005", 置顶顺序="-1"),
            row("己", "13800000006", 置顶顺序="2.5"),
            row("庚", "13800000007", 每月分钟数="１２０", 置顶顺序=3),
        ]
    )
    r = await upload_zh(acme, data, "users.xlsx", dry_run=False)
    assert (r.status_code, r.json()["code"]) == (422, "import_has_errors")
    found = errors(r.json()["report"])
    assert {key: e["code"] for key, e in found.items()} == {
        (2, "monthly_minutes"): "not_a_number",
        (3, "monthly_minutes"): "not_a_number",
        (4, "monthly_minutes"): "not_a_number",
        (5, "monthly_minutes"): "not_a_number",
        (6, "pin_order"): "not_a_number",
        (7, "pin_order"): "not_a_number",
    }
    assert "不能为负数" in found[(2, "monthly_minutes")]["message_zh"]
    assert "不能带小数点" in found[(3, "monthly_minutes")]["message_zh"]
    assert "cannot be negative" in found[(6, "pin_order")]["message"]
    # the top-level message names the first error, in the language asked for
    assert r.json()["title"].startswith(
        "有 6 行存在错误，未导入任何数据。第一处：第 2 行“每月分钟数”列"
    )
    assert "Row 2, column 每月分钟数 (monthly minutes), value “-5”" in r.json()["message"]["en"]
    assert await count(world, User) == 0

    r = await upload(acme, data, dry_run=False, valid_only=True)
    assert r.json()["added"] == 1
    (user,) = (await acme.call("GET", "/api/v1/directory/users")).json()["items"]
    assert (user["monthly_minutes"], user["pinned"], user["pin_order"]) == (120, True, 3)


async def test_formulas_are_refused_not_called_empty(acme: Console) -> None:
    data = xlsx(
        [
            row('=HYPERLINK("http://x","张三")', "13800000001"),
            row("李四", "=13800000000+2"),
        ]
    )
    report = (await upload(acme, data)).json()
    found = errors(report)
    assert found[(2, "name")]["code"] == "formula_not_accepted"
    assert found[(3, "mobile")]["code"] == "formula_not_accepted"
    assert "不接受公式" in found[(2, "name")]["message_zh"]
    csv_formula = '姓名,手机号码\n"=HYPERLINK(""http://x"",""张三"")",13800000001\n'
    report = (await upload(acme, csv_formula.encode(), "f.csv")).json()
    assert errors(report)[(2, "name")]["code"] == "formula_not_accepted"


async def test_invisible_characters_are_removed_from_names(acme: Console) -> None:
    data = xlsx(
        [row("张\u200b三\u2060", "\ufeff13800000001"), row("\u200d李\u200c四", "13800000002")]
    )
    r = await upload(acme, data, dry_run=False)
    assert r.status_code == 200, r.text
    names = [u["name"] for u in (await acme.call("GET", "/api/v1/directory/users")).json()["items"]]
    assert sorted(names) == ["张三", "李四"]
    r = await upload(acme, data, dry_run=False)  # and the same file again is the same people
    assert (r.json()["to_skip"], r.json()["error_rows"]) == (2, 0)
    created = await acme.user("王\u200b五\ufeff", "13800000003")  # the API cleans names alike
    assert created["name"] == "王五"


async def test_extension_0801_is_refused_for_its_leading_zero(acme: Console) -> None:
    report = (
        await upload(
            acme,
            xlsx([row("甲", "13800000001", 分机号="0801"), row("乙", "13800000002", 分机号="110")]),
        )
    ).json()
    found = errors(report)
    leading_zero = found[(2, "extension")]
    assert leading_zero["code"] == "extension_reserved"
    assert "emergency" not in leading_zero["message"]
    assert "紧急" not in leading_zero["message_zh"]
    assert "starts with 0" in leading_zero["message"]
    assert "以 0 开头" in leading_zero["message_zh"]
    assert "emergency number" in found[(3, "extension")]["message"]
    assert "紧急号码" in found[(3, "extension")]["message_zh"]


async def test_a_mobile_of_someone_with_another_name_is_an_error_not_a_silent_skip(
    acme: Console, world: World
) -> None:
    await acme.user("张三", "13800000001", title="工程师")
    data = xlsx([row("李四", "13800000001", 职务="经理"), row("王五", "13800000002")])
    report = (await upload(acme, data)).json()
    assert [(x["row"], x["action"]) for x in report["rows"]] == [(2, "error"), (3, "add")]
    error = errors(report)[(2, "mobile")]
    assert error["code"] == "mobile_belongs_to_other"
    for message in (error["message"], error["message_zh"]):
        assert "张三" in message
        assert "李四" in message

    r = await upload(acme, data, dry_run=False)
    assert (r.status_code, r.json()["code"]) == (422, "import_has_errors")
    r = await upload(acme, data, dry_run=False, valid_only=True)  # the admin's confirmation
    assert (r.json()["added"], r.json()["error_rows"]) == (1, 1)
    users = {
        u["mobile"]: u for u in (await acme.call("GET", "/api/v1/directory/users")).json()["items"]
    }
    assert (users["+8613800000001"]["name"], users["+8613800000001"]["title"]) == ("张三", "工程师")
    assert await count(world, User) == 2
