"""Export → import unchanged is all skipped and writes nothing (issue 11, items 10 and 12): users
with direct lines, pinned users, minute quotas and names a spreadsheet would take for formulas."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, select

from tests.conftest import World, bearer
from tests.directory.conftest import Console, enterprise
from tests.directory.test_spreadsheets import count, upload
from zongji.audit.models import AuditEntry
from zongji.directory.models import User
from zongji.platform.db import PLATFORM

FORMULA_LIKE = ["=1+2", "+小明", "-小红", "@小刚"]


async def _directory(acme: Console, world: World) -> list[str]:
    op = bearer(await world.operator_token())
    r = await world.client.post(
        f"/api/v1/platform/enterprises/{acme.tenant.id}/numbers",
        json={"numbers": ["84001111", "84001112"]},
        headers=op,
    )
    assert r.status_code == 201, r.text
    await acme.user(
        "张三",
        "13800000001",
        direct_line="84001111",
        pinned=True,
        pin_order=2,
        monthly_minutes=100,
    )
    await acme.user("李四", "13800000002", direct_line="84001112", monthly_minutes=0)
    for i, name in enumerate(FORMULA_LIKE):
        await acme.user(name, f"1380000001{i}", pinned=True, pin_order=i)
    return ["张三", "李四", *FORMULA_LIKE]


async def _audit_entries(world: World) -> int:
    async with world.services.db.session(PLATFORM) as session:
        return int(await session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
async def test_export_then_import_unchanged_skips_everyone_and_writes_nothing(
    acme: Console, world: World, fmt: str
) -> None:
    names = await _directory(acme, world)
    head = await world.services.directory.changes.head(acme.tenant.id)
    entries = await _audit_entries(world)

    exported = await acme.call("GET", "/api/v1/directory/export", params={"format": fmt})
    assert exported.status_code == 200
    if fmt == "csv":  # the export guards formula-like names, the import must take that off again
        text = exported.content.decode("utf-8-sig")
        assert "'=1+2" in text
    for dry_run in (True, False):
        r = await upload(acme, exported.content, f"export.{fmt}", dry_run=dry_run)
        assert r.status_code == 200, r.text
        report = r.json()
        assert (report["to_add"], report["to_skip"], report["error_rows"]) == (0, len(names), 0)
        assert report["errors"] == []
        assert {x["action"] for x in report["rows"]} == {"skip"}
        assert sorted(x["name"] for x in report["rows"]) == sorted(names)  # no apostrophes

    assert (
        await world.services.directory.changes.head(acme.tenant.id) == head
    )  # no change in the feed
    assert await _audit_entries(world) == entries  # and nothing in the operation log
    assert await count(world, User) == len(names)


async def test_formula_like_names_exported_as_csv_come_back_without_apostrophes(
    acme: Console, world: World
) -> None:
    """A CSV export imported into a new enterprise creates the same names, not `'=1+2`."""
    for i, name in enumerate(FORMULA_LIKE):
        await acme.user(name, f"1380000001{i}")
    exported = await acme.call("GET", "/api/v1/directory/export", params={"format": "csv"})
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert sorted(row[0] for row in rows[1:]) == sorted("'" + n for n in FORMULA_LIKE)

    other = Console(world, await enterprise(world, "other"))
    r = await upload(other, exported.content, "export.csv", dry_run=False)
    assert r.status_code == 200, r.text
    assert r.json()["added"] == len(FORMULA_LIKE)
    users = (await other.call("GET", "/api/v1/directory/users")).json()["items"]
    assert sorted(u["name"] for u in users) == sorted(FORMULA_LIKE)


async def test_a_feature_switched_off_since_the_export_does_not_fail_the_re_import(
    world: World,
) -> None:
    """The skipped rows are not checked against today's enterprise rules: nothing is written."""
    ent = await enterprise(world, "intl", features={"international_calling": True})
    intl = Console(world, ent)
    await intl.user("张三", "13800000001", outbound_restriction="international")
    exported = await intl.call("GET", "/api/v1/directory/export", params={"format": "csv"})
    op = bearer(await world.operator_token())
    r = await world.client.patch(
        f"/api/v1/platform/enterprises/{ent.id}",
        json={"features": {"international_calling": False}},
        headers=op,
    )
    assert r.status_code == 200, r.text
    r = await upload(intl, exported.content, "export.csv", dry_run=False)
    assert (r.json()["to_skip"], r.json()["error_rows"]) == (1, 0)
