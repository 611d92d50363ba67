"""The policy API: the holiday calendar (enterprise admins), a user's policy and minutes as the
admin and the user see them, and validation of policy edits on the user."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import Tenant, World, bearer
from tests.pbx.policy.helpers import OTHER_CITY_MOBILE, nanjing, outside, set_local, subscriber
from zongji.pbx.contracts import Subscriber, TenantLine
from zongji.platform.clock import FakeClock

CAL = "/api/v1/policy/calendar"
USERS = "/api/v1/directory/users"


class Admin:
    def __init__(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        self.client = client
        self.headers = bearer(tenant.admin_token)
        self.tenant = tenant
        self.tenant_id = tenant.id

    async def call(self, method: str, url: str, **kw: Any) -> httpx.Response:
        return await self.client.request(method, url, headers=self.headers, **kw)


@pytest.fixture
async def admin(world: World) -> Admin:
    return Admin(world.client, await world.enterprise("acme"))


YEAR_2026: dict[str, Any] = {
    "year": 2026,
    "days": [
        {"date": "2026-01-01", "kind": "holiday", "name": "元旦"},
        {"date": "2026-01-04", "kind": "workday", "name": "元旦调休"},
        {"date": "2026-02-16", "kind": "holiday", "name": " 春节 "},
    ],
}


async def test_the_calendar_a_year_at_a_time(admin: Admin, world: World) -> None:
    r = await admin.call("PUT", CAL, json=YEAR_2026)
    assert r.status_code == 200, r.text
    assert [d["name"] for d in r.json()["days"]] == ["元旦", "元旦调休", "春节"]
    # a day of another year is left alone by a year's replacement
    r = await admin.call("PUT", f"{CAL}/2027-01-01", json={"kind": "holiday", "name": "元旦"})
    assert r.status_code == 200, r.text
    r = await admin.call("PUT", CAL, json={"year": 2026, "days": YEAR_2026["days"][:1]})
    assert [d["date"] for d in r.json()["days"]] == ["2026-01-01"]
    r = await admin.call("GET", CAL, params={"year": 2027})
    assert r.json() == {
        "year": 2027,
        "days": [{"date": "2027-01-01", "kind": "holiday", "name": "元旦"}],
    }
    # without a year: this year in the enterprise's time zone (the fake clock is in 2026)
    assert (await admin.call("GET", CAL)).json()["year"] == 2026

    r = await admin.call("PUT", f"{CAL}/2026-01-01", json={"kind": "workday", "name": "改"})
    assert r.json() == {"date": "2026-01-01", "kind": "workday", "name": "改"}
    assert (await admin.call("DELETE", f"{CAL}/2026-01-01")).status_code == 204
    assert (await admin.call("DELETE", f"{CAL}/2026-01-01")).status_code == 404
    assert (await admin.call("GET", CAL, params={"year": 2026})).json()["days"] == []

    # another enterprise has a calendar of its own
    other = await world.enterprise("other")
    r = await world.client.get(CAL, params={"year": 2027}, headers=bearer(other.admin_token))
    assert r.json()["days"] == []


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"year": 2026, "days": [{"date": "2025-12-31", "kind": "holiday"}]}, "date_outside_year"),
        (
            {
                "year": 2026,
                "days": [
                    {"date": "2026-05-01", "kind": "holiday"},
                    {"date": "2026-05-01", "kind": "workday"},
                ],
            },
            "duplicate_date",
        ),
        ({"year": 2026, "days": [{"date": "2026-05-01", "kind": "festival"}]}, "enum"),
        (
            {"year": 2026, "days": [{"date": "2026-05-32", "kind": "holiday"}]},
            "date_from_datetime_parsing",
        ),
        (
            {"year": 2026, "days": [{"date": "2026-05-01", "kind": "holiday", "name": "x" * 65}]},
            "string_too_long",
        ),
        ({"year": 1999, "days": []}, "greater_than_equal"),
        ({"year": 2026, "days": [], "extra": 1}, "extra_forbidden"),
    ],
)
async def test_bad_calendars_are_refused_and_nothing_is_written(
    admin: Admin, body: dict[str, Any], code: str
) -> None:
    assert (await admin.call("PUT", CAL, json=YEAR_2026)).status_code == 200
    r = await admin.call("PUT", CAL, json=body)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "validation_failed"
    assert code in {e["code"] for e in r.json()["errors"]}, r.json()
    assert len((await admin.call("GET", CAL, params={"year": 2026})).json()["days"]) == 3


async def test_a_bad_day_in_the_path(admin: Admin) -> None:
    r = await admin.call("PUT", f"{CAL}/2026-02-30", json={"kind": "holiday"})
    assert r.status_code == 422
    r = await admin.call("PUT", f"{CAL}/2026-02-03", json={"kind": "weekend"})
    assert r.status_code == 422


async def test_employees_cannot_edit_the_calendar(admin: Admin, world: World) -> None:
    await world.user(admin.tenant, "甲", "13800000001")
    token = (await world.code_login("13800000001"))["access_token"]
    for method, url in (("GET", CAL), ("PUT", CAL), ("DELETE", f"{CAL}/2026-01-01")):
        r = await world.client.request(method, url, json=YEAR_2026, headers=bearer(token))
        assert r.status_code == 403, (method, url)


def _line(admin: Admin, user: dict[str, Any]) -> tuple[TenantLine, Subscriber]:
    """The enterprise and the user as the PBX's view would hand them to the policy."""
    tenant = nanjing(admin.tenant_id)
    return tenant, subscriber(
        tenant, user_id=uuid.UUID(user["id"]), monthly_minutes=user["monthly_minutes"]
    )


