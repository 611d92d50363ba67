"""The operation log (ADM-26, ADM-27, SEC-2): every change logged with who, when, what; read and
exported with filters; never editable; tamper-evident by a hash chain per enterprise."""

from __future__ import annotations

import csv
import io
import json

import openpyxl
from sqlalchemy import delete, select, update

from tests.conftest import World, bearer
from zongji.audit.models import AuditEntry
from zongji.platform.clock import FakeClock
from zongji.platform.db import PLATFORM

LOG = "/api/v1/operation-log"


async def _entries(world: World, token: str, **params: object) -> list[dict[str, object]]:
    r = await world.client.get(LOG, headers=bearer(token), params=params)
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def test_changes_are_logged_with_actor_target_and_summary(world: World) -> None:
    t = await world.enterprise("acme")
    op = bearer(await world.operator_token())
    await world.client.patch(
        f"/api/v1/platform/enterprises/{t.id}", json={"name": "新名字"}, headers=op
    )
    items = await _entries(world, t.admin_token)
    actions = [e["action"] for e in items]
    assert actions == [
        "enterprise.change",
        "auth.login",
        "account.create.enterprise_admin",
        "enterprise.create",
    ]
    change = next(e for e in items if e["action"] == "enterprise.change")
    assert change["actor_kind"] == "operator"
    assert change["actor_name"] == "运营商"
    assert change["address"] == "198.51.100.7"
    assert change["summary"]["name"] == ["acme 公司", "新名字"]
    assert change["target_type"] == "enterprise"
    create = next(e for e in items if e["action"] == "enterprise.create")
    assert create["seq"] == 1
    account = next(e for e in items if e["action"] == "account.create.enterprise_admin")
    assert account["level"] == "warning"
    assert "password" not in json.dumps(account["summary"]).lower().replace('"***"', "")


async def test_filters_and_paging(world: World, clock: FakeClock) -> None:
    t = await world.enterprise("acme")
    op = bearer(await world.operator_token())
    start = clock.now()
    for i in range(5):
        clock.advance(60)
        await world.client.patch(
            f"/api/v1/platform/enterprises/{t.id}", json={"city": f"城{i}"}, headers=op
        )
    changes = await _entries(world, t.admin_token, action="enterprise.change")
    assert len(changes) == 5
    assert [e["summary"]["city"][1] for e in changes] == ["城4", "城3", "城2", "城1", "城0"]
    window = await _entries(
        world,
        t.admin_token,
        action="enterprise.change",
        **{"from": (start.replace(microsecond=0)).isoformat(), "to": clock.now().isoformat()},
    )
    assert len(window) == 4  # the last change is at `to`, which is exclusive
    warnings = await _entries(world, t.admin_token, level="warning")
    assert {e["action"] for e in warnings} == {"account.create.enterprise_admin"}
    by_actor = await _entries(world, t.admin_token, actor="运营")
    assert by_actor
    assert all(e["actor_name"] == "运营商" for e in by_actor)

    r = await world.client.get(LOG, headers=bearer(t.admin_token), params={"limit": 2})
    page1 = r.json()
    r = await world.client.get(
        LOG, headers=bearer(t.admin_token), params={"limit": 2, "cursor": page1["next_cursor"]}
    )
    page2 = r.json()
    seqs = [e["seq"] for e in page1["items"] + page2["items"]]
    assert seqs == sorted(seqs, reverse=True)
    assert len(set(seqs)) == 4


async def test_each_enterprise_sees_only_its_own_log(world: World) -> None:
    a = await world.enterprise("alpha")
    b = await world.enterprise("beta")
    op = bearer(await world.operator_token())
    await world.client.patch(
        f"/api/v1/platform/enterprises/{b.id}", json={"city": "苏州"}, headers=op
    )
    seen_by_a = await _entries(world, a.admin_token, limit=500)
    assert all("beta" not in str(e["target_label"]) for e in seen_by_a)
    assert not [e for e in seen_by_a if e["action"] == "enterprise.change"]
    r = await world.client.get(
        "/api/v1/platform/operation-log", headers=op, params={"enterprise_id": str(b.id)}
    )
    assert any(e["action"] == "enterprise.change" for e in r.json()["items"])
    r = await world.client.get("/api/v1/platform/operation-log", headers=op)
    assert {e["action"] for e in r.json()["items"]} >= {"account.create.operator", "auth.login"}
    r = await world.client.get("/api/v1/platform/operation-log", headers=bearer(a.admin_token))
    assert r.status_code == 403


