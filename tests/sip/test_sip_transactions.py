"""Transaction state machines (RFC 3261 §17, RFC 6026) on a lossy fake network with a fake clock.

Each test loses chosen packets and moves the clock by hand, then checks exactly when each
retransmission went out and when each timer ended the transaction.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import pytest
from sip_fakes import FakeNetwork, FakeTransport, Packet

from zongji.sip.message import Request, Response
from zongji.sip.network import HostPort, TransportKind
from zongji.sip.parser import parse_message
from zongji.sip.timers import ManualScheduler, TimerSettings
from zongji.sip.transaction.base import TransactionState as S
from zongji.sip.transaction.client import ClientTransaction
from zongji.sip.transaction.layer import TransactionLayer
from zongji.sip.transaction.server import InviteServerTransaction, ServerTransaction
from zongji.sip.transport.base import Flow
from zongji.sip.transport.layer import TransportLayer
from zongji.sip.uri import parse_uri

A = HostPort("10.0.0.1", 5060)
B = HostPort("10.0.0.2", 5060)
T1, T2, T4 = 0.5, 4.0, 5.0


@dataclass
class ClientUser:
    """Records what a client transaction reports."""

    responses: list[Response] = field(default_factory=list)
    timeouts: int = 0
    errors: list[Exception] = field(default_factory=list)

    def response_received(self, transaction: ClientTransaction, response: Response) -> None:
        self.responses.append(response)

    def timed_out(self, transaction: ClientTransaction) -> None:
        self.timeouts += 1

    def transport_failed(self, transaction: ClientTransaction, error: Exception) -> None:
        self.errors.append(error)


@dataclass
class ServerUser:
    """A TU that keeps the server transactions it is given and the stray ACKs."""

    transactions: list[ServerTransaction] = field(default_factory=list)
    acks: list[Request] = field(default_factory=list)

    def request_received(self, transaction: ServerTransaction) -> None:
        self.transactions.append(transaction)

    def ack_received(self, ack: Request, flow: Flow) -> None:
        self.acks.append(ack)

    def stray_response(self, response: Response, flow: Flow) -> None:
        pass


@dataclass
class Stack:
    transport: FakeTransport
    transactions: TransactionLayer
    server_user: ServerUser


@dataclass
class Net:
    network: FakeNetwork
    clock: ManualScheduler
    a: Stack
    b: Stack
    lost: list[str] = field(default_factory=list)  # start lines to lose, in order of sending

    def advance(self, seconds: float) -> None:
        """Move the clock in small steps, letting the network deliver in between."""
        steps = round(seconds / 0.05)
        for _ in range(steps):
            self.network.flush()
            self.clock.advance(0.05)
        self.network.flush()

    def sent(self, stack: Stack, start: str) -> list[float]:
        """When `stack` sent messages whose start line begins with `start`."""
        return [
            t
            for t, p in self.times
            if p.source is stack.transport and p.data.startswith(start.encode())
        ]

    times: list[tuple[float, Packet]] = field(default_factory=list)


def make_net(kind: TransportKind = TransportKind.UDP) -> Net:
    network = FakeNetwork()
    clock = ManualScheduler()
    settings = TimerSettings(t1=T1, t2=T2, t4=T4)

    def stack(address: HostPort) -> Stack:
        transport_layer = TransportLayer()
        transport = FakeTransport(network, address, kind)
        transport_layer.add(transport)
        transactions = TransactionLayer(transport_layer, clock, settings)
        user = ServerUser()
        transactions.user = user
        return Stack(transport, transactions, user)

    net = Net(network, clock, stack(A), stack(B))
    original_send = network.send

    def send(packet: Packet, on_error):  # type: ignore[no-untyped-def]
        net.times.append((clock.time(), packet))
        first_line = packet.data.split(b"\r\n", 1)[0].decode()
        if net.lost and first_line.startswith(net.lost[0]):
            net.lost.pop(0)
            network.dropped.append(packet)
            return
        original_send(packet, on_error)

    network.send = send  # type: ignore[method-assign]
    return net


def new_request(method: str) -> Request:
    from zongji.sip.headers import Headers

    headers = Headers(
        [
            ("Max-Forwards", "70"),
            ("From", "<sip:a@10.0.0.1>;tag=ft"),
            ("To", "<sip:b@10.0.0.2>"),
            ("Call-ID", f"call-{method}"),
            ("CSeq", f"1 {method}"),
            ("Contact", "<sip:a@10.0.0.1>"),
        ]
    )
    return Request(method, parse_uri("sip:b@10.0.0.2"), headers)


def start(net: Net, method: str) -> tuple[ClientTransaction, ClientUser]:
    user = ClientUser()
    flow = Flow(net.a.transport, B)
    transaction = net.a.transactions.start_client(new_request(method), flow, user)
    return transaction, user


def server_transaction(net: Net) -> ServerTransaction:
    return net.b.server_user.transactions[-1]


def respond(net: Net, status: int, transaction: ServerTransaction | None = None) -> Response:
    transaction = transaction or server_transaction(net)
    response = transaction.request.create_response(status, to_tag="tt")
    transaction.respond(response)
    net.network.flush()
    return response


def tables_empty(net: Net) -> bool:
    return net.a.transactions.active == 0 and net.b.transactions.active == 0


# --------------------------------------------------------------------- non-INVITE client


def test_timer_e_doubles_to_t2_and_timer_f_times_out() -> None:
    net = make_net()
    net.lost = ["OPTIONS"] * 100  # nothing gets through
    transaction, user = start(net, "OPTIONS")
    net.advance(40)
    sent = net.sent(net.a, "OPTIONS")
    assert sent[:6] == pytest.approx([0, 0.5, 1.5, 3.5, 7.5, 11.5])  # T1, 2T1, 4T1, then T2
    assert all(b - a == pytest.approx(T2) for a, b in itertools.pairwise(sent[4:]))
    assert sent[-1] < 32
    assert user.timeouts == 1
    assert transaction.state is S.TERMINATED
    assert tables_empty(net)
    assert net.clock.pending == 0


def test_proceeding_retransmits_at_t2_then_final_then_timer_k() -> None:
    net = make_net()
    transaction, user = start(net, "REGISTER")
    net.network.flush()
    server = server_transaction(net)
    respond(net, 100, server)
    assert transaction.state is S.PROCEEDING
    net.lost = ["SIP/2.0 100"] * 10  # the server re-sends its 100 to each retransmission
    net.advance(10)
    sent = net.sent(net.a, "REGISTER")
    assert sent[1:] == pytest.approx([0.5, 4.5, 8.5])  # first retransmit was due at T1, then T2
    respond(net, 200, server)
    assert [r.status for r in user.responses] == [100, 200]
    assert transaction.state is S.COMPLETED
    net.advance(T4 - 0.1)
    assert transaction.state is S.COMPLETED  # Timer K still running
    net.advance(0.2)
    assert transaction.state is S.TERMINATED


def test_non_invite_server_absorbs_and_answers_retransmissions() -> None:
    net = make_net()
    net.lost = ["SIP/2.0 200"]  # lose the first final response
    start(net, "BYE")
    net.network.flush()
    server = server_transaction(net)
    assert server.state is S.TRYING
    net.advance(0.6)  # a retransmission arrives in Trying: absorbed, nothing sent
    assert net.sent(net.b, "SIP/2.0") == []
    respond(net, 200, server)
    net.advance(1.0)  # the client retransmits (it never got the 200); the server re-sends it
    assert len(net.sent(net.b, "SIP/2.0 200")) == 2
    assert len(net.b.server_user.transactions) == 1
    assert server.state is S.COMPLETED
    net.advance(32)  # Timer J
    assert server.state is S.TERMINATED
    assert tables_empty(net)


def test_reliable_transport_has_no_retransmissions_and_zero_wait_timers() -> None:
    net = make_net(TransportKind.TCP)
    transaction, _user = start(net, "OPTIONS")
    net.network.flush()
    net.advance(10)
    assert len(net.sent(net.a, "OPTIONS")) == 1
    respond(net, 200)
    assert transaction.state is S.TERMINATED  # Timer K = 0
    assert server_transaction(net).state is S.TERMINATED  # Timer J = 0
    assert tables_empty(net)


def test_transport_error_is_reported() -> None:
    net = make_net(TransportKind.TCP)
    user = ClientUser()
    flow = Flow(net.a.transport, HostPort("10.9.9.9", 5060))  # nobody there: refused
    transaction = net.a.transactions.start_client(new_request("OPTIONS"), flow, user)
    assert len(user.errors) == 1
    assert transaction.state is S.TERMINATED
    assert tables_empty(net)


# --------------------------------------------------------------------- INVITE client


def test_timer_a_doubles_without_cap_and_timer_b_times_out() -> None:
    net = make_net()
    net.lost = ["INVITE"] * 100
    transaction, user = start(net, "INVITE")
    net.advance(40)
    assert net.sent(net.a, "INVITE") == pytest.approx([0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5])
    assert user.timeouts == 1
    assert transaction.state is S.TERMINATED


def test_provisional_stops_retransmission_and_timer_b() -> None:
    net = make_net()
    transaction, user = start(net, "INVITE")
    net.network.flush()
    respond(net, 180)
    net.advance(100)
    assert len(net.sent(net.a, "INVITE")) == 1
    assert transaction.state is S.PROCEEDING
    assert user.timeouts == 0


def test_non_2xx_final_is_acked_by_the_transaction() -> None:
    net = make_net()
    net.lost = ["ACK"]  # lose the first ACK: the server's Timer G re-sends the 486
    transaction, user = start(net, "INVITE")
    net.network.flush()
    server = server_transaction(net)
    assert isinstance(server, InviteServerTransaction)
    final = respond(net, 486, server)
    assert transaction.state is S.COMPLETED
    assert [r.status for r in user.responses] == [486]
    acks = [p for _, p in net.times if p.data.startswith(b"ACK")]
    ack = acks[0].message
    assert isinstance(ack, Request)
    invite = transaction.request
    assert ack.uri == invite.uri
    assert ack.top_via.branch == invite.top_via.branch
    assert len(ack.via) == 1
    assert ack.to_addr.tag == final.to_addr.tag == "tt"
    assert (ack.cseq.number, ack.cseq.method) == (invite.cseq.number, "ACK")
    assert server.state is S.COMPLETED
    net.advance(T1 + 0.05)  # Timer G: 486 again; the client answers it with the ACK again
    assert len(net.sent(net.b, "SIP/2.0 486")) == 2
    assert len(net.sent(net.a, "ACK")) == 2
    assert server.state is S.CONFIRMED
    assert len(user.responses) == 1  # the retransmitted 486 is not passed up again
    net.advance(T4 + 0.1)  # Timer I
    assert server.state is S.TERMINATED
    net.advance(32)  # Timer D
    assert transaction.state is S.TERMINATED
    assert tables_empty(net)


def test_server_timer_g_caps_at_t2_and_timer_h_gives_up() -> None:
    net = make_net()
    net.lost = ["ACK"] * 100
    start(net, "INVITE")
    net.network.flush()
    server = server_transaction(net)
    failures: list[object] = []
    server.on_failure = lambda tx, error: failures.append(error)
    respond(net, 404, server)
    net.advance(40)
    sent = net.sent(net.b, "SIP/2.0 404")
    assert sent[:6] == pytest.approx([0, 0.5, 1.5, 3.5, 7.5, 11.5])
    assert server.state is S.TERMINATED
    assert failures == [None]


def test_stateless_final_response_is_sent_once_and_keeps_nothing() -> None:
    """A challenge sent statelessly is not resent by Timer G while no ACK comes (a forged source
    never sends one), the transaction is gone at once, its ACK goes to the TU as a stray ACK
    (dropped by a UA), and a retransmitted INVITE is a new request, answered anew."""
    net = make_net()
    net.lost = ["ACK"] * 100
    client, user = start(net, "INVITE")
    net.network.flush()
    server = server_transaction(net)
    challenge = server.request.create_response(407, to_tag="tt")
    server.respond_statelessly(challenge)
    assert server.state is S.TERMINATED
    assert net.b.transactions.active == 0
    net.advance(40)
    assert net.sent(net.b, "SIP/2.0 407") == [0]
    assert [r.status for r in user.responses] == [407]
    with pytest.raises(RuntimeError):
        server.respond_statelessly(challenge)
    # the client's ACK (delivered this time) finds no transaction: a stray ACK for the TU
    net.lost = []
    net.b.transactions.request_received(_ack_for(server_request(net)), Flow(net.b.transport, A))
    assert len(net.b.server_user.acks) == 1
    # the same INVITE again (its 407 lost): a new transaction, to be answered again
    net.b.transactions.request_received(server_request(net), Flow(net.b.transport, A))
    assert len(net.b.server_user.transactions) == 2
    with pytest.raises(ValueError, match="final"):
        server_transaction(net).respond_statelessly(server_request(net).create_response(100))
    assert client.state in (S.COMPLETED, S.TERMINATED)


def server_request(net: Net) -> Request:
    """The INVITE as the client sent it (the first packet on the network)."""
    first = net.times[0][1].data
    message = parse_message(first, datagram=True)
    assert isinstance(message, Request)
    return message


def _ack_for(invite: Request) -> Request:
    ack = Request("ACK", invite.uri, invite.headers.copy())
    ack.headers.set("CSeq", f"{invite.cseq.number} ACK")
    ack.headers.set("To", f"{ack.headers.get('To')};tag=tt")
    return ack


def test_2xx_accepted_state_rfc6026() -> None:
    net = make_net()
    transaction, user = start(net, "INVITE")
    net.network.flush()
    server = server_transaction(net)
    assert isinstance(server, InviteServerTransaction)
    ok = server.request.create_response(200, to_tag="tt")
    server.respond(ok)
    net.network.flush()
    assert transaction.state is S.ACCEPTED
    assert server.state is S.ACCEPTED
    server.respond(ok)  # the TU retransmits its 2xx through the Accepted transaction
    net.network.flush()
    assert [r.status for r in user.responses] == [200, 200]  # both passed up (RFC 6026)
    assert net.sent(net.a, "ACK") == []  # the ACK for 2xx is not the transaction's
    # A retransmitted INVITE is absorbed by the server transaction in Accepted.
    net.a.transport.send(transaction._data, B)
    net.network.flush()
    assert len(net.b.server_user.transactions) == 1
    assert len(net.sent(net.b, "SIP/2.0 200")) == 2
    net.advance(32.1)  # Timers L and M
    assert transaction.state is S.TERMINATED
    assert server.state is S.TERMINATED
    assert tables_empty(net)


def test_server_sends_100_trying_only_when_the_tu_is_slow() -> None:
    net = make_net()
    start(net, "INVITE")
    net.network.flush()
    server = server_transaction(net)
    assert isinstance(server, InviteServerTransaction)
    server.schedule_trying()
    net.advance(0.15)
    assert net.sent(net.b, "SIP/2.0 100") == []
    net.advance(0.1)
    assert net.sent(net.b, "SIP/2.0 100") == pytest.approx([0.2])
    net2 = make_net()
    start(net2, "INVITE")
    net2.network.flush()
    quick = server_transaction(net2)
    assert isinstance(quick, InviteServerTransaction)
    quick.schedule_trying()
    respond(net2, 180, quick)
    net2.advance(1)
    assert net2.sent(net2.b, "SIP/2.0 100") == []


def test_lost_invite_is_recovered_by_retransmission() -> None:
    net = make_net()
    net.lost = ["INVITE", "INVITE"]
    _transaction, user = start(net, "INVITE")
    net.advance(1.0)
    assert net.b.server_user.transactions == []
    net.advance(0.6)  # the third INVITE (at 1.5 s) gets through
    assert len(net.b.server_user.transactions) == 1
    respond(net, 486)
    assert [r.status for r in user.responses] == [486]


def test_cancel_matches_its_invite() -> None:
    net = make_net()
    transaction, _ = start(net, "INVITE")
    net.network.flush()
    server = server_transaction(net)
    respond(net, 180, server)
    assert hasattr(transaction, "create_cancel")
    cancel = transaction.create_cancel()  # type: ignore[attr-defined]
    assert cancel.top_via.branch == transaction.branch
    cancel_user = ClientUser()
    net.a.transactions.start_client(
        cancel, transaction.flow, cancel_user, branch=transaction.branch
    )
    net.network.flush()
    cancel_server = server_transaction(net)
    assert cancel_server.request.method == "CANCEL"
    assert net.b.transactions.find_invite(cancel_server.request) is server


def test_ack_for_2xx_goes_to_the_tu() -> None:
    net = make_net()
    ack = new_request("ACK")
    ack.headers.add("Via", "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKnew", first=True)
    net.a.transport.send(ack.encode(), B)
    net.network.flush()
    assert len(net.b.server_user.acks) == 1
    assert net.b.server_user.transactions == []


def test_a_transaction_lets_go_of_its_user_when_it_has_nothing_more_to_report() -> None:
    """Completed (non-2xx INVITE: Timer D, 32 s; non-INVITE: Timer K) only absorbs retransmitted
    finals, so the transaction stops holding its user (an outgoing call and all it refers to);
    Accepted still passes 2xx retransmissions up, so it holds the user until it ends."""
    net = make_net()
    net.lost = ["ACK"]  # the server's Timer G re-sends the 486
    refused, refused_user = start(net, "INVITE")
    net.network.flush()
    respond(net, 486)
    assert refused.state is S.COMPLETED
    assert refused.user is not refused_user
    net.advance(T1 + 0.05)  # Timer G: the 486 again, absorbed and ACKed by the transaction
    assert len(net.sent(net.a, "ACK")) == 2
    assert len(refused_user.responses) == 1

    options, options_user = start(net, "OPTIONS")
    net.network.flush()
    respond(net, 200)
    assert options.state is S.COMPLETED
    assert options.user is not options_user

    accepted, accepted_user = start(net, "INVITE")
    net.network.flush()
    respond(net, 200)
    assert accepted.state is S.ACCEPTED
    assert accepted.user is accepted_user
    net.advance(32.1)  # Timer M
    assert accepted.state is S.TERMINATED
    assert accepted.user is not accepted_user


def test_a_timed_out_transaction_tells_its_user_before_letting_go() -> None:
    net = make_net()
    net.lost = ["INVITE"] * 100
    transaction, user = start(net, "INVITE")
    net.advance(32.1)  # Timer B
    assert user.timeouts == 1
    assert transaction.user is not user
