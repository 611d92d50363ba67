"""A destination kind outside the nine is its application plus one registration: the test-only
applications of `new_kind.py`, registered into an `Applications` built here, take real calls
through the engine — by a dial string, and by a configured destination (a menu key) whose kind
is text — with no edit to `destinations.py`, the router or the engine. A configured kind nothing
serves is still refused with 480 and recorded failed."""

from __future__ import annotations

import asyncio

import pytest

from tests.pbx.calls.new_kind import WAKE_UP_CALL, KeyMenu, WakeUpCall
from tests.pbx.calls.rig import CallRig
from zongji.pbx.apps.registry import APPLICATIONS, Applications
from zongji.pbx.calls.router import Router
from zongji.pbx.destinations import Destination, DestinationKind, Target
from zongji.platform.errors import FieldError


def _register(rig: CallRig, *extra: object) -> Applications:
    """The node's applications plus `extra`, as a line in `APPLICATIONS` would add them."""
    assert rig.engine is not None
    applications = Applications((*APPLICATIONS, *extra))  # type: ignore[arg-type]
    pbx = rig.services.pbx
    rig.engine.applications = applications
    rig.engine.router = Router(pbx.view, pbx.numbers, pbx.voicemail, applications)
    return applications


async def test_a_new_kind_is_reached_by_its_dial_string(rig: CallRig) -> None:
    acme = await rig.enterprise("acme")
    alice = await rig.user(acme, "张三", "8001")
    wake_up = WakeUpCall()
    _register(rig, wake_up)
    a = await rig.phone(acme, alice)

    call = await a.call("*55")
    dialog = await asyncio.wait_for(a.answered(call), 10)
    await a.key("3")
    await asyncio.wait_for(dialog.wait_terminated(), 10)

    [(destination, key)] = wake_up.runs
    assert key == "3"
    assert destination is not None
    assert destination.kind is WAKE_UP_CALL
    assert (destination.application, destination.number) == ("wake_up_call", "*55")
    record = await rig.wait_record(acme)
    assert (record.callee_number, record.callee_name) == ("*55", "Wake-up call")
    assert (record.status, record.reason) == ("answered", "wake-up call booked")
    await rig.idle()


async def test_a_menu_key_configured_with_a_new_kind_routes_to_its_application(
    rig: CallRig,
) -> None:
    acme = await rig.enterprise("acme")
    alice = await rig.user(acme, "张三", "8001")
    wake_up = WakeUpCall()
    _register(rig, wake_up, KeyMenu())
    a = await rig.phone(acme, alice)

    call = await a.call("*56")
    dialog = await asyncio.wait_for(a.answered(call), 10)
    await a.key("1")  # KEYS["1"]: Target("wake_up_call", "07:30")
    await a.key("9")  # for the wake-up call's own question
    await asyncio.wait_for(dialog.wait_terminated(), 10)

    [(destination, key)] = wake_up.runs
    assert key == "9"
    assert destination is not None
    assert (destination.kind, destination.number) == (WAKE_UP_CALL, "07:30")
    record = await rig.wait_record(acme)
    assert (record.status, record.reason) == ("answered", "wake-up call booked")
    await rig.idle()


async def test_a_menu_key_configured_with_a_kind_nothing_serves_is_480_failed(
    rig: CallRig,
) -> None:
    acme = await rig.enterprise("acme")
    alice = await rig.user(acme, "张三", "8001")
    _register(rig, WakeUpCall(), KeyMenu())
    a = await rig.phone(acme, alice)

    call = await a.call("*56")
    dialog = await asyncio.wait_for(a.answered(call), 10)
    await a.key("2")  # KEYS["2"]: Target("no_such_service")
    await asyncio.wait_for(dialog.wait_terminated(), 10)

    record = await rig.wait_record(acme)
    assert (record.status, record.reason) == ("failed", "480 no_such_service")
    await rig.idle()


