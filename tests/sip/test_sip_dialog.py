"""Dialog timers and bookkeeping on a lossy fake network with a fake clock.

2xx retransmission until the ACK arrives (RFC 3261 §13.3.1.4), giving up with a BYE when it
never does, CANCEL without a final response (§9.1), route sets and strict routing (§12.2.1.1),
and that a burst of traffic leaves no transaction, dialog or timer behind.
"""

from __future__ import annotations

import asyncio
import gc
import json
import weakref
from dataclasses import dataclass

import pytest
from sip_fakes import FakeNetwork, FakeTransport, Packet, requests, settle

from zongji.sip.address import NameAddress, parse_address
from zongji.sip.dialog import Dialog, DialogSnapshot, DialogState
from zongji.sip.message import Request
from zongji.sip.network import HostPort, TransportKind
from zongji.sip.timers import ManualScheduler, TimerSettings
from zongji.sip.ua import CallFailed, IncomingCall, IncomingRequest, UserAgent
from zongji.sip.uri import SipUri, parse_uri

A = HostPort("10.0.0.1", 5060)
B = HostPort("10.0.0.2", 5060)


@dataclass
class World:
    network: FakeNetwork
    clock: ManualScheduler
    alice: UserAgent
    bob: UserAgent
    alice_transport: FakeTransport
    bob_transport: FakeTransport

    async def run(self, seconds: float, step: float = 0.05) -> None:
        """Advance the clock in steps, letting packets and tasks move in between."""
        for _ in range(round(seconds / step)):
            await settle(self.network)
            self.clock.advance(step)
        await settle(self.network)

    def sent(self, transport: FakeTransport, start: str) -> list[Packet]:
        return [
            p
            for p in self.network.log
            if p.source is transport and p.data.startswith(start.encode())
        ]


@pytest.fixture
def world() -> World:
    network = FakeNetwork()
    clock = ManualScheduler()
    settings = TimerSettings()
    alice = UserAgent(local_user="alice", scheduler=clock, settings=settings)
    bob = UserAgent(local_user="bob", scheduler=clock, settings=settings)
    alice_transport = FakeTransport(network, A)
    bob_transport = FakeTransport(network, B)
    alice.add_transport(alice_transport)
    bob.add_transport(bob_transport)
    return World(network, clock, alice, bob, alice_transport, bob_transport)


def lose(world: World, start: str, count: int) -> None:
    """Lose the next `count` packets whose first line starts with `start`."""
    remaining = [count]

    def drop(packet: Packet) -> bool:
        if remaining[0] and packet.data.startswith(start.encode()):
            remaining[0] -= 1
            return True
        return False

    world.network.drop = drop


async def answered_call(world: World) -> tuple[Dialog, list[Dialog]]:
    bob_dialogs: list[Dialog] = []
    world.bob.on_request = lambda call: bob_dialogs.append(call.answer())  # type: ignore[attr-defined, func-returns-value, return-value]
    call = await world.alice.invite("sip:bob@10.0.0.2")
    await world.run(0.1)
    return await asyncio.wait_for(call.answered(), 1), bob_dialogs


async def test_2xx_is_retransmitted_until_the_ack_arrives(world: World) -> None:
    lose(world, "ACK", 2)
    dialog, (bob_dialog,) = await answered_call(world)
    await world.run(3)
    # 200 at 0, T1 and 3*T1: the first two ACKs (answering 0 and T1) were lost.
    assert len(world.sent(world.bob_transport, "SIP/2.0 200")) == 3
    assert len(world.sent(world.alice_transport, "ACK")) == 3
    assert bob_dialog.ack is not None
    await world.run(10)
    assert len(world.sent(world.bob_transport, "SIP/2.0 200")) == 3  # stopped at the ACK
    assert dialog.state is bob_dialog.state is DialogState.CONFIRMED


