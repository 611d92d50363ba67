"""Extension plans (ADM-5) and number pools (ADM-13, CALL-9)."""

from __future__ import annotations

import pytest

from tests.conftest import World, bearer
from tests.directory.conftest import Console, enterprise
from zongji.directory.extensions import reserved_reason
from zongji.directory.numbers import RouteKind

PLAN = "/api/v1/directory/extension-plan"


@pytest.mark.parametrize(
    ("number", "reserved"),
    [("110", True), ("119", True), ("120", True), ("122", True), ("114", True), ("999", True),
     ("0123", True), ("10086", True), ("12345", True), ("95588", True), ("8001", False),
     ("200", False), ("1100", False), ("20086", False)],
)  # fmt: skip
def test_reserved_numbers(number: str, reserved: bool) -> None:
    assert (reserved_reason(number) is not None) is reserved


async def test_plan_defaults_changes_and_listing(acme: Console) -> None:
    r = await acme.call("GET", PLAN)
    assert r.json()["length"] == 4
    assert r.json()["capacity"] == 1000
    r = await acme.call(
        "PUT",
        PLAN,
        json={
            "length": 3,
            "ranges": [{"start": "100", "end": "129"}, {"start": "２００", "end": "209"}],
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["capacity"] == 10  # 100–129 are all special-service numbers; 200–209 remain
    user = await acme.user("甲", "13800000001")
    assert user["extension"] == "200"
    r = await acme.call(
        "POST",
        "/api/v1/directory/users",
        json={"name": "乙", "mobile": "13800000002", "extension": "119"},
    )
    assert r.json()["errors"][0]["code"] == "extension_reserved"
    r = await acme.call("GET", "/api/v1/directory/extensions", params={"state": "used"})
    assert [(e["extension"], e["user_name"]) for e in r.json()["items"]] == [("200", "甲")]
    r = await acme.call("GET", "/api/v1/directory/extensions", params={"state": "free", "limit": 3})
    page = r.json()
    assert [e["extension"] for e in page["items"]] == ["201", "202", "203"]
    r = await acme.call(
        "GET",
        "/api/v1/directory/extensions",
        params={"state": "free", "cursor": page["next_cursor"]},
    )
    assert [e["extension"] for e in r.json()["items"]][:2] == ["204", "205"]
    r = await acme.call("GET", "/api/v1/directory/extensions", params={"state": "all", "limit": 2})
    assert [(e["extension"], e["user_name"]) for e in r.json()["items"]] == [
        ("200", "甲"),
        ("201", None),
    ]
    r = await acme.call(
        "PUT", PLAN, json={"length": 4, "ranges": [{"start": "8000", "end": "8999"}]}
    )
    assert (r.status_code, r.json()["code"]) == (409, "extensions_outside_plan")
    assert r.json()["extensions"] == ["200"]


async def test_bad_plans_are_refused(acme: Console) -> None:
    for body in (
        {"length": 2, "ranges": [{"start": "10", "end": "20"}]},
        {"length": 4, "ranges": [{"start": "8000", "end": "899"}]},
        {"length": 4, "ranges": [{"start": "8999", "end": "8000"}]},
        {
            "length": 4,
            "ranges": [{"start": "8000", "end": "8500"}, {"start": "8400", "end": "8999"}],
        },
        {"length": 4, "ranges": []},
    ):
        r = await acme.call("PUT", PLAN, json=body)
        assert r.status_code == 422, body


async def test_only_console_admins_change_the_plan(acme: Console) -> None:
    await acme.user("经理", "13800000009", is_admin=True)
    manager = await acme.employee("13800000009")
    r = await acme.call(
        "PUT",
        PLAN,
        json={"length": 4, "ranges": [{"start": "8000", "end": "8999"}]},
        headers=manager,
    )
    assert r.status_code == 403


async def test_number_pool_is_unique_across_the_platform(acme: Console, world: World) -> None:
    op = bearer(await world.operator_token())
    other = await enterprise(world, "other", main_number="025-84009999")
    pool = f"/api/v1/platform/enterprises/{acme.tenant.id}/numbers"
    r = await world.client.post(pool, json={"numbers": ["84001111", "025 8400 1112"]}, headers=op)
    assert r.status_code == 201, r.text
    assert [n["number"] for n in r.json()] == ["+862584001111", "+862584001112"]
    theirs = f"/api/v1/platform/enterprises/{other.id}/numbers"
    r = await world.client.post(theirs, json={"numbers": ["02584001111"]}, headers=op)
    assert r.status_code == 422
    assert r.json()["errors"][0]["code"] == "number_taken"
    r = await world.client.post(
        pool, json={"numbers": ["02584009999"]}, headers=op
    )  # their main number
    assert r.json()["errors"][0]["code"] == "number_taken"
    r = await world.client.post(pool, json={"numbers": ["abc"]}, headers=op)
    assert r.json()["errors"][0] == {
        **r.json()["errors"][0],
        "field": "numbers.0",
        "code": "invalid_number",
    }
    r = await world.client.patch(
        f"/api/v1/platform/enterprises/{other.id}", json={"main_number": "84001112"}, headers=op
    )
    assert (r.status_code, r.json()["code"]) == (409, "number_taken")

    # One user per number; another enterprise cannot hand it out.
    a = await acme.user("甲", "13800000001", direct_line="84001111")
    r = await acme.call(
        "POST",
        "/api/v1/directory/users",
        json={"name": "乙", "mobile": "13800000002", "direct_line": "84001111"},
    )
    assert r.json()["errors"][0]["code"] == "number_assigned"
    r = await world.client.post(
        "/api/v1/directory/users",
        json={"name": "丙", "mobile": "13800000003", "direct_line": "84001112"},
        headers=bearer(other.admin_token),
    )
    assert r.json()["errors"][0]["code"] == "number_not_in_pool"
    r = await world.client.get("/api/v1/directory/numbers", headers=bearer(other.admin_token))
    assert r.json() == []

    # The PBX's lookup: a called number finds the enterprise and the user.
    route = await world.services.directory.numbers.route("+862584001111")
    assert route is not None
    assert (route.tenant_id, route.kind, str(route.user_id)) == (
        acme.tenant.id,
        RouteKind.DIRECT_LINE,
        a["id"],
    )
    route = await world.services.directory.numbers.route("+862584001112")
    assert route is not None
    assert (route.kind, route.user_id) == (RouteKind.POOL, None)
    route = await world.services.directory.numbers.route("+862584000000")
    assert route is not None
    assert (route.tenant_id, route.kind) == (acme.tenant.id, RouteKind.MAIN)
    assert await world.services.directory.numbers.route("+862584007777") is None

    r = await world.client.delete(f"{pool}/+862584001111", headers=op)
    assert (r.status_code, r.json()["code"]) == (409, "number_assigned")
    r = await acme.call(
        "PATCH", f"/api/v1/directory/users/{a['id']}", json={"direct_line": "84001112"}
    )
    assert r.json()["direct_line"] == "+862584001112"
    r = await world.client.delete(f"{pool}/+862584001111", headers=op)
    assert r.status_code == 204
    r = await acme.call("GET", "/api/v1/directory/numbers")
    assert [(n["number"], n["user_name"]) for n in r.json()] == [("+862584001112", "甲")]
