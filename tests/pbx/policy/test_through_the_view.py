"""The policy as the call engine meets it: enterprises and users from the PBX's in-memory view,
changed through the public API by the operator and the enterprise admin. What they change takes
effect on the next call: international calling once the operator enables it, a suspended
enterprise at once, a raised quota unfreezing the user at once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

from tests.conftest import World, bearer
from tests.pbx.policy.helpers import INTERNATIONAL, LOCAL_LANDLINE, emergency, extension, outside
from zongji.pbx.contracts import Subscriber, TenantLine
from zongji.services import Services


async def _until_view(
    services: Services,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    ready: Callable[[TenantLine, Subscriber], bool],
) -> tuple[TenantLine, Subscriber]:
    """The enterprise and user from the view, once the change has reached it."""
    view = services.pbx.view
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while True:
        tenant = await view.tenant(tenant_id)
        caller = await view.subscriber(tenant_id, user_id)
        if tenant is not None and caller is not None and ready(tenant, caller):
            return tenant, caller
        assert loop.time() < deadline, "the change never reached the PBX's view"
        await asyncio.sleep(0.02)


async def test_international_refused_until_the_operator_enables_it(world: World) -> None:
    services = world.services
    acme = await world.enterprise("acme")
    user = await world.user(acme, "甲", "13800000001")
    policy = services.pbx.policy
    tenant, caller = await _until_view(services, acme.id, user, lambda t, s: True)
    assert tenant.area_code == "25"
    refused = await policy.authorise("a", tenant, caller, outside(INTERNATIONAL))
    assert (refused.allowed, refused.rule) == (False, "restriction")

    # the admin can't give the level while the operator's switch is off …
    admin = bearer(acme.admin_token)
    url = f"/api/v1/directory/users/{user}"
    r = await world.client.patch(url, json={"outbound_restriction": "international"}, headers=admin)
    assert r.json()["errors"][0]["code"] == "international_not_allowed"
    # … the operator switches it on, the admin gives the level, the next call goes through
    operator = bearer(await world.operator_token())
    r = await world.client.patch(
        f"/api/v1/platform/enterprises/{acme.id}",
        json={"features": {"international_calling": True}},
        headers=operator,
    )
    assert r.status_code == 200, r.text
    r = await world.client.patch(url, json={"outbound_restriction": "international"}, headers=admin)
    assert r.status_code == 200, r.text
    tenant, caller = await _until_view(
        services, acme.id, user, lambda t, s: s.outbound_restriction == "international"
    )
    assert (await policy.authorise("b", tenant, caller, outside(INTERNATIONAL))).allowed

    # the operator switches it off again: refused, though the user keeps the level
    r = await world.client.patch(
        f"/api/v1/platform/enterprises/{acme.id}",
        json={"features": {"international_calling": False}},
        headers=operator,
    )
    tenant, caller = await _until_view(
        services, acme.id, user, lambda t, s: not t.features.get("international_calling")
    )
    again = await policy.authorise("c", tenant, caller, outside(INTERNATIONAL))
    assert (again.allowed, again.rule) == (False, "international_disabled")


async def test_suspending_the_enterprise_stops_every_call_but_emergency(world: World) -> None:
    services = world.services
    acme = await world.enterprise("acme")
    user = await world.user(acme, "甲", "13800000001")
    operator = bearer(await world.operator_token())
    r = await world.client.post(
        f"/api/v1/platform/enterprises/{acme.id}/suspend", json={}, headers=operator
    )
    assert r.status_code == 200, r.text
    tenant, caller = await _until_view(services, acme.id, user, lambda t, s: not t.active)
    policy = services.pbx.policy
    for dialled in (extension(), outside(LOCAL_LANDLINE)):
        refused = await policy.authorise("s", tenant, caller, dialled)
        assert (refused.allowed, refused.rule) == (False, "enterprise_suspended")
    assert (await policy.authorise("e", tenant, caller, emergency("110"))).allowed


async def test_raising_the_quota_unfreezes_the_next_call(world: World) -> None:
    services = world.services
    acme = await world.enterprise("acme")
    user = await world.user(acme, "甲", "13800000001", monthly_minutes=1)
    policy = services.pbx.policy
    tenant, caller = await _until_view(services, acme.id, user, lambda t, s: True)
    assert (await policy.authorise("a", tenant, caller, outside(LOCAL_LANDLINE))).allowed
    assert await policy.answered("a") == 60
    await policy.ended("a", 60)
    frozen = await policy.authorise("b", tenant, caller, outside(LOCAL_LANDLINE))
    assert frozen.rule == "quota_exhausted"

    r = await world.client.patch(
        f"/api/v1/directory/users/{user}",
        json={"monthly_minutes": 4},
        headers=bearer(acme.admin_token),
    )
    assert r.status_code == 200, r.text
    tenant, caller = await _until_view(services, acme.id, user, lambda t, s: s.monthly_minutes == 4)
    decision = await policy.authorise("c", tenant, caller, outside(LOCAL_LANDLINE))
    assert decision.allowed
    assert decision.max_seconds == 3 * 60
    await policy.ended("c", 0)
