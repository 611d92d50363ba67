"""The demo as a newcomer uses it: a running PBX in demo mode with its carrier simulator,
`demo.json` with SIP credentials that register, `zongji demo call` reaching the IVR and the
extension keyed in, and a softphone calling out through the demo trunk."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.interop.pbx_harness import RunningPbx, running_pbx
from zongji.demo.caller import drain_events, endpoint_spec
from zongji.demo.carrier import DemoCarrier
from zongji.demo.enterprise import demo_file, ensure_demo
from zongji.demo.telephony import DEMO_TRUNK
from zongji.media import LocalMediaServer
from zongji.media.api import EndpointSpec, Silence
from zongji.sip.auth.client import Credentials
from zongji.sip.offer_answer import LocalMedia, SdpSession
from zongji.sip.sdp import parse_sdp
from zongji.sip.ua.core import UserAgent
from zongji.sip.ua.requests import IncomingCall, IncomingRequest
from zongji.sip.uri import SipUri, parse_uri

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def demo_pbx(database_url: str, tmp_path: Path) -> AsyncIterator[RunningPbx]:
    async with running_pbx(database_url, tmp_path, demo=True, demo_carrier_port=0) as running:
        await ensure_demo(running.services, http_port=0, ports={"sip": running.ports})
        yield running


def carrier_of(pbx: RunningPbx) -> DemoCarrier:
    carrier = pbx.demo_carrier
    assert isinstance(carrier, DemoCarrier)
    return carrier


def demo_json(pbx: RunningPbx) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(demo_file(pbx.services).read_text())
    return data


def sip_of(demo: dict[str, Any], extension: str) -> dict[str, Any]:
    [user] = [u for u in demo["users"] if u["extension"] == extension]
    sip: dict[str, Any] = user["sip"]
    return sip


class Phone:
    """A softphone on our own SIP stack: registers with a demo credential, answers calls
    (sending silence, as phones do) and places them."""

    def __init__(self, sip: dict[str, Any]) -> None:
        self.sip = sip
        # as softphones are set up: the domain in every URI, the node as outbound proxy
        proxy = parse_uri(f"sip:{sip['registrar']}")
        assert isinstance(proxy, SipUri)
        self.ua = UserAgent(local_user=sip["username"], outbound_proxy=proxy)
        self.media = LocalMediaServer(host=HOST, port_min=41000, port_max=41999)
        self.calls: list[str] = []
        self.answering = True
        self._tasks: list[asyncio.Task[Any]] = []

    @property
    def credentials(self) -> Credentials:
        return Credentials(self.sip["username"], self.sip["password"])

    async def start(self) -> None:
        await self.ua.listen("udp", HOST, 0)
        await self.media.start()
        self._tasks.append(asyncio.ensure_future(drain_events(self.media)))
        self.ua.on_request = self._on_request

    async def register(self) -> int:
        registration = self.ua.registration(
            f"sip:{self.sip['domain']}",
            f"sip:{self.sip['username']}@{self.sip['domain']}",
            credentials=self.credentials,
            expires=300,
        )
        return (await registration.register()).status

    async def _on_request(self, incoming: IncomingRequest) -> None:
        if not isinstance(incoming, IncomingCall):
            incoming.respond(200)
            return
        self.calls.append(str(incoming.request.from_addr))
        if not self.answering:
            incoming.reject(486)
            return
        info = await self.media.create_endpoint(EndpointSpec())
        session = SdpSession(LocalMedia(HOST, info.local[1]))
        answer, negotiated = session.answer(parse_sdp(incoming.offer))
        assert negotiated is not None
        await self.media.update_endpoint(info.id, endpoint_spec(negotiated))
        await self.media.play(info.id, [Silence(1000)], loop=True)
        dialog = incoming.answer(answer.encode())
        await dialog.wait_terminated()
        await self.media.destroy_endpoint(info.id)

    async def dial(self, number: str, talk: float) -> int:
        """Call `number` at the PBX; hang up after `talk` seconds; the final status."""
        info = await self.media.create_endpoint(EndpointSpec())
        session = SdpSession(LocalMedia(HOST, info.local[1]))
        call = await self.ua.invite(
            f"sip:{number}@{self.sip['domain']}",
            from_=f"<sip:{self.sip['username']}@{self.sip['domain']}>",
            body=session.offer().encode(),
            credentials=self.credentials,
        )
        try:
            dialog = await asyncio.wait_for(call.answered(), 15)
        finally:
            if call.final_response is None:
                call.cancel()
        assert call.final_response is not None
        negotiated = session.accept_answer(parse_sdp(call.final_response.body))
        assert negotiated is not None
        await self.media.update_endpoint(info.id, endpoint_spec(negotiated))
        await asyncio.sleep(talk)
        await dialog.bye()
        await self.media.destroy_endpoint(info.id)
        return call.final_response.status

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.ua.close()
        await self.media.close()


@contextlib.asynccontextmanager
async def phone(sip: dict[str, Any]) -> AsyncIterator[Phone]:
    p = Phone(sip)
    await p.start()
    try:
        yield p
    finally:
        await p.stop()


async def until(check: Any, within: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def test_demo_json_lists_working_sip_credentials_for_every_user(
    demo_pbx: RunningPbx,
) -> None:
    demo = demo_json(demo_pbx)
    assert demo["sip"]["registrar"] == f"{HOST}:{demo_pbx.udp_port}"
    domain = demo["enterprise"]["sip_domain"]
    with_lines = [u for u in demo["users"] if u["direct_line"]]
    assert len(with_lines) >= 3
    for user in demo["users"]:
        sip = user["sip"]
        assert sip["domain"] == domain
        assert sip["registrar"] == demo["sip"]["registrar"]
        assert sip["username"].startswith(user["extension"])
        assert len(sip["password"]) >= 12
    async with phone(sip_of(demo, "8002")) as li:
        assert await li.register() == 200
    async with phone({**sip_of(demo, "8002"), "password": "wrong-password"}) as mallory:
        assert await mallory.register() in (401, 403)


async def test_the_demo_trunk_registers_with_the_carrier(demo_pbx: RunningPbx) -> None:
    carrier = carrier_of(demo_pbx)
    demo = demo_json(demo_pbx)
    assert demo["sip"]["carrier"]["address"] == f"127.0.0.2:{carrier.port}"
    assert demo["sip"]["carrier"]["trunk"] == DEMO_TRUNK
    await until(lambda: "zongji-demo" in carrier.registrations)


async def test_credentials_stay_across_restarts_and_are_reissued_when_demo_json_is_lost(
    demo_pbx: RunningPbx,
) -> None:
    services = demo_pbx.services
    first = sip_of(demo_json(demo_pbx), "8001")
    await ensure_demo(services, http_port=0, ports={"sip": demo_pbx.ports})
    assert sip_of(demo_json(demo_pbx), "8001") == first  # a restart keeps them

    demo_file(services).unlink()
    await ensure_demo(services, http_port=0, ports={"sip": demo_pbx.ports})
    second = sip_of(demo_json(demo_pbx), "8001")
    assert second["username"] != first["username"]
    async with phone(second) as fresh:
        assert await fresh.register() == 200
    async with phone(first) as old:  # the one nobody can describe any more was revoked
        assert await old.register() in (401, 403)
    trunks = [t for t in await services.pbx.trunks.all() if t.name == DEMO_TRUNK]
    assert len(trunks) == 1  # and the trunk was not made twice


async def _zongji_demo_call(pbx: RunningPbx, *args: str) -> dict[str, Any]:
    """`zongji demo call … --json` in its own process, as a newcomer runs it."""
    out = await _zongji_demo_call_text(pbx, "--json", *args)
    report: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return report


async def _zongji_demo_call_text(pbx: RunningPbx, *args: str) -> str:
    """`zongji demo call …` in its own process; what it printed."""
    settings = pbx.services.settings
    env = {**os.environ, "ZONGJI_SECRET_KEY": settings.secret_key.get_secret_value()}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "zongji.cli",
        "demo",
        "call",
        "--data-dir",
        str(settings.data_dir),
        "--database-url",
        settings.database_url,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    out, err = await asyncio.wait_for(process.communicate(), 90)
    assert out, err.decode()
    if err:
        print(err.decode(), file=sys.stderr)  # shown when the test fails
    return out.decode()


async def test_zongji_demo_call_reaches_the_ivr_and_the_extension_keyed_in(
    demo_pbx: RunningPbx,
) -> None:
    demo = demo_json(demo_pbx)
    async with phone(sip_of(demo, "8001")) as zhang:
        assert await zhang.register() == 200
        report = await _zongji_demo_call(
            demo_pbx, demo["enterprise"]["main_number"], "--digits", "8001", "--wait", "2",
            "--hold", "4",
        )  # fmt: skip
        assert report["answered"], report
        assert report["digits_sent"] == "8001"
        assert len(zhang.calls) == 1  # 张三's phone rang and answered
    record = report["record"]
    assert record is not None, report
    assert record["direction"] == "inbound"
    assert record["caller_number"] == "+8613912345678"
    assert record["answered_by_number"] == "8001", record


async def test_a_softphone_calls_out_through_the_demo_trunk_with_its_direct_line(
    demo_pbx: RunningPbx,
) -> None:
    carrier = carrier_of(demo_pbx)
    await until(lambda: "zongji-demo" in carrier.registrations)
    demo = demo_json(demo_pbx)
    async with phone(sip_of(demo, "8001")) as zhang:
        assert await zhang.register() == 200
        assert await zhang.dial("13912345678", talk=1.0) == 200
    [call] = carrier.calls
    assert call.number.endswith("13912345678")
    assert call.caller.endswith("2584000101")  # 张三's direct line is the caller ID
    tenant = await demo_pbx.services.directory.enterprises.find_by_code("demo")
    assert tenant is not None
    record = await demo_pbx.wait_record(
        tenant, lambda r: r.direction == "outbound" and r.status == "answered"
    )
    assert record.billed_minutes == 1


async def test_zongji_demo_call_to_a_direct_line_rings_its_user_and_says_so(
    demo_pbx: RunningPbx,
) -> None:
    demo = demo_json(demo_pbx)
    [wang] = [u for u in demo["users"] if u["extension"] == "8003"]
    assert wang["direct_line"] == "+862584000102"
    async with phone(wang["sip"]) as phone_of_wang:
        assert await phone_of_wang.register() == 200
        printed = await _zongji_demo_call_text(demo_pbx, "025-84000102", "--hold", "2")
        assert len(phone_of_wang.calls) == 1
    lines = printed.splitlines()
    assert lines[0].startswith("→ INVITE sip:+862584000102@")
    assert "← 200 OK: answered" in lines
    assert lines[-1].startswith("call record: inbound +8613912345678 → 王五; answered by 王五")
