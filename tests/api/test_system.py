"""Health, metrics and server status (ADM-25, ADM-28)."""

from __future__ import annotations

import httpx

from tests.conftest import World, bearer
from zongji import __version__
from zongji.platform.clock import FakeClock
from zongji.platform.nodes import NodeState


async def test_healthz_reports_readiness(client: httpx.AsyncClient) -> None:
    r = await client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "ready": True, "database": "ok"}


async def test_metrics_count_requests_by_route_template(world: World) -> None:
    t = await world.enterprise("acme")
    op = bearer(await world.operator_token())
    await world.client.get(f"/api/v1/platform/enterprises/{t.id}", headers=op)
    text = (await world.client.get("/metrics")).text
    assert 'route="/api/v1/platform/enterprises/{enterprise_id}"' in text
    assert str(t.id) not in text
    assert "zongji_http_request_seconds_bucket" in text


async def test_status_lists_nodes_for_console_users_only(world: World, clock: FakeClock) -> None:
    nodes = world.services.nodes
    await nodes.announce({"http": 8080, "sip": {"udp": 5060}}, NodeState.RUNNING)
    t = await world.enterprise("acme")
    await world.user(t, "甲", "13800000001")
    employee = (await world.code_login("13800000001"))["access_token"]
    r = await world.client.get("/api/v1/system/status", headers=bearer(employee))
    assert r.status_code == 403
    for token in (t.admin_token, await world.operator_token()):
        r = await world.client.get("/api/v1/system/status", headers=bearer(token))
        assert r.status_code == 200
        body = r.json()
        assert body["version"] == __version__
        [node] = body["nodes"]
        assert node["name"] == "test-node"
        assert node["state"] == "running"
        assert node["ports"] == {"http": 8080, "sip": {"udp": 5060}}
    clock.advance(60)  # no heartbeat for a minute
    r = await world.client.get("/api/v1/system/status", headers=bearer(t.admin_token))
    assert r.json()["nodes"][0]["state"] == "unreachable"
    await nodes.heartbeat()
    r = await world.client.get("/api/v1/system/status", headers=bearer(t.admin_token))
    assert r.json()["nodes"][0]["state"] == "running"


async def test_every_user_reads_the_version_and_their_own_company(world: World) -> None:
    """Item 20: an employee's about page shows the product version and the company's name."""
    t = await world.enterprise("acme", main_number="025-84000000")
    other = await world.enterprise("other")
    await world.user(t, "甲", "13800000001")
    await world.user(other, "乙", "13900000001")
    employee = bearer((await world.code_login("13800000001"))["access_token"])
    r = await world.client.get("/api/v1/system/version", headers=employee)
    assert r.status_code == 200, r.text
    assert r.json() == {"version": __version__, "api_version": "v1"}
    r = await world.client.get("/api/v1/directory/enterprise", headers=employee)
    assert r.status_code == 200, r.text
    card = r.json()
    assert (card["name"], card["code"], card["main_number"]) == (
        "acme 公司",
        "acme",
        "+862584000000",
    )
    assert "max_users" not in card
    assert "features" not in card
    stranger = bearer((await world.code_login("13900000001"))["access_token"])
    r = await world.client.get("/api/v1/directory/enterprise", headers=stranger)
    assert r.json()["name"] == "other 公司"
    for token in (t.admin_token, await world.operator_token()):
        r = await world.client.get("/api/v1/system/version", headers=bearer(token))
        assert r.status_code == 200
    r = await world.client.get("/api/v1/system/version")
    assert r.status_code == 401
