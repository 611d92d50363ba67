"""What is wrong with a cell, said specifically in both languages.

An admin fixing row 812 of a 3,000-row file needs the row, the column as their file names it, the
value they typed and what is wrong with it, in Chinese as precisely as in English. The rules of a
user's fields live in `user_schemas.UserCreate` and report pydantic errors; this module turns those
into sentences for the column they came from, and frames every row error the same way.
"""

from __future__ import annotations

from typing import Any

from zongji.directory.spreadsheet.columns import Column

MAX_SHOWN_VALUE = 50

_VALUE_ERRORS: dict[str, tuple[str, str]] = {
    "name": ("has no visible characters.", "没有可见的字符。"),
    "mobile": (
        "is not a valid mobile number (11 digits starting with 1, or +86 and 11 digits).",
        "不是有效的手机号码（11 位数字，以 1 开头）。",
    ),
    "email": ("is not a valid e-mail address.", "不是有效的邮箱地址。"),
    "work_start": (
        "is not a time of day: write working hours as 09:00-18:00.",
        "不是有效的时间，上班时间格式如 09:00-18:00。",
    ),
    "work_end": (
        "is not a time of day: write working hours as 09:00-18:00.",
        "不是有效的时间，上班时间格式如 09:00-18:00。",
    ),
}

_MODEL_ERRORS: dict[str, tuple[str, str]] = {
    "work_hours_order": (
        "The end of working hours must be after their start.",
        "下班时间须晚于上班时间。",
    ),
    "validity_order": (
        "The end of the validity period must not be before its start.",
        "有效期结束不能早于有效期开始。",
    ),
}


def model_error(field: str, err: dict[str, Any]) -> tuple[str, str]:
    """English and Chinese for one pydantic error of `UserCreate` on `field`."""
    kind = str(err.get("type", ""))
    ctx = err.get("ctx") or {}
    if kind in _MODEL_ERRORS:
        return _MODEL_ERRORS[kind]
    if kind == "string_too_long":
        limit = ctx.get("max_length")
        return f"Longer than {limit} characters.", f"超过 {limit} 个字符。"
    if kind == "less_than_equal":
        return f"Must be at most {ctx.get('le')}.", f"不能大于 {ctx.get('le')}。"
    if kind == "greater_than_equal":
        return f"Must be at least {ctx.get('ge')}.", f"不能小于 {ctx.get('ge')}。"
    if field in _VALUE_ERRORS:
        en, zh = _VALUE_ERRORS[field]
        return "The value " + en, "该值" + zh
    message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    return f"Not accepted: {message}.", f"该值不符合要求（{message}）。"


def _shown(value: str) -> str:
    return value if len(value) <= MAX_SHOWN_VALUE else value[: MAX_SHOWN_VALUE - 1] + "…"


def frame(row: int, title: str, column: Column, value: str, en: str, zh: str) -> tuple[str, str]:
    """The full sentences of a row error: row, column as the file names it, value, what."""
    label = title if title.lower() == column.label_en else f"{title} ({column.label_en})"
    if value:
        return (
            f"Row {row}, column {label}, value “{_shown(value)}”: {en}",
            f"第 {row} 行“{title}”列的值“{_shown(value)}”：{zh}",
        )
    return f"Row {row}, column {label} is empty: {en}", f"第 {row} 行“{title}”列为空：{zh}"
