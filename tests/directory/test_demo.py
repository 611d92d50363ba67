"""The demo enterprise shows the directory: departments, policies, pinned users, receptionists,
direct lines from a pool, one user's personal contacts — and keeps the first users' numbers."""

from __future__ import annotations

from zongji.demo.enterprise import DEMO_USERS, ensure_demo
from zongji.services import Services


async def test_demo_directory(services: Services) -> None:
    demo = await ensure_demo(services, http_port=8080)
    again = await ensure_demo(services, http_port=8080)  # a second start changes nothing
    assert again["users"] == demo["users"]
    users = demo["users"]
    assert [(u["name"], u["mobile"], u["extension"]) for u in users[:5]] == [
        (u["name"], u["mobile"], u["extension"]) for u in DEMO_USERS
    ]
    assert len(users) == 10
    assert {u["department"] for u in users} >= {"研发部/平台组", "研发部/测试组", "市场部/华东区"}
    assert sum(u["receptionist"] for u in users) == 2
    assert sum(u["contact_manager"] for u in users) == 1
    assert sum(1 for u in users if u["direct_line"]) == 3
    tenant = services.directory.enterprises
    ent = await tenant.find_by_code("demo")
    assert ent is not None
    listing = (await services.directory.users.page(ent.id)).items
    assert [u.name for u in listing[:2]] == ["单田芳", "张三"]  # pinned, by their order
    assert {u.outbound_restriction for u in listing} >= {"internal", "local", "domestic"}
    owner = next(u for u in listing if u.name == "张三")
    assert len(await services.directory.contacts.all(ent.id, owner.id)) == 3
    assert len(await services.directory.favourites.all(ent.id, owner.id)) == 2
    found = await services.directory.search.search(ent.id, "wls", user_id=owner.id)
    assert [i.name for i in found.items] == ["王老师"]
