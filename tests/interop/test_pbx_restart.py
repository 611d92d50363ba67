"""A node that restarts keeps its registrations: a phone that registered before rings after.

The node runs in this process (the harness's `PbxComponent`), stops as `zongji serve` does on
SIGTERM, and starts again on the same database and SIP port; the SIPp desk phone does not
register again (it was granted 300 s), and a colleague's call to it rings it.
"""

from __future__ import annotations

from pathlib import Path

from tests.interop.pbx_harness import running_pbx
from tests.interop.peers import Peers
from tests.interop.sipp import ok, wait_bound
from tests.interop.test_pbx_calls import registered, wait_record

from zongji.pbx.records.search import CallRecordOut


async def test_a_phone_registered_before_a_restart_rings_after_it(
    database_url: str, tmp_path: Path
) -> None:
    async with running_pbx(database_url, tmp_path / "first", ring_timeout=5.0) as first:
        acme = await first.enterprise("acme")
        alice = await first.user(acme, "张三", "8001")
        bob = await first.user(acme, "李四", "8002")
        alice_cred, bob_cred = await first.device(acme, alice), await first.device(acme, bob)
        peers = Peers(first, tmp_path)
        try:
            phone = await peers.registered_sipp(bob_cred, "pbx_callee")
            await registered(first, acme, bob)
        finally:
            await peers.close()  # the phone's call handling starts again below, same port
        port = first.udp_port

    async with running_pbx(
        database_url, tmp_path / "second", clear=False, sip_port=port, ring_timeout=5.0
    ) as second:
        peers = Peers(second, tmp_path)
        try:
            (contact,) = second.services.pbx.location.contacts(acme.id, bob)
            assert contact.flow.remote.port == phone.local_port
            callee = peers.sipp("pbx_callee", "x", local_port=phone.local_port)
            await callee.start()
            await wait_bound(phone.local_port)
            caller = peers.caller("pbx_caller", alice_cred, "8002")
            await caller.start()
            ok(await caller.wait(30))
            ok(await callee.wait(15))
        finally:
            await peers.close()

        def answered(record: CallRecordOut) -> bool:
            return record.status == "answered" and record.answered_by_user_id == bob

        await wait_record(second, acme, answered)
