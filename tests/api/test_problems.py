"""Errors are RFC 9457 problem+json with a stable code and both languages."""

from __future__ import annotations

import httpx

from tests.conftest import World, bearer


async def test_unknown_route_is_problem_json(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/nothing-here")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["code"] == "not_found"
    assert body["status"] == 404
    assert body["type"].endswith("/not_found")
    assert body["message"]["zh-CN"]
    assert body["message"]["en"]
    assert body["instance"] == "/api/v1/nothing-here"


async def test_title_follows_accept_language(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/auth/me", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert r.status_code == 401
    assert r.json()["title"] == "请先登录。"
    assert r.headers["www-authenticate"] == "Bearer"
    r = await client.get("/api/v1/auth/me")
    assert r.json()["title"] == "Authentication is required."


async def test_validation_errors_name_each_field(world: World) -> None:
    token = await world.operator_token()
    r = await world.client.post(
        "/api/v1/platform/enterprises",
        json={"code": "Bad Code!", "name": "", "area_code": "x", "city": "南京", "extra": 1},
        headers=bearer(token),
    )
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "validation_failed"
    fields = {e["field"] for e in body["errors"]}
    assert {"code", "name", "area_code", "extra"} <= fields


async def test_malformed_json_is_422_not_500(world: World) -> None:
    r = await world.client.post(
        "/api/v1/auth/login", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 422
    assert r.json()["code"] == "validation_failed"


async def test_wrong_method_is_405_problem(client: httpx.AsyncClient) -> None:
    r = await client.delete("/api/v1/auth/login")
    assert r.status_code == 405
    assert r.json()["code"] == "method_not_allowed"


async def test_openapi_document_is_served(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    assert "/api/v1/platform/enterprises" in paths
    assert "/api/v1/auth/code-login" in paths
