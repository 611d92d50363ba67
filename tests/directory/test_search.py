"""Search (DIR-9, CALL-2): through the API, ranked, private parts, kept current, isolated."""

from __future__ import annotations

from typing import Any

from tests.conftest import World, make_settings
from tests.directory.conftest import Console, enterprise
from zongji.services import build_services

URL = "/api/v1/directory/search"


async def names(console: Console, q: str, headers: dict[str, str] | None = None) -> list[str]:
    r = await console.call("GET", URL, params={"q": q}, **({"headers": headers} if headers else {}))
    assert r.status_code == 200, r.text
    return [item["name"] for item in r.json()["items"]]


async def people(acme: Console) -> dict[str, Any]:
    made = {}
    for name, mobile, extra in [
        ("张三", "13800000001", {"extension": "8001"}),
        ("张三丰", "13800000002", {"extension": "8002"}),
        ("李张三", "13800000003", {"extension": "8103"}),
        ("曾小贤", "13900000004", {"extension": "8004"}),
        ("单田芳", "13900000005", {"extension": "8005"}),
        ("解晓东", "13700000006", {"extension": "8006"}),
        ("区志强", "13700000007", {"extension": "8007", "pinned": True, "pin_order": 1}),
        ("赵四", "13700001234", {"extension": "8008"}),
    ]:
        made[name] = await acme.user(name, mobile, **extra)
    return made


async def test_names_pinyin_initials_mixed_extensions_and_phones(acme: Console) -> None:
    await people(acme)
    assert await names(acme, "张三") == ["张三", "张三丰", "李张三"]
    assert await names(acme, "zhangsan") == ["张三", "张三丰", "李张三"]
    assert await names(acme, "zs") == ["张三", "赵四", "张三丰", "李张三"]  # 赵四 is zs too
    assert await names(acme, "zhangs") == ["张三", "张三丰", "李张三"]
    assert await names(acme, "张s") == ["张三", "张三丰", "李张三"]
    assert await names(acme, "zsf") == ["张三丰"]
    assert await names(acme, "ＺＥＮＧ") == ["曾小贤"]  # surname reading, full-width
    assert await names(acme, "zxx") == ["曾小贤"]
    assert await names(acme, "shantianfang") == ["单田芳"]
    assert await names(acme, "dantianfang") == ["单田芳"]  # heteronym
    assert await names(acme, "xiexiaodong") == ["解晓东"]
    assert await names(acme, "ouzhiqiang") == ["区志强"]
    # extension prefix 800 (pinned first, then pinyin order), then 李张三 by the 800 in 13800000003
    assert await names(acme, "800") == [
        "区志强", "单田芳", "解晓东", "曾小贤", "张三", "张三丰", "赵四", "李张三",
    ]  # fmt: skip
    assert await names(acme, "8103") == ["李张三"]
    assert await names(acme, "1234") == ["赵四"]
    assert await names(acme, "+86 139 0000 0005") == ["单田芳"]
    assert await names(acme, "nobody") == []
    r = await acme.call("GET", URL, params={"q": "zs"})
    assert [i["match"] for i in r.json()["items"]] == ["exact", "exact", "prefix", "fuzzy"]


async def test_traditional_and_simplified_characters_find_each_other(acme: Console) -> None:
    """Issue 11 #15: names and queries compare in simplified characters, with the readings of
    the simplified forms (單 as a surname is shan), colleagues and personal contacts alike."""
    await people(acme)  # written in simplified characters
    for name, mobile in [("張大千", "13600000001"), ("曾國藩", "13600000002")]:
        await acme.user(name, mobile)
    assert await names(acme, "張三") == ["张三", "张三丰", "李张三"]
    assert await names(acme, "曾小賢") == ["曾小贤"]
    assert await names(acme, "單田芳") == ["单田芳"]
    assert await names(acme, "單t") == ["单田芳"]
    assert await names(acme, "张大千") == ["張大千"]
    assert await names(acme, "zhangdaqian") == ["張大千"]
    assert await names(acme, "曾国藩") == ["曾國藩"]
    assert await names(acme, "zengguofan") == ["曾國藩"]  # surname reading: 曾 is zeng
    me = await acme.employee("13800000001")
    contact = {"name": "單小芳", "phones": ["13500000001"]}
    r = await acme.call("POST", "/api/v1/me/contacts", json=contact, headers=me)
    assert r.status_code == 201
    assert await names(acme, "单小芳", me) == ["單小芳"]
    assert await names(acme, "shanxf", me) == ["單小芳"]


async def test_favourites_and_personal_contacts_of_the_searcher_only(acme: Console) -> None:
    made = await people(acme)
    me = await acme.employee("13800000001")
    other = await acme.employee("13800000002")
    r = await acme.call(
        "POST",
        "/api/v1/me/contacts",
        json={"name": "张三叔", "phones": ["13600000001"]},
        headers=me,
    )
    assert r.status_code == 201
    assert await names(acme, "zhangs", me) == ["张三", "张三丰", "张三叔", "李张三"]
    assert "张三叔" not in await names(acme, "zhangs", other)
    assert "张三叔" not in await names(acme, "zhangs")  # the console has no personal contacts
    r = await acme.call(
        "POST",
        "/api/v1/me/favourites",
        json={"kind": "user", "id": made["张三丰"]["id"]},
        headers=me,
    )
    assert r.status_code == 201
    assert await names(acme, "zhangs", me) == ["张三丰", "张三", "张三叔", "李张三"]
    r = await acme.call("GET", URL, params={"q": "zhangs"}, headers=me)
    assert r.json()["items"][0]["favourite"] is True
    assert await names(acme, "zhangs", other) == ["张三", "张三丰", "李张三"]
    assert await names(acme, "1360000", me) == ["张三叔"]


