"""The router resolves what was dialled, what a called number points at and what a caller chose
into one `Destination`, over the node's real directory, number pool and voicemail."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import pytest

from tests.pbx.calls.rig import CallRig, Tenant
from zongji.pbx.apps.application import AppContext, Application, AppOutcome
from zongji.pbx.apps.registry import APPLICATIONS, Applications
from zongji.pbx.calls.router import Router
from zongji.pbx.contracts import CallStatus, DialKind, TenantLine
from zongji.pbx.destinations import Destination, DestinationKind
from zongji.sip.ua.outgoing import CallFailed

MAIN = "+862588880000"
DIRECT = "+862566660001"


async def _acme(rig: CallRig) -> tuple[Tenant, TenantLine, Router]:
    acme = await rig.enterprise("acme", main_number="025-8888 0000")
    await rig.numbers(acme, DIRECT)
    line = await rig.services.pbx.view.tenant(acme.id)
    assert line is not None
    assert rig.engine is not None
    return acme, line, rig.engine.router


async def _user(rig: CallRig, acme: Tenant, extension: str, **kw: Any) -> uuid.UUID:
    return await rig.user(acme, f"用户{extension}", extension, **kw)


async def test_dialled_strings(rig: CallRig) -> None:
    acme, line, router = await _acme(rig)
    bob = await _user(rig, acme, "8002")

    user = await router.dialled(line, "8002")
    assert user.kind is DestinationKind.USER
    assert user.user is not None
    assert user.user.user_id == bob
    assert user.voicemail_for is not None
    assert user.voicemail_for.user_id == bob
    assert user.dialled is not None
    assert user.dialled.kind is DialKind.EXTENSION

    external = await router.dialled(line, "13912345678")
    assert (external.kind, external.number) == (DestinationKind.EXTERNAL_NUMBER, "+8613912345678")
    emergency = await router.dialled(line, "110")
    assert (emergency.kind, emergency.number) == (DestinationKind.EXTERNAL_NUMBER, "110")

    greeting = await router.dialled(line, "*97")
    assert (greeting.kind, greeting.application) == (
        DestinationKind.FEATURE_CODE,
        "greeting_recording",
    )

    nobody = await router.dialled(line, "8099")  # a number, but nobody's: a recorded 404
    assert (nobody.kind, nobody.status, nobody.reason) == (
        DestinationKind.HANG_UP,
        404,
        "No Such Extension",
    )
    assert nobody.dialled is not None
    gibberish = await router.dialled(line, "abc")  # not a number at all: no call
    assert (gibberish.kind, gibberish.status, gibberish.dialled) == (
        DestinationKind.HANG_UP,
        404,
        None,
    )


async def test_called_numbers(rig: CallRig) -> None:
    acme, _, router = await _acme(rig)
    bob = await _user(rig, acme, "8002", direct_line=DIRECT)

    direct = await router.called_number(DIRECT)
    assert direct.kind is DestinationKind.USER
    assert direct.user is not None
    assert direct.user.user_id == bob

    main = await router.called_number(MAIN)
    assert (main.kind, main.application) == (DestinationKind.IVR_MENU, "main_number_menu")
    assert main.tenant is not None
    assert main.tenant.tenant_id == acme.id

    unknown = await router.called_number("+862599999999")
    assert (unknown.kind, unknown.status, unknown.tenant) == (DestinationKind.HANG_UP, 404, None)


async def test_menu_choices_and_missed_calls(rig: CallRig) -> None:
    acme, line, router = await _acme(rig)
    bob = await _user(rig, acme, "8002", voicemail=True)
    desk = await _user(rig, acme, "8000", is_receptionist=True)
    carol = await _user(rig, acme, "8003")  # voicemail off

    bob_line = await rig.services.pbx.view.subscriber(acme.id, bob)
    carol_line = await rig.services.pbx.view.subscriber(acme.id, carol)
    assert bob_line is not None
    assert carol_line is not None

    chosen = await router.menu_choice(line, bob_line)
    assert chosen.kind is DestinationKind.USER
    assert chosen.user == bob_line
    reception = await router.menu_choice(line, None)
    assert reception.kind is DestinationKind.RECEPTIONISTS
    assert [u.user_id for u in reception.users] == [desk]

    box = await router.missed_call_box(line, bob_line)
    assert box is not None
    assert box.kind is DestinationKind.VOICEMAIL_BOX
    assert box.users == (bob_line,)
    assert await router.missed_call_box(line, carol_line) is None  # the box is off


def test_kinds_without_behaviour_have_no_application_and_are_refused() -> None:
    """Ring groups and conference bridges exist in the type; nothing runs them yet, so the
    engine refuses them (480) rather than pretending."""
    applications = Applications()
    assert applications.serving(DestinationKind.RING_GROUP) is None
    assert applications.serving(DestinationKind.CONFERENCE_BRIDGE) is None
    for kind in (DestinationKind.IVR_MENU, DestinationKind.VOICEMAIL_BOX):
        assert applications.serving(kind) is not None


class _Echo(Application):
    name = "echo_test"
    serves = DestinationKind.FEATURE_CODE
    feature_code = "*43"

    async def run(self, context: AppContext) -> AppOutcome:
        return AppOutcome(CallStatus.ANSWERED)


async def test_a_registered_application_is_reached_by_its_feature_code(rig: CallRig) -> None:
    _, line, engine_router = await _acme(rig)
    assert (await engine_router.dialled(line, "*43")).kind is DestinationKind.HANG_UP
    router = Router(
        rig.services.pbx.view,
        rig.services.pbx.numbers,
        rig.services.pbx.voicemail,
        Applications((*APPLICATIONS, _Echo())),
    )
    echo = await router.dialled(line, "*43")
    assert echo == Destination(
        DestinationKind.FEATURE_CODE, line, number="*43", application="echo_test"
    )


class _GroupDirectory(Router):
    """The router over a directory that has a ring group at 8100 (the product has no ring
    groups yet: this stands for the data that will point at one)."""

    async def dialled(self, tenant: TenantLine, user_part: str) -> Destination:
        found = await super().dialled(tenant, user_part)
        if user_part == "8100":
            return replace(found, kind=DestinationKind.RING_GROUP, status=0, reason=None)
        return found


async def test_a_kind_nothing_runs_is_refused_480_and_recorded(rig: CallRig) -> None:
    acme, _, router = await _acme(rig)
    alice = await _user(rig, acme, "8001")
    assert rig.engine is not None
    rig.engine.router = _GroupDirectory(
        router.view, router.numbers, router.voicemail, router.applications
    )
    a = await rig.phone(acme, alice)
    call = await a.call("8100")
    with pytest.raises(CallFailed) as failed:
        await call.answered()
    assert failed.value.response is not None
    assert failed.value.response.status == 480
    record = await rig.wait_record(acme)
    assert (record.status, record.reason) == ("failed", "480 ring_group")
    await rig.idle()
