"""The transaction layer: matches messages to transactions and keeps the transaction tables.

Requests that match no transaction start a server transaction, which the TU (the user agent
core) gets through `TransactionUser.request_received`; an ACK that matches none (the ACK for
a 2xx, RFC 3261 §13.2.2.4) goes to `TransactionUser.ack_received`. Responses that match no
client transaction go to `TransactionUser.stray_response`.
"""

from __future__ import annotations

from typing import Protocol

from zongji.sip.errors import SipParseError
from zongji.sip.ids import new_tag
from zongji.sip.message import Request, Response
from zongji.sip.timers import Scheduler, TimerSettings
from zongji.sip.transaction.base import Transaction, TransactionState
from zongji.sip.transaction.client import (
    ClientTransaction,
    ClientTransactionUser,
    InviteClientTransaction,
    NonInviteClientTransaction,
)
from zongji.sip.transaction.keys import response_key, rfc2543_key, server_key
from zongji.sip.transaction.server import (
    InviteServerTransaction,
    NonInviteServerTransaction,
    ServerTransaction,
)
from zongji.sip.transport.base import Flow, log
from zongji.sip.transport.layer import TransportLayer


class TransactionUser(Protocol):
    """The layer above transactions (the UA core, a proxy core)."""

    def request_received(self, transaction: ServerTransaction) -> None: ...

    def ack_received(self, ack: Request, flow: Flow) -> None: ...

    def stray_response(self, response: Response, flow: Flow) -> None: ...


class TransactionLayer:
    def __init__(
        self,
        transport: TransportLayer,
        scheduler: Scheduler,
        settings: TimerSettings | None = None,
    ) -> None:
        self.transport = transport
        self.scheduler = scheduler
        self.settings = settings or TimerSettings()
        self.user: TransactionUser | None = None
        # A UA discards responses with more than one Via (RFC 3261 §8.1.3.3); a proxy must not.
        self.discard_multiple_via = False
        self.server_transactions: dict[tuple[str, ...], ServerTransaction] = {}
        self.client_transactions: dict[tuple[str, ...], ClientTransaction] = {}
        transport.on_request = self.request_received
        transport.on_response = self.response_received

    # ------------------------------------------------------------------ receiving

    def request_received(self, request: Request, flow: Flow) -> None:
        try:
            key = server_key(request)
        except SipParseError as error:  # pragma: no cover - validated by the transport layer
            log.debug("cannot key request: %s", error)
            return
        transaction = self.server_transactions.get(key)
        if transaction is None and request.method == "ACK" and key[0] == "2543":
            transaction = self._match_2543_ack(request)
        if transaction is not None:
            transaction.receive(request)
            return
        user = self.user
        if request.method == "ACK":
            if user is not None:
                try:
                    user.ack_received(request, flow)
                except Exception:
                    log.exception("error handling an ACK")
            return
        if request.method == "INVITE":
            server: ServerTransaction = InviteServerTransaction(self, request, flow)
        else:
            server = NonInviteServerTransaction(self, request, flow)
        server.key = key
        self.server_transactions[key] = server
        server.start()
        if user is None:
            server.respond(request.create_response(503))
            return
        try:
            user.request_received(server)
        except Exception as error:
            # Whatever went wrong above us, the request is answered and its transaction ends
            # by its timers: nothing is left waiting forever.
            if not isinstance(error, SipParseError):
                log.exception("error handling %r", request)
            if server.final_status == 0 and not server.terminated:
                status = error.status if isinstance(error, SipParseError) else 500
                server.respond(request.create_response(status, to_tag=new_tag()))
            return
        if isinstance(server, InviteServerTransaction):
            server.schedule_trying()

    def _match_2543_ack(self, ack: Request) -> ServerTransaction | None:
        """An RFC 2543 ACK matches the INVITE whose response carried its To tag (§17.2.3)."""
        for to_tag in (None, ack.to_addr.tag):
            transaction = self.server_transactions.get(rfc2543_key(ack, to_tag))
            if transaction is None:
                continue
            if transaction.final_status and transaction.final_to_tag == ack.to_addr.tag:
                return transaction
        return None

    def response_received(self, response: Response, flow: Flow) -> None:
        if self.discard_multiple_via and len(response.via) > 1:
            log.debug("response with %d Vias discarded", len(response.via))
            return
        transaction = self.client_transactions.get(response_key(response))
        if transaction is not None:
            transaction.receive(response)
        elif self.user is not None:
            self.user.stray_response(response, flow)

    # ------------------------------------------------------------------ sending

    def start_client(
        self,
        request: Request,
        flow: Flow,
        user: ClientTransactionUser,
        *,
        branch: str | None = None,
    ) -> ClientTransaction:
        """Create and start a client transaction for `request` over `flow`.

        Without `branch` the transaction writes a new top Via; with one, the request already
        carries its Via (a CANCEL, which must match its INVITE's).
        """
        cls = InviteClientTransaction if request.method == "INVITE" else NonInviteClientTransaction
        transaction = cls(self, request, flow, user, branch=branch)
        self.client_transactions[transaction.key] = transaction
        transaction.start()
        return transaction

    def find_invite(self, cancel: Request) -> InviteServerTransaction | None:
        """The INVITE server transaction a CANCEL targets (RFC 3261 §9.2)."""
        via = cancel.top_via
        if via.has_rfc3261_branch:
            sent_by = via.sent_by
            key: tuple[str, ...] = (
                "3261",
                via.branch or "",
                sent_by.host.lower(),
                str(sent_by.port),
                "INVITE",
            )
        else:
            key = (*rfc2543_key(cancel, cancel.to_addr.tag)[:-1], "INVITE")
        transaction = self.server_transactions.get(key)
        if isinstance(transaction, InviteServerTransaction):
            return transaction
        return None

    # ------------------------------------------------------------------ bookkeeping

    def _forget(self, transaction: Transaction) -> None:
        table: dict[tuple[str, ...], ServerTransaction] | dict[tuple[str, ...], ClientTransaction]
        if isinstance(transaction, ServerTransaction):
            table = self.server_transactions
        else:
            table = self.client_transactions
        if table.get(transaction.key) is transaction:
            del table[transaction.key]

    @property
    def active(self) -> int:
        return len(self.server_transactions) + len(self.client_transactions)

    def states(self) -> dict[TransactionState, int]:
        """How many transactions are in each state (for metrics and tests)."""
        result: dict[TransactionState, int] = {}
        for table in (self.server_transactions, self.client_transactions):
            for transaction in table.values():
                result[transaction.state] = result.get(transaction.state, 0) + 1
        return result
