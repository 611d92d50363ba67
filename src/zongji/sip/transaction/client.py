"""Client transactions (RFC 3261 §17.1, with the Accepted state of RFC 6026 §8.4)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from zongji.sip.headers import Headers
from zongji.sip.ids import new_branch
from zongji.sip.message import Request, Response
from zongji.sip.network import TransportKind
from zongji.sip.transaction.base import Transaction, TransactionState
from zongji.sip.transaction.keys import client_key
from zongji.sip.transport.base import Flow

if TYPE_CHECKING:
    from zongji.sip.transaction.layer import TransactionLayer

S = TransactionState


class ClientTransactionUser(Protocol):
    """What a client transaction reports to whoever started it (the TU)."""

    def response_received(self, transaction: ClientTransaction, response: Response) -> None: ...

    def timed_out(self, transaction: ClientTransaction) -> None: ...

    def transport_failed(self, transaction: ClientTransaction, error: Exception) -> None: ...


class _NobodyListening:
    """The user of a transaction that has nothing more to report (see `ClientTransaction`)."""

    __slots__ = ()

    def response_received(self, transaction: ClientTransaction, response: Response) -> None:
        pass

    def timed_out(self, transaction: ClientTransaction) -> None:
        pass

    def transport_failed(self, transaction: ClientTransaction, error: Exception) -> None:
        pass


_NOBODY: ClientTransactionUser = _NobodyListening()


class ClientTransaction(Transaction):
    """Sends one request and delivers its responses; retransmits on unreliable transports.

    Once it has nothing more to tell its user (terminated, or Completed: only absorbing
    retransmitted finals), the transaction lets go of the user. The user (an outgoing call, a
    pending request) holds the transaction too, and the transaction lives on in its timers
    (D: 32 s, K: T4) after the caller is done with both: holding on would keep the caller's
    whole object graph alive that long and make a cycle only the garbage collector could free.
    """

    __slots__ = ("_data", "_interval", "_original_flow", "branch", "user")

    def __init__(
        self,
        layer: TransactionLayer,
        request: Request,
        flow: Flow,
        user: ClientTransactionUser,
        *,
        branch: str | None = None,
    ) -> None:
        super().__init__(layer, request, flow)
        self.user = user
        self._data = b""
        self._interval = 0.0
        self._original_flow = flow
        if branch is None:
            self.branch = new_branch()
            self.flow, self._data = layer.transport.prepare_request(request, flow, self.branch)
        else:
            # The request already carries its top Via (a CANCEL copies its INVITE's).
            self.branch = branch
            self._data = request.encode()
        self.key = client_key(self.branch, request.method)

    @property
    def reliable(self) -> bool:
        return self.flow.reliable

    def _send(self) -> None:
        self.flow.send(self._data, self._transport_error)

    def _transport_error(self, error: Exception) -> None:
        if self.state is S.TERMINATED:
            return
        original = self._original_flow
        if self.flow is not original and original.kind is TransportKind.UDP:
            # We moved a large request to TCP (RFC 3261 §18.1.1); the peer refused TCP, so
            # send it over UDP after all, as §18.1.1 says.
            self.request.headers.pop_first("Via")
            self.flow, self._data = self.layer.transport.prepare_request(
                self.request, original, self.branch, allow_switch=False
            )
            self._original_flow = self.flow
            self._restart_after_fallback()
            return
        user = self.user
        self._terminate()
        user.transport_failed(self, error)

    def _restart_after_fallback(self) -> None:
        raise NotImplementedError

    def _terminate(self) -> None:
        super()._terminate()
        self.user = _NOBODY

    def start(self) -> None:
        raise NotImplementedError

    def receive(self, response: Response) -> None:
        raise NotImplementedError


class NonInviteClientTransaction(ClientTransaction):
    """RFC 3261 §17.1.2: Trying -> Proceeding -> Completed -> Terminated; Timers E, F, K."""

    __slots__ = ()

    def start(self) -> None:
        self.state = S.TRYING
        self._send()
        if self.state is S.TERMINATED:
            return
        if not self.reliable:
            self._interval = self.settings.t1
            self._start_timer("E", self._interval, self._timer_e)
        self._start_timer("F", self.settings.timeout, self._timer_f)

    def _restart_after_fallback(self) -> None:
        self._send()
        self._interval = self.settings.t1
        self._start_timer("E", self._interval, self._timer_e)

    def _timer_e(self) -> None:
        if self.state is S.TRYING:
            self._interval = min(2 * self._interval, self.settings.t2)
        elif self.state is S.PROCEEDING:
            self._interval = self.settings.t2
        else:
            return
        self._send()
        self._start_timer("E", self._interval, self._timer_e)

    def _timer_f(self) -> None:
        if self.state in (S.TRYING, S.PROCEEDING):
            user = self.user
            self._terminate()
            user.timed_out(self)

    def receive(self, response: Response) -> None:
        if self.state not in (S.TRYING, S.PROCEEDING):
            return  # Completed absorbs retransmitted finals
        if response.status < 200:
            self.state = S.PROCEEDING
            self.user.response_received(self, response)
            return
        self.state = S.COMPLETED
        self._cancel_timer("E", "F")
        self.user.response_received(self, response)
        if self.state is S.COMPLETED:
            self.user = _NOBODY  # Completed only absorbs retransmitted finals
            self._start_timer("K", 0 if self.reliable else self.settings.t4, self._terminate)


class InviteClientTransaction(ClientTransaction):
    """RFC 3261 §17.1.1 and RFC 6026: Calling -> Proceeding -> Accepted|Completed -> Terminated.

    Timers A (retransmit), B (timeout), D (absorb final retransmissions), M (absorb 2xx
    retransmissions and forked 2xx, RFC 6026). The ACK for a non-2xx final is built and sent
    here (§17.1.1.3); the ACK for a 2xx is the TU's.
    """

    __slots__ = ("_ack",)

    def __init__(
        self,
        layer: TransactionLayer,
        request: Request,
        flow: Flow,
        user: ClientTransactionUser,
        *,
        branch: str | None = None,
    ) -> None:
        super().__init__(layer, request, flow, user, branch=branch)
        self._ack: bytes | None = None

    def start(self) -> None:
        self.state = S.CALLING
        self._send()
        if self.state is S.TERMINATED:
            return
        if not self.reliable:
            self._interval = self.settings.t1
            self._start_timer("A", self._interval, self._timer_a)
        self._start_timer("B", self.settings.timeout, self._timer_b)

    def _restart_after_fallback(self) -> None:
        self._send()
        self._interval = self.settings.t1
        self._start_timer("A", self._interval, self._timer_a)

    def _timer_a(self) -> None:
        if self.state is not S.CALLING:
            return
        self._interval *= 2
        self._send()
        self._start_timer("A", self._interval, self._timer_a)

    def _timer_b(self) -> None:
        if self.state is S.CALLING:
            user = self.user
            self._terminate()
            user.timed_out(self)

    def receive(self, response: Response) -> None:
        state = self.state
        status = response.status
        if state in (S.CALLING, S.PROCEEDING):
            if status < 200:
                if state is S.CALLING:
                    self.state = S.PROCEEDING
                    self._cancel_timer("A", "B")
                self.user.response_received(self, response)
            elif status < 300:
                self.state = S.ACCEPTED
                self._cancel_timer("A", "B")
                self._start_timer("M", self.settings.timeout, self._terminate)
                self.user.response_received(self, response)
            else:
                self.state = S.COMPLETED
                self._cancel_timer("A", "B")
                self._send_ack(response)
                self.user.response_received(self, response)
                if self.state is S.COMPLETED:
                    self.user = _NOBODY  # Completed only answers retransmitted finals with the ACK
                    self._start_timer("D", 0 if self.reliable else 32.0, self._terminate)
        elif state is S.ACCEPTED:
            if 200 <= status < 300:
                self.user.response_received(self, response)  # a retransmission or another fork
        elif state is S.COMPLETED and status >= 300 and self._ack is not None:
            self.flow.send(self._ack)

    def _send_ack(self, response: Response) -> None:
        """The ACK for a non-2xx final (RFC 3261 §17.1.1.3): same branch, one Via, To of the
        response."""
        to = response.headers.get("to") or self.request.headers.get("to") or ""
        self._ack = self._sibling_request("ACK", to).encode()
        self.flow.send(self._ack)

    def create_cancel(self) -> Request:
        """A CANCEL for this INVITE (RFC 3261 §9.1)."""
        return self._sibling_request("CANCEL", self.request.headers.get("to") or "")

    def _sibling_request(self, method: str, to: str) -> Request:
        """A request sharing this INVITE's Request-URI, top Via, Route, From, Call-ID and
        CSeq number: what ACK-for-non-2xx and CANCEL are made of."""
        request = self.request
        source = request.headers
        headers = Headers()
        top_via = source.get("via")
        if top_via is not None:
            headers.add("Via", str(request.top_via) if "," in top_via else top_via)
        for value in source.get_all("route"):
            headers.add("Route", value)
        headers.add("Max-Forwards", "70")
        headers.add("From", source.get("from") or "")
        headers.add("To", to)
        headers.add("Call-ID", source.get("call-id") or "")
        headers.add("CSeq", f"{request.cseq.number} {method}")
        return Request(method, request.uri, headers)
