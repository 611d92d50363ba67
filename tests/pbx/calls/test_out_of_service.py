"""Users out of service (suspended, OPS-3; outside validity, ADM-21) through the engine and the
registrar on real sockets: their REGISTERs get 403, their calls (internal ones too) are refused,
and calls to them are not put through (480, no voicemail: they could not collect it)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from tests.pbx.calls.rig import CallRig, Phone
from zongji.platform.actor import SYSTEM
from zongji.sip.auth.client import Credentials
from zongji.sip.ua.outgoing import CallFailed


async def _register_status(phone: Phone) -> int:
    c = phone.credential
    registration = phone.ua.registration(
        f"sip:{c.domain}",
        f"sip:{c.username}@{c.domain}",
        credentials=Credentials(c.username, c.password),
        expires=600,
        destination=phone.pbx,
    )
    return (await registration.register()).status


async def _refused_with(phone: Phone, number: str) -> int:
    call = await phone.call(number)
    with pytest.raises(CallFailed) as failed:
        await call.answered()
    assert failed.value.response is not None
    return failed.value.response.status


async def test_a_suspended_user_cannot_register_or_call_and_is_not_put_through(
    rig: CallRig,
) -> None:
    acme = await rig.enterprise("acme")
    alice = await rig.user(acme, "张三", "8001", voicemail=True)
    bob = await rig.user(acme, "李四", "8002")
    a = await rig.phone(acme, alice)
    b = await rig.phone(acme, bob)

    assert rig.services.pbx.location.contacts(acme.id, alice)
    await rig.services.identity.set_user_suspended(SYSTEM, acme.id, alice, True)
    for _ in range(100):  # the registrations end as soon as the event is delivered
        if not rig.services.pbx.location.contacts(acme.id, alice):
            break
        await asyncio.sleep(0.05)
    assert not rig.services.pbx.location.contacts(acme.id, alice)
    assert await _register_status(a) == 403
    assert await _refused_with(a, "8002") == 403  # internal calls too
    record = await rig.wait_record(acme)
    assert (record.status, record.rule) == ("refused", "user_suspended")
    assert await _refused_with(b, "8001") == 480  # not rung, and no voicemail
    await rig.idle()

    await rig.services.identity.set_user_suspended(SYSTEM, acme.id, alice, False)
    assert await _register_status(a) == 200
    b.mode = "answer"
    call = await a.call("8002")
    dialog = await a.answered(call)
    await dialog.bye()
    await rig.idle()


async def test_outside_the_validity_period_no_register_and_no_internal_call(
    rig: CallRig,
) -> None:
    acme = await rig.enterprise("acme")
    yesterday_or_so = (datetime.now(UTC) - timedelta(days=2)).date()
    expired = await rig.user(acme, "过期", "8001", valid_until=yesterday_or_so)
    bob = await rig.user(acme, "李四", "8002")
    b = await rig.phone(acme, bob)
    a = await rig.phone(acme, expired, register=False)

    assert await _register_status(a) == 403
    assert await _refused_with(a, "8002") == 403
    record = await rig.wait_record(acme)
    assert (record.status, record.rule) == ("refused", "validity")
    assert await _refused_with(b, "8001") == 480
    await rig.idle()