async def test_no_route_edits_or_deletes_entries(world: World) -> None:
    t = await world.enterprise("acme")
    entry = (await _entries(world, t.admin_token))[0]
    for method in ("PUT", "PATCH", "DELETE"):
        r = await world.client.request(method, LOG, headers=bearer(t.admin_token))
        assert r.status_code == 405
        r = await world.client.request(
            method, f"{LOG}/{entry['id']}", headers=bearer(t.admin_token)
        )
        assert r.status_code in (404, 405)
    assert len(await _entries(world, t.admin_token)) >= 1


async def test_export_csv_and_xlsx(world: World) -> None:
    t = await world.enterprise("acme")
    op = bearer(await world.operator_token())
    await world.client.patch(
        f"/api/v1/platform/enterprises/{t.id}", json={"name": '=HYPERLINK("x")'}, headers=op
    )
    r = await world.client.get(
        f"{LOG}/export", headers=bearer(t.admin_token), params={"format": "csv"}
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    text = r.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:3] == ["序号", "时间", "操作人"]
    assert [int(row[0]) for row in rows[1:]] == sorted(int(row[0]) for row in rows[1:])
    labels = [row[6] for row in rows[1:]]
    assert any(label.startswith("'=HYPERLINK") for label in labels)  # never a live formula

    r = await world.client.get(
        f"{LOG}/export", headers=bearer(t.admin_token), params={"format": "xlsx"}
    )
    assert r.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(r.content))
    sheet = book["操作日志"]
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][0] == "序号"
    assert len(values) == len(rows)
    formula_cells = [c for row in sheet.iter_rows() for c in row if c.data_type == "f"]
    assert formula_cells == []


async def test_verify_detects_altered_removed_and_truncated_entries(world: World) -> None:
    t = await world.enterprise("acme")
    op = bearer(await world.operator_token())
    for city in ("一", "二", "三"):
        await world.client.patch(
            f"/api/v1/platform/enterprises/{t.id}", json={"city": city}, headers=op
        )
    audit = world.services.audit
    report = await audit.verify()
    assert report.ok
    assert report.chains == 2
    assert report.entries >= 8

    async with world.services.db.session(PLATFORM, write=True) as s, s.begin():
        target = await s.scalar(
            select(AuditEntry).where(AuditEntry.tenant_id == t.id, AuditEntry.seq == 3)
        )
        assert target is not None
        original = dict(target.summary)
        await s.execute(
            update(AuditEntry)
            .where(AuditEntry.id == target.id)
            .values(summary={"city": ["x", "y"]})
        )
    report = await audit.verify()
    [broken] = report.broken
    assert (broken.tenant_id, broken.seq, broken.reason) == (t.id, 3, "content altered")

    async with world.services.db.session(PLATFORM, write=True) as s, s.begin():
        await s.execute(
            update(AuditEntry).where(AuditEntry.id == target.id).values(summary=original)
        )
    assert (await audit.verify()).ok

    async with world.services.db.session(PLATFORM, write=True) as s, s.begin():
        await s.execute(delete(AuditEntry).where(AuditEntry.tenant_id == t.id, AuditEntry.seq == 2))
    [broken] = (await audit.verify()).broken
    assert (broken.seq, broken.reason) == (2, "entry missing")


async def test_verify_detects_a_cut_off_tail(world: World) -> None:
    t = await world.enterprise("acme")
    async with world.services.db.session(PLATFORM, write=True) as s, s.begin():
        last = await s.scalar(
            select(AuditEntry).where(AuditEntry.tenant_id == t.id).order_by(AuditEntry.seq.desc())
        )
        assert last is not None
        await s.execute(delete(AuditEntry).where(AuditEntry.id == last.id))
    [broken] = (await world.services.audit.verify()).broken
    assert broken.reason == "entries removed from the end"


async def test_concurrent_changes_keep_one_unbroken_chain(world: World) -> None:
    import asyncio

    t = await world.enterprise("acme")
    op = bearer(await world.operator_token())
    await asyncio.gather(
        *[
            world.client.patch(
                f"/api/v1/platform/enterprises/{t.id}", json={"city": f"城{i}"}, headers=op
            )
            for i in range(8)
        ]
    )
    report = await world.services.audit.verify()
    assert report.ok, report.broken
    seqs = [e["seq"] for e in await _entries(world, t.admin_token, limit=500)]
    assert sorted(seqs) == list(range(1, len(seqs) + 1))
