"""Passwords and login codes never reach the logs, whatever the level."""

from __future__ import annotations

import logging

import pytest

from tests.conftest import PASSWORD, World
from zongji.platform.logging import JsonFormatter, TextFormatter, quiet_libraries


async def test_login_flows_log_no_secrets(world: World, caplog: pytest.LogCaptureFixture) -> None:
    quiet_libraries()  # as `zongji serve` configures logging
    caplog.set_level(logging.DEBUG)
    t = await world.enterprise("acme")
    await world.user(t, "甲", "13800000001")
    await world.client.post(
        "/api/v1/auth/login", json={"account": t.admin_login, "password": "Wrong-pass-1"}
    )
    tokens = await world.code_login("13800000001")
    code = await world.last_code("13800000001")
    formatters = [JsonFormatter(), TextFormatter()]
    lines = [f.format(r) for r in caplog.records for f in formatters]
    text = "\n".join(lines)
    for secret in (PASSWORD, "Wrong-pass-1", code, tokens["access_token"], tokens["refresh_token"]):
        assert secret not in text


def test_secret_looking_fields_are_masked() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "msg", (), None)
    record.password = "hunter2"
    record.sms_code = "123456"
    record.user = "甲"
    line = JsonFormatter().format(record)
    assert "hunter2" not in line
    assert "123456" not in line
    assert "甲" in line
