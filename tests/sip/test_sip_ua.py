"""The user-agent API end to end: two user agents on real loopback sockets.

Calls (answer, reject, cancel, hang up from either side), re-INVITE and hold, in-dialog
requests (INFO, MESSAGE, REFER, NOTIFY, UPDATE), out-of-dialog OPTIONS and MESSAGE, digest
authentication of REGISTER and INVITE, registration refresh, SUBSCRIBE/NOTIFY, glare, forking.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from zongji.sip.address import NameAddress
from zongji.sip.auth import Credentials, DigestAlgorithm, DigestAuthenticator
from zongji.sip.dialog import Dialog, DialogState
from zongji.sip.errors import TransactionTimeout
from zongji.sip.message import Request, Response
from zongji.sip.network import TransportKind
from zongji.sip.offer_answer import LocalMedia, SdpSession
from zongji.sip.parser import parse_message
from zongji.sip.sdp import Direction, parse_sdp
from zongji.sip.timers import TimerSettings
from zongji.sip.transport.base import Transport
from zongji.sip.ua import (
    CallFailed,
    IncomingCall,
    IncomingRequest,
    OutgoingCall,
    UserAgent,
    accept_subscription,
    parse_register,
)
from zongji.sip.uri import SipUri

WAIT = 5.0  # generous bound for anything on loopback; never a speed assertion


@dataclass
class Peer:
    ua: UserAgent
    transport: Transport

    def uri(self, user: str = "bob") -> str:
        address = self.transport.local_address
        return f"sip:{user}@{address.host}:{address.port}"


@pytest.fixture
async def peers() -> AsyncIterator[tuple[Peer, Peer]]:
    alice = UserAgent(local_user="alice")
    bob = UserAgent(local_user="bob")
    peers = (Peer(alice, await alice.listen("udp")), Peer(bob, await bob.listen("udp")))
    yield peers
    await alice.close()
    await bob.close()


def media(port: int, direction: Direction = Direction.SENDRECV) -> LocalMedia:
    return LocalMedia("127.0.0.1", port, direction=direction)


async def wait(awaitable):  # type: ignore[no-untyped-def]
    return await asyncio.wait_for(awaitable, WAIT)


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def recvfrom(sock: socket.socket) -> tuple[bytes, tuple[str, int]]:
    """One datagram from a non-blocking socket, on any loop (uvloop has no `sock_recvfrom`)."""
    loop = asyncio.get_running_loop()
    while True:
        try:
            data, source = sock.recvfrom(65535)
            return data, source
        except BlockingIOError:
            readable: asyncio.Future[None] = loop.create_future()
            loop.add_reader(sock.fileno(), _wake, readable)
            try:
                await readable
            finally:
                loop.remove_reader(sock.fileno())


async def test_call_answered_with_offer_answer_and_hung_up_by_caller(
    peers: tuple[Peer, Peer],
) -> None:
    alice, bob = peers
    bob_sdp = SdpSession(media(30000))
    bob_dialogs: list[Dialog] = []

    async def on_call(call: IncomingCall) -> None:
        call.ring()
        answer, negotiated = bob_sdp.answer(parse_sdp(call.offer))
        assert negotiated is not None
        assert negotiated.codec.name == "PCMU"
        assert negotiated.remote_port == 40000
        assert negotiated.telephone_event is not None
        dialog = call.answer(answer.encode())
        bob_dialogs.append(dialog)

    bob.ua.on_request = on_call
    alice_sdp = SdpSession(media(40000))
    ringing: list[int] = []
    call = await alice.ua.invite(
        bob.uri(),
        body=alice_sdp.offer().encode(),
        on_provisional=lambda response, dialog: ringing.append(response.status),
    )
    dialog = await wait(call.answered())
    assert ringing == [180]
    assert dialog.state is DialogState.CONFIRMED
    assert dialog.is_uac
    negotiated = alice_sdp.accept_answer(parse_sdp(call.final_response.body))  # type: ignore[union-attr]
    assert negotiated is not None
    assert negotiated.remote_port == 30000
    (bob_dialog,) = bob_dialogs
    await wait(bob_dialog.wait_confirmed())
    assert bob_dialog.ack is not None
    assert bob_dialog.ack.method == "ACK"
    assert dialog.id.call_id == bob_dialog.id.call_id
    assert (dialog.local_tag, dialog.remote_tag) == (bob_dialog.remote_tag, bob_dialog.local_tag)
    response = await wait(dialog.bye())
    assert response is not None
    assert response.status == 200
    assert await wait(bob_dialog.wait_terminated()) == "remote BYE"
    assert await wait(dialog.wait_terminated()) == "local BYE"
    assert alice.ua.dialogs == {}
    assert bob.ua.dialogs == {}


async def test_callee_hangs_up(peers: tuple[Peer, Peer]) -> None:
    alice, bob = peers
    answered: asyncio.Future[Dialog] = asyncio.get_running_loop().create_future()
    bob.ua.on_request = lambda call: answered.set_result(call.answer())  # type: ignore[attr-defined]
    call = await alice.ua.invite(bob.uri())
    dialog = await wait(call.answered())
    bob_dialog = await wait(answered)
    await wait(bob_dialog.wait_confirmed())
    response = await wait(bob_dialog.bye())
    assert response is not None
    assert response.status == 200
    assert await wait(dialog.wait_terminated()) == "remote BYE"


async def test_rejected_call(peers: tuple[Peer, Peer]) -> None:
    alice, bob = peers

    def on_call(call: IncomingCall) -> None:
        call.ring()
        call.reject(486)

    bob.ua.on_request = on_call
    early: list[Dialog | None] = []
    call = await alice.ua.invite(bob.uri(), on_provisional=lambda r, d: early.append(d))
    with pytest.raises(CallFailed) as info:
        await wait(call.answered())
    assert info.value.response is not None
    assert info.value.response.status == 486
    assert early[0] is not None
    assert early[0].state is DialogState.TERMINATED
    assert alice.ua.dialogs == {}
    assert bob.ua.dialogs == {}


async def ringing_call(alice: Peer, bob: Peer) -> tuple[OutgoingCall, list[IncomingCall]]:
    """Alice calls Bob, whose phone rings (180) and does nothing more: her call, once the 180
    has reached her, and Bob's side of it (filled when his INVITE arrives)."""
    incoming: list[IncomingCall] = []
    bob.ua.on_request = lambda call: (incoming.append(call), call.ring())  # type: ignore[arg-type, func-returns-value, return-value]
    rang = asyncio.Event()
    call = await alice.ua.invite(bob.uri(), on_provisional=lambda r, d: rang.set())
    await wait(rang.wait())
    return call, incoming


