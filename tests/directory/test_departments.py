"""The department tree (DIR-2, ADM-4) through the API."""

from __future__ import annotations

from typing import Any

from tests.conftest import World
from tests.directory.conftest import Console, enterprise

URL = "/api/v1/directory/departments"


def find(nodes: list[dict[str, Any]], name: str) -> dict[str, Any]:
    for node in nodes:
        if node["name"] == name:
            return node
        try:
            return find(node["children"], name)
        except KeyError:
            pass
    raise KeyError(name)


async def test_tree_of_any_depth_with_member_counts_including_sub_departments(
    acme: Console,
) -> None:
    rd = await acme.department("研发部")
    test = await acme.department("测试组", rd["id"])
    auto = await acme.department("自动化", test["id"])
    sales = await acme.department("销售部")
    await acme.user("张三", "13800000001", department_id=rd["id"])
    await acme.user("李四", "13800000002", department_id=test["id"])
    await acme.user("王五", "13800000003", department_id=auto["id"])
    await acme.user("赵六", "13800000004", department_id=sales["id"])

    r = await acme.call("GET", URL)
    tree = r.json()
    assert [n["name"] for n in tree] == ["研发部", "销售部"]
    assert find(tree, "研发部")["member_count"] == 3
    assert find(tree, "研发部")["direct_member_count"] == 1
    assert find(tree, "测试组")["member_count"] == 2
    assert find(tree, "自动化")["path"] == "研发部/测试组/自动化"
    r = await acme.call("GET", "/api/v1/directory/users", params={"department_id": rd["id"]})
    assert {u["name"] for u in r.json()["items"]} == {"张三", "李四", "王五"}
    r = await acme.call(
        "GET", "/api/v1/directory/users", params={"department_id": rd["id"], "include_sub": False}
    )
    assert [u["name"] for u in r.json()["items"]] == ["张三"]


async def test_rename_move_and_reorder(acme: Console) -> None:
    a = await acme.department("甲部")
    b = await acme.department("乙部")
    c = await acme.department("丙部")
    child = await acme.department("小组", a["id"])

    r = await acme.call("PATCH", f"{URL}/{c['id']}", json={"position": 0})
    assert r.status_code == 200
    r = await acme.call("GET", URL)
    assert [n["name"] for n in r.json()] == ["丙部", "甲部", "乙部"]

    r = await acme.call(
        "PATCH", f"{URL}/{child['id']}", json={"parent_id": b["id"], "name": "二组"}
    )
    assert r.json()["path"] == "乙部/二组"
    r = await acme.call("PATCH", f"{URL}/{child['id']}", json={"parent_id": None})
    assert r.json()["path"] == "二组"

    r = await acme.call("PATCH", f"{URL}/{a['id']}", json={"name": "乙部"})
    assert (r.status_code, r.json()["code"]) == (409, "department_name_taken")


async def test_a_department_cannot_move_under_itself(acme: Console) -> None:
    top = await acme.department("总部")
    mid = await acme.department("中层", top["id"])
    low = await acme.department("底层", mid["id"])
    for target in (top["id"], low["id"]):
        r = await acme.call("PATCH", f"{URL}/{top['id']}", json={"parent_id": target})
        assert r.status_code == 422
        assert r.json()["errors"][0]["code"] == "cycle"


async def test_deleting_moves_members_and_sub_departments_to_the_parent(acme: Console) -> None:
    rd = await acme.department("研发部")
    test = await acme.department("测试组", rd["id"])
    auto = await acme.department("自动化", test["id"])
    user = await acme.user("李四", "13800000002", department_id=test["id"])
    r = await acme.call("DELETE", f"{URL}/{test['id']}")
    assert r.status_code == 200
    r = await acme.call("GET", f"/api/v1/directory/users/{user['id']}")
    assert r.json()["department_id"] == rd["id"]  # kept, moved up
    r = await acme.call("GET", f"{URL}/{auto['id']}")
    assert r.json()["path"] == "研发部/自动化"
    r = await acme.call("GET", f"{URL}/{rd['id']}")
    assert r.json()["member_count"] == 1
    r = await acme.call("DELETE", f"{URL}/{rd['id']}")
    r = await acme.call("GET", f"/api/v1/directory/users/{user['id']}")
    assert r.json()["department_id"] is None  # top level: still in the directory


