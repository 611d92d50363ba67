"""Roles are checked on every endpoint: walked over the app's own route table, so a route added
later without a role check fails here."""

from __future__ import annotations

import re

import httpx

from tests.conftest import World, bearer
from zongji.services import Services

# What a caller may reach without logging in: health, metrics, the API description, and logging in.
PUBLIC = {
    "/healthz",
    "/metrics",
    "/api/v1/auth/login",
    "/api/v1/auth/code",
    "/api/v1/auth/code-login",
    "/api/v1/auth/refresh",
}
# What every logged-in employee may use: their session and private contacts (by prefix), reading
# the directory, their own profile and company, the product version, and inviting a colleague.
# Everything else is for managers.
EMPLOYEE_PREFIXES = ("/api/v1/auth/", "/api/v1/me/")
EMPLOYEE_ROUTES = {
    ("GET", "/api/v1/directory/changes"),
    ("GET", "/api/v1/directory/departments"),
    ("GET", "/api/v1/directory/departments/{department_id}"),
    ("GET", "/api/v1/directory/users"),
    ("GET", "/api/v1/directory/users/{user_id}"),
    ("GET", "/api/v1/directory/users/{user_id}/avatar"),
    ("POST", "/api/v1/directory/users/{user_id}/invite"),
    ("GET", "/api/v1/directory/search"),
    ("GET", "/api/v1/directory/me"),
    ("GET", "/api/v1/directory/enterprise"),  # their own company's name (item 20)
    ("GET", "/api/v1/system/version"),  # the product version, for the about page (item 20)
    ("PATCH", "/api/v1/directory/me"),
    ("PUT", "/api/v1/directory/me/avatar"),
}
DUMMY_ID = "01234567-89ab-7def-8123-456789abcdef"


def _routes(services: Services) -> list[tuple[str, str, str]]:
    """Every documented route and method (the OpenAPI document is the app's own route table;
    only /healthz and /metrics are left out of it, and both are public)."""
    from zongji.api.app import create_app

    found = []
    for template, operations in create_app(services).openapi()["paths"].items():
        path = re.sub(r"\{[^}]+\}", DUMMY_ID, template)
        for method in operations:
            found.append((method.upper(), template, path))
    return found


async def test_anonymous_callers_get_401_everywhere_but_the_public_routes(
    services: Services, client: httpx.AsyncClient
) -> None:
    routes = _routes(services)
    assert len(routes) > 40
    for method, template, path in routes:
        if template in PUBLIC:
            continue
        r = await client.request(method, path, json={})
        assert r.status_code == 401, f"{method} {template} answered {r.status_code} without a token"


async def test_employees_cannot_reach_console_or_platform_routes(world: World) -> None:
    t = await world.enterprise("acme")
    await world.user(t, "甲", "13800000001")
    employee = bearer((await world.code_login("13800000001"))["access_token"])
    for method, template, path in _routes(world.services):
        if (
            template in PUBLIC
            or template.startswith(EMPLOYEE_PREFIXES)
            or (method, template) in EMPLOYEE_ROUTES
        ):
            continue
        r = await world.client.request(method, path, json={}, headers=employee)
        assert r.status_code == 403, f"{method} {template} answered {r.status_code} to an employee"


async def test_enterprise_admins_cannot_reach_platform_routes(world: World) -> None:
    t = await world.enterprise("acme")
    admin = bearer(t.admin_token)
    for method, template, path in _routes(world.services):
        if not template.startswith("/api/v1/platform/"):
            continue
        r = await world.client.request(method, path, json={}, headers=admin)
        assert r.status_code == 403, f"{method} {template} answered {r.status_code} to an admin"