async def test_frozen_shows_to_admin_and_user_and_a_raise_unfreezes(
    admin: Admin, world: World, clock: FakeClock
) -> None:
    set_local(clock, "2026-01-05 10:00:00")
    r = await admin.call(
        "POST", USERS, json={"name": "甲", "mobile": "13800000001", "monthly_minutes": 2}
    )
    user = r.json()
    policy = world.services.pbx.policy
    tenant, caller = _line(admin, user)
    assert (await policy.authorise("a", tenant, caller, outside(OTHER_CITY_MOBILE))).allowed
    assert await policy.answered("a") == 120

    token = (await world.code_login("13800000001"))["access_token"]
    mine = (await world.client.get("/api/v1/me/policy", headers=bearer(token))).json()
    assert mine["reserved_minutes"] == 2
    assert mine["left_minutes"] == 0
    assert not mine["frozen"]  # held by the live call, not used up

    await policy.ended("a", 100)
    seen = (await admin.call("GET", f"/api/v1/policy/users/{user['id']}")).json()
    assert {k: seen[k] for k in ("monthly_minutes", "used_minutes", "left_minutes", "frozen")} == {
        "monthly_minutes": 2,
        "used_minutes": 2,
        "left_minutes": 0,
        "frozen": True,
    }
    assert seen["month"] == "2026-01"
    mine = (await world.client.get("/api/v1/me/policy", headers=bearer(token))).json()
    assert mine["frozen"]
    assert mine["outbound_restriction"] == "domestic"
    refused = await policy.authorise("b", tenant, caller, outside(OTHER_CITY_MOBILE))
    assert refused.rule == "quota_exhausted"

    r = await admin.call("PATCH", f"{USERS}/{user['id']}", json={"monthly_minutes": 10})
    assert r.status_code == 200
    seen = (await admin.call("GET", f"/api/v1/policy/users/{user['id']}")).json()
    assert (seen["frozen"], seen["left_minutes"], seen["used_minutes"]) == (False, 8, 2)
    tenant, caller = _line(admin, r.json())
    decision = await policy.authorise("c", tenant, caller, outside(OTHER_CITY_MOBILE))
    assert decision.allowed
    assert decision.max_seconds == 8 * 60
    await policy.ended("c", 0)

    r = await admin.call("PATCH", f"{USERS}/{user['id']}", json={"monthly_minutes": None})
    seen = (await admin.call("GET", f"/api/v1/policy/users/{user['id']}")).json()
    assert (seen["frozen"], seen["left_minutes"], seen["monthly_minutes"]) == (False, None, None)


async def test_my_policy_shows_time_rule_and_validity(
    admin: Admin, world: World, clock: FakeClock
) -> None:
    r = await admin.call(
        "POST",
        USERS,
        json={
            "name": "乙",
            "mobile": "13800000002",
            "outbound_restriction": "local",
            "outbound_time": "workdays",
            "work_start": "08:30",
            "work_end": "17:30",
            "valid_until": "2026-01-05",
        },
    )
    assert r.status_code == 201, r.text
    user_id = r.json()["id"]
    set_local(clock, "2026-01-05 23:50:00")  # a Monday night, the last valid day
    token = (await world.code_login("13800000002"))["access_token"]
    mine = (await world.client.get("/api/v1/me/policy", headers=bearer(token))).json()
    assert mine["outbound_restriction"] == "local"
    assert (mine["outbound_time"], mine["work_start"], mine["work_end"]) == (
        "workdays",
        "08:30",
        "17:30",
    )
    assert mine["outside_hours_now"] is True
    assert (mine["valid_until"], mine["valid_now"]) == ("2026-01-05", True)
    assert (mine["monthly_minutes"], mine["left_minutes"], mine["frozen"]) == (None, None, False)
    assert mine["enterprise_active"]
    assert not mine["international_enabled"]
    # the day after, the user is out of service (can't log in: item 18); the admin sees why
    set_local(clock, "2026-01-06 00:00:00")
    console = bearer(await world.password_login(admin.tenant.admin_login))
    theirs = (await world.client.get(f"/api/v1/policy/users/{user_id}", headers=console)).json()
    assert (theirs["valid_until"], theirs["valid_now"]) == ("2026-01-05", False)