async def test_caller_cancels_a_ringing_call(peers: tuple[Peer, Peer]) -> None:
    alice, bob = peers
    call, incoming = await ringing_call(alice, bob)
    call.cancel()
    with pytest.raises(CallFailed) as info:
        await wait(call.answered())
    assert info.value.cancelled
    assert info.value.response is not None
    assert info.value.response.status == 487
    await wait(incoming[0].cancelled.wait())
    assert incoming[0].answered


async def test_cancel_waits_for_a_provisional() -> None:
    """RFC 3261 §9.1: no CANCEL goes out before a provisional response has arrived."""
    alice = UserAgent(local_user="alice")
    bob = UserAgent(local_user="bob", settings=TimerSettings(trying_delay=3600))  # no 100
    await alice.listen("udp")
    bob_transport = await bob.listen("udp")
    try:
        incoming: list[IncomingCall] = []
        got_invite = asyncio.Event()

        def on_request(request: IncomingRequest) -> None:
            if isinstance(request, IncomingCall):
                incoming.append(request)
                got_invite.set()
            else:
                request.respond(200)

        bob.on_request = on_request
        address = bob_transport.local_address
        uri = f"sip:bob@{address.host}:{address.port}"
        call = await alice.invite(uri)
        await wait(got_invite.wait())
        call.cancel()
        # Anything alice sent before this OPTIONS has reached bob when its answer is back.
        assert (await wait(alice.options(uri))).status == 200
        assert not incoming[0].cancelled.is_set()
        assert all(t.method != "CANCEL" for t in bob.transactions.server_transactions.values())
        incoming[0].ring()  # the provisional lets the held-back CANCEL go
        with pytest.raises(CallFailed) as info:
            await wait(call.answered())
        assert info.value.cancelled
        await wait(incoming[0].cancelled.wait())
    finally:
        await alice.close()
        await bob.close()


