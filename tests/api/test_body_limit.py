"""Request bodies are limited whether or not they declare their length."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from tests.conftest import make_settings
from zongji.api.app import create_app
from zongji.platform.clock import FakeClock
from zongji.services import build_services


async def test_declared_and_chunked_bodies_over_the_limit_are_refused(
    database_url: str, tmp_path: Path
) -> None:
    services = build_services(
        make_settings(database_url, tmp_path, max_request_bytes=2048), clock=FakeClock()
    )
    app = create_app(services)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            r = await client.post("/api/v1/auth/login", content=b"{" + b" " * 4096 + b"}")
            assert (r.status_code, r.json()["code"]) == (413, "request_too_large")

            async def chunks() -> AsyncIterator[bytes]:
                for _ in range(8):
                    yield b" " * 512

            r = await client.post(
                "/api/v1/auth/login", content=chunks(), headers={"content-type": "application/json"}
            )
            assert (r.status_code, r.json()["code"]) == (413, "request_too_large")
            r = await client.post("/api/v1/auth/login", json={"account": "x", "password": "y"})
            assert r.status_code == 401  # small bodies pass
    finally:
        await services.close()