async def test_another_enterprises_user_is_not_found(admin: Admin, world: World) -> None:
    other = await world.enterprise("other")
    stranger = await world.user(other, "丙", "13800000003")
    r = await admin.call("GET", f"/api/v1/policy/users/{stranger}")
    assert r.status_code == 404


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"work_start": "18:00", "work_end": "09:00"}, "body", "work_hours_order"),
        ({"work_start": "09:00", "work_end": "09:00"}, "body", "work_hours_order"),
        ({"work_end": "08:00"}, "body", "work_hours_order"),  # before the unchanged start
        ({"work_start": "9点"}, "work_start", "value_error"),
        ({"monthly_minutes": -1}, "monthly_minutes", "greater_than_equal"),
        ({"monthly_minutes": 2_000_000}, "monthly_minutes", "less_than_equal"),
        ({"outbound_restriction": "galactic"}, "outbound_restriction", "enum"),
        ({"outbound_time": "weekends"}, "outbound_time", "enum"),
        ({"valid_from": "2026-02-01", "valid_until": "2026-01-01"}, "body", "validity_order"),
        (
            {"outbound_restriction": "international"},
            "outbound_restriction",
            "international_not_allowed",
        ),
    ],
)
async def test_policy_edits_are_validated(
    admin: Admin, change: dict[str, Any], field: str, code: str
) -> None:
    r = await admin.call("POST", USERS, json={"name": "甲", "mobile": "13800000001"})
    user = r.json()
    r = await admin.call("PATCH", f"{USERS}/{user['id']}", json=change)
    assert r.status_code == 422, r.text
    assert {"field": field, "code": code} in [
        {"field": e["field"], "code": e["code"]} for e in r.json()["errors"]
    ], r.json()
    after = (await admin.call("GET", f"{USERS}/{user['id']}")).json()
    assert {k: after[k] for k in change} == {k: user[k] for k in change}  # nothing written


async def test_the_admin_lists_who_is_frozen(admin: Admin, world: World) -> None:
    ids = []
    for i, minutes in enumerate((1, None, 1, 5)):
        r = await admin.call(
            "POST",
            USERS,
            json={"name": f"用户{i}", "mobile": f"1380000001{i}", "monthly_minutes": minutes},
        )
        ids.append(r.json()["id"])
    policy = world.services.pbx.policy
    for user_id in (ids[0], ids[3]):
        tenant, caller = _line(admin, (await admin.call("GET", f"{USERS}/{user_id}")).json())
        assert (await policy.authorise(user_id, tenant, caller, outside(OTHER_CITY_MOBILE))).allowed
        await policy.answered(user_id)
        await policy.ended(user_id, 30)

    r = await admin.call("GET", "/api/v1/policy/users", params={"limit": 3})
    page = r.json()
    assert [p["used_minutes"] for p in page["items"]] == [1, 0, 0]
    assert page["next_cursor"]
    r = await admin.call("GET", "/api/v1/policy/users", params={"cursor": page["next_cursor"]})
    assert [(p["used_minutes"], p["left_minutes"]) for p in r.json()["items"]] == [(1, 4)]
    r = await admin.call("GET", "/api/v1/policy/users", params={"frozen": "true"})
    assert [p["user_id"] for p in r.json()["items"]] == [ids[0]]


async def test_asking_before_dialling(admin: Admin, world: World, clock: FakeClock) -> None:
    r = await admin.call(
        "POST",
        USERS,
        json={"name": "甲", "mobile": "13800000001", "outbound_restriction": "local",
              "monthly_minutes": 10},
    )  # fmt: skip
    user = r.json()
    token = (await world.code_login("13800000001"))["access_token"]

    async def mine(number: str) -> httpx.Response:
        return await world.client.get(
            "/api/v1/me/policy/check", params={"number": number}, headers=bearer(token)
        )

    r = await mine("025-8412 3456")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "dialled": "025-8412 3456",
        "number": "+862584123456",
        "kind": "external",
        "number_class": "local",
        "allowed": True,
        "rule": None,
        "prompt": None,
        "max_seconds": 600,
    }
    other = (await mine("１３９１２３４５６７８")).json()  # full-width digits
    assert (other["number"], other["number_class"]) == ("+8613912345678", "domestic")
    assert (other["allowed"], other["rule"], other["prompt"]) == (
        False,
        "restriction",
        "call_not_permitted",
    )
    assert (await mine("110")).json()["number_class"] == "emergency"
    r = await mine("13912abc")
    assert r.status_code == 422
    assert r.json()["code"] == "dial_invalid_characters"
    assert world.services.pbx.policy.live_calls() == 0  # asking authorised no call

    r = await admin.call(
        "GET", f"/api/v1/policy/users/{user['id']}/check", params={"number": "0014155550123"}
    )
    assert (r.json()["number_class"], r.json()["rule"]) == ("international", "restriction")
    other_ent = await world.enterprise("other")
    stranger = await world.user(other_ent, "乙", "13800000002")
    r = await admin.call("GET", f"/api/v1/policy/users/{stranger}/check", params={"number": "110"})
    assert r.status_code == 404
