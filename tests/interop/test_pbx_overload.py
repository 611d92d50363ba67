"""Overload control with SIPp (issue 16): a node configured for RATE new calls a second is offered
twice that. The excess is refused with a stateless 503 and Retry-After, never written anywhere;
every call admitted completes; a phone registering and the HTTP API during the overload are
served; `/metrics` shows the limit and the refusals."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from tests.interop.pbx_harness import HOST, RunningPbx, running_pbx
from tests.interop.peers import GOOD_SDP, Peers
from tests.interop.test_pbx_calls import records, registered

from zongji.api.app import create_app
from zongji.pbx.calls.admission import Refusal

RATE = 10  # calls per second the node is configured for
OFFERED = 2 * RATE
CALLS = 5 * OFFERED  # five seconds of it


@pytest.fixture
async def node(database_url: str, tmp_path: Path) -> AsyncIterator[RunningPbx]:
    async with running_pbx(database_url, tmp_path / "node", sip_max_call_rate=RATE) as running:
        yield running


def _refused_calls(messages: str) -> set[str]:
    """The Call-IDs SIPp got a 503 for, from its message log."""
    refused = set()
    for block in messages.split("-----"):
        if "SIP/2.0 503 " in block:
            found = re.search(r"^Call-ID:\s*(\S+)", block, re.MULTILINE | re.IGNORECASE)
            assert found is not None, block
            refused.add(found.group(1))
    return refused


async def test_twice_the_rated_calls_the_excess_gets_503_the_rest_complete(
    node: RunningPbx, peers: Peers
) -> None:
    acme = await node.enterprise("acme")
    alice = await node.user(acme, "张三", "8001")
    bob = await node.user(acme, "李四", "8002")
    carol = await node.user(acme, "王五", "8003")
    # a registered SIPp desk phone that answers every call until it is stopped
    await peers.registered_sipp(await node.device(acme, bob), "pbx_callee", "-m", "100000")
    await registered(node, acme, bob)
    admission = node.services.pbx.admission

    cred = await node.device(acme, alice)
    auth = f"[authentication username={cred.username} password={cred.password}]"
    caller = peers.sipp(
        "pbx_caller_overload",
        f"{cred.username};8002;{cred.domain};{auth};{GOOD_SDP}",
        node.address,
        "-auth_uri", f"8002@{cred.domain}",
        "-r", str(OFFERED), "-m", str(CALLS), "-l", str(CALLS),
    )  # fmt: skip
    await caller.start()

    # once calls are being refused, a phone registers and the HTTP API answers
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while admission.refused[Refusal.RATE] == 0:
        assert loop.time() < deadline, "no call was refused"
        await asyncio.sleep(0.05)
    await peers.register(await node.device(acme, carol))
    await registered(node, acme, carol)
    app = create_app(node.services)
    app.state.ready = True
    transport = httpx.ASGITransport(app=app, client=(HOST, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://zongji.test") as api:
        health = await api.get("/healthz")
        assert health.status_code == 200, health.text

        result = await caller.wait(120)
        assert result.failed == 0, result.explain() + result.messages[-6000:]
        assert result.successful == CALLS, result.explain()
        refused = _refused_calls(result.messages)
        assert refused, "no call was refused"
        assert len(refused) < CALLS
        assert "Retry-After: 1" in result.messages

        # every admitted call completed and left its record; the refused ones left nothing
        answered = CALLS - len(refused)
        deadline = loop.time() + 30
        while len(found := await records(node, acme)) < answered:
            assert loop.time() < deadline, f"{len(found)} of {answered} records"
            await asyncio.sleep(0.2)
        assert len(found) == answered
        assert all((r.status, r.hangup_side) == ("answered", "caller") for r in found), found
        assert admission.refused[Refusal.RATE] >= len(refused)
        assert admission.refused[Refusal.CALLS] == admission.refused[Refusal.LAG] == 0

        metrics = (await api.get("/metrics")).text
    assert "zongji_sip_max_call_rate 10.0" in metrics
    count = re.search(r'^zongji_sip_calls_refused_total\{reason="rate"\} (\S+)$', metrics, re.M)
    assert count is not None, metrics
    assert float(count.group(1)) == admission.refused[Refusal.RATE]
    assert re.search(r"^zongji_sip_calls_admitted_total (\S+)$", metrics, re.M)
    assert re.search(r"^zongji_sip_loop_lag_seconds (\S+)$", metrics, re.M)
