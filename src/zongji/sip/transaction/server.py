"""Server transactions (RFC 3261 §17.2, with the Accepted state of RFC 6026 §8.5 - §8.7)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from zongji.sip.fields import Via
from zongji.sip.message import Request, Response
from zongji.sip.transaction.base import Transaction, TransactionState
from zongji.sip.transport.base import Flow
from zongji.sip.transport.layer import response_flow

if TYPE_CHECKING:
    from zongji.sip.transaction.layer import TransactionLayer

S = TransactionState


class ServerTransaction(Transaction):
    """Receives one request, sends its responses, absorbs retransmissions.

    The TU answers with `respond()`. Callbacks a TU may set:
    - `on_terminated`: the transaction is gone (any reason);
    - `on_failure`: the response could not be delivered (transport error, or for INVITE no
      ACK for a non-2xx final within Timer H).
    """

    __slots__ = (
        "_last_data",
        "_last_response",
        "_out",
        "_via",
        "final_status",
        "final_to_tag",
        "on_failure",
        "on_terminated",
    )

    def __init__(self, layer: TransactionLayer, request: Request, flow: Flow) -> None:
        super().__init__(layer, request, flow)
        self._out: Flow | None = None
        self._via: Via | None = None  # kept only while responses ride the request's connection
        self._last_data: bytes | None = None
        self._last_response: Response | None = None
        self.final_status = 0  # the final response's status once sent
        self.final_to_tag: str | None = None  # its To tag (RFC 2543 ACK matching needs it)
        self.on_terminated: Callable[[ServerTransaction], None] | None = None
        self.on_failure: Callable[[ServerTransaction, Exception | None], None] | None = None

    @property
    def last_response(self) -> Response | None:
        """The last response sent while the transaction still keeps it (until the final)."""
        return self._last_response

    @property
    def responded(self) -> bool:
        """True once any response went out."""
        return self._last_data is not None

    @property
    def response_flow(self) -> Flow:
        """Where responses go (RFC 3261 §18.2.2), worked out once from the request.

        If that was the request's connection and it has closed since, responses go to the
        sent-by address over a new connection instead (§18.2.2 for reliable transports).
        """
        out = self._out
        if out is None:
            via = self.request.top_via
            out = self._out = response_flow(via, self.flow)
            if out.connection is not None:
                self._via = via
        elif out.connection is not None and out.connection.closed and self._via is not None:
            out = self._out = response_flow(self._via, Flow(out.transport, out.remote))
        return out

    def _transmit(self, response: Response) -> None:
        self._last_response = response
        self._last_data = response.encode()
        self._resend()
        if response.status >= 200:
            # Nothing but the bytes above is needed to answer retransmissions from now on;
            # letting go of the parsed messages keeps the 32 s of absorbing cheap in memory
            # and for the garbage collector.
            self.final_status = response.status
            if self.key[:1] == ("2543",):
                self.final_to_tag = response.to_addr.tag
            self._request = None
            self._last_response = None

    def _resend(self) -> None:
        if self._last_data is not None:
            self.response_flow.send(self._last_data, self._transport_error)

    def _transport_error(self, error: Exception) -> None:
        if self.state is S.TERMINATED:
            return
        on_failure = self.on_failure
        self._terminate()
        if on_failure is not None:
            on_failure(self, error)

    def _terminate(self) -> None:
        if self.state is S.TERMINATED:
            return
        super()._terminate()
        on_terminated = self.on_terminated
        # Drop the TU's callbacks: they point back at objects that point at us, and a cycle
        # would leave the whole call for the cyclic garbage collector instead of refcounting.
        self.on_terminated = self.on_failure = None
        if on_terminated is not None:
            on_terminated(self)

    def start(self) -> None:
        raise NotImplementedError

    def respond(self, response: Response) -> None:
        raise NotImplementedError

    def respond_statelessly(self, response: Response) -> None:
        """Send a final response once and end at once, as a stateless UAS does (RFC 3261
        §8.2.7): nothing is retransmitted, and a retransmission of the request or its ACK
        finds no transaction (a retransmitted request is answered anew; an ACK that matches
        nothing is dropped).

        For answers to requests anyone can send from a forged address (Digest challenges,
        refusals of blocked sources): over UDP a stateful non-2xx to an INVITE is resent ten
        times by Timer G until its ACK, which a spoofed source never sends, and the
        transaction is kept for 32 s; the caller that really sent the request retransmits
        it until it hears an answer anyway."""
        if response.status < 200:
            raise ValueError("only a final response can be sent statelessly")
        if self.final_status or self.state not in (S.TRYING, S.PROCEEDING):
            raise RuntimeError(f"cannot respond in state {self.state.value}")
        self._cancel_timer("trying")
        self._transmit(response)
        self._terminate()

    def receive(self, request: Request) -> None:
        """A retransmission of the request (or, for INVITE, an ACK) matched this transaction."""
        raise NotImplementedError


class NonInviteServerTransaction(ServerTransaction):
    """RFC 3261 §17.2.2: Trying -> Proceeding -> Completed -> Terminated; Timer J."""

    __slots__ = ()

    def start(self) -> None:
        self.state = S.TRYING

    def respond(self, response: Response) -> None:
        if self.state not in (S.TRYING, S.PROCEEDING):
            raise RuntimeError(f"cannot respond in state {self.state.value}")
        if response.status < 200:
            self.state = S.PROCEEDING
            self._transmit(response)
            return
        self.state = S.COMPLETED
        self._transmit(response)
        if self.state is S.COMPLETED:
            reliable = self.response_flow.reliable
            self._start_timer("J", 0 if reliable else self.settings.timeout, self._terminate)

    def receive(self, request: Request) -> None:
        if self.state in (S.PROCEEDING, S.COMPLETED):
            self._resend()


class InviteServerTransaction(ServerTransaction):
    """RFC 3261 §17.2.1 and RFC 6026: Proceeding -> Accepted|Completed -> Confirmed -> Terminated.

    Sends 100 Trying if the TU has not answered within 200 ms. Timers G (retransmit a non-2xx
    final), H (give up waiting for its ACK), I (absorb ACK retransmissions), L (RFC 6026:
    absorb INVITE retransmissions after a 2xx; the TU retransmits the 2xx through
    `respond()` until the ACK arrives).
    """

    __slots__ = ("_interval", "on_ack")

    def __init__(self, layer: TransactionLayer, request: Request, flow: Flow) -> None:
        super().__init__(layer, request, flow)
        self._interval = 0.0
        self.on_ack: Callable[[Request], None] | None = None

    def start(self) -> None:
        self.state = S.PROCEEDING

    def schedule_trying(self) -> None:
        """After the TU saw the request: send 100 Trying unless it answers within 200 ms."""
        if not self.responded and self.state is S.PROCEEDING:
            self._start_timer("trying", self.settings.trying_delay, self._send_trying)

    def _send_trying(self) -> None:
        if not self.responded and self.state is S.PROCEEDING:
            self._transmit(self.request.create_response(100))

    def respond(self, response: Response) -> None:
        status = response.status
        state = self.state
        if state is S.PROCEEDING:
            self._cancel_timer("trying")
            if status < 200:
                self._transmit(response)
            elif status < 300:
                self.state = S.ACCEPTED
                self._transmit(response)
                if self.state is S.ACCEPTED:
                    self._start_timer("L", self.settings.timeout, self._terminate)
            else:
                self.state = S.COMPLETED
                self._transmit(response)
                if self.state is not S.COMPLETED:
                    return
                if not self.response_flow.reliable:
                    self._interval = self.settings.t1
                    self._start_timer("G", self._interval, self._timer_g)
                self._start_timer("H", self.settings.timeout, self._timer_h)
        elif state is S.ACCEPTED and 200 <= status < 300:
            self._transmit(response)  # the TU retransmitting its 2xx (RFC 6026 §8.6)
        else:
            raise RuntimeError(f"cannot send {status} in state {state.value}")

    def _timer_g(self) -> None:
        if self.state is not S.COMPLETED:
            return
        self._interval = min(2 * self._interval, self.settings.t2)
        self._resend()
        self._start_timer("G", self._interval, self._timer_g)

    def _timer_h(self) -> None:
        if self.state is S.COMPLETED:
            on_failure = self.on_failure
            self._terminate()
            if on_failure is not None:
                on_failure(self, None)

    def receive(self, request: Request) -> None:
        state = self.state
        if request.method == "ACK":
            if state is S.COMPLETED:
                self.state = S.CONFIRMED
                self._cancel_timer("G", "H")
                reliable = self.response_flow.reliable
                self._start_timer("I", 0 if reliable else self.settings.t4, self._terminate)
            elif state is S.ACCEPTED and self.on_ack is not None:
                self.on_ack(request)
            return
        if state is S.PROCEEDING:
            if not self.responded:
                self._cancel_timer("trying")
                self._transmit(self.request.create_response(100))
            else:
                self._resend()
        elif state is S.COMPLETED:
            self._resend()
        # Accepted and Confirmed absorb retransmitted INVITEs (RFC 6026 §8.5).

    @property
    def final_sent(self) -> bool:
        return self.state is not S.PROCEEDING