async def test_reinvite_hold_and_target_refresh(peers: tuple[Peer, Peer]) -> None:
    alice, bob = peers
    bob_sdp = SdpSession(media(30000))
    bob_dialog: list[Dialog] = []

    def on_in_dialog(request: IncomingRequest) -> None:
        assert isinstance(request, IncomingCall)
        assert request.is_reinvite
        answer, negotiated = bob_sdp.answer(parse_sdp(request.offer))
        assert negotiated is not None
        assert negotiated.direction is Direction.RECVONLY
        request.answer(answer.encode())

    def on_call(call: IncomingCall) -> None:
        answer, _ = bob_sdp.answer(parse_sdp(call.offer))
        dialog = call.answer(answer.encode())
        dialog.on_request = on_in_dialog
        bob_dialog.append(dialog)

    bob.ua.on_request = on_call
    alice_sdp = SdpSession(media(40000))
    call = await alice.ua.invite(bob.uri(), body=alice_sdp.offer().encode())
    dialog = await wait(call.answered())
    alice_sdp.accept_answer(parse_sdp(call.final_response.body))  # type: ignore[union-attr]
    await wait(bob_dialog[0].wait_confirmed())
    hold = alice_sdp.offer(media(40000, Direction.SENDONLY))
    assert hold.origin.session_version == 2
    response = await wait(dialog.reinvite(hold.encode()))
    assert response.status == 200
    negotiated = alice_sdp.accept_answer(parse_sdp(response.body))
    assert negotiated is not None
    assert negotiated.direction is Direction.SENDONLY
    await wait(bob_dialog[0].wait_confirmed())  # the ACK for the re-INVITE's 2xx arrived
    assert bob_dialog[0].ack is not None
    assert bob_dialog[0].ack.cseq.number == 2
    await wait(dialog.bye())


async def test_in_dialog_requests(peers: tuple[Peer, Peer]) -> None:
    alice, bob = peers
    seen: list[Request] = []

    def on_in_dialog(request: IncomingRequest) -> None:
        seen.append(request.request)
        if request.method == "REFER":
            request.respond(202)
            dialog = request.dialog
            assert dialog is not None
            task = asyncio.get_running_loop().create_task(
                dialog.notify(
                    "refer",
                    "terminated;reason=noresource",
                    b"SIP/2.0 200 OK\r\n",
                    "message/sipfrag;version=2.0",
                )
            )
            bob.ua.track(task)  # type: ignore[arg-type]
        else:
            request.respond(200)

    def on_call(call: IncomingCall) -> None:
        dialog = call.answer()
        dialog.on_request = on_in_dialog

    bob.ua.on_request = on_call
    call = await alice.ua.invite(bob.uri())
    dialog = await wait(call.answered())
    notified: list[Request] = []
    dialog.on_request = lambda request: (notified.append(request.request), request.respond(200))  # type: ignore[func-returns-value, return-value]
    assert (
        await wait(dialog.info(b"Signal=5\r\nDuration=160\r\n", "application/dtmf-relay"))
    ).status == 200
    assert (await wait(dialog.message("你好"))).status == 200
    assert (await wait(dialog.update())).status == 200
    assert (await wait(dialog.refer(SipUri("127.0.0.1", "carol")))).status == 202
    for _ in range(100):
        if notified:
            break
        await asyncio.sleep(0.01)
    assert [r.method for r in seen] == ["INFO", "MESSAGE", "UPDATE", "REFER"]
    assert seen[1].body.decode() == "你好"
    assert seen[3].refer_to is not None
    assert str(seen[3].refer_to.uri) == "sip:carol@127.0.0.1"
    assert [r.cseq.number for r in seen] == [2, 3, 4, 5]
    (notify,) = notified
    assert notify.event is not None
    assert notify.event.value == "refer"
    assert notify.body == b"SIP/2.0 200 OK\r\n"
    await wait(dialog.bye())