async def test_search_follows_changes_at_once(acme: Console) -> None:
    made = await people(acme)
    assert await names(acme, "zhaosi") == ["赵四"]  # the index is built now
    await acme.call("PATCH", f"/api/v1/directory/users/{made['赵四']['id']}", json={"name": "钱五"})
    assert await names(acme, "zhaosi") == []
    assert await names(acme, "qianwu") == ["钱五"]
    await acme.call("DELETE", f"/api/v1/directory/users/{made['张三']['id']}")
    assert await names(acme, "zhangsan") == ["张三丰", "李张三"]
    await acme.user("张三", "13800000011")
    assert await names(acme, "zhangsan") == ["张三", "张三丰", "李张三"]


async def test_a_second_node_sees_changes_without_events(
    acme: Console, world: World, tmp_path: Any
) -> None:
    """Two nodes on one database with no shared bus: the feed head keeps the other node current."""
    await people(acme)
    other_node = build_services(
        make_settings(world.services.db.url, tmp_path / "node-b"), clock=world.services.clock
    )
    try:
        first = await other_node.directory.search.search(acme.tenant.id, "zhaosi")
        assert [i.name for i in first.items] == ["赵四"]
        await acme.user("赵思", "13800000012")  # made on node A; node B hears nothing
        again = await other_node.directory.search.search(acme.tenant.id, "zhaosi")
        assert [i.name for i in again.items] == ["赵四", "赵思"]
    finally:
        await other_node.close()


POLYPHONIC = [  # many readings: 区 ou/qu, 单 shan/dan/chan, 长 chang/zhang, 乐 le/yue/yao …
    ("区志强", "13700000017"), ("单长乐", "13700000018"), ("查重行", "13700000019"),
    ("曾乐乐", "13700000020"), ("解长重", "13700000021"), ("朴单单", "13700000022"),
]  # fmt: skip
SAME_QUERIES = [
    "qzq", "ozq", "quzhiqiang", "ouzhijiang", "区z", "dcl", "dzy", "shanzhangyao", "chanchangle",
    "zcx", "zhazhongxing", "chazhonghang", "zyy", "cengyueyue", "jzc", "xiezhangzhong",
    "pdd", "piaoshandan", "单c", "长乐", "zhang", "zhangs", "张s", "z", "s", "138", "80",
]  # fmt: skip


async def test_the_same_data_gives_the_same_results_before_and_after_a_restart(
    acme: Console, world: World, tmp_path: Any
) -> None:
    """Issue 11 #16: people changed since the index was built (searched through its overlay)
    are found by exactly the queries, in exactly the order, that an index built from the
    database after a restart finds them by; 区志强 is `qzq` (qu, a common misreading) either way."""
    made = await people(acme)
    for i, given in enumerate("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉"):
        await acme.user(f"张{given}", f"136{i:08d}")  # more zhang… than a page of results
    assert await names(acme, "zhaosi") == ["赵四"]  # node A builds its index now
    for name, mobile in POLYPHONIC:  # … and hears of these only through the feed
        await acme.user(name, mobile)
    await acme.call("PATCH", f"/api/v1/directory/users/{made['赵四']['id']}", json={"name": "张四"})
    await acme.call("PATCH", f"/api/v1/directory/users/{made['张三']['id']}", json={"pinned": True})
    await acme.call("DELETE", f"/api/v1/directory/users/{made['张三丰']['id']}")
    before = {q: await hits(acme, q) for q in SAME_QUERIES}

    restarted = build_services(
        make_settings(world.services.db.url, tmp_path / "restart"), clock=world.services.clock
    )
    try:
        after = {}
        for q in SAME_QUERIES:
            found = await restarted.directory.search.search(acme.tenant.id, q)
            after[q] = [(i.name, i.match) for i in found.items]
    finally:
        await restarted.close()
    assert after == before
    assert ("区志强", "exact") in before["qzq"]
    assert ("区志强", "exact") in before["ozq"]
    assert before["dcl"] == [("单长乐", "exact")]
    assert ("解长重", "exact") in before["jzc"]


async def hits(console: Console, q: str) -> list[tuple[str, str]]:
    r = await console.call("GET", URL, params={"q": q})
    assert r.status_code == 200, r.text
    return [(item["name"], item["match"]) for item in r.json()["items"]]


async def test_another_enterprise_is_never_found(acme: Console, world: World) -> None:
    await people(acme)
    other = Console(world, await enterprise(world, "other"))
    await other.user("张大", "13800000001")
    assert await names(other, "zhang") == ["张大"]
    assert await names(other, "138") == ["张大"]
    assert await names(acme, "zhangda") == []


async def test_empty_and_long_queries(acme: Console) -> None:
    await people(acme)
    assert await names(acme, "   ") == []
    r = await acme.call("GET", URL, params={"q": "x" * 65})
    assert r.status_code == 422
    assert await names(acme, "zhangsanfengzhangsanfengzhang") == []
