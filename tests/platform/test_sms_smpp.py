"""SMS through a carrier's SMSC (`sms.gateway = "smpp"`): a login code reaches the phone in UCS-2,
receipts move the message to delivered or failed, throttling and an unreachable SMSC are retried
until it is delivered, a permanent refusal fails at once, a queued message survives a restart,
and nothing the operator (or a log) can read ever shows the code.

The SMSC is the test double in `tests/platform/smsc.py`: a real SMPP server on a real socket.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import World, bearer, clear_tables, make_settings
from tests.platform.smsc import Smsc
from zongji.api.app import create_app
from zongji.platform.clock import SystemClock
from zongji.platform.config import SmsSettings
from zongji.platform.db import PLATFORM
from zongji.platform.sms import (
    MASK,
    DeliveryState,
    SmppGateway,
    SmsDelivery,
    SmsMessage,
    read_deliveries,
)
from zongji.services import Services, build_services

MOBILE = "13800000001"
E164 = "+8613800000001"
CODE = re.compile(r"(?<!\d)\d{6}(?!\d)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def smpp_node(database_url: str, tmp_path: Path, port: int) -> AsyncIterator[Services]:
    """Services configured for the SMSC on `port`, the gateway's worker running."""
    sms = SmsSettings(
        gateway="smpp",
        smpp_host="127.0.0.1",
        smpp_port=port,
        smpp_system_id="zongji",
        smpp_password="pw-123",  # type: ignore[arg-type]
        smpp_system_type="OTP",
        smpp_source_addr="10690001",
        smpp_retry_initial=0.05,
        smpp_retry_max=0.2,
        smpp_submit_timeout=5,
    )
    services = build_services(make_settings(database_url, tmp_path, sms=sms), clock=SystemClock())
    assert isinstance(services.sms, SmppGateway)
    await services.sms.start()
    try:
        yield services
    finally:
        await services.close()


@asynccontextmanager
async def world_of(services: Services) -> AsyncIterator[World]:
    app = create_app(services)
    app.state.ready = True
    transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://zongji.test") as client:
        yield World(services, client)


async def wait_state(services: Services, state: DeliveryState) -> SmsDelivery:
    """The newest message to E164 once it is in `state` (a generous bound, not a timing claim)."""
    async with asyncio.timeout(20):
        while True:
            rows = await read_deliveries(services.db, to=E164)
            if rows and rows[0].state == state.value:
                return rows[0]
            await asyncio.sleep(0.02)


@pytest.fixture
async def smsc() -> AsyncIterator[Smsc]:
    server = Smsc()
    await server.start()
    yield server
    await server.stop()