async def test_no_ack_means_bye_after_64_t1(world: World) -> None:
    lose(world, "ACK", 1000)
    dialog, (bob_dialog,) = await answered_call(world)
    await world.run(31.5)
    assert not bob_dialog.terminated
    await world.run(1.0)
    assert bob_dialog.termination_reason == "no ACK"
    assert len(world.sent(world.bob_transport, "BYE")) == 1
    intervals = [0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert len(world.sent(world.bob_transport, "SIP/2.0 200")) == len(intervals)
    await world.run(1)
    assert dialog.terminated  # alice got the BYE


async def test_cancel_without_final_response_gives_up_after_64_t1(world: World) -> None:
    calls: list[IncomingCall] = []

    def on_call(call: IncomingCall) -> None:
        calls.append(call)
        call.ring()

    world.bob.on_request = on_call
    lose(world, "SIP/2.0 487", 1000)  # the 487 never arrives
    call = await world.alice.invite("sip:bob@10.0.0.2")
    await world.run(0.1)
    call.cancel()
    await world.run(31)
    assert not call.done
    await world.run(2)
    with pytest.raises(CallFailed) as info:
        await call.answered()
    assert info.value.cancelled
    assert info.value.response is None


async def test_route_set_and_strict_routing(world: World) -> None:
    loose = Dialog(
        world.alice,
        call_id="c",
        local=parse_address("<sip:a@x>;tag=1"),
        remote=parse_address("<sip:b@y>;tag=2"),
        local_seq=1,
        remote_seq=None,
        remote_target=parse_uri("sip:b@192.0.2.9:5070"),
        route_set=[
            parse_address("<sip:p1.example.com;lr>"),
            parse_address("<sip:p2.example.com;lr>"),
        ],
        secure=False,
        is_uac=True,
        flow=None,
        state=DialogState.CONFIRMED,
    )
    request = loose.create_request("BYE")
    assert str(request.uri) == "sip:b@192.0.2.9:5070"
    assert [str(r.uri) for r in request.route] == ["sip:p1.example.com;lr", "sip:p2.example.com;lr"]
    assert request.cseq.number == 2
    strict = Dialog(
        world.alice,
        call_id="c",
        local=parse_address("<sip:a@x>;tag=1"),
        remote=parse_address("<sip:b@y>;tag=2"),
        local_seq=5,
        remote_seq=None,
        remote_target=parse_uri("sip:b@192.0.2.9"),
        route_set=[parse_address("<sip:p1.example.com>"), parse_address("<sip:p2.example.com;lr>")],
        secure=False,
        is_uac=True,
        flow=None,
        state=DialogState.CONFIRMED,
    )
    request = strict.create_request("INFO")
    assert str(request.uri) == "sip:p1.example.com"  # the strict router is the Request-URI
    assert [str(r.uri) for r in request.route] == ["sip:p2.example.com;lr", "sip:b@192.0.2.9"]
    ack = strict.create_ack(5)
    assert (ack.cseq.number, ack.cseq.method) == (5, "ACK")
    assert strict.local_seq == 6


async def test_record_route_builds_route_sets_on_both_sides(world: World) -> None:
    bob_dialogs: list[Dialog] = []
    world.bob.on_request = lambda call: bob_dialogs.append(call.answer())  # type: ignore[attr-defined, func-returns-value, return-value]
    call = await world.alice.invite(
        "sip:bob@10.0.0.2",
        headers=[("Route", "<sip:10.0.0.2;lr>")],  # a loose route through "a proxy" at bob
    )
    await world.run(0.1)
    (invite,) = [m for m in requests(world.sent(world.alice_transport, "INVITE"))]
    assert [str(r.uri) for r in invite.route] == ["sip:10.0.0.2;lr"]
    dialog = await asyncio.wait_for(call.answered(), 1)
    assert dialog.route_set == []  # no Record-Route came back
    # A Record-Route in the request makes the UAS route set (same order) and the UAC's
    # (reversed) from the response (RFC 3261 §12.1.1, §12.1.2).
    request = world.alice.create_request("INVITE", "sip:bob@10.0.0.2")
    request.headers.add("Record-Route", "<sip:p1;lr>, <sip:p2;lr>")
    uas = Dialog.as_uas(world.bob, request, "tag", _flow(world), DialogState.EARLY)
    assert [str(r.uri) for r in uas.route_set] == ["sip:p1;lr", "sip:p2;lr"]
    response = request.create_response(200, to_tag="tag")
    uac = Dialog.as_uac(world.alice, request, response, _flow(world))
    assert [str(r.uri) for r in uac.route_set] == ["sip:p2;lr", "sip:p1;lr"]


async def test_a_burst_of_calls_leaves_nothing_behind(world: World) -> None:
    """Every transaction, dialog and timer is gone once the timers have run out."""
    world.bob.on_request = _answer_or_reject
    outcomes = []
    for i in range(40):
        call = await world.alice.invite(f"sip:bob{i}@10.0.0.2")
        outcomes.append(call)
        world.bob_transport.deliver(b"garbage\r\n\r\n" + bytes([i]), A)
    await world.run(0.2)
    byes = [asyncio.ensure_future(c.dialog.bye()) for c in outcomes if c.dialog is not None]
    await world.run(1)
    assert all(task.done() and task.result() is not None for task in byes)
    assert sum(1 for c in outcomes if c.dialog is not None) == 20
    await world.run(40)
    assert world.alice.transactions.active == world.bob.transactions.active == 0
    assert world.alice.dialogs == world.bob.dialogs == {}
    assert world.bob._calls == {}
    assert world.clock.pending == 0


def _answer_or_reject(call: IncomingCall) -> None:
    if isinstance(call.request.uri, SipUri) and int((call.request.uri.user or "bob0")[3:]) % 2:
        call.reject(486)
    else:
        call.answer()


def _flow(world: World):  # type: ignore[no-untyped-def]
    from zongji.sip.transport.base import Flow

    return Flow(world.bob_transport, A)


_ = (NameAddress, Request)


async def test_target_refresh_and_cseq_order(world: World) -> None:
    """RFC 3261 §12.2.2: a re-INVITE's Contact replaces the remote target; CSeq must grow."""
    dialog, (bob_dialog,) = await answered_call(world)
    await world.run(0.1)
    assert str(bob_dialog.remote_target) == "sip:alice@10.0.0.1:5060"
    reinvite = dialog.create_request("INVITE")
    reinvite.headers.set("Contact", "<sip:alice@10.0.0.1:5090>")
    assert bob_dialog.check_request(reinvite) is None
    assert str(bob_dialog.remote_target) == "sip:alice@10.0.0.1:5090"
    info = dialog.create_request("INFO")
    assert bob_dialog.check_request(info) is None
    assert str(bob_dialog.remote_target) == "sip:alice@10.0.0.1:5090"  # INFO refreshes nothing
    assert bob_dialog.check_request(reinvite) == 500  # an old CSeq again
    response = reinvite.create_response(200, to_tag=bob_dialog.local_tag)
    response.headers.add("Contact", "<sip:bob@10.0.0.2:5091>")
    dialog._refresh_target(response)
    assert str(dialog.remote_target) == "sip:bob@10.0.0.2:5091"


async def test_registration_refreshes_before_expiry_and_retries_failures(world: World) -> None:
    registers: list[Request] = []
    fail = [False]

    def registrar(incoming: IncomingRequest) -> None:
        registers.append(incoming.request)
        if fail[0]:
            incoming.respond(503)
            return
        (contact,) = incoming.request.contacts
        incoming.respond(200, headers=[("Contact", contact.with_params(expires="60"))])

    world.bob.on_request = registrar
    registration = world.alice.registration("sip:10.0.0.2", "sip:alice@example.com", expires=3600)
    registration.retry_interval = 10
    registration.start()
    await world.run(0.2)
    assert registration.granted == 60  # the registrar's choice, from our Contact
    await world.run(29.5)
    assert len(registers) == 1
    await world.run(1.0)  # at half the granted 60 s
    assert len(registers) == 2
    fail[0] = True
    await world.run(30.5)
    assert len(registers) == 3
    assert not registration.registered
    await world.run(10.5)  # the retry interval after a failure
    assert len(registers) == 4
    fail[0] = False
    await world.run(10.5)
    assert len(registers) == 5
    assert registration.registered
    assert len({r.call_id for r in registers}) == 1
    assert [r.cseq.number for r in registers] == [1, 2, 3, 4, 5]
    stopping = asyncio.ensure_future(registration.stop())
    await world.run(0.5)
    await stopping
    assert registers[-1].expires == 0
    assert len(registers) == 6
    await world.run(100)
    assert len(registers) == 6  # no refresh after stop()


async def test_a_message_framed_reliable_transport_plugs_in() -> None:
    """The WebSocket seam (RFC 7118): any Transport of kind WS carrying whole messages works
    with the layers above unchanged (no retransmissions: the transport is reliable)."""
    network = FakeNetwork()
    clock = ManualScheduler()
    alice = UserAgent(local_user="alice", scheduler=clock)
    bob = UserAgent(local_user="bob", scheduler=clock)
    alice.add_transport(FakeTransport(network, A, TransportKind.WS))
    bob.add_transport(FakeTransport(network, B, TransportKind.WS))
    bob_dialogs: list[Dialog] = []
    bob.on_request = lambda call: bob_dialogs.append(call.answer())  # type: ignore[attr-defined, func-returns-value, return-value]
    call = await alice.invite("sip:bob@10.0.0.2;transport=ws")
    await settle(network)
    dialog = await asyncio.wait_for(call.answered(), 1)
    await settle(network)
    assert bob_dialogs[0].ack is not None
    (invite,) = requests([p for p in network.log if p.data.startswith(b"INVITE")])
    assert invite.top_via.transport == "WS"
    assert str(alice.contact_for().uri) == "sip:alice@10.0.0.1:5060;transport=ws"
    bye = asyncio.ensure_future(dialog.bye())
    await settle(network)
    assert (await bye) is not None
    clock.advance(40)
    assert len([p for p in network.log if p.data.startswith(b"INVITE")]) == 1
    assert alice.transactions.active == bob.transactions.active == 0


async def test_a_dialog_written_down_can_still_be_ended_from_its_snapshot(world: World) -> None:
    """A process that died mid-call ends the call from what it wrote down (its JSON)."""
    dialog, (bob_dialog,) = await answered_call(world)
    await world.run(0.1)
    written = dialog.snapshot()
    assert written is not None
    stored = DialogSnapshot.from_json(json.loads(json.dumps(written.to_json())))
    assert stored == written

    restored = world.alice.restore_dialog(stored, skip_cseq=1000)
    assert restored is not dialog
    bye = asyncio.ensure_future(restored.bye())
    await world.run(0.5)
    response = await asyncio.wait_for(bye, 1)
    assert response is not None
    assert response.status == 200
    assert bob_dialog.terminated
    assert bob_dialog.termination_reason == "remote BYE"
    (sent,) = requests(world.sent(world.alice_transport, "BYE"))
    assert sent.call_id == dialog.call_id
    assert sent.cseq.number == dialog.local_seq + 1001  # past whatever the record missed
    assert (sent.from_addr.tag, sent.to_addr.tag) == (dialog.local_tag, dialog.remote_tag)


def test_a_snapshot_that_is_not_one_is_refused() -> None:
    with pytest.raises(ValueError, match="not a dialog snapshot"):
        DialogSnapshot.from_json({"call_id": "c"})


class _Leg:
    """What an application keeps per dialog: it holds the dialog, the dialog calls it back."""

    def __init__(self, dialog: Dialog) -> None:
        self.dialog = dialog
        dialog.on_request = self.in_dialog
        dialog.on_terminated = self.ended
        self.ended_with = ""

    def in_dialog(self, incoming: IncomingRequest) -> None:
        incoming.respond(200)

    def ended(self, dialog: Dialog) -> None:
        self.ended_with = dialog.termination_reason


async def test_an_ended_dialog_lets_go_of_its_handlers(world: World) -> None:
    dialog, (bob_dialog,) = await answered_call(world)
    leg, bob_leg = _Leg(dialog), _Leg(bob_dialog)
    bye = asyncio.ensure_future(dialog.bye())
    await world.run(0.1)
    assert bye.done()
    assert (leg.ended_with, bob_leg.ended_with) == ("local BYE", "remote BYE")
    for ended in (dialog, bob_dialog):
        assert ended.on_request is None
        assert ended.on_terminated is None


async def test_an_ended_call_is_freed_by_reference_counting(world: World) -> None:
    """No cycle is left between a call's objects and its handlers: once the call has ended and
    the transaction timers have run, reference counting alone frees them."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        world.bob.on_request = lambda call: _Leg(call.answer())  # type: ignore[attr-defined]
        call = await world.alice.invite("sip:bob@10.0.0.2")
        await world.run(0.1)
        dialog = await asyncio.wait_for(call.answered(), 1)
        leg = _Leg(dialog)
        refs = [weakref.ref(obj) for obj in (call, dialog, leg)]
        bye = asyncio.ensure_future(dialog.bye())
        await world.run(0.1)
        assert bye.done()
        del call, dialog, leg, bye
        assert [ref() for ref in refs if ref() is not None]  # the INVITE's Timer M holds on
        await world.run(33)
        assert world.alice.transactions.active == world.bob.transactions.active == 0
        assert [ref() for ref in refs] == [None, None, None]

        world.bob.on_request = lambda call: call.reject(486)  # type: ignore[attr-defined]
        refused = await world.alice.invite("sip:bob2@10.0.0.2")
        await world.run(0.1)
        with pytest.raises(CallFailed):
            await asyncio.wait_for(refused.answered(), 1)
        ref = weakref.ref(refused)
        del refused
        # Timer D (32 s) still absorbs retransmitted 486s, without the call
        assert world.alice.transactions.active == 1
        assert ref() is None
    finally:
        if enabled:
            gc.enable()
