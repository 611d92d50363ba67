"""Domain errors that the API answers as RFC 9457 problem+json.

A `Problem` carries what a client needs to act on it: an HTTP status, a stable machine `code` that
never changes once published, and a human message in zh-CN and en. Services raise them; the API
layer renders them; the CLI prints them. Nothing below the API knows about HTTP beyond the status.
"""

from __future__ import annotations

from typing import Any


class Problem(Exception):
    """An error a caller can act on, with a stable code and bilingual message."""

    def __init__(
        self,
        status: int,
        code: str,
        en: str,
        zh: str,
        *,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code}: {en}")
        self.status = status
        self.code = code
        self.en = en
        self.zh = zh
        self.extra = extra or {}
        self.headers = headers or {}

    def message(self, language: str) -> str:
        return self.zh if language.lower().startswith("zh") else self.en


class FieldError(Problem):
    """One or more fields of the input are invalid (422), with per-field details.

    The top-level message names the first field and says what is wrong with it, in both
    languages: a client that shows only the title still tells the person what to fix."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        en, zh = "The input is not valid.", "输入内容不正确。"
        if errors:
            first = errors[0]
            field = first.get("field", "")
            more_en = f" ({len(errors) - 1} more)" if len(errors) > 1 else ""
            more_zh = f"（另有 {len(errors) - 1} 处）" if len(errors) > 1 else ""
            en = f"The input is not valid: {field}: {first.get('message', '')}{more_en}"
            zh = f"输入内容不正确：{field}：{first.get('message_zh') or first.get('message', '')}"
            zh += more_zh
        super().__init__(422, "validation_failed", en, zh, extra={"errors": errors})


def field_error(field: str, code: str, en: str, zh: str) -> FieldError:
    return FieldError([{"field": field, "code": code, "message": en, "message_zh": zh}])


def not_found(what_en: str, what_zh: str) -> Problem:
    """404 for what does not exist *or belongs to another enterprise*: never tell them apart."""
    return Problem(404, "not_found", f"{what_en} not found.", f"{what_zh}不存在。")


def conflict(code: str, en: str, zh: str) -> Problem:
    return Problem(409, code, en, zh)


def unauthenticated(code: str = "unauthenticated", en: str = "", zh: str = "") -> Problem:
    return Problem(
        401,
        code,
        en or "Authentication is required.",
        zh or "请先登录。",
        headers={"WWW-Authenticate": "Bearer"},
    )


def forbidden(en: str = "", zh: str = "") -> Problem:
    return Problem(403, "forbidden", en or "You may not do this.", zh or "没有权限执行此操作。")


def too_many_requests(retry_after: float) -> Problem:
    seconds = max(1, int(retry_after + 0.999))
    return Problem(
        429,
        "rate_limited",
        f"Too many requests; try again in {seconds} s.",
        f"请求过于频繁，请 {seconds} 秒后再试。",
        extra={"retry_after": seconds},
        headers={"Retry-After": str(seconds)},
    )
