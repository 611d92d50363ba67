"""Phones behind a SIP proxy (RFC 3327 Path): Kamailio as the edge proxy in front of the node.

The desk phone (SIPp) registers through Kamailio, whose path module adds a Path header; the
node must keep the phone's Contact as sent (the REGISTER's source is the proxy, not a NAT) and
send calls for the phone to Kamailio with the Path as the Route set. A colleague (SIPp, direct
to the node) calls the phone: it rings and answers, and the INVITE it got came through Kamailio.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.interop.kamailio import kamailio
from tests.interop.pbx_harness import RunningPbx, SipCredential, running_pbx
from tests.interop.peers import Peers
from tests.interop.sipp import Sipp, free_port, ok, wait_bound
from tests.interop.test_pbx_calls import registered, wait_record


@pytest.fixture
async def node(database_url: str, tmp_path: Path) -> AsyncIterator[RunningPbx]:
    async with running_pbx(database_url, tmp_path / "node", ring_timeout=5.0) as running:
        yield running


async def test_a_phone_registered_through_kamailio_rings_through_it(
    node: RunningPbx, peers: Peers
) -> None:
    acme = await node.enterprise("acme")
    alice = await node.user(acme, "张三", "8001")
    bob = await node.user(acme, "李四", "8002")
    async with kamailio("edge_proxy", REGISTRAR=f"sip:{node.address}") as proxy:
        bob_cred = await node.device(acme, bob)
        phone = await desk_phone_behind(proxy.address, peers, bob_cred)
        await registered(node, acme, bob)
        (contact,) = node.services.pbx.location.contacts(acme.id, bob)
        # kept as the phone sent it: the REGISTER's source is the proxy, not a NAT
        assert contact.uri == f"sip:{bob_cred.username}@127.0.0.1:{phone.local_port}"

        caller = peers.caller("pbx_caller", await node.device(acme, alice), "8002")
        await caller.start()
        ok(await caller.wait(30))
        record = await wait_record(node, acme)
        assert (record.status, record.answered_by_user_id) == ("answered", bob)
        answered = await phone.wait(15)
        ok(answered)
        invite = answered.messages.split("INVITE sip:", 1)[1].split("\n\n", 1)[0]
        assert f"Via: SIP/2.0/UDP {proxy.address}" in invite  # it came through the proxy
        assert contact.path == (f"<sip:{proxy.address};lr>",), proxy.read_log()[-3000:]


async def desk_phone_behind(proxy: str, peers: Peers, cred: SipCredential) -> Sipp:
    """A SIPp desk phone that knows only the proxy: registers there, then waits for calls."""
    port = free_port()
    auth = f"[authentication username={cred.username} password={cred.password}]"
    register = peers.sipp(
        "pbx_phone_register",
        f"{cred.username};{cred.domain};{auth}",
        proxy,
        "-auth_uri",
        cred.domain,
        local_port=port,
    )
    await register.start()
    ok(await register.wait(20))
    phone = peers.sipp("pbx_callee", "x", local_port=port)
    await phone.start()
    await wait_bound(port)
    return phone