async def test_out_of_dialog_options_and_message(peers: tuple[Peer, Peer]) -> None:
    alice, bob = peers
    response = await wait(alice.ua.options(bob.uri()))
    assert response.status == 200
    assert "INVITE" in response.allow
    messages: list[IncomingRequest] = []

    async def on_request(request: IncomingRequest) -> None:
        await asyncio.sleep(0)  # an async handler
        messages.append(request)
        request.respond(202)

    bob.ua.on_request = on_request
    response = await wait(alice.ua.message(bob.uri(), "hello"))
    assert response.status == 202
    assert messages[0].request.body == b"hello"
    assert messages[0].source.remote == alice.transport.local_address


async def test_unknown_dialog_and_bad_cseq(peers: tuple[Peer, Peer]) -> None:
    alice, bob = peers
    bob.ua.on_request = lambda call: call.answer()  # type: ignore[attr-defined, func-returns-value, return-value]
    call = await alice.ua.invite(bob.uri())
    dialog = await wait(call.answered())
    stray = dialog.create_request("INFO")
    stray.headers.set("To", str(dialog.remote.with_tag("nosuchtag")))
    assert (await wait(alice.ua.request(stray))).status == 481
    dialog.local_seq = 0  # go back in CSeq: the peer must refuse (RFC 3261 §12.2.2)
    old = dialog.create_request("INFO")
    response = await wait(alice.ua.send_in_dialog(dialog, old))
    assert response.status == 500


async def test_register_with_digest_and_refresh(peers: tuple[Peer, Peer]) -> None:
    alice, registrar = peers
    lookup = {"alice": "wonderland"}
    authenticator = DigestAuthenticator("example.com", lookup.get)
    bindings: dict[str, list[str]] = {}
    registers: list[Request] = []

    async def on_request(incoming: IncomingRequest) -> None:
        request = incoming.request
        registers.append(request)
        outcome = await authenticator.verify(request)
        if not outcome.ok:
            incoming.send(authenticator.challenge(request, to_tag=incoming.to_tag))
            return
        register = parse_register(request)
        if any(0 < b.expires < 60 for b in register.bindings):
            incoming.respond(423, headers=[("Min-Expires", "60")])
            return
        key = str(register.aor)
        bindings[key] = [str(b.contact.uri) for b in register.bindings if b.expires]
        incoming.respond(
            200,
            headers=[
                ("Contact", b.contact.with_params(expires=str(b.expires)))
                for b in register.bindings
                if b.expires
            ],
        )

    registrar.ua.on_request = on_request
    registration = alice.ua.registration(
        registrar.uri("registrar"),
        NameAddress(SipUri("example.com", "alice")),
        credentials=Credentials("alice", "wonderland"),
        expires=30,  # too brief: the registrar answers 423 and we follow Min-Expires
    )
    response = await wait(registration.register())
    assert response.status == 200
    assert registration.granted == 60
    assert registration.expires == 60
    assert bindings["sip:alice@example.com"] == [str(alice.ua.contact_for().uri)]
    statuses = [r.cseq.number for r in registers]
    assert statuses == sorted(statuses)
    assert len(set(r.call_id for r in registers)) == 1
    algorithm = registers[1].authorization[0].params["algorithm"]
    assert algorithm == DigestAlgorithm.SHA256  # the first challenge offered
    response = await wait(registration.unregister())
    assert response.status == 200
    assert bindings["sip:alice@example.com"] == []
    assert not registration.registered
    wrong = alice.ua.registration(
        registrar.uri("registrar"),
        NameAddress(SipUri("example.com", "alice")),
        credentials=Credentials("alice", "wrong"),
    )
    assert (await wait(wrong.register())).status == 401


