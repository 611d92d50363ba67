"""The carrier's side of the PBX, with SIPp as the carrier (issue 6: items 4–7).

The PBX runs as a node runs it (`PbxComponent` on free ports over the suite's database); the
carrier is SIPp on its own loopback address (127.0.0.2, a second carrier on 127.0.0.3), so the
PBX tells trunk traffic from devices by source address, as it does in service. The enterprise's
phones are softphones on our own SIP stack (`tests/pbx/calls/rig.Phone`) that register with
device credentials the platform issued. Every call is checked in the call record it leaves.

- inbound to the main number: SIPp keys the extension with the shipped RFC 4733 captures → the
  registered callee rings and answers; `0` and no input ring the receptionists in parallel; a
  caller who hangs up in the greeting rings nobody;
- inbound to a direct line rings that user;
- unknown called number → 404, and no record in any enterprise;
- outbound: From and P-Asserted-Identity carry the user's direct line, else the main number
  (the SIPp carrier refuses any other caller ID);
- a trunk that answers 503, or never answers, is skipped for the next one;
- a request from a source that is not a trunk, claiming to be the carrier, is a device to the
  PBX: challenged, and nothing reaches the carrier.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from tests.interop import pbx_harness
from tests.interop.pbx_harness import RunningPbx, running_pbx
from tests.interop.sipp import Sipp, free_port, require_sipp, wait_bound
from tests.pbx.calls.rig import Credential, Phone

from zongji.pbx.contracts import CallDirection, CallStatus
from zongji.pbx.trunks.schemas import TrunkCreate
from zongji.platform.actor import SYSTEM
from zongji.sip.network import HostPort, TransportKind
from zongji.sip.offer_answer import LocalMedia, SdpSession
from zongji.sip.transport.base import Destination
from zongji.sip.ua.core import UserAgent
from zongji.sip.ua.outgoing import CallFailed

pytestmark = pytest.mark.interop

SCENARIOS = Path(__file__).parent / "scenarios"
CARRIER = "127.0.0.2"
SECOND_CARRIER = "127.0.0.3"
MAIN = "+862588880000"
DIRECT = "+862588880123"
OUTSIDE_CALLER = "+8613912345678"


# --- the carrier: SIPp on its own loopback address ------------------------------------------


class CarrierSipp(Sipp):
    """SIPp bound to the carrier's address (the shared driver binds 127.0.0.1), with its RTP on
    a free port too."""

    def __init__(
        self, scenario: str, *args: str, host: str = CARRIER, port: int | None = None
    ) -> None:
        super().__init__("-sf", str(SCENARIOS / scenario), *args, local_port=port)
        self.host = host

    async def start(self) -> None:
        stats = self.workdir / "stats.csv"
        command = [
            require_sipp(), *self.args,
            "-i", self.host, "-mi", self.host, "-mp", str(free_port()),
            "-p", str(self.local_port), "-t", self.transport,
            "-nostdin", "-trace_stat", "-stf", str(stats), "-fd", "1",
            "-trace_err", "-error_file", str(self.workdir / "errors.log"),
            "-trace_msg", "-message_file", str(self.workdir / "messages.log"),
        ]  # fmt: skip
        self.process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            cwd=self.workdir,
        )

    def messages(self) -> str:
        return self._read("messages.log")


@pytest.fixture
async def carriers() -> AsyncIterator[list[CarrierSipp]]:
    """Every SIPp a test starts, stopped and cleaned up after it whatever happened."""
    started: list[CarrierSipp] = []
    yield started
    for sipp in started:
        await sipp.stop()
        sipp.cleanup()


async def carrier(
    carriers: list[CarrierSipp],
    scenario: str,
    *args: str,
    host: str = CARRIER,
    port: int | None = None,
) -> CarrierSipp:
    """Start SIPp as the carrier; with `port` (a trunk's), wait until it listens there."""
    sipp = CarrierSipp(scenario, *args, host=host, port=port)
    carriers.append(sipp)
    await sipp.start()
    if port is not None:
        await wait_bound(port)
    return sipp


# --- the PBX and its enterprise ------------------------------------------------------------


class TrunkPhone(Phone):
    """The calls rig's softphone, registered to the running node's SIP port."""

    def __init__(self, port: int, credential: Credential) -> None:
        super().__init__(None, credential)  # type: ignore[arg-type]
        self.port = port

    @property
    def pbx(self) -> Destination:
        return Destination(TransportKind.UDP, HostPort("127.0.0.1", self.port))


@pytest.fixture
async def pbx(database_url: str, tmp_path: Path) -> AsyncIterator[RunningPbx]:
    """The node's PBX on free ports; a carrier that says nothing is given up after 2 s."""
    require_sipp()
    async with running_pbx(
        database_url, tmp_path, trunk_setup_timeout=2.0, ring_timeout=15.0, media_timeout=0
    ) as running:
        yield running


@pytest.fixture
async def phones() -> AsyncIterator[list[TrunkPhone]]:
    made: list[TrunkPhone] = []
    yield made
    for phone in made:
        await phone.stop()


async def trunk(
    pbx: RunningPbx, name: str, host: str, port: int, *, priority: int = 10
) -> uuid.UUID:
    """An IP-authenticated trunk to a carrier at host:port, as an operator configures it
    (no OPTIONS keep-alive: SIPp scenarios take only the calls they expect)."""
    created = await pbx.services.pbx.trunks.create(
        SYSTEM,
        TrunkCreate(
            name=name,
            host=host,
            port=port,
            mode="ip",  # type: ignore[arg-type]
            inbound_addresses=[host],
            priority=priority,
            options_interval=0,
        ),
    )
    await pbx.services.pbx.trunk_runtime.reload()
    return created.id


async def phone(
    pbx: RunningPbx,
    phones: list[TrunkPhone],
    tenant: pbx_harness.PbxTenant,
    user_id: uuid.UUID,
    mode: str,
) -> TrunkPhone:
    """A registered softphone of the user that answers (`answer`) or rings (`ring`)."""
    cred = await pbx.device(tenant, user_id)
    made = TrunkPhone(pbx.udp_port, Credential(cred.username, cred.password, cred.domain))
    await made.start()
    phones.append(made)
    made.mode = mode
    await made.register()
    return made


async def enterprise(pbx: RunningPbx) -> pbx_harness.PbxTenant:
    tenant = await pbx.enterprise("acme", main_number="025-8888 0000")
    assert tenant.main_number == MAIN
    return tenant


def assert_clean(sipp_result: Any, successful: int = 1) -> None:
    assert sipp_result.successful == successful, sipp_result.explain()
    assert sipp_result.failed == 0, sipp_result.explain()


# --- inbound: the main number --------------------------------------------------------------


async def test_main_number_with_an_extension_keyed_reaches_the_registered_callee(
    pbx: RunningPbx, phones: list[TrunkPhone], carriers: list[CarrierSipp]
) -> None:
    acme = await enterprise(pbx)
    trunk_id = await trunk(pbx, "carrier", CARRIER, free_port())
    bob = await pbx.user(acme, "鲍勃", "8123")
    other = await pbx.user(acme, "前台", "8000", is_receptionist=True)
    bob_phone = await phone(pbx, phones, acme, bob, "answer")
    desk_phone = await phone(pbx, phones, acme, other, "answer")

    sipp = await carrier(
        carriers, "carrier_uac_dtmf.xml", pbx.address,
        "-key", "called", MAIN, "-key", "caller", OUTSIDE_CALLER, "-key", "keys", "8123",
        "-d", "5000", "-m", "1", "-timeout", "40s",
    )  # fmt: skip
    ringing = await bob_phone.next_call(within=15)
    result = await sipp.wait(within=45)
    assert_clean(result)

    # the media is anchored: the callee was given the PBX's RTP address, not the carrier's
    assert ringing.dialog is not None
    assert bob_phone.remote_rtp is not None
    assert bob_phone.remote_rtp[0] == "127.0.0.1"
    assert desk_phone.calls.empty()

    record = await pbx.wait_record(acme, lambda r: r.direction == CallDirection.INBOUND)
    assert record.status == CallStatus.ANSWERED
    assert record.answered_by_user_id == bob
    assert record.callee_user_id == bob  # the extension keyed in the IVR
    assert record.caller_number == OUTSIDE_CALLER
    assert record.outside_number == MAIN
    assert record.trunk_id == trunk_id
    assert record.hangup_side == "caller"


async def test_zero_rings_every_receptionist_at_once_and_the_first_answer_wins(
    pbx: RunningPbx, phones: list[TrunkPhone], carriers: list[CarrierSipp]
) -> None:
    acme = await enterprise(pbx)
    await trunk(pbx, "carrier", CARRIER, free_port())
    desk1 = await pbx.user(acme, "前台一", "8000", is_receptionist=True)
    desk2 = await pbx.user(acme, "前台二", "8009", is_receptionist=True)
    await pbx.user(acme, "鲍勃", "8123")
    one = await phone(pbx, phones, acme, desk1, "ring")
    two = await phone(pbx, phones, acme, desk2, "ring")

    sipp = await carrier(
        carriers, "carrier_uac_dtmf.xml", pbx.address,
        "-key", "called", MAIN, "-key", "caller", OUTSIDE_CALLER, "-key", "keys", "0",
        "-d", "9000", "-m", "1", "-timeout", "40s",
    )  # fmt: skip
    first = await one.next_call(within=15)
    second = await two.next_call(within=2)  # both ring together
    second.answer()
    await asyncio.wait_for(first.cancelled.wait(), 5)
    result = await sipp.wait(within=45)
    assert_clean(result)

    record = await pbx.wait_record(acme, lambda r: r.direction == CallDirection.INBOUND)
    assert record.status == CallStatus.ANSWERED
    assert record.answered_by_user_id == desk2


async def test_no_input_goes_to_the_receptionists(
    pbx: RunningPbx, phones: list[TrunkPhone], carriers: list[CarrierSipp]
) -> None:
    acme = await enterprise(pbx)
    await trunk(pbx, "carrier", CARRIER, free_port())
    desk = await pbx.user(acme, "前台", "8000", is_receptionist=True)
    desk_phone = await phone(pbx, phones, acme, desk, "answer")

    # greeting (7 s), 8 s for the first key, "transferring you" (4 s): then the front desk
    # rings; the caller holds on for 26 s
    sipp = await carrier(
        carriers, "carrier_uac_dtmf.xml", pbx.address,
        "-key", "called", MAIN, "-key", "caller", OUTSIDE_CALLER, "-key", "keys", "none",
        "-d", "26000", "-m", "1", "-timeout", "60s",
    )  # fmt: skip
    await desk_phone.next_call(within=30)
    result = await sipp.wait(within=60)
    assert_clean(result)

    record = await pbx.wait_record(acme, lambda r: r.direction == CallDirection.INBOUND)
    assert record.status == CallStatus.ANSWERED
    assert record.answered_by_user_id == desk


async def test_a_caller_hanging_up_in_the_greeting_rings_nobody(
    pbx: RunningPbx, phones: list[TrunkPhone], carriers: list[CarrierSipp]
) -> None:
    acme = await enterprise(pbx)
    await trunk(pbx, "carrier", CARRIER, free_port())
    desk = await pbx.user(acme, "前台", "8000", is_receptionist=True)
    desk_phone = await phone(pbx, phones, acme, desk, "answer")

    sipp = await carrier(
        carriers, "carrier_uac_dtmf.xml", pbx.address,
        "-key", "called", MAIN, "-key", "caller", OUTSIDE_CALLER, "-key", "keys", "none",
        "-d", "500", "-m", "1", "-timeout", "30s",
    )  # fmt: skip
    assert_clean(await sipp.wait(within=30))  # BYE 2 s into the greeting, answered 200

    record = await pbx.wait_record(acme, lambda r: r.direction == CallDirection.INBOUND)
    assert record.status == CallStatus.CANCELLED
    assert record.hangup_side == "caller"
    assert record.answered_by_user_id is None
    await asyncio.sleep(1.0)
    assert desk_phone.calls.empty()  # nobody was rung for a caller who is gone


# --- inbound: direct lines and unknown numbers ---------------------------------------------


async def test_a_direct_line_rings_its_user_directly(
    pbx: RunningPbx, phones: list[TrunkPhone], carriers: list[CarrierSipp]
) -> None:
    acme = await enterprise(pbx)
    trunk_id = await trunk(pbx, "carrier", CARRIER, free_port())
    await pbx.numbers(acme, DIRECT)
    carol = await pbx.user(acme, "卡罗尔", "8123", direct_line=DIRECT)
    carol_phone = await phone(pbx, phones, acme, carol, "answer")

    sipp = await carrier(
        carriers, "carrier_uac.xml", pbx.address,
        "-key", "called", DIRECT, "-key", "caller", OUTSIDE_CALLER,
        "-d", "1500", "-m", "1", "-timeout", "30s",
    )  # fmt: skip
    await carol_phone.next_call(within=10)
    result = await sipp.wait(within=30)
    assert_clean(result)

    record = await pbx.wait_record(acme)
    assert record.direction == CallDirection.INBOUND
    assert record.status == CallStatus.ANSWERED
    assert record.callee_user_id == carol
    assert record.answered_by_user_id == carol
    assert record.outside_number == DIRECT
    assert record.trunk_id == trunk_id
    assert record.hangup_side == "caller"


async def _invite_from(host: str, target: str, destination: Destination) -> int:
    """Place one call from our own UA bound to `host`; the final status it got."""
    ua = UserAgent()
    try:
        await ua.listen("udp", host, 0)
        offer = SdpSession(LocalMedia(host, free_port())).offer().encode()
        call = await ua.invite(
            target,
            from_=f"<sip:{OUTSIDE_CALLER}@{host}>",
            body=offer,
            destination=destination,
        )
        try:
            dialog = await call.answered()
        except CallFailed as failed:
            return failed.response.status if failed.response is not None else 0
        await dialog.bye()
        return 200
    finally:
        await ua.close()


async def test_an_unknown_called_number_gets_404_and_leaves_no_record(
    pbx: RunningPbx,
) -> None:
    acme = await enterprise(pbx)
    await trunk(pbx, "carrier", CARRIER, free_port())
    pbx_address = Destination(TransportKind.UDP, HostPort("127.0.0.1", pbx.udp_port))
    status = await _invite_from(CARRIER, f"sip:+862599990000@{pbx.address}", pbx_address)
    assert status == 404
    assert await pbx.records(acme) == []


# --- outbound ------------------------------------------------------------------------------


@pytest.mark.parametrize("has_direct_line", [True, False])
async def test_outbound_calls_show_the_direct_line_else_the_main_number(
    pbx: RunningPbx,
    phones: list[TrunkPhone],
    carriers: list[CarrierSipp],
    has_direct_line: bool,
) -> None:
    acme = await enterprise(pbx)
    port = free_port()
    trunk_id = await trunk(pbx, "carrier", CARRIER, port)
    fields: dict[str, Any] = {}
    if has_direct_line:
        await pbx.numbers(acme, DIRECT)
        fields["direct_line"] = DIRECT
    alice = await pbx.user(acme, "艾丽斯", "8001", **fields)
    alice_phone = await phone(pbx, phones, acme, alice, "answer")
    expected = DIRECT if has_direct_line else MAIN

    sipp = await carrier(
        carriers, "carrier_uas.xml", "-key", "caller", expected, "-m", "1", "-timeout", "30s",
        port=port,
    )  # fmt: skip
    call = await alice_phone.call("013912345678")
    dialog = await alice_phone.answered(call)
    await asyncio.sleep(0.5)
    await dialog.bye()
    result = await sipp.wait(within=20)
    assert_clean(result)
    assert f"INVITE sip:{OUTSIDE_CALLER}@" in sipp.messages()

    record = await pbx.wait_record(acme)
    assert record.direction == CallDirection.OUTBOUND
    assert record.status == CallStatus.ANSWERED
    assert record.caller_user_id == alice
    assert record.callee_number == OUTSIDE_CALLER
    assert record.outside_number == expected  # the line presented, as the carrier saw it
    assert record.trunk_id == trunk_id
    assert record.hangup_side == "caller"


@pytest.mark.parametrize("failure", ["carrier_503.xml", "carrier_silent.xml"])
async def test_a_failed_trunk_is_skipped_for_the_next(
    pbx: RunningPbx, phones: list[TrunkPhone], carriers: list[CarrierSipp], failure: str
) -> None:
    acme = await enterprise(pbx)
    broken_port, good_port = free_port(), free_port()
    broken = await trunk(pbx, "first", CARRIER, broken_port, priority=10)
    good = await trunk(pbx, "second", SECOND_CARRIER, good_port, priority=20)
    alice = await pbx.user(acme, "艾丽斯", "8001")
    alice_phone = await phone(pbx, phones, acme, alice, "answer")

    first = await carrier(
        carriers, failure, "-d", "6000", "-m", "1", "-timeout", "30s", port=broken_port
    )
    second = await carrier(
        carriers, "carrier_uas.xml", "-key", "caller", MAIN, "-m", "1", "-timeout", "30s",
        host=SECOND_CARRIER, port=good_port,
    )  # fmt: skip

    call = await alice_phone.call("013912345678")
    dialog = await asyncio.wait_for(alice_phone.answered(call), 15)
    await dialog.bye()
    assert_clean(await second.wait(within=20))
    assert "INVITE sip:" in first.messages()  # it was tried first

    record = await pbx.wait_record(acme)
    assert record.status == CallStatus.ANSWERED
    assert record.trunk_id == good
    health = pbx.services.pbx.trunk_runtime.health(broken)
    assert health.held_for_seconds is not None  # taken out for a while


# --- a spoofed carrier ---------------------------------------------------------------------


async def test_a_non_trunk_source_claiming_to_be_the_carrier_is_challenged_as_a_device(
    pbx: RunningPbx, carriers: list[CarrierSipp]
) -> None:
    acme = await enterprise(pbx)
    port = free_port()
    await trunk(pbx, "carrier", CARRIER, port)
    sipp = await carrier(
        carriers, "carrier_uas.xml", "-key", "caller", MAIN, "-m", "1", "-timeout", "30s",
        port=port,
    )  # fmt: skip

    pbx_address = Destination(TransportKind.UDP, HostPort("127.0.0.1", pbx.udp_port))
    # from 127.0.0.1 (no trunk's address), an outside number as the carrier would send it:
    # to the enterprise's domain it is a device that must authenticate (407, and it has no
    # credentials); to the PBX's bare address it names no enterprise at all (404)
    spoofs = {f"sip:{OUTSIDE_CALLER}@{acme.domain}": 407, f"sip:{MAIN}@{pbx.address}": 404}
    for target, refused in spoofs.items():
        assert await _invite_from("127.0.0.1", target, pbx_address) == refused, target

    await asyncio.sleep(0.5)
    assert "INVITE" not in sipp.messages()  # nothing reached the carrier
    assert [r for r in await pbx.records(acme) if r.direction != CallDirection.INTERNAL] == []
