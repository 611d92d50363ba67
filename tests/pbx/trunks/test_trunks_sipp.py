"""SIPp as the carrier: our trunk registers with Digest that SIPp's own code verifies, keeps the
trunk alive with OPTIONS that SIPp answers, is taken out when SIPp goes away (the next trunk goes
first) and comes back when it returns."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.interop.sipp import Sipp, free_port, wait_bound
from tests.pbx.lines import nanjing
from zongji.pbx.trunks.models import TrunkMode
from zongji.pbx.trunks.runtime import TrunkRuntime
from zongji.pbx.trunks.schemas import TrunkCreate
from zongji.platform.actor import SYSTEM
from zongji.platform.clock import FakeClock
from zongji.services import Services
from zongji.sip.ua.core import UserAgent

pytestmark = pytest.mark.interop

SCENARIO = Path(__file__).with_name("scenarios") / "carrier_registrar.xml"
HOST = "127.0.0.1"
TENANT = nanjing(main_number="+862588880000")


async def eventually(check: Callable[[], bool], within: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {within}s: {what}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def sipp_carriers() -> AsyncIterator[list[Sipp]]:
    started: list[Sipp] = []
    yield started
    for sipp in started:
        await sipp.stop()
        sipp.cleanup()


async def start_carrier(started: list[Sipp], port: int) -> Sipp:
    sipp = Sipp("-sf", str(SCENARIO), local_port=port)
    started.append(sipp)
    await sipp.start()
    await wait_bound(port)
    return sipp


async def test_sipp_carrier_registration_keepalive_failover_and_recovery(
    services: Services, clock: FakeClock, sipp_carriers: list[Sipp]
) -> None:
    port = free_port()
    carrier = await start_carrier(sipp_carriers, port)
    # the fallback: a carrier without keep-alive, always up
    fallback = TrunkCreate(
        name="fallback", host=HOST, port=free_port(), mode=TrunkMode.IP, options_interval=0
    )
    await services.pbx.trunks.create(SYSTEM, fallback.model_copy(update={"priority": 50}))
    data = TrunkCreate(
        name="sipp-carrier",
        host=HOST,
        port=port,
        mode=TrunkMode.REGISTRATION,
        username="02588880000",
        password="carrier-secret",
        realm="carrier.example.com",
        register_expires=60,
        options_interval=1,
        priority=1,
    )
    trunk_id = (await services.pbx.trunks.create(SYSTEM, data)).id

    ua = UserAgent(local_user="zongji")
    await ua.listen("udp", HOST, 0)
    runtime = TrunkRuntime(
        services.pbx.trunks, services.bus, clock, failures_to_down=2, sip_timeout=0.5
    )
    try:
        await runtime.start(ua)
        await eventually(
            lambda: runtime.health(trunk_id).state == "up", 10, "registered and answered"
        )
        assert runtime.health(trunk_id).registered is True  # SIPp verified our Digest
        names = [d.trunk_name for d in runtime.dials(TENANT, "+8613912345678", "+862588880000")]
        assert names == ["sipp-carrier", "fallback"]

        await carrier.stop()  # the carrier goes away
        await eventually(lambda: runtime.health(trunk_id).state == "down", 15, "taken out")
        assert runtime.health(trunk_id).reason == "options_unanswered"
        names = [d.trunk_name for d in runtime.dials(TENANT, "+8613912345678", "+862588880000")]
        assert names == ["fallback", "sipp-carrier"]

        await start_carrier(sipp_carriers, port)  # and comes back
        await eventually(lambda: runtime.health(trunk_id).state == "up", 15, "back in")
        names = [d.trunk_name for d in runtime.dials(TENANT, "+8613912345678", "+862588880000")]
        assert names == ["sipp-carrier", "fallback"]
    finally:
        await runtime.stop()
        await ua.close()
    result = await carrier.wait(5)
    assert result.failed == 0, result.explain()
    assert result.successful >= 2, result.explain()  # the registration and keep-alives
