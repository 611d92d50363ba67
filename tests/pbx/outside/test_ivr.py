"""The main number's flow (CALL-5, IVR-4, ADM-10), driven over real RTP.

The caller's phone keys digits as RFC 4733 telephone-events or as in-band key tones into a real
`LocalMediaServer` endpoint; the IVR hears them through the engine's leg (`CallLeg`), looks the
extension up in the PBX's telephony view (`view.py`) of users made through the directory
service, and says where the call goes. Prompts are the shipped catalogue's, played for real
(their length is why some tests take a few seconds).
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.conftest import World
from tests.pbx.outside.outside_leg import answered_call
from zongji.media.api import PlaybackEnd, Prompt
from zongji.pbx.apps.main_menu import flow as ivr
from zongji.pbx.apps.main_menu.flow import IvrChoice, main_number_ivr
from zongji.pbx.contracts import TelephonyView, TenantLine


async def _enterprise(
    world: World, code: str
) -> tuple[TelephonyView, TenantLine, dict[str, uuid.UUID]]:
    tenant = await world.enterprise(code)
    users = {
        "alice": await world.user(tenant, "艾丽斯", "13900000001", extension="8001"),
        "bob": await world.user(tenant, "鲍勃", "13900000002", extension="8002"),
        "desk": await world.user(
            tenant, "前台", "13900000003", extension="8000", is_receptionist=True
        ),
    }
    view = world.services.pbx.view
    line = await view.tenant(tenant.id)
    assert line is not None
    return view, line, users


def _names(items: tuple[object, ...]) -> list[str]:
    return [i.name for i in items if isinstance(i, Prompt)]


async def test_extension_keyed_during_the_greeting_reaches_that_user(world: World) -> None:
    view, line, users = await _enterprise(world, "acme")
    async with answered_call() as (leg, caller):
        flow = asyncio.create_task(main_number_ivr(leg, line, view))
        await asyncio.sleep(0.6)  # into the greeting
        await caller.key("8002")
        choice = await asyncio.wait_for(flow, 10)
    assert choice.subscriber is not None
    assert choice.subscriber.user_id == users["bob"]
    assert not choice.receptionists
    assert choice.digits == "8002"
    items, finished = leg.played[0]
    assert _names(items) == ["welcome", "dial_extension"]
    assert finished.reason is PlaybackEnd.BARGE_IN
    assert finished.digit == "8"


async def test_in_band_key_tones_work_like_telephone_events(world: World) -> None:
    view, line, users = await _enterprise(world, "acme")
    async with answered_call(inband=True) as (leg, caller):
        flow = asyncio.create_task(main_number_ivr(leg, line, view))
        await asyncio.sleep(0.6)
        await caller.key("8001")
        choice = await asyncio.wait_for(flow, 10)
    assert choice.subscriber is not None
    assert choice.subscriber.user_id == users["alice"]


async def test_zero_goes_to_the_receptionists_at_once(world: World) -> None:
    view, line, _ = await _enterprise(world, "acme")
    async with answered_call() as (leg, caller):
        flow = asyncio.create_task(main_number_ivr(leg, line, view))
        await asyncio.sleep(0.6)
        await caller.key("0")
        loop = asyncio.get_running_loop()
        keyed = loop.time()
        choice = await asyncio.wait_for(flow, 10)
        waited = loop.time() - keyed
    assert choice == IvrChoice.reception("0")
    # no inter-digit wait: only the "transferring you" prompt stands between the key and ringing
    assert _names(leg.played[-1][0]) == ["transferring_receptionist"]
    assert waited < ivr.INTER_DIGIT_TIMEOUT + 4.0


async def test_no_input_goes_to_the_receptionists(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ivr, "FIRST_DIGIT_TIMEOUT", 1.0)  # 8 s in service; the rule is the same
    view, line, _ = await _enterprise(world, "acme")
    async with answered_call() as (leg, _caller):
        choice = await asyncio.wait_for(main_number_ivr(leg, line, view), 30)
    assert choice.receptionists
    assert choice.subscriber is None
    assert choice.digits == ""
    assert leg.played[0][1].reason is PlaybackEnd.COMPLETED  # the whole greeting was heard


async def test_a_wrong_number_is_announced_and_asked_again(world: World) -> None:
    view, line, users = await _enterprise(world, "acme")
    async with answered_call() as (leg, caller):
        flow = asyncio.create_task(main_number_ivr(leg, line, view))
        await asyncio.sleep(0.6)
        await caller.key("8999")  # nobody has it
        await leg.until_played(1)
        await asyncio.sleep(0.6)  # into "the number does not exist"
        await caller.key("8001")
        choice = await asyncio.wait_for(flow, 10)
    assert choice.subscriber is not None
    assert choice.subscriber.user_id == users["alice"]
    assert _names(leg.played[1][0]) == ["invalid_number", "dial_extension"]
    assert leg.played[1][1].reason is PlaybackEnd.BARGE_IN


async def test_two_wrong_numbers_go_to_the_receptionists(world: World) -> None:
    view, line, _ = await _enterprise(world, "acme")
    async with answered_call() as (leg, caller):
        flow = asyncio.create_task(main_number_ivr(leg, line, view))
        await asyncio.sleep(0.6)
        await caller.key("8999")
        await leg.until_played(1)
        await asyncio.sleep(0.6)
        await caller.key("12#")  # too short, ended with #: wrong without waiting
        choice = await asyncio.wait_for(flow, 20)
    assert choice.receptionists
    assert choice.digits == "12"
    assert [_names(items) for items, _ in leg.played] == [
        ["welcome", "dial_extension"],
        ["invalid_number", "dial_extension"],
        ["invalid_number"],
        ["transferring_receptionist"],
    ]


async def test_an_extension_of_another_enterprise_is_not_found(world: World) -> None:
    view, line, _ = await _enterprise(world, "acme")
    other = await world.enterprise("other")
    await world.user(other, "外人", "13900000009", extension="8005")
    assert await view.by_extension(other.id, "8005") is not None
    async with answered_call() as (leg, caller):
        flow = asyncio.create_task(main_number_ivr(leg, line, view))
        await asyncio.sleep(0.6)
        await caller.key("8005")
        await leg.until_played(1)
        await asyncio.sleep(0.3)
        leg.caller_hangs_up()
        choice = await asyncio.wait_for(flow, 5)
    assert choice.abandoned
    assert _names(leg.played[1][0]) == ["invalid_number", "dial_extension"]


async def test_caller_hanging_up_in_the_greeting_stops_the_flow_at_once(world: World) -> None:
    view, line, _ = await _enterprise(world, "acme")
    async with answered_call() as (leg, _caller):
        flow = asyncio.create_task(main_number_ivr(leg, line, view))
        await asyncio.sleep(0.5)
        leg.caller_hangs_up()
        choice = await asyncio.wait_for(flow, 0.5)
    assert choice is IvrChoice.ABANDONED
    assert choice.abandoned


async def test_caller_hanging_up_while_keying_stops_the_flow_at_once(world: World) -> None:
    view, line, _ = await _enterprise(world, "acme")
    async with answered_call() as (leg, caller):
        flow = asyncio.create_task(main_number_ivr(leg, line, view))
        await asyncio.sleep(0.5)
        await caller.key("80")
        leg.caller_hangs_up()
        choice = await asyncio.wait_for(flow, 0.5)
    assert choice.abandoned


def test_a_choice_is_never_both_the_receptionists_and_a_user() -> None:
    with pytest.raises(ValueError, match="not both"):
        IvrChoice(receptionists=True, subscriber=object())  # type: ignore[arg-type]