async def test_login_code_reaches_the_phone_in_ucs2_and_is_delivered(
    database_url: str, tmp_path: Path, smsc: Smsc, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with smpp_node(database_url, tmp_path, smsc.port) as services:
        await clear_tables(services)
        async with world_of(services) as world:
            t = await world.enterprise("acme")
            await world.user(t, "甲", MOBILE)
            r = await world.client.post("/api/v1/auth/code", json={"mobile": MOBILE})
            assert r.status_code == 202
            await smsc.wait_for(lambda: any(s.message_id for s in smsc.submitted))
            [sms] = smsc.submitted
            # the carrier got our credentials, the number in international form, UCS-2 text
            assert smsc.binds == [("zongji", "pw-123", "OTP")]
            assert (sms.dest_addr, sms.dest_addr_ton, sms.dest_addr_npi) == ("8613800000001", 1, 1)
            assert sms.source_addr == "10690001"
            assert sms.data_coding == 8
            assert sms.registered_delivery == 1
            assert sms.validity_period.endswith("R")  # a code is worth sending for 5 minutes
            assert sms.text.startswith("【云总机】您的登录验证码是 ")
            [code] = CODE.findall(sms.text)

            # submitted, then delivered when the receipt comes
            row = await wait_state(services, DeliveryState.SUBMITTED)
            assert row.sealed_body is None  # nothing left to decrypt once the carrier has it
            await smsc.send_receipt(sms, "DELIVRD")
            await wait_state(services, DeliveryState.DELIVERED)

            # the code the phone got is the one that logs in
            r = await world.client.post(
                "/api/v1/auth/code-login", json={"mobile": MOBILE, "code": code}
            )
            assert r.status_code == 200, r.text

            # nothing the operator can read shows the code: deliveries, outbox, database rows
            op = bearer(await world.operator_token())
            r = await world.client.get(
                "/api/v1/platform/sms-deliveries", headers=op, params={"to": "138-0000-0001"}
            )
            [shown] = r.json()
            assert shown["state"] == "delivered"
            assert MASK in shown["text"]
            assert code not in shown["text"]
            r = await world.client.get("/api/v1/platform/sms-outbox", headers=op)
            assert code not in r.text
            async with services.db.session(PLATFORM) as session:
                for stored in await session.scalars(select(SmsDelivery)):
                    assert code not in stored.text
                    assert stored.sealed_body is None
            r = await world.client.get(
                "/api/v1/platform/sms-deliveries", headers=bearer(t.admin_token)
            )
            assert r.status_code == 403
    assert code not in caplog.text


async def test_throttled_message_is_retried_and_delivered(
    database_url: str, tmp_path: Path, smsc: Smsc
) -> None:
    smsc.answer = lambda s: 0x58 if len(smsc.submitted) <= 2 else 0  # ESME_RTHROTTLED twice
    async with smpp_node(database_url, tmp_path, smsc.port) as services:
        await clear_tables(services)
        await services.sms.send(SmsMessage(E164, "【云总机】您好"))
        row = await wait_state(services, DeliveryState.SUBMITTED)
        assert len(smsc.submitted) == 3
        assert row.attempts == 3
        await smsc.send_receipt(smsc.submitted[-1], "DELIVRD")
        await wait_state(services, DeliveryState.DELIVERED)


async def test_smsc_down_is_retried_later_then_delivered(database_url: str, tmp_path: Path) -> None:
    port = free_port()
    async with smpp_node(database_url, tmp_path, port) as services:
        await clear_tables(services)
        await services.sms.send(SmsMessage(E164, "【云总机】稍后送达"))
        async with asyncio.timeout(20):  # tried, failed to connect, still queued
            while True:
                [row] = await read_deliveries(services.db, to=E164)
                if row.attempts >= 2:
                    break
                await asyncio.sleep(0.02)
        assert (row.state, row.error) == ("queued", "smsc_unreachable")
        smsc = Smsc(port=port)
        await smsc.start()
        try:
            await smsc.wait_for(lambda: bool(smsc.submitted))
            assert smsc.submitted[0].text == "【云总机】稍后送达"
            await wait_state(services, DeliveryState.SUBMITTED)
            # the SMSC goes down with the session: the receipt comes on the next session
            await smsc.stop()
            await smsc.start()
            await services.sms.send(SmsMessage("+8613800000009", "再来一条"))
            await smsc.wait_for(lambda: len(smsc.binds) == 2)
            await smsc.send_receipt(smsc.submitted[0], "DELIVRD")
            await wait_state(services, DeliveryState.DELIVERED)
        finally:
            await smsc.stop()


async def test_permanent_refusal_fails_at_once(
    database_url: str, tmp_path: Path, smsc: Smsc
) -> None:
    smsc.answer = lambda s: 0x0B  # ESME_RINVDSTADR: retrying can never help
    async with smpp_node(database_url, tmp_path, smsc.port) as services:
        await clear_tables(services)
        await services.sms.send(SmsMessage(E164, "【云总机】您好"))
        row = await wait_state(services, DeliveryState.FAILED)
        assert row.error == "smpp_status_0x0000000b"
        assert row.sealed_body is None
        assert isinstance(services.sms, SmppGateway)
        await services.sms.pump()  # another pass sends nothing more
        assert len(smsc.submitted) == 1


async def test_undeliverable_receipt_fails_the_message(
    database_url: str, tmp_path: Path, smsc: Smsc
) -> None:
    async with smpp_node(database_url, tmp_path, smsc.port) as services:
        await clear_tables(services)
        await services.sms.send(SmsMessage(E164, "【云总机】您好"))
        await wait_state(services, DeliveryState.SUBMITTED)
        await smsc.send_receipt(smsc.submitted[0], "UNDELIV", "001")
        row = await wait_state(services, DeliveryState.FAILED)
        assert row.error == "receipt_err_001"


async def test_a_receipt_right_behind_the_response_is_not_lost(
    database_url: str, tmp_path: Path, smsc: Smsc
) -> None:
    smsc.instant_receipt = "DELIVRD"
    async with smpp_node(database_url, tmp_path, smsc.port) as services:
        await clear_tables(services)
        await services.sms.send(SmsMessage(E164, "【云总机】" + "很长的消息" * 30))
        await wait_state(services, DeliveryState.DELIVERED)
        assert len(smsc.submitted) == 3


async def test_long_text_goes_as_concatenated_segments(
    database_url: str, tmp_path: Path, smsc: Smsc
) -> None:
    text = "【云总机】" + "邀请您加入云总机，请打开链接安装客户端。" * 8 + "😀"
    async with smpp_node(database_url, tmp_path, smsc.port) as services:
        await clear_tables(services)
        await services.sms.send(SmsMessage(E164, text))
        await wait_state(services, DeliveryState.SUBMITTED)
        parts = smsc.submitted
        assert len(parts) == 3
        assert all(len(p.short_message) <= 140 and p.data_coding == 8 for p in parts)
        headers = [p.concatenation for p in parts]
        assert all(h is not None for h in headers)
        assert len({h[0] for h in headers if h}) == 1  # one reference ties them together
        assert [(h[1], h[2]) for h in headers if h] == [(3, 1), (3, 2), (3, 3)]
        assert "".join(p.text for p in parts) == text
        for part in parts[:2]:
            await smsc.send_receipt(part, "DELIVRD")
        await asyncio.sleep(0.2)
        [row] = await read_deliveries(services.db, to=E164)
        assert row.state == "submitted"  # one segment still out
        await smsc.send_receipt(parts[2], "DELIVRD")
        await wait_state(services, DeliveryState.DELIVERED)


async def test_a_queued_message_survives_a_restart(database_url: str, tmp_path: Path) -> None:
    port = free_port()
    async with smpp_node(database_url, tmp_path, port) as first:
        await clear_tables(first)
        await first.sms.send(SmsMessage(E164, "【云总机】重启之后"))
        [row] = await read_deliveries(first.db, to=E164)
        assert row.state == "queued"
    smsc = Smsc(port=port)  # the carrier is back, and so is the node
    await smsc.start()
    try:
        async with smpp_node(database_url, tmp_path, port) as second:
            await smsc.wait_for(lambda: bool(smsc.submitted))
            assert smsc.submitted[0].text == "【云总机】重启之后"
            await wait_state(second, DeliveryState.SUBMITTED)
    finally:
        await smsc.stop()


async def test_a_code_not_sent_within_its_validity_expires(
    database_url: str, tmp_path: Path
) -> None:
    from datetime import timedelta

    async with smpp_node(database_url, tmp_path, free_port()) as services:
        await clear_tables(services)
        message = SmsMessage(E164, "验证码 123456", secret="123456", valid_for=timedelta(0))
        await services.sms.send(message)
        row = await wait_state(services, DeliveryState.EXPIRED)
        assert row.sealed_body is None
        assert row.text == f"验证码 {MASK}"
