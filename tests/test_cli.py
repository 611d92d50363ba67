"""The `zongji` command line provisions through the same services as the API."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest

from tests.conftest import clear_tables, make_settings
from zongji.cli import main
from zongji.services import build_services


@pytest.fixture
def storage(database_url: str, tmp_path: Path) -> list[str]:
    async def clean() -> None:
        services = build_services(make_settings(database_url, tmp_path))
        await clear_tables(services)
        await services.close()

    asyncio.run(clean())
    return ["--database-url", database_url, "--data-dir", str(tmp_path)]


def run(
    capsys: pytest.CaptureFixture[str], *argv: str, stdin: str | None = None
) -> tuple[int, str, str]:
    if stdin is not None:
        import sys

        sys.stdin = io.StringIO(stdin)
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_operator_and_enterprise_lifecycle(
    storage: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "operator", "create", "--login", "boss", *storage)
    assert code == 0
    created = json.loads(out)
    assert created["login"] == "boss"
    assert len(created["password"]) >= 12

    code, out, _ = run(
        capsys,
        "enterprise",
        "create",
        "--code",
        "cli",
        "--name",
        "命令行公司",
        "--area-code",
        "025",
        "--city",
        "南京",
        "--main-number",
        "02584005555",
        "--feature",
        "callback=on",
        "--admin-login",
        "cli-admin",
        "--request-id",
        "bss-7",
        *storage,
    )
    assert code == 0, out
    ent = json.loads(out)
    assert ent["main_number"] == "+862584005555"
    assert ent["features"]["callback"] is True
    assert ent["admin"]["login"] == "cli-admin"

    code, _again, _ = run(
        capsys,
        "enterprise",
        "create",
        "--code",
        "cli",
        "--name",
        "命令行公司",
        "--area-code",
        "025",
        "--city",
        "南京",
        "--main-number",
        "02584005555",
        "--feature",
        "callback=on",
        "--request-id",
        "bss-8",
        *storage,
    )
    assert code == 2  # a new request id: the code is taken

    code, out, _ = run(capsys, "enterprise", "suspend", "cli", "--reason", "欠费", *storage)
    assert (code, json.loads(out)["status"]) == (0, "suspended")
    code, _, err = run(capsys, "enterprise", "suspend", "cli", *storage)
    assert code == 2
    assert "invalid_status_transition" in err
    code, out, _ = run(capsys, "enterprise", "resume", "cli", *storage)
    assert json.loads(out)["status"] == "active"
    code, out, _ = run(
        capsys, "enterprise", "change", "cli", "--city", "苏州", "--max-users", "50", *storage
    )
    assert (json.loads(out)["city"], json.loads(out)["max_users"]) == ("苏州", 50)
    code, out, _ = run(capsys, "enterprise", "list", *storage)
    assert [e["code"] for e in json.loads(out)] == ["cli"]
    code, out, _ = run(capsys, "enterprise", "cancel", "cli", *storage)
    assert json.loads(out)["status"] == "cancelled"

    code, out, _ = run(capsys, "audit", "verify", *storage)
    assert code == 0
    assert out.strip().endswith("ok")


def test_bad_input_is_reported_not_raised(
    storage: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        capsys,
        "enterprise",
        "create",
        "--code",
        "BAD CODE",
        "--name",
        "x",
        "--area-code",
        "025",
        "--city",
        "南京",
        *storage,
    )
    assert code == 2
    assert "code" in err
    code, _, err = run(capsys, "enterprise", "show", "nope", *storage)
    assert code == 2
    assert "not_found" in err
    code, _, err = run(
        capsys,
        "operator",
        "create",
        "--login",
        "weak",
        "--password-stdin",
        *storage,
        stdin="short\n",
    )
    assert code == 2
    assert "password" in err


def test_audit_verify_fails_on_tampering(
    storage: list[str], capsys: pytest.CaptureFixture[str], database_url: str
) -> None:
    run(capsys, "operator", "create", "--login", "boss", *storage)
    run(
        capsys,
        "enterprise",
        "create",
        "--code",
        "t1",
        "--name",
        "T",
        "--area-code",
        "025",
        "--city",
        "南京",
        *storage,
    )

    async def tamper() -> None:
        from sqlalchemy import update

        from zongji.audit.models import AuditEntry
        from zongji.platform.db import Database

        db = Database(database_url)
        async with db.engine.begin() as conn:
            await conn.execute(
                update(AuditEntry).where(AuditEntry.seq == 1).values(actor_name="someone else")
            )
        await db.dispose()

    asyncio.run(tamper())
    code, out, _ = run(capsys, "audit", "verify", *storage)
    assert code == 1
    assert "BROKEN" in out
    assert "seq 1" in out
    assert "content altered" in out


def test_sms_outbox_finds_a_number_however_it_is_typed(
    storage: list[str], capsys: pytest.CaptureFixture[str], database_url: str, tmp_path: Path
) -> None:
    from zongji.platform.sms import SmsMessage

    async def sent() -> None:
        services = build_services(make_settings(database_url, tmp_path))
        await services.sms.send(
            SmsMessage("+8613800000002", "验证码 246810，5 分钟内有效", secret="246810")
        )
        await services.close()

    asyncio.run(sent())
    for typed in ("13800000002", "138 0000 0002", "+86 138-0000-0002", "008613800000002"):
        code, out, _ = run(capsys, "sms", "outbox", "--to", typed, *storage)
        assert code == 0
        [row] = json.loads(out)
        assert row["to"] == "+8613800000002"
        assert "246810" not in row["text"]  # the operator never reads a code
    code, _, err = run(capsys, "sms", "outbox", "--to", "not-a-number", *storage)
    assert code == 2
    assert "to: not a phone number" in err