async def test_invite_answers_a_proxy_challenge(peers: tuple[Peer, Peer]) -> None:
    alice, bob = peers
    authenticator = DigestAuthenticator(
        "pbx", {"alice": "pw"}.get, algorithms=(DigestAlgorithm.MD5,)
    )

    async def on_call(call: IncomingCall) -> None:
        outcome = await authenticator.verify(call.request, proxy=True)
        if not outcome.ok:
            call.send(authenticator.challenge(call.request, proxy=True, to_tag=call.to_tag))
            return
        call.answer()

    bob.ua.on_request = on_call
    call = await alice.ua.invite(bob.uri(), credentials=Credentials("alice", "pw"))
    dialog = await wait(call.answered())
    assert dialog.local_seq == 2  # the INVITE went twice: CSeq 1, then 2 with credentials
    await wait(dialog.bye())


async def test_subscribe_and_notify(peers: tuple[Peer, Peer]) -> None:
    alice, bob = peers
    notifier_dialogs: list[Dialog] = []

    async def on_request(incoming: IncomingRequest) -> None:
        assert incoming.method == "SUBSCRIBE"
        dialog = accept_subscription(incoming, expires=300)
        notifier_dialogs.append(dialog)
        await dialog.notify("presence", "active;expires=300", b"<open/>", "application/pidf+xml")

    bob.ua.on_request = on_request
    subscription = alice.ua.subscription(bob.uri(), "presence", expires=300)
    response = await wait(subscription.subscribe())
    assert response.status == 200
    assert response.expires == 300
    notify = await wait(subscription.next_notify())
    assert notify.body == b"<open/>"
    assert subscription.state == "active"
    dialog = notifier_dialogs[0]
    dialog.on_request = lambda r: r.respond(200)  # type: ignore[func-returns-value, return-value]
    assert (await wait(subscription.refresh())).status == 200
    await wait(dialog.notify("presence", "terminated;reason=timeout"))
    await wait(subscription.next_notify())
    assert subscription.state == "terminated"
    assert subscription.dialog is not None
    assert subscription.dialog.terminated


async def test_glare_gets_491(peers: tuple[Peer, Peer]) -> None:
    """Both sides re-INVITE at once: each refuses the other's with 491 (RFC 3261 §14.2)."""
    alice, bob = peers
    bob_dialogs: list[Dialog] = []
    bob.ua.on_request = lambda call: bob_dialogs.append(call.answer())  # type: ignore[attr-defined, func-returns-value, return-value]
    call = await alice.ua.invite(bob.uri())
    dialog = await wait(call.answered())
    await wait(bob_dialogs[0].wait_confirmed())
    first = asyncio.ensure_future(dialog.reinvite())
    second = asyncio.ensure_future(bob_dialogs[0].reinvite())
    responses = await wait(asyncio.gather(first, second))
    assert [r.status for r in responses] == [491, 491]
    assert not dialog.terminated
    assert not bob_dialogs[0].terminated
    # With an INVITE pending from the peer, starting one of our own is refused locally.
    pending: list[IncomingRequest] = []
    bob_dialogs[0].on_request = pending.append  # type: ignore[assignment]
    third = asyncio.ensure_future(dialog.reinvite())
    for _ in range(100):
        if pending:
            break
        await asyncio.sleep(0.01)
    with pytest.raises(RuntimeError):
        await bob_dialogs[0].reinvite()
    incoming = pending[0]
    assert isinstance(incoming, IncomingCall)
    incoming.answer()
    assert (await wait(third)).status == 200


