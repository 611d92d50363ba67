"""The outbound policy on real calls: SIPp phones dial out through a running PBX to SIPp as the
carrier. A refused call hears why (early media) and gets 403, leaving a record "refused" with the
rule; a call whose minute quota runs out is hung up by the PBX at the limit, on both sides, is
billed exactly the minutes it had, and the user is frozen afterwards; while it holds the last
minute, the same user's second phone can't call out.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from tests.interop import pbx_harness
from tests.interop.pbx_harness import HOST, RunningPbx, SipCredential, running_pbx
from tests.interop.sipp import Sipp, free_port

from zongji.pbx.contracts import CallStatus
from zongji.pbx.trunks.models import TrunkMode
from zongji.pbx.trunks.schemas import TrunkCreate
from zongji.platform.actor import SYSTEM

pytestmark = pytest.mark.interop

SCENARIOS = Path(__file__).parent / "scenarios"


@pytest.fixture
async def node(database_url: str, tmp_path: Path) -> AsyncIterator[RunningPbx]:
    # no media timeout: the SIPp peers send no RTP, and the quota (not silence) must end the call
    async with running_pbx(database_url, tmp_path / "node", media_timeout=0) as running:
        yield running


async def _enterprise(pbx: RunningPbx, carrier_port: int) -> pbx_harness.PbxTenant:
    acme = await pbx.enterprise("acme", main_number="025-8888 0000")
    await pbx.services.pbx.trunks.create(
        SYSTEM,
        TrunkCreate(
            name="carrier",
            host=HOST,
            port=carrier_port,
            mode=TrunkMode.IP,
            options_interval=0,
        ),
    )
    await pbx.services.pbx.trunk_runtime.reload()
    return acme


async def _user(
    pbx: RunningPbx, tenant: pbx_harness.PbxTenant, name: str, ext: str, **policy: object
) -> tuple[uuid.UUID, SipCredential]:
    """A user with the given policy fields, once the PBX's view has them, and a device."""
    user = await pbx.user(tenant, name, ext, **policy)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while await pbx.services.pbx.view.subscriber(tenant.id, user) is None:
        assert loop.time() < deadline, "the PBX's view never saw the new user"
        await asyncio.sleep(0.05)
    return user, await pbx.device(tenant, user)


def _phone(
    scenario: str, cred: SipCredential, dialled: str, tmp_path: Path, pbx: RunningPbx
) -> Sipp:
    fields = tmp_path / f"{scenario}-{uuid.uuid4().hex[:6]}.csv"
    fields.write_text(
        "SEQUENTIAL\n"
        f"{cred.username};{dialled};{cred.domain};"
        f"[authentication username={cred.username} password={cred.password}]\n"
    )
    return Sipp(
        "-sf", str(SCENARIOS / f"{scenario}.xml"), "-inf", str(fields), pbx.address,
        "-m", "1", "-timeout", "150s", "-mi", HOST, "-mp", str(free_port()),
        # SIPp's digest-uri is the remote address unless told: the PBX wants the Request-URI
        "-auth_uri", f"{dialled}@{cred.domain}",
    )  # fmt: skip


async def _run(sipp: Sipp, within: float) -> None:
    await sipp.start()
    try:
        result = await sipp.wait(within)
        assert result.successful == 1, result.explain() + result.messages[-4000:]
    finally:
        await sipp.stop()
        sipp.cleanup()


def _outside_hours() -> tuple[str, str]:
    """A one-minute working day twelve hours away from now (Shanghai time): whenever the test
    runs, it is outside working hours."""
    away = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")) + timedelta(hours=12)
    return away.strftime("%H:00"), away.strftime("%H:01")


async def test_refused_calls_hear_why_and_leave_a_refused_record(
    node: RunningPbx, tmp_path: Path
) -> None:
    carrier_port = free_port()
    acme = await _enterprise(node, carrier_port)
    start, end = _outside_hours()
    cases = [
        ("内线", {"outbound_restriction": "internal"}, "02584123456", "restriction"),
        ("本地", {"outbound_restriction": "local"}, "13912345678", "restriction"),
        ("国际", {"outbound_restriction": "domestic"}, "0014155550123", "restriction"),
        (
            "下班",
            {"outbound_time": "workdays", "work_start": start, "work_end": end},
            "02584123456",
            "outbound_time",
        ),
        ("额度", {"monthly_minutes": 0}, "13912345678", "quota_exhausted"),
    ]
    for i, (name, policy, dialled, rule) in enumerate(cases):
        user, cred = await _user(node, acme, name, f"80{i + 10}", **policy)
        await _run(_phone("policy_refused", cred, dialled, tmp_path, node), 60)
        record = await node.wait_record(acme, lambda r, u=user: r.caller_user_id == u)
        assert record.status is CallStatus.REFUSED, (name, record)
        assert record.rule == rule, (name, record)
        assert record.trunk_id is None  # nothing reached the carrier


async def test_a_quota_running_out_ends_the_call_at_the_limit(
    node: RunningPbx, tmp_path: Path
) -> None:
    carrier_port = free_port()
    acme = await _enterprise(node, carrier_port)
    user, cred = await _user(node, acme, "限额", "8001", monthly_minutes=1)
    carrier = Sipp(
        "-sf", str(SCENARIOS / "policy_carrier.xml"), "-m", "1",
        "-mi", HOST, "-mp", str(free_port()),
        local_port=carrier_port,
    )  # fmt: skip
    second = await node.device(acme, user, kind="desk_phone")  # the same user's other phone
    policy = node.services.pbx.policy
    await carrier.start()
    try:
        limited = asyncio.create_task(
            _run(_phone("policy_limited", cred, "13912345678", tmp_path, node), 130)
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        while (await policy.user_policy(acme.id, user)).reserved_minutes != 1:
            assert loop.time() < deadline, "the call was never answered"
            await asyncio.sleep(0.1)
        # while the first call holds the minute, a second call of the same user gets nothing
        await _run(_phone("policy_refused", second, "02584123456", tmp_path, node), 60)
        await limited
        result = await carrier.wait(20)
        assert result.successful == 1, result.explain()  # the carrier got the BYE too
    finally:
        await carrier.stop()
        carrier.cleanup()

    held = await node.wait_record(
        acme, lambda r: r.caller_user_id == user and r.status is CallStatus.REFUSED
    )
    assert held.rule == "quota_exhausted"
    assert held.callee_number.endswith("84123456")
    record = await node.wait_record(
        acme, lambda r: r.caller_user_id == user and r.status is CallStatus.ANSWERED
    )
    assert record.status is CallStatus.ANSWERED
    assert record.hangup_side == "system"
    assert record.answered_at is not None
    assert record.ended_at is not None
    talk = (record.ended_at - record.answered_at).total_seconds()
    assert 59 <= talk <= 63, talk  # the one minute left, not a second of overrun

    standing = await policy.user_policy(acme.id, user)
    assert (standing.used_minutes, standing.reserved_minutes, standing.frozen) == (1, 0, True)
    assert policy.live_calls() == 0

    # frozen: the next outside call is refused and says so (its record is written just after
    # SIPp's end: wait for it rather than race it)
    await _run(_phone("policy_refused", cred, "13912345678", tmp_path, node), 60)
    await node.wait_record(acme, lambda r: r.status is CallStatus.REFUSED and r.id != held.id)
    refusals = [
        r
        for r in await node.records(acme)
        if r.status is CallStatus.REFUSED and r.ended_at is not None
    ]
    assert [r.rule for r in refusals] == ["quota_exhausted", "quota_exhausted"]
