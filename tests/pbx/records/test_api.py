"""Searching, exporting and a user's own history over the API, as admins and employees use them."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from openpyxl import load_workbook

from tests.conftest import Tenant, World, bearer
from tests.pbx.records.helpers import start, whole_call
from zongji.pbx.contracts import CallDirection, CallEnd, CallStatus, HangupSide, Party
from zongji.pbx.records.export import HEADERS

T0 = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)  # 10:00 in Nanjing


class Office:
    """An enterprise with two employees and a day of calls between them and the outside."""

    def __init__(self, world: World, tenant: Tenant) -> None:
        self.world = world
        self.tenant = tenant
        self.admin = bearer(tenant.admin_token)

    async def people(self) -> None:
        w = self.world
        self.zhang = await w.user(self.tenant, "张三", "13800000001", extension="8001")
        self.li = await w.user(self.tenant, "李四", "13800000002", extension="8002")
        self.zhang_auth = bearer((await w.code_login("13800000001"))["access_token"])
        self.li_auth = bearer((await w.code_login("13800000002"))["access_token"])

    async def day_of_calls(self) -> None:
        records = self.world.services.pbx.records
        tid = self.tenant.id
        zhang = Party("8001", self.zhang, "张三")
        li = Party("8002", self.li, "李四")
        at = T0
        # 1. 张三 → 李四, answered
        await whole_call(records, start(tid, "c1", at, caller=zhang, callee=li), talk=60)
        # 2. 李四 → 张三, no answer (missed for 张三)
        at += timedelta(minutes=10)
        await whole_call(records, start(tid, "c2", at, caller=li, callee=zhang), talk=None)
        # 3. outside → 张三's direct line, the caller hung up while it rang (missed)
        at += timedelta(minutes=10)
        await whole_call(
            records,
            start(
                tid,
                "c3",
                at,
                direction=CallDirection.INBOUND,
                caller=Party("+8613912345678"),
                callee=zhang,
                outside_number="+862566660001",
            ),
            talk=None,
            status=CallStatus.CANCELLED,
        )
        # 4. 张三 → outside, answered for 61 s (2 billed minutes)
        at += timedelta(minutes=10)
        await whole_call(
            records,
            start(
                tid,
                "c4",
                at,
                direction=CallDirection.OUTBOUND,
                caller=zhang,
                callee=Party("+8602584001234"),
                outside_number="+862566660001",
            ),
            talk=61,
        )
        # 5. 李四 → international, refused by the policy; the caller's name starts with '='
        at += timedelta(minutes=10)
        await records.opened(
            start(
                tid,
                "c5",
                at,
                direction=CallDirection.OUTBOUND,
                caller=Party("8002", self.li, "=HYPERLINK(1)"),
                callee=Party("+12125550100"),
            )
        )
        await records.closed(
            "c5", CallEnd(CallStatus.REFUSED, at, HangupSide.SYSTEM, "403", "international")
        )
        # 6. outside → main number → 李四 busy
        at += timedelta(minutes=10)
        await whole_call(
            records,
            start(
                tid,
                "c6",
                at,
                direction=CallDirection.INBOUND,
                caller=Party("+8613900001111", None, "客户王五"),
                callee=li,
            ),
            talk=None,
            status=CallStatus.BUSY,
        )


async def office(world: World, code: str = "acme") -> Office:
    o = Office(world, await world.enterprise(code))
    await o.people()
    await o.day_of_calls()
    return o


async def ids(client: httpx.AsyncClient, url: str, headers: Any, **params: Any) -> list[str]:
    r = await client.get(url, params=params, headers=headers)
    assert r.status_code == 200, r.text
    return [item["call_id"] for item in r.json()["items"]]


async def test_admins_search_by_each_filter(world: World) -> None:
    o = await office(world)
    c, h = world.client, o.admin
    url = "/api/v1/calls"
    assert await ids(c, url, h) == ["c6", "c5", "c4", "c3", "c2", "c1"]  # newest first
    assert await ids(c, url, h, direction="outbound") == ["c5", "c4"]
    assert await ids(c, url, h, direction="inbound") == ["c6", "c3"]
    assert await ids(c, url, h, caller="张") == ["c4", "c1"]
    assert await ids(c, url, h, caller="139") == ["c6", "c3"]  # part of a number
    assert await ids(c, url, h, caller="8002", match="exact") == ["c5", "c2"]
    assert await ids(c, url, h, caller="800", match="exact") == []
    assert await ids(c, url, h, callee="李四") == ["c6", "c1"]
    assert await ids(c, url, h, caller="100%") == []  # LIKE wildcards are literal
    assert await ids(c, url, h, status="answered") == ["c4", "c1"]
    assert await ids(c, url, h, status=["busy", "refused"]) == ["c6", "c5"]
    assert await ids(c, url, h, user_id=str(o.zhang)) == ["c4", "c3", "c2", "c1"]
    # 10:10 to 10:30 Nanjing time, given with its zone
    window = {"from": "2026-01-05T10:10:00+08:00", "to": "2026-01-05T10:30:00+08:00"}
    assert await ids(c, url, h, **window) == ["c3", "c2"]

    r = await c.get(url, params={"caller": "客户"}, headers=h)
    [item] = r.json()["items"]
    assert item["caller_name"] == "客户王五"
    assert item["status"] == "busy"
    assert item["direction"] == "inbound"


async def test_search_pages_with_a_cursor_without_repeats(world: World) -> None:
    o = await office(world)
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 4}
        if cursor:
            params["cursor"] = cursor
        r = await world.client.get("/api/v1/calls", params=params, headers=o.admin)
        assert r.status_code == 200
        seen += [i["call_id"] for i in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == ["c6", "c5", "c4", "c3", "c2", "c1"]


async def test_bad_filters_are_problems_with_stable_codes(world: World) -> None:
    o = await office(world)
    c, h = world.client, o.admin

    async def code(params: dict[str, Any], url: str = "/api/v1/calls") -> tuple[int, str]:
        r = await c.get(url, params=params, headers=h)
        assert r.headers["content-type"].startswith("application/problem+json"), r.text
        return r.status_code, r.json()["code"]

    empty = {"from": "2026-01-05T12:00:00+08:00", "to": "2026-01-05T10:00:00+08:00"}
    assert await code(empty) == (400, "invalid_time_range")
    assert await code({**empty, "format": "csv"}, "/api/v1/calls/export") == (
        400,
        "invalid_time_range",
    )
    assert await code({"from": "2026-01-05T10:00:00"}) == (400, "time_without_zone")
    assert await code({"cursor": "not-a-cursor"}) == (400, "invalid_cursor")
    assert await code({"status": "ringing"}) == (422, "validation_failed")
    assert await code({"direction": "sideways"}) == (422, "validation_failed")
    assert await code({"from": "yesterday"}) == (422, "validation_failed")
    assert await code({"user_id": "42"}) == (422, "validation_failed")
    assert await code({"caller": "9" * 65}) == (422, "validation_failed")
    assert await code({"limit": 0}) == (422, "validation_failed")
    assert await code({"match": "fuzzy"}) == (422, "validation_failed")
    assert await code({"format": "pdf"}, "/api/v1/calls/export") == (422, "validation_failed")


async def test_export_csv_has_chinese_headers_local_times_and_no_formulas(world: World) -> None:
    o = await office(world)
    r = await world.client.get(
        "/api/v1/calls/export", params={"format": "csv", "direction": "outbound"}, headers=o.admin
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert 'filename="calls-' in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert tuple(rows[0]) == HEADERS
    refused, out = rows[1], rows[2]
    column = {name: i for i, name in enumerate(HEADERS)}
    assert out[column["呼叫类型"]] == "呼出"
    assert out[column["开始时间"]] == "2026-01-05 10:30:00"  # Asia/Shanghai
    assert out[column["通话时长(秒)"]] == "61"
    assert out[column["计费分钟"]] == "2"
    assert out[column["状态"]] == "已接听"
    assert out[column["外线号码"]] == "+862566660001"
    assert refused[column["主叫姓名"]] == "'=HYPERLINK(1)"  # text, never a formula
    assert refused[column["状态"]] == "已拒绝"
    assert refused[column["原因"]] == "403 (international)"
    assert refused[column["挂断方"]] == "系统"


async def test_export_xlsx_matches_the_search(world: World) -> None:
    o = await office(world)
    r = await world.client.get(
        "/api/v1/calls/export", params={"format": "xlsx", "status": "busy"}, headers=o.admin
    )
    assert r.status_code == 200
    sheet = load_workbook(io.BytesIO(r.content)).active
    assert sheet is not None
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert tuple(rows[0]) == HEADERS
    assert len(rows) == 2
    busy = dict(zip(HEADERS, rows[1], strict=True))
    assert busy["呼叫类型"] == "呼入"
    assert busy["主叫号码"] == "+8613900001111"
    assert busy["被叫姓名"] == "李四"
    assert busy["开始时间"] == datetime(2026, 1, 5, 10, 50)
    assert busy["状态"] == "忙"

    r = await world.client.get(
        "/api/v1/calls/export", params={"format": "xlsx", "status": "refused"}, headers=o.admin
    )
    sheet = load_workbook(io.BytesIO(r.content)).active
    assert sheet is not None
    name = sheet.cell(row=2, column=HEADERS.index("主叫姓名") + 1)
    assert name.value == "=HYPERLINK(1)"
    assert name.data_type == "s"  # stored as text, not a formula


async def test_employees_see_their_own_outgoing_incoming_and_missed_calls(world: World) -> None:
    o = await office(world)
    c = world.client
    url = "/api/v1/me/calls"
    assert await ids(c, url, o.zhang_auth) == ["c4", "c3", "c2", "c1"]
    assert await ids(c, url, o.zhang_auth, kind="outgoing") == ["c4", "c1"]
    assert await ids(c, url, o.zhang_auth, kind="incoming") == ["c3", "c2"]
    assert await ids(c, url, o.zhang_auth, kind="missed") == ["c3", "c2"]
    assert await ids(c, url, o.li_auth, kind="outgoing") == ["c5", "c2"]
    assert await ids(c, url, o.li_auth, kind="incoming") == ["c6", "c1"]
    assert await ids(c, url, o.li_auth, kind="missed") == ["c6"]  # busy; c1 was answered
    r = await c.get(url, params={"kind": "everything"}, headers=o.li_auth)
    assert (r.status_code, r.json()["code"]) == (422, "validation_failed")


async def test_a_call_answered_by_someone_else_is_in_their_incoming_history(world: World) -> None:
    o = await office(world)
    records = world.services.pbx.records
    # an outside call to the main number rings the receptionists; 李四 answers
    await records.opened(
        start(
            o.tenant.id,
            "c7",
            T0 + timedelta(hours=2),
            direction=CallDirection.INBOUND,
            caller=Party("+8613912345678"),
            callee=Party("+862566660000", None, "总机"),
        )
    )
    await records.answered("c7", T0 + timedelta(hours=2, seconds=5), Party("8002", o.li, "李四"))
    await records.closed(
        "c7", CallEnd(CallStatus.ANSWERED, T0 + timedelta(hours=2, seconds=50), HangupSide.CALLER)
    )
    assert (await ids(world.client, "/api/v1/me/calls", o.li_auth, kind="incoming"))[0] == "c7"
    # an outside call to 李四's direct line that voicemail took: answered, but missed by 李四
    await records.opened(
        start(
            o.tenant.id,
            "c8",
            T0 + timedelta(hours=3),
            direction=CallDirection.INBOUND,
            caller=Party("+8613912345678"),
            callee=Party("8002", o.li, "李四"),
        )
    )
    await records.answered("c8", T0 + timedelta(hours=3, seconds=30))
    await records.closed(
        "c8", CallEnd(CallStatus.VOICEMAIL, T0 + timedelta(hours=3, seconds=60), HangupSide.CALLER)
    )
    assert await ids(world.client, "/api/v1/me/calls", o.li_auth, kind="missed") == ["c8", "c6"]
    assert await ids(world.client, "/api/v1/calls", o.admin, callee="李四") == [
        "c8",
        "c7",
        "c6",
        "c1",
    ]


async def test_enterprises_never_see_each_others_calls(world: World) -> None:
    acme = await office(world, "acme")
    other = Office(world, await world.enterprise("other"))
    other_user = await world.user(other.tenant, "赵六", "13800000009", extension="8001")
    await whole_call(
        world.services.pbx.records,
        start(other.tenant.id, "c1", T0, caller=Party("8001", other_user, "赵六")),
        talk=5,
    )
    assert await ids(world.client, "/api/v1/calls", other.admin) == ["c1"]
    assert len(await ids(world.client, "/api/v1/calls", acme.admin)) == 6
    # another enterprise's user id finds nothing
    assert await ids(world.client, "/api/v1/calls", acme.admin, user_id=str(other_user)) == []
    r = await world.client.get(
        "/api/v1/calls/export", params={"format": "csv"}, headers=other.admin
    )
    assert len(list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))) == 2


async def test_employees_cannot_search_or_export_the_enterprise_calls(world: World) -> None:
    o = await office(world)
    for url in ("/api/v1/calls", "/api/v1/calls/export"):
        r = await world.client.get(url, headers=o.zhang_auth)
        assert r.status_code == 403


async def test_a_live_call_shows_without_an_end_or_status(world: World) -> None:
    o = Office(world, await world.enterprise("acme"))
    await world.services.pbx.records.opened(start(o.tenant.id, "live", T0))
    r = await world.client.get("/api/v1/calls", headers=o.admin)
    [item] = r.json()["items"]
    assert (item["ended_at"], item["status"]) == (None, None)
    r = await world.client.get("/api/v1/calls/export", params={"format": "csv"}, headers=o.admin)
    row = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))[1]
    assert row[HEADERS.index("状态")] == "通话中"


async def test_a_records_detail_is_its_enterprises_alone(world: World) -> None:
    o = await office(world)
    c = world.client
    r = await c.get("/api/v1/calls", params={"caller": "客户"}, headers=o.admin)
    [item] = r.json()["items"]
    r = await c.get(f"/api/v1/calls/{item['id']}", headers=o.admin)
    assert r.status_code == 200
    assert r.json() == item
    other = await world.enterprise("other")
    r = await c.get(f"/api/v1/calls/{item['id']}", headers=bearer(other.admin_token))
    assert r.status_code == 404
    assert r.json()["code"] == "not_found"
    r = await c.get(f"/api/v1/calls/{item['id']}", headers=o.zhang_auth)
    assert r.status_code == 403
    r = await c.get("/api/v1/calls/not-an-id", headers=o.admin)
    assert (r.status_code, r.json()["code"]) == (422, "validation_failed")
