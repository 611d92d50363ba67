"""A limit on request bodies, so that no upload (however it is sent) can fill memory or disk.

A declared `Content-Length` over the limit is refused before the body is read; a chunked body is
counted as it arrives and refused as soon as it passes the limit (the application then sees the
client go away, and whatever it answers is dropped).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from zongji.api.problems import render
from zongji.platform.errors import Problem


def too_large(limit: int) -> Problem:
    return Problem(
        413,
        "request_too_large",
        f"The request body is larger than {limit // (1024 * 1024)} MB.",
        f"请求内容不能超过 {limit // (1024 * 1024)} MB。",
        extra={"max_bytes": limit},
    )


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            response = render(Request(scope), too_large(self.max_bytes))
            await response(scope, receive, send)
            return
        seen = 0
        answered = started = False
        request = Request(scope)

        async def counted() -> Message:
            nonlocal seen, answered
            message: Any = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # Answer here: frameworks turn errors raised while reading a body into 400s.
                    if not started and not answered:
                        answered = True
                        await render(request, too_large(self.max_bytes))(scope, receive, send)
                    return {
                        "type": "http.disconnect"
                    }  # the app stops reading; its answer is dropped
            return message  # type: ignore[no-any-return]

        async def guarded(message: Message) -> None:
            nonlocal started
            if answered:
                return
            started = True
            await send(message)

        await self.app(scope, counted, guarded)