async def test_forked_invite_gives_early_dialogs_and_hangs_up_extra_answers() -> None:
    """A hand-written forking peer: two 180s and two 200s with different To tags."""
    alice = UserAgent(local_user="alice")
    await alice.listen("udp")
    fork = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    fork.bind(("127.0.0.1", 0))
    fork.setblocking(False)
    host, port = fork.getsockname()
    try:
        early: list[Dialog | None] = []
        call = await alice.invite(
            f"sip:bob@{host}:{port}", on_provisional=lambda r, d: early.append(d)
        )
        data, source = await wait(recvfrom(fork))
        invite = parse_message(data)
        assert isinstance(invite, Request)

        def reply(status: int, tag: str) -> Response:
            response = invite.create_response(status, to_tag=tag)
            response.headers.add("Contact", f"<sip:{tag}@{host}:{port}>")
            fork.sendto(response.encode(), source)
            return response

        reply(180, "left")
        reply(180, "right")
        reply(200, "left")
        dialog = await wait(call.answered())
        assert dialog.remote_tag == "left"
        assert [d.remote_tag for d in early if d is not None] == ["left", "right"]
        reply(200, "right")  # the other fork answers too: ACK it, then BYE it
        methods: dict[str, str] = {}
        while len(methods) < 3:
            data, _ = await wait(recvfrom(fork))
            request = parse_message(data)
            assert isinstance(request, Request)
            methods[f"{request.method} {request.to_addr.tag}"] = str(request.uri)
            if request.method == "BYE":
                fork.sendto(request.create_response(200).encode(), source)
        assert methods == {
            "ACK left": f"sip:left@{host}:{port}",
            "ACK right": f"sip:right@{host}:{port}",
            "BYE right": f"sip:right@{host}:{port}",
        }
        assert dialog.state is DialogState.CONFIRMED
    finally:
        fork.close()
        with contextlib.suppress(Exception):
            await alice.close()


async def test_a_pinned_call_keeps_to_its_flow_whatever_contact_the_callee_gives(
    peers: tuple[Peer, Peer],
) -> None:
    """A phone behind NAT answers with a Contact nobody can reach; a call placed on the flow of
    its registration (`pin_flow`) still gets its ACK and BYE there (RFC 5626 §5.3)."""
    from zongji.sip.transport.base import Destination

    alice, bob = peers
    calls: asyncio.Queue[IncomingRequest] = asyncio.Queue()
    bob.ua.on_request = calls.put_nowait
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        unreachable = s.getsockname()[1]  # closed again: nothing listens there

    session_a, session_b = SdpSession(media(40000)), SdpSession(media(40002))
    call = await alice.ua.invite(
        bob.uri(),
        body=session_a.offer(media(40000)).encode(),
        destination=Destination(TransportKind.UDP, bob.transport.local_address),
        pin_flow=True,
    )
    incoming = await wait(calls.get())
    assert isinstance(incoming, IncomingCall)
    answer, _ = session_b.answer(parse_sdp(incoming.offer))
    callee = incoming.answer(
        answer.encode(), headers=[("Contact", f"<sip:bob@127.0.0.1:{unreachable}>")]
    )
    caller = await wait(call.answered())
    assert str(caller.remote_target).endswith(f":{unreachable}")
    await wait(callee.wait_confirmed())  # the ACK came on the flow, not to the Contact
    await wait(caller.bye())
    assert await wait(callee.wait_terminated()) == "remote BYE"


async def test_answered_gives_the_dialog_and_cancelling_a_wait_leaves_the_call(
    peers: tuple[Peer, Peer],
) -> None:
    """A fork waits on `answered()` of each call: every wait gets the same dialog, and dropping
    a wait (cancelling the future) neither cancels nor fails the call."""
    alice, bob = peers
    call, incoming = await ringing_call(alice, bob)
    dropped = call.answered()
    dropped.cancel()
    await asyncio.sleep(0)
    assert not call.done
    waiting = call.answered()
    incoming[0].answer()
    dialog = await wait(waiting)
    assert dialog is await wait(call.answered())
    assert dropped.cancelled()
    response = await wait(dialog.bye())
    assert response is not None
    assert response.status == 200


