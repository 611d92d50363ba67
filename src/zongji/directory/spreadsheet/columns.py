"""The columns of the user spreadsheet: template, import and export share this one list, so an
export always re-imports (as all skipped) and a header renamed here is renamed everywhere.

Each column also has an English name (used in English messages) and the other headers it is known
by (`synonyms`, Chinese and English): HR systems export 名字 or 手机号 or Mobile where our template
says 姓名 and 手机号码. The template's instructions sheet and docs/directory.md list them."""

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
    label_en: str  # the column's English name: English messages, and accepted as a header
    required: bool = False
    choices: dict[str, Any] | None = None  # enumerated: the drop-down, and the accepted values
    max_length: int | None = None
    note: str = ""
    example: str = ""
    synonyms: tuple[str, ...] = ()  # other headers accepted for this column (zh and en)

    def export(self, value: Any) -> str:
        if value is None:
            return ""
        if self.choices is not None:
            return next((label for label, v in self.choices.items() if v == value), "")
        return str(value)


COLUMNS: tuple[Column, ...] = (
    Column(
        "姓名",
        "name",
        "name",
        required=True,
        max_length=64,
        example="张三",
        synonyms=("名字", "员工姓名", "人员姓名", "full name", "employee name"),
    ),
    Column(
        "手机号码",
        "mobile",
        "mobile",
        required=True,
        max_length=32,
        note="11 位手机号，用于登录客户端",
        example="13800000001",
        synonyms=(
            "手机号",
            "手机",
            "移动电话",
            "mobile phone",
            "mobile number",
            "cell phone",
            "cellphone",
        ),
    ),
    Column(
        "分机号",
        "extension",
        "extension",
        max_length=16,
        note="留空则自动分配空闲分机号",
        example="8001",
        synonyms=("分机", "分机号码", "内线", "内线号", "内线号码", "ext", "ext."),
    ),
    Column(
        "部门",
        "department",
        "department",
        max_length=512,
        note="多级部门用 / 分隔，如 研发部/测试组；不存在的部门会自动创建",
        example="研发部/测试组",
        synonyms=("所属部门", "部门名称", "dept"),
    ),
    Column(
        "职务",
        "title",
        "title",
        max_length=64,
        example="工程师",
        synonyms=("职位", "岗位", "job title", "position"),
    ),
    Column(
        "邮箱",
        "email",
        "email",
        max_length=128,
        example="zhangsan@example.com",
        synonyms=("电子邮箱", "电子邮件", "邮件", "e-mail", "email address"),
    ),
    Column(
        "电话",
        "phone",
        "phone",
        max_length=32,
        note="办公电话，可省略区号",
        example="025-84001234",
        synonyms=("办公电话", "座机", "固定电话", "office phone", "work phone", "telephone"),
    ),
    Column(
        "地址",
        "address",
        "address",
        max_length=256,
        example="南京市玄武区",
        synonyms=("办公地址", "office address"),
    ),
    Column(
        "直线号码",
        "direct_line",
        "direct line",
        max_length=32,
        note="须为企业号码池中空闲的号码",
        synonyms=("直线", "直线电话", "did"),
    ),
    Column(
        "外呼限制",
        "outbound_restriction",
        "outbound restriction",
        choices=RESTRICTION,
        note="内部/本地/国内/国际",
        example="国内",
        synonyms=("外呼权限", "呼出权限", "calling restriction"),
    ),
    Column(
        "外呼方式",
        "outbound_mode",
        "outbound mode",
        choices=MODE,
        note="电话直拨/电话回拨/网络通话",
        example="网络通话",
        synonyms=("呼出方式",),
    ),
    Column(
        "外呼时间",
        "outbound_time",
        "outbound time",
        choices=TIME,
        note="不限/工作日（周一至周五上班时间内）",
        example="不限",
        synonyms=("呼出时间",),
    ),
    Column(
        "每月分钟数",
        "monthly_minutes",
        "monthly minutes",
        max_length=8,
        note="留空表示不限",
        example="",
        synonyms=("月分钟数", "每月通话分钟数", "minutes per month"),
    ),
    Column(
        "上班时间",
        "work_hours",
        "work hours",
        max_length=16,
        note="如 09:00-18:00",
        example="09:00-18:00",
        synonyms=("工作时间", "working hours", "office hours"),
    ),
    Column(
        "有效期开始",
        "valid_from",
        "valid from",
        max_length=10,
        note="日期，如 2026-01-01；留空表示不限",
        synonyms=("生效日期",),
    ),
    Column(
        "有效期结束",
        "valid_until",
        "valid until",
        max_length=10,
        note="日期；留空表示不限",
        synonyms=("失效日期", "到期日期", "expires"),
    ),
    Column(
        "前台",
        "is_receptionist",
        "receptionist",
        choices=BOOL,
        note="是/否",
        example=NO,
        synonyms=("是否前台",),
    ),
    Column(
        "会议权限",
        "conference_allowed",
        "conference allowed",
        choices=BOOL,
        note="是/否",
        example=YES,
        synonyms=("会议", "conference"),
    ),
    Column(
        "管理权限",
        "is_admin",
        "admin",
        choices=BOOL,
        note="是/否：可在客户端编辑通讯录、邀请同事",
        example=NO,
        synonyms=("管理员", "是否管理员", "administrator"),
    ),
    Column(
        "置顶顺序",
        "pin_order",
        "pin order",
        max_length=8,
        note="留空表示不置顶；数字越小越靠前",
        synonyms=("置顶", "pinned order"),
    ),
)
HEADERS = [c.header for c in COLUMNS]
BY_HEADER = {c.header: c for c in COLUMNS}


def export_row(values: dict[str, Any], get: Callable[[str], Any] | None = None) -> list[str]:
    return [column.export(values.get(column.field)) for column in COLUMNS]
