"""The demo walkthrough with a real softphone: baresip, set up with the accounts line the demo
docs give (`docs/pbx/demo.md`) from `demo.json`, calls out through the carrier simulator and is
called from outside with `zongji demo call`."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from tests.interop.baresip import Baresip
from tests.interop.pbx_harness import RunningPbx
from tests.pbx.test_demo import _zongji_demo_call, carrier_of, demo_json, demo_pbx, until

__all__ = ["demo_pbx"]  # the fixture


def accounts_line(sip: dict[str, Any]) -> str:
    """What docs/pbx/demo.md tells a newcomer to put in ~/.baresip/accounts."""
    return (
        f"<sip:{sip['username']}@{sip['domain']}>;auth_pass={sip['password']}"
        f';outbound="sip:{sip["registrar"]}";regint=600;answermode=auto'
    )


async def registered(pbx: RunningPbx, mobile: str) -> tuple[uuid.UUID, uuid.UUID]:
    tenant = await pbx.services.directory.enterprises.find_by_code("demo")
    assert tenant is not None
    [user] = [
        u for u in (await pbx.services.directory.users.page(tenant.id)).items if u.mobile == mobile
    ]
    await until(lambda: bool(pbx.services.pbx.location.contacts(tenant.id, user.id)), 15)
    return tenant.id, user.id


async def test_baresip_with_the_demo_credentials_calls_out_and_is_called_from_outside(
    demo_pbx: RunningPbx,
) -> None:
    demo = demo_json(demo_pbx)
    [zhang] = [u for u in demo["users"] if u["extension"] == "8001"]
    phone = Baresip(accounts_line(zhang["sip"]))
    await phone.start()
    try:
        tenant_id, user_id = await registered(demo_pbx, zhang["mobile"])
        carrier = carrier_of(demo_pbx)
        await until(lambda: "zongji-demo" in carrier.registrations)

        # out: a mobile number, through the demo trunk; the carrier answers with its announcement
        assert (await phone.command("dial", f"sip:13912345678@{zhang['sip']['domain']}"))["ok"]
        await phone.event("CALL_ESTABLISHED", within=15)
        await asyncio.sleep(1.0)
        assert (await phone.command("hangup"))["ok"]
        await phone.event("CALL_CLOSED")
        [out] = carrier.calls
        assert out.caller.endswith("2584000101")  # 张三's direct line

        # in: `zongji demo call` to 张三's direct line; baresip answers by itself
        report = await _zongji_demo_call(demo_pbx, zhang["direct_line"], "--hold", "2")
        assert report["answered"], report
        await phone.event("CALL_ESTABLISHED", within=5)
        assert report["record"] is not None, report
        assert report["record"]["answered_by_name"] == "张三"
    finally:
        await phone.stop()
    page = await demo_pbx.services.pbx.records.search.history(tenant_id, user_id, None)
    kinds = {(r.direction, r.status) for r in page.items}
    assert {("outbound", "answered"), ("inbound", "answered")} <= kinds
