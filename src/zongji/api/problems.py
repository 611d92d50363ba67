"""Every error answers RFC 9457 problem+json with a stable `code` and messages in zh-CN and en."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from zongji.platform.errors import Problem

log = logging.getLogger(__name__)

PROBLEM_BASE = "https://zongji.dev/problems/"
MEDIA_TYPE = "application/problem+json"

_HTTP_CODES: dict[int, tuple[str, str, str]] = {
    400: ("bad_request", "The request is malformed.", "请求格式不正确。"),
    401: ("unauthenticated", "Authentication is required.", "请先登录。"),
    403: ("forbidden", "You may not do this.", "没有权限执行此操作。"),
    404: ("not_found", "Not found.", "资源不存在。"),
    405: ("method_not_allowed", "This method is not allowed here.", "不支持该请求方法。"),
    413: ("too_large", "The request is too large.", "请求内容过大。"),
    415: ("unsupported_media_type", "Unsupported content type.", "不支持的内容类型。"),
}


def _language(request: Request) -> str:
    accept = request.headers.get("accept-language", "")
    return "zh-CN" if accept.lower().startswith("zh") else "en"


def render(request: Request, problem: Problem) -> JSONResponse:
    language = _language(request)
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + problem.code,
        "title": problem.message(language),
        "status": problem.status,
        "code": problem.code,
        "message": {"zh-CN": problem.zh, "en": problem.en},
        "instance": request.url.path,
        **problem.extra,
    }
    return JSONResponse(body, problem.status, headers=problem.headers, media_type=MEDIA_TYPE)


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def _validation_problem(exc: RequestValidationError | ValidationError) -> Problem:
    errors = []
    for err in exc.errors():
        errors.append(
            {
                "field": _field_path(tuple(err.get("loc", ()))),
                "code": str(err.get("type", "invalid")),
                "message": str(err.get("msg", "invalid")),
            }
        )
    return Problem(
        422,
        "validation_failed",
        "The input is not valid.",
        "输入内容不正确。",
        extra={"errors": errors},
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return render(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return render(request, _validation_problem(exc))

    @app.exception_handler(ValidationError)
    async def _invalid_model(request: Request, exc: ValidationError) -> JSONResponse:
        return render(request, _validation_problem(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code, en, zh = _HTTP_CODES.get(exc.status_code, ("error", str(exc.detail), str(exc.detail)))
        headers = dict(exc.headers or {})
        return render(request, Problem(exc.status_code, code, en, zh, headers=headers))

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", extra={"path": request.url.path})
        return render(
            request,
            Problem(500, "internal_error", "Something went wrong on our side.", "服务器内部错误。"),
        )