async def test_configured_destinations_of_each_builtin_kind(rig: CallRig) -> None:
    acme = await rig.enterprise("acme")
    alice = await rig.user(acme, "张三", "8001", voicemail=True)
    await rig.user(acme, "前台", "8000", is_receptionist=True)
    line = await rig.services.pbx.view.tenant(acme.id)
    assert line is not None
    router = Router(
        rig.services.pbx.view,
        rig.services.pbx.numbers,
        rig.services.pbx.voicemail,
        Applications((*APPLICATIONS, WakeUpCall())),
    )

    user = await router.configured(line, Target("user", str(alice)))
    assert user.kind is DestinationKind.USER
    assert user.user is not None
    assert user.user.user_id == alice
    box = await router.configured(line, Target("voicemail_box", str(alice)))
    assert (box.kind, [u.user_id for u in box.users]) == (DestinationKind.VOICEMAIL_BOX, [alice])
    front = await router.configured(line, Target("receptionists"))
    assert front.kind is DestinationKind.RECEPTIONISTS
    assert [u.extension for u in front.users] == ["8000"]
    out = await router.configured(line, Target("external_number", "13912345678"))
    assert (out.kind, out.number) == (DestinationKind.EXTERNAL_NUMBER, "+8613912345678")
    refuse = await router.configured(line, Target("hang_up", "486"))
    assert (refuse.kind, refuse.status) == (DestinationKind.HANG_UP, 486)
    menu = await router.configured(line, Target("ivr_menu"))
    assert (menu.kind, menu.application) == (DestinationKind.IVR_MENU, "main_number_menu")
    wake = await router.configured(line, Target("wake_up_call", "06:00"))
    assert (wake.kind, wake.application, wake.number) == (WAKE_UP_CALL, "wake_up_call", "06:00")
    nothing = await router.configured(line, Target("ring_group", "sales"))
    assert (nothing.kind, nothing.application) == (DestinationKind.RING_GROUP, None)
    gone = await router.configured(line, Target("user", "not-an-id"))
    assert (gone.kind, gone.status) == (DestinationKind.HANG_UP, 404)
    bad = await router.configured(line, Target("Not A Kind"))
    assert (bad.kind, bad.status) == (DestinationKind.HANG_UP, 404)


def test_kinds_are_open_interned_names() -> None:
    assert DestinationKind("user") is DestinationKind.USER
    assert DestinationKind("wake_up_call") is WAKE_UP_CALL
    assert WAKE_UP_CALL == "wake_up_call"
    assert f"{DestinationKind.RING_GROUP}" == "ring_group"
    assert Destination("wake_up_call", None).kind is WAKE_UP_CALL  # type: ignore[arg-type]
    for text in ("", "User", "wake up", "1st", "x" * 41):
        with pytest.raises(ValueError, match="not a destination kind name"):
            DestinationKind(text)


def test_only_a_served_kind_may_be_stored() -> None:
    """What an API storing a destination checks: a kind nothing serves is a 422 with a stable
    code, before it is stored; a registered application's kind is accepted."""
    plain = Applications()
    with_wake_up = Applications((*APPLICATIONS, WakeUpCall()))
    assert with_wake_up.destination_kind("wake_up_call") is WAKE_UP_CALL
    assert plain.destination_kind("user") is DestinationKind.USER
    assert plain.destination_kind("ivr_menu") is DestinationKind.IVR_MENU
    for text in ("wake_up_call", "ring_group", "conference_bridge", "Not A Kind"):
        with pytest.raises(FieldError) as refused:
            plain.destination_kind(text, field="keys.1.kind")
        problem = refused.value
        assert problem.status == 422
        [error] = problem.extra["errors"]
        assert (error["field"], error["code"]) == ("keys.1.kind", "unknown_destination_kind")
        assert text in error["message"]
    assert WAKE_UP_CALL in with_wake_up.kinds()
    assert DestinationKind.RING_GROUP not in with_wake_up.kinds()