async def test_on_cancel_is_called_once_the_caller_cancels(peers: tuple[Peer, Peer]) -> None:
    alice, bob = peers
    seen: list[bool] = []

    def on_call(call: IncomingCall) -> None:
        call.on_cancel = lambda: seen.append(call.cancelled.is_set())
        call.ring()

    bob.ua.on_request = on_call
    rang = asyncio.Event()
    call = await alice.ua.invite(bob.uri(), on_provisional=lambda r, d: rang.set())
    await wait(rang.wait())
    call.cancel()
    with pytest.raises(CallFailed):
        await wait(call.answered())
    assert seen == [True]  # called once, after `cancelled` was set


class _FirstUdpOnTakenNumber(UserAgent):
    """A user agent whose first UDP socket lands on a number whose TCP side another socket
    holds: the race `listen_udp_and_tcp` has to survive when the kernel picks the number."""

    def __init__(self, taken: int) -> None:
        super().__init__(local_user="pbx")
        self.taken = taken
        self.udp_opened: list[int] = []

    async def _open(self, kind: TransportKind, host: str, port: int, **options: Any) -> Transport:
        if kind is TransportKind.UDP and not self.udp_opened:
            port = self.taken
        transport = await super()._open(kind, host, port, **options)
        if kind is TransportKind.UDP:
            self.udp_opened.append(transport.local_address.port)
        return transport


async def test_udp_and_tcp_on_one_number_move_on_when_tcp_is_taken() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        ua = _FirstUdpOnTakenNumber(taken)
        try:
            udp, tcp = await ua.listen_udp_and_tcp("127.0.0.1", 0)
            assert udp.local_address.port == tcp.local_address.port != taken
            assert ua.udp_opened == [taken, udp.local_address.port]
            assert ua.transport.transports == [udp, tcp]  # the first UDP socket was not kept
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                probe.bind(("127.0.0.1", taken))  # and it was closed: its number is free again
        finally:
            await ua.close()


async def test_udp_and_tcp_on_a_named_number_fail_when_tcp_is_taken() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        ua = UserAgent(local_user="pbx")
        try:
            with pytest.raises(OSError, match="in use"):
                await ua.listen_udp_and_tcp("127.0.0.1", taken)
            assert ua.transport.transports == []
        finally:
            await ua.close()


async def test_a_bye_the_peer_never_answers_ends_the_dialog_quietly() -> None:
    """The callee is gone (its phone lost power): the BYE times out (Timer F), `bye()` returns
    None as it promises instead of raising into whoever hangs up, and, run in the background as
    the PBX does, leaves nothing for the cyclic collector. A `TransactionTimeout` escaping a
    background task stays in the task with its traceback's frames, a cycle: under a
    retransmission storm a node piled up ~180,000 such objects in three minutes, then paused
    3 s collecting them."""
    timers = TimerSettings(t1=0.01, t2=0.04, t4=0.05)
    alice = UserAgent(local_user="alice", settings=timers)
    bob = UserAgent(local_user="bob", settings=timers)
    await alice.listen("udp")
    address = (await bob.listen("udp")).local_address
    bob.on_request = lambda request: (
        request.answer(b"") if isinstance(request, IncomingCall) else None
    )  # type: ignore[func-returns-value]
    try:
        call = await wait(alice.invite(f"sip:bob@{address.host}:{address.port}"))
        first, second = await wait(call.answered()), None
        second_call = await wait(alice.invite(f"sip:bob@{address.host}:{address.port}"))
        second = await wait(second_call.answered())
        await bob.close()  # nobody answers from now on
        assert await wait(first.bye()) is None
        assert first.terminated
        gc.collect()
        gc.set_debug(gc.DEBUG_SAVEALL)  # what a collection finds stays in gc.garbage
        task = asyncio.get_running_loop().create_task(second.bye())
        alice.track(task)
        assert await wait(task) is None
        del task, second, second_call, first, call
        gc.collect()
        left = [o for o in gc.garbage if isinstance(o, Dialog | Request | TransactionTimeout)]
        assert not left
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        await alice.close()
        await bob.close()
