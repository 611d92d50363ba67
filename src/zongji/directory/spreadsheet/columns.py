"""The columns of the user spreadsheet: template, import and export share this one list, so an
export always re-imports (as all skipped) and a header renamed here is renamed everywhere."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from zongji.directory.models import OutboundMode, OutboundRestriction, OutboundTime

YES, NO = "是", "否"
RESTRICTION = {
    "内部": OutboundRestriction.INTERNAL,
    "本地": OutboundRestriction.LOCAL,
    "国内": OutboundRestriction.DOMESTIC,
    "国际": OutboundRestriction.INTERNATIONAL,
}
MODE = {
    "电话直拨": OutboundMode.DIRECT_DIAL,
    "电话回拨": OutboundMode.CALLBACK,
    "网络通话": OutboundMode.NETWORK,
}
TIME = {"不限": OutboundTime.UNLIMITED, "工作日": OutboundTime.WORKDAYS}
BOOL = {YES: True, NO: False}


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: one object per column
class Column:
    header: str  # Chinese, as the template shows it
    field: str  # the UserCreate field it fills (or a pseudo-field: department path, working hours)
    required: bool = False
    choices: dict[str, Any] | None = None  # enumerated: the drop-down, and the accepted values
    max_length: int | None = None
    note: str = ""
    example: str = ""

    def export(self, value: Any) -> str:
        if value is None:
            return ""
        if self.choices is not None:
            return next((label for label, v in self.choices.items() if v == value), "")
        return str(value)


COLUMNS: tuple[Column, ...] = (
    Column("姓名", "name", required=True, max_length=64, example="张三"),
    Column(
        "手机号码",
        "mobile",
        required=True,
        max_length=32,
        note="11 位手机号，用于登录客户端",
        example="13800000001",
    ),
    Column("分机号", "extension", max_length=16, note="留空则自动分配空闲分机号", example="8001"),
    Column(
        "部门",
        "department",
        max_length=512,
        note="多级部门用 / 分隔，如 研发部/测试组；不存在的部门会自动创建",
        example="研发部/测试组",
    ),
    Column("职务", "title", max_length=64, example="工程师"),
    Column("邮箱", "email", max_length=128, example="zhangsan@example.com"),
    Column("电话", "phone", max_length=32, note="办公电话，可省略区号", example="025-84001234"),
    Column("地址", "address", max_length=256, example="南京市玄武区"),
    Column("直线号码", "direct_line", max_length=32, note="须为企业号码池中空闲的号码"),
    Column(
        "外呼限制",
        "outbound_restriction",
        choices=RESTRICTION,
        note="内部/本地/国内/国际",
        example="国内",
    ),
    Column(
        "外呼方式",
        "outbound_mode",
        choices=MODE,
        note="电话直拨/电话回拨/网络通话",
        example="网络通话",
    ),
    Column(
        "外呼时间",
        "outbound_time",
        choices=TIME,
        note="不限/工作日（周一至周五上班时间内）",
        example="不限",
    ),
    Column("每月分钟数", "monthly_minutes", max_length=8, note="留空表示不限", example=""),
    Column("上班时间", "work_hours", max_length=16, note="如 09:00-18:00", example="09:00-18:00"),
    Column("有效期开始", "valid_from", max_length=10, note="日期，如 2026-01-01；留空表示不限"),
    Column("有效期结束", "valid_until", max_length=10, note="日期；留空表示不限"),
    Column("前台", "is_receptionist", choices=BOOL, note="是/否", example=NO),
    Column("会议权限", "conference_allowed", choices=BOOL, note="是/否", example=YES),
    Column(
        "管理权限",
        "is_admin",
        choices=BOOL,
        note="是/否：可在客户端编辑通讯录、邀请同事",
        example=NO,
    ),
    Column("置顶顺序", "pin_order", max_length=8, note="留空表示不置顶；数字越小越靠前"),
)
HEADERS = [c.header for c in COLUMNS]
BY_HEADER = {c.header: c for c in COLUMNS}


def export_row(values: dict[str, Any], get: Callable[[str], Any] | None = None) -> list[str]:
    return [column.export(values.get(column.field)) for column in COLUMNS]