async def test_deleting_says_who_and_what_moved_where(acme: Console) -> None:
    """Issue 11 #24: sub-departments go to the deleted department's parent, not to the top
    level, and the answer, the operation log and the change feed say so."""
    company = await acme.department("总公司")
    rd = await acme.department("研发部", company["id"])
    platform = await acme.department("平台组", rd["id"])
    qa = await acme.department("测试组", rd["id"])
    deep = await acme.department("自动化", qa["id"])
    await acme.department("测试组", company["id"])  # a sibling of 研发部 with a name taken
    a = await acme.user("张三", "13800000001", department_id=rd["id"])
    b = await acme.user("李四", "13800000002", department_id=rd["id"])
    c = await acme.user("王五", "13800000003", department_id=qa["id"])  # stays in 测试组
    cursor = (await acme.call("GET", "/api/v1/directory/changes")).json()["cursor"]

    r = await acme.call("DELETE", f"{URL}/{rd['id']}")
    assert r.status_code == 200, r.text
    done = r.json()
    assert (done["id"], done["path"]) == (rd["id"], "总公司/研发部")
    assert (done["moved_to"], done["moved_to_path"]) == (company["id"], "总公司")
    assert sorted(done["users"]) == sorted([a["id"], b["id"]])
    assert sorted(
        (d["id"], d["name"], d["renamed_from"], d["parent_id"], d["path"])
        for d in done["departments"]
    ) == sorted(
        [
            (platform["id"], "平台组", None, company["id"], "总公司/平台组"),
            (qa["id"], "测试组（研发部）", "测试组", company["id"], "总公司/测试组（研发部）"),
        ]
    )
    tree = (await acme.call("GET", URL)).json()
    assert [n["name"] for n in tree] == ["总公司"]  # nothing went to the top level
    assert find(tree, "自动化")["path"] == "总公司/测试组（研发部）/自动化"
    assert find(tree, "自动化")["id"] == deep["id"]
    r = await acme.call("GET", f"/api/v1/directory/users/{c['id']}")
    assert r.json()["department_id"] == qa["id"]

    feed = (await acme.call("GET", "/api/v1/directory/changes", params={"cursor": cursor})).json()
    assert feed["deleted_departments"] == [rd["id"]]
    assert {(d["id"], d["parent_id"]) for d in feed["departments"]} >= {
        (platform["id"], company["id"]),
        (qa["id"], company["id"]),
    }
    assert {(u["id"], u["department_id"]) for u in feed["users"]} == {
        (a["id"], company["id"]),
        (b["id"], company["id"]),
    }
    log = (
        await acme.call("GET", "/api/v1/operation-log", params={"action": "department.delete"})
    ).json()["items"]
    assert log[0]["summary"] == {
        "path": "总公司/研发部",
        "moved_to": "总公司",
        "members_moved": 2,
        "sub_departments_moved": 2,
        "sub_departments": [
            {"from": "总公司/研发部/平台组", "to": "总公司/平台组"},
            {"from": "总公司/研发部/测试组", "to": "总公司/测试组（研发部）"},
        ],
    }


async def test_bad_names_and_unknown_parents(acme: Console) -> None:
    r = await acme.call("POST", URL, json={"name": "a/b"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "name"
    r = await acme.call("POST", URL, json={"name": "x" * 65})
    assert r.status_code == 422
    r = await acme.call(
        "POST", URL, json={"name": "组", "parent_id": "01890000-0000-7000-8000-000000000000"}
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "parent_id"


async def test_employees_read_contact_managers_edit_others_see_nothing(
    acme: Console, world: World
) -> None:
    await acme.user("经理", "13800000009", is_admin=True)
    await acme.user("员工", "13800000008")
    rd = await acme.department("研发部")
    manager = await acme.employee("13800000009")
    employee = await acme.employee("13800000008")
    r = await acme.call("GET", URL, headers=employee)
    assert [n["name"] for n in r.json()] == ["研发部"]
    r = await acme.call("POST", URL, json={"name": "市场部"}, headers=employee)
    assert r.status_code == 403
    r = await acme.call("POST", URL, json={"name": "市场部"}, headers=manager)
    assert r.status_code == 201

    other = await enterprise(world, "other")
    theirs = {"Authorization": f"Bearer {other.admin_token}"}
    r = await acme.call("GET", URL, headers=theirs)
    assert r.json() == []
    for method in ("GET", "PATCH", "DELETE"):
        r = await acme.call(
            method,
            f"{URL}/{rd['id']}",
            headers=theirs,
            **({"json": {"name": "x"}} if method == "PATCH" else {}),
        )
        assert r.status_code == 404, method
